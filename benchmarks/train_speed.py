"""SLAYER's CUDA path against its CPU path, side by side in one run: same SNN, same batch.

For each zoo family (digits input 1 x 8 x 8, the train CLI's time steps, batch 32):
* agreement: the CUDA forward pass gives the same spikes as the CPU one at every layer
  (mismatching spikes counted; SLAYER's CUDA kernels must not drift from what Lava will run);
* speed: seconds per training step (forward, SpikeRate loss, backward, Adam) on CPU and on CUDA,
  after one warm-up step, and their ratio.

    python benchmarks/train_speed.py [--families ...] [--batch 32] [--steps 5] [--threads 2]

Without CUDA it reports the CPU side only. Prints a Markdown table and writes JSON with --json.

On the device machine (its own Python and torch, no lava-dl, no internet), carry SLAYER's pure-Python
sources in an ignored folder and put it on PYTHONPATH (its CUDA kernels JIT-compile there with nvcc):

    mkdir -p .gpu/site/lava/lib/dl && cp -r .venv/lib/python3.10/site-packages/lava/lib/dl/slayer \
        .gpu/site/lava/lib/dl/ && find .gpu -name '*.pt' -delete && echo /.gpu/ >> .git/info/exclude
    # device run, carry [".gpu"]:
    PYTHONPATH=$PWD/.gpu/site:$PWD python3 benchmarks/train_speed.py --steps 2 --json $OUT/speed.json
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import torch

from neuromap.data.digits import load_digits_split
from neuromap.data.encode import rate_encode
from neuromap.models import create_model
from neuromap.models.digitnet import import_slayer
from neuromap.netx.lower import slayer_layer_spikes

FAMILIES = ["squeezenet", "squeezenet_p", "shufflenetv2", "mnasnet", "mixnet"]


def step_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    slayer = import_slayer()
    loss_fn = slayer.loss.SpikeRate(true_rate=0.5, false_rate=0.02, reduction="sum").to(x.device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def one() -> None:
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    one()  # warm-up (CUDA: kernel compilation and caches)
    if x.is_cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    if x.is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", nargs="+", default=FAMILIES)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2, help="CPU threads (CI has 2 cores)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    data = load_digits_split(seed=0)
    rows = []
    print(f"torch {torch.__version__}, python {platform.python_version()}, CPU threads {args.threads}, "
          f"CUDA {torch.cuda.get_device_name(0) if cuda else 'not available'}")
    print("| family | time steps | CPU s/step | CUDA s/step | CPU/CUDA | spikes compared | CPU-CUDA mismatches |")
    print("|---|---|---|---|---|---|---|")
    for fam in args.families:
        torch.manual_seed(0)
        model = create_model(fam, kind="snn", num_classes=10, input_shape=(1, 8, 8))
        T = max(16, int(model.depth) + 12)
        x = torch.as_tensor(rate_encode(data.x_train[:args.batch], data.max_level, T), dtype=torch.float32)
        y = torch.as_tensor(data.y_train[:args.batch])
        ref = slayer_layer_spikes(model, x.numpy())
        row = {"family": fam, "timesteps": T, "cpu_s": step_seconds(copy.deepcopy(model), x, y, args.steps)}
        if cuda:
            try:
                gpu = copy.deepcopy(model).cuda()
                t0 = time.perf_counter()
                got = slayer_layer_spikes(gpu, x.numpy())  # the first call JIT-compiles SLAYER's kernels
                row["first_cuda_forward_s"] = time.perf_counter() - t0
                row["spikes"] = int(sum(r.sum() for r in ref.values()))
                row["mismatches"] = int(sum((got[k] != ref[k]).sum() for k in ref))
                row["cuda_s"] = step_seconds(gpu, x.cuda(), y.cuda(), args.steps)
            except Exception as exc:  # report a broken CUDA path as a result, not a crash
                row["cuda_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
                print(f"CUDA path failed for {fam}: {row['cuda_error']}", flush=True)
        rows.append(row)
        ok = "cuda_s" in row
        cu = f"{row['cuda_s']:.3f}" if ok else "-"
        ratio = f"{row['cpu_s'] / row['cuda_s']:.1f}x" if ok else "-"
        print(f"| {fam} | {T} | {row['cpu_s']:.3f} | {cu} | {ratio} | {row.get('spikes', '-')} | "
              f"{row.get('mismatches', '-')} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"torch": torch.__version__, "threads": args.threads,
                                         "cuda": torch.cuda.get_device_name(0) if cuda else None,
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
