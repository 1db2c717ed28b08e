"""Accuracy of each zoo family's SNN against its window T, on digits (seed 0), from the conversion
init the training recipe uses (neuromap.models.convert): the ReLU twin is trained once per family
exactly as `neuromap.train` trains it, then converted, rate-balanced and tested at each window.
With --finetune E the converted SNN is also fine-tuned for E epochs at each window with the
recipe's loss, learning rate and batch size, as `neuromap.bench` does.

    python benchmarks/window_sweep.py [--models squeezenet_p,mnasnet] [--windows 1:4,2:3,3:3,4:3]
                                      [--finetune 0] [--out benchmarks/results/window_sweep.json]

A window K:C is K x depth + C steps (depth: neuron layers on the longest path). Prints one row per
family and window and writes all rows, the config and the versions to --out as JSON. One intra-op
thread, as the bench runs, so the numbers repeat for the same arguments.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

import neuromap
import neuromap.train as train
from neuromap.data.digits import load_digits_split
from neuromap.models import create_model
from neuromap.models.registry import list_models

ZOO = ("squeezenet_p", "squeezenet", "shufflenetv2", "mixnet", "mnasnet")


def parse_windows(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        k, _, c = item.partition(":")
        out.append((int(k), int(c or 0)))
    return out


def sweep_family(name: str, windows: list[tuple[int, int]], finetune: int, seed: int) -> list[dict]:
    data = load_digits_split(seed, train.TEST_FRACTION)
    recipe = train.resolve_recipe(name)
    depth = train.network_depth(create_model(name, kind="cnn", num_classes=data.num_classes,
                                             input_shape=data.input_shape))
    base = {"model": name, "seed": seed, "num_classes": data.num_classes, "input_shape": list(data.input_shape),
            "model_kwargs": {}, "recipe": recipe, "depth": depth}
    t0 = time.perf_counter()
    ann, ann_report = train.fit_relu_twin(train._Twin("snn", {**base, "timesteps": depth + 1}, data), recipe)
    rows = []
    for k, c in windows:
        T = k * depth + c
        config = {**base, "timesteps": T}
        twin = train._Twin("snn", config, data)
        snn, _ = train.initial_model("snn", config, twin, calibrate=False)
        conv = train.convert_snn(snn, twin, recipe, ann)
        row = {"model": name, "depth": depth, "window": f"{k}:{c}", "T": T,
               "relu_twin": round(ann_report["test_accuracy"], 4), "converted": round(conv["test_accuracy"], 4)}
        if finetune:
            hist, secs = train.fit_twin(snn, twin, finetune, float(recipe["lr"]["snn"]), int(recipe["batch_size"]),
                                        seed, fold_epochs=int(recipe["fold_epochs"]),
                                        evaluate=lambda m: float((twin.predict_test(m) == data.y_test).mean()))
            row["finetuned"] = [round(h["test_accuracy"], 4) for h in hist]
            row["finetune_seconds"] = round(secs, 1)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(ZOO))
    ap.add_argument("--windows", default="1:4,2:3,3:3,4:3", help="K:C pairs, T = K x depth + C")
    ap.add_argument("--finetune", type=int, default=0, help="fine-tuning epochs at each window (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="JSON file for the rows")
    args = ap.parse_args(argv)
    models = args.models.split(",")
    unknown = [m for m in models if m not in list_models()]
    if unknown:
        print(f"unknown model {unknown[0]!r}; known: {', '.join(list_models())}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    windows = parse_windows(args.windows)
    rows = [r for m in models for r in sweep_family(m, windows, args.finetune, args.seed)]
    if args.out:
        Path(args.out).write_text(json.dumps({
            "command": "python benchmarks/window_sweep.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "seed": args.seed, "threads": 1, "neuromap": neuromap.__version__, "torch": torch.__version__,
            "python": platform.python_version(), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
