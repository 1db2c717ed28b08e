"""Where does the class information die? Per-layer class separability of both twins, at init and trained.

For each run folder written by `python -m neuromap.train` on digits (default: the five
`runs/bench_<model>_digits/` folders that `python -m neuromap.bench` leaves), rebuild each twin as
training started (same seed, same SNN calibration: `neuromap.train.initial_model`) and as trained
(`snn.pt` / `cnn.pt`), and run `neuromap.models.signal.signal_report` on the first `--samples`
training samples (default 600) with the 450 test samples held out. Prints, per model, twin and
stage, at the first layer, at a quarter, half and three quarters of the layers, at the last layer
and at the output: the class separability (eta^2; chance = 9/599 for 10 classes and 600 samples)
and the held-out accuracy of a linear probe on that layer (chance about 0.1), plus the SNN output's
first spike step against the window T.

    .venv/bin/python benchmarks/signal_depth.py [--runs runs/bench_mnasnet_digits ...] [--samples N] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from neuromap.data.digits import load_digits_split
from neuromap.data.encode import rate_encode
from neuromap.models.checkpoint import build_from_config, load_config, load_snn_from_run, safe_torch_load
from neuromap.models.signal import signal_report
from neuromap.train import TEST_FRACTION, _Twin, initial_model

FAMILIES = ["squeezenet", "squeezenet_p", "shufflenetv2", "mnasnet", "mixnet"]


def report_run(run_dir: Path, samples: int) -> list[dict]:
    config = load_config(run_dir)
    if config.get("dataset") != "digits":
        raise SystemExit(f"{run_dir}: only digits runs are supported here (the data must load offline)")
    data = load_digits_split(seed=int(config["seed"]), test_fraction=TEST_FRACTION)
    rows = []
    for kind in ("snn", "cnn"):
        if not (run_dir / f"{kind}.pt").is_file():
            continue
        twin = _Twin(kind, config, data)
        init, _ = initial_model(kind, config, twin)
        n = min(samples, len(data.y_train))
        if kind == "snn":
            x_test = torch.from_numpy(rate_encode(data.x_test, data.max_level, twin.timesteps).astype("float32"))
        else:
            x_test = twin.x_test
        held_out = (x_test, torch.from_numpy(data.y_test))
        x = twin.batch(torch.arange(n))                 # the same encoded inputs for both stages
        if kind == "snn":  # with its folded normalisation, if the recipe has one
            trained = load_snn_from_run(run_dir)[0]
        else:
            trained = build_from_config(config, kind)
            trained.load_state_dict(safe_torch_load(run_dir / f"{kind}.pt"))
        for stage, model in (("init", init), ("trained", trained)):
            rep = signal_report(model, x, twin.y_train[:n], twin.num_classes, kind, held_out=held_out)
            layers = rep["layers"]
            m = len(layers)
            picks = [layers[0], layers[m // 4], layers[m // 2], layers[(3 * m) // 4], layers[-1]]
            row = {"model": config["model"], "twin": kind, "stage": stage, "layers": m,
                   "separability": [round(r["class_separability"], 3) for r in picks],
                   "probe": [round(r["probe_accuracy"], 3) for r in picks],
                   "output": round(rep["output"]["class_separability"], 3),
                   "output_probe": round(rep["output"]["probe_accuracy"], 3),
                   "chance": round(rep["chance"], 3),
                   "probe_all_layers": [round(r["probe_accuracy"], 3) for r in layers]}
            if kind == "snn":
                row["output_first_spike"] = rep["output"]["first_spike_step"]
                row["timesteps"] = int(config["timesteps"])
                row["output_spikes_per_sample"] = round(rep["output"]["rate"] * int(config["num_classes"])
                                                        * int(config["timesteps"]), 2)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", type=Path,
                    default=[Path("runs") / f"bench_{m}_digits" for m in FAMILIES])
    ap.add_argument("--samples", type=int, default=600, help="training samples the report and probes use")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for run in args.runs:
        if not (run / "config.json").is_file():
            print(f"skipping {run}: no run there (python -m neuromap.bench writes it)", file=sys.stderr)
            continue
        rows.extend(report_run(run, args.samples))
    print("| model | twin | stage | layers | sep. first / 25 % / 50 % / 75 % / last layer | output | chance "
          "| probe acc. first / 25 % / 50 % / 75 % / last layer | output | SNN output first spike / T "
          "| SNN output spikes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        first = (f"{r['output_first_spike']} / {r['timesteps']}" if r["twin"] == "snn" and r["output_first_spike"]
                 is not None else (f"silent / {r['timesteps']}" if r["twin"] == "snn" else "-"))
        spikes = r.get("output_spikes_per_sample", "-")
        print(f"| {r['model']} | {r['twin']} | {r['stage']} | {r['layers']} | "
              f"{' / '.join(f'{v:.2f}' for v in r['separability'])} | {r['output']:.2f} | {r['chance']:.3f} | "
              f"{' / '.join(f'{v:.2f}' for v in r['probe'])} | {r['output_probe']:.2f} | {first} | {spikes} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
