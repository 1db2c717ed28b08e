"""How SLAYER's surrogate gradient scales through depth: per-layer gradient RMS of each zoo SNN at init.

For each family on digits, build the SNN as `python -m neuromap.train` starts it (seed 0, default
time steps and calibration: `neuromap.train.initial_model`), set every layer's surrogate scale to
each `--scales` value (SLAYER's `scale_grad`; the zoo trains with 10), run one forward and backward
pass of the training loss on the first `--samples` training samples, and print the RMS of the loss
gradient at every spiking layer's output spikes (`neuromap.models.signal.gradient_report`):

* first/readout: the first layer's RMS over the readout's, the gain of the whole backward path
  (1 is the healthy value; 1e-20 means the first layers receive nothing, 1e+3 that they receive
  an amplified, and through a chaotic forward pass mostly meaningless, signal);
* per layer: the geometric-mean gain per layer, (first/readout) ** (1 / (layers - 1));
* max/min: the spread of the RMS over all layers that receive any gradient (log10 decades).

    .venv/bin/python benchmarks/surrogate_gain.py [--models squeezenet_p mnasnet] [--scales 1 3 10] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from neuromap.data.digits import load_digits_split
from neuromap.models import create_model
from neuromap.models.calibrate import set_surrogate_scales, surrogate_scales
from neuromap.models.signal import gradient_report
from neuromap.models.recipe import window
from neuromap.train import TEST_FRACTION, _Twin, initial_model, resolve_recipe

FAMILIES = ["squeezenet", "squeezenet_p", "shufflenetv2", "mnasnet", "mixnet"]


def measure(model_name: str, scales: list[float], samples: int) -> list[dict]:
    data = load_digits_split(seed=0, test_fraction=TEST_FRACTION)
    depth = create_model(model_name, kind="cnn", num_classes=data.num_classes, input_shape=data.input_shape).depth
    # the calibrated, unnormalised SNN this benchmark was made for (the zoo recipe normalises instead)
    recipe = resolve_recipe(model_name, {"norm": "none", "loss": "spike_rate",
                                         "calibration": {"target_rate": 0.1, "samples": 32}})
    config = {"model": model_name, "seed": 0, "num_classes": data.num_classes, "input_shape": list(data.input_shape),
              "model_kwargs": {}, "recipe": recipe, "timesteps": window(recipe, depth), "depth": depth}
    twin = _Twin("snn", config, data)
    model, _ = initial_model("snn", config, twin)
    model.train()
    idx = torch.arange(min(samples, len(twin.y_train)))
    x, y = twin.batch(idx), twin.y_train[idx]
    layers = len(surrogate_scales(model))
    rows = []
    for scale in scales:
        set_surrogate_scales(model, [float(scale)] * layers)
        rms = [r["grad_rms"] for r in gradient_report(model, x, y, twin.loss)]
        live = [r for r in rms if r > 0]
        ratio = rms[0] / rms[-1] if rms[0] > 0 and rms[-1] > 0 else 0.0
        rows.append({"model": model_name, "depth": depth, "timesteps": config["timesteps"], "scale_grad": scale,
                     "layers": len(rms), "first_over_readout": ratio,
                     "gain_per_layer": ratio ** (1.0 / max(1, len(rms) - 1)) if ratio > 0 else 0.0,
                     "spread_decades": math.log10(max(live) / min(live)) if live else 0.0, "grad_rms": rms})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=FAMILIES, choices=FAMILIES)
    ap.add_argument("--scales", nargs="+", type=float, default=[1.0, 3.0, 10.0])
    ap.add_argument("--samples", type=int, default=64, help="training samples in the backward pass")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = [r for m in args.models for r in measure(m, args.scales, args.samples)]
    print("| model | layers | T | scale_grad | first / readout | gain per layer | max / min (decades) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['first_over_readout']:.1e}" if r["first_over_readout"] > 0 else "0 (underflow)"
        print(f"| {r['model']} | {r['layers']} | {r['timesteps']} | {r['scale_grad']:g} | {ratio} "
              f"| {r['gain_per_layer']:.2f} | {r['spread_decades']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
