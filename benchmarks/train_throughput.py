"""Training throughput of neuromap.train's step, in images per second, per family and twin, on
synthetic input of a dataset's shape (random 8-bit levels; CIFAR: 3 x 32 x 32, 10 classes;
TinyImageNet: 3 x 64 x 64, 200 classes): what docs/training.md's time per epoch is derived from.

Each step is the train CLI's: the family's registered recipe (SNN: its time window, surrogate width,
normalisation and loss; CNN: cross-entropy), rate coding on the fly (SNN), forward, backward, Adam.
One warm-up step, then `--steps` timed steps; images/s = batch x steps / seconds, by the wall clock and
by this process's CPU time (on a shared machine the wall clock also counts the time other processes
held the cores; with one thread the CPU-time figure is what an idle core would give).

    nice -n 19 python benchmarks/train_throughput.py [--families ...] [--batch 8] [--steps 3] \
        [--threads 1] [--device cpu] [--shape cifar|tinyimagenet] [--json out.json]

Prints a Markdown table; --json writes the rows with the machine, versions and settings.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuromap import train
from neuromap.data.digits import DigitsSplit
from neuromap.models import create_model, list_models

#: dataset -> (input shape, classes, training images per epoch)
SHAPES = {"cifar": ((3, 32, 32), 10, 50_000), "tinyimagenet": ((3, 64, 64), 200, 100_000)}
SHAPE, CLASSES, EPOCH_IMAGES = SHAPES["cifar"]


def synthetic_split(n: int, seed: int = 0) -> DigitsSplit:
    """n CIFAR-shaped training images of uniform random 8-bit levels (and 1 test image)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n + 1, *SHAPE), dtype=np.int64).astype(np.uint8)
    y = rng.integers(0, CLASSES, size=n + 1).astype(np.int64)
    return DigitsSplit(x[:n], y[:n], x[n:], y[n:], num_classes=CLASSES, max_level=255)


def measure(family: str, kind: str, batch: int, steps: int, device: torch.device) -> dict[str, Any]:
    recipe = train.resolve_recipe(family)
    model = create_model(family, kind=kind, num_classes=CLASSES, input_shape=SHAPE,
                         **train.MODEL_KWARGS.get(family, {}))
    depth = train.network_depth(model)
    timesteps = train.window(recipe, depth)
    if kind == "snn":
        train.prepare_snn(model, recipe)
    model.to(device).train()
    data = synthetic_split(batch * (steps + 1))
    twin = train._Twin(kind, {"num_classes": CLASSES, "recipe": recipe, "timesteps": timesteps, "depth": depth},
                       data)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(recipe["lr"][kind]))

    def step(i: int) -> None:
        idx = torch.arange(i * batch, (i + 1) * batch)
        out = model(twin.batch(idx).to(device))
        target = twin.y_train[idx].to(device)
        loss = twin.loss(out, target, depth) if kind == "snn" else twin.loss(out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(0)  # warm-up: allocations, and on CUDA the kernels' compilation
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(1, steps + 1):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"family": family, "twin": kind, "timesteps": timesteps if kind == "snn" else None,
            "batch": batch, "steps": steps, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "images_per_s": round(batch * steps / seconds, 2), "images_per_cpu_s": round(batch * steps / cpu, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", nargs="+", default=[m for m in list_models() if m != "digitnet"])
    p.add_argument("--kinds", nargs="+", default=["cnn", "snn"], choices=["cnn", "snn"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the train CLI uses 1)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--shape", choices=sorted(SHAPES), default="cifar")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    global SHAPE, CLASSES, EPOCH_IMAGES
    SHAPE, CLASSES, EPOCH_IMAGES = SHAPES[args.shape]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    print(f"torch {torch.__version__}, device {args.device} ({name}), threads {args.threads}, "
          f"batch {args.batch}, {args.steps} timed steps, {args.shape}-shaped {SHAPE}, {CLASSES} classes")
    print(f"| family | twin | time steps | images/s (wall) | images per CPU-second | CPU-hours per epoch "
          f"({EPOCH_IMAGES:,} images) |")
    print("|---|---|---|---|---|---|")
    rows = []
    for family in args.families:
        for kind in args.kinds:
            row = measure(family, kind, args.batch, args.steps, device)
            rows.append(row)
            print(f"| {family} | {kind} | {row['timesteps'] or '-'} | {row['images_per_s']:.2f} | "
                  f"{row['images_per_cpu_s']:.2f} | {EPOCH_IMAGES / row['images_per_cpu_s'] / 3600:,.2f} |", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({
            "device": args.device, "device_name": name, "threads": args.threads, "cpus": os.cpu_count(),
            "torch": torch.__version__, "python": platform.python_version(), "batch": args.batch,
            "steps": args.steps, "shape": args.shape, "input_shape": list(SHAPE), "classes": CLASSES,
            "epoch_images": EPOCH_IMAGES, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
