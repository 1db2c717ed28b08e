"""Lava against the fast engine, side by side in one run: sample-steps per second on the same
network and inputs, with the fast engine's result checked spike for spike against Lava's.

Networks: digitnet and the five zoo SNNs at their digits size (random weights from each family's
own seeded init; the digits test split rate-coded over 3 x depth + 3 steps), and lava-dl's shipped
PilotNet LIF (its image.npy, jittered per sample, as a static drive for 16 steps). For each:
Lava on --lava-samples samples; the fast engine on the whole set (digits: the 450 test samples;
PilotNet: --pilotnet-samples) with per-core accounting, and its throughput at batch sizes 1, 10
and 100; the process's peak resident memory after the fast runs (before Lava runs).

    .venv/bin/python benchmarks/sim_speed.py [--networks digitnet squeezenet ... pilotnet]
        [--threads 2] [--out benchmarks/results/sim_speed.md]

Writes the table as Markdown (``--out``) and prints it. Slow: Lava needs minutes per sample.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neuromap.cost.accounting import EventAccumulator
from neuromap.data.digits import load_digits_split
from neuromap.data.encode import rate_encode
from neuromap.graph import NetworkGraph
from neuromap.hw.profile import load_profile
from neuromap.mapper import map_network
from neuromap.models import create_model
from neuromap.netx.export import export_netx
from neuromap.netx.load import load_netx
from neuromap.provenance import versions
from neuromap.sim.activity import depths
from neuromap.sim.fast import default_device, run_fast
from neuromap.sim.lava import ensure_lava_importable, simulate_lava

THREADS = [1]  # the fast engine's torch threads, set from --threads
NETWORKS = ["digitnet", "squeezenet", "squeezenet_p", "shufflenetv2", "mnasnet", "mixnet", "pilotnet"]


def network(name: str, tmp: Path, pilotnet_samples: int, seed: int) -> tuple[NetworkGraph, np.ndarray, int | None]:
    """(graph, inputs in the IR layout, steps for a static drive or None)."""
    if name == "pilotnet":
        import sysconfig
        net = Path(sysconfig.get_paths()["purelib"]) / "tests/lava/lib/dl/netx/gts/pilotnet_lif/network.net"
        image = np.load(net.parent / "image.npy")
        rng = np.random.default_rng(seed)
        jitter = rng.integers(-3, 4, (pilotnet_samples,) + image.shape)
        return load_netx(net), np.clip(image[None] + jitter, 0, None), 16
    torch.manual_seed(seed)
    model = create_model(name, kind="snn", num_classes=10, input_shape=(1, 8, 8))
    graph = load_netx(export_netx(model, tmp / f"{name}.net"))
    depth = max(depths(graph).values())
    steps = 16 if name == "digitnet" else 3 * depth + 3
    split = load_digits_split(seed=0)
    x = rate_encode(split.x_test, split.max_level, steps)  # (N, C, H, W, T)
    return graph, x.transpose(0, 3, 2, 1, 4), None


def fast_full(graph: NetworkGraph, x: np.ndarray, steps: int | None, mapping, batch: int | None) -> tuple[float, int]:
    acc = EventAccumulator(graph, mapping)
    t0 = time.perf_counter()
    for chunk in run_fast(graph, x, steps=steps, batch_size=batch, threads=THREADS[0]):
        acc.add(chunk)
    events = acc.result()
    return time.perf_counter() - t0, int(events.steps)


def fast_rate(graph: NetworkGraph, x: np.ndarray, steps: int | None, batch: int) -> float:
    """Sample-steps per second of the engine alone at one batch size (one chunk of `batch` samples)."""
    part = x[:batch] if x.shape[0] >= batch else np.concatenate([x] * (-(-batch // x.shape[0])))[:batch]
    t0 = time.perf_counter()
    chunks = list(run_fast(graph, part, steps=steps, batch_size=batch, threads=THREADS[0]))
    wall = time.perf_counter() - t0
    return batch * chunks[0].steps / wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--networks", nargs="+", default=NETWORKS, choices=NETWORKS)
    p.add_argument("--lava-samples", type=int, default=1,
                   help="samples through Lava per network (digitnet: 5, so that Lava's start-up is amortised)")
    p.add_argument("--pilotnet-samples", type=int, default=100)
    p.add_argument("--threads", type=int, default=1, help="the fast engine's CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/sim_speed.md"))
    args = p.parse_args()
    THREADS[0] = args.threads
    ensure_lava_importable()
    profile = load_profile("loihi2")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.networks:
            graph, x, steps = network(name, Path(tmp), args.pilotnet_samples, args.seed)
            mapping = map_network(graph, profile, "layerwise").mapping
            full_s, T = fast_full(graph, x, steps, mapping, None)
            rates = {b: fast_rate(graph, x, steps, b) for b in (1, 10, 100)}
            peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
            n = max(args.lava_samples, 5) if name == "digitnet" else args.lava_samples
            t0 = time.perf_counter()
            lava = simulate_lava(graph, x[:n], steps=steps)
            lava_s = time.perf_counter() - t0
            fast = next(run_fast(graph, x[:n], steps=steps, threads=args.threads))
            mismatches = sum(int(np.sum(fast.events[k] != lava.events[k])) for k in lava.events)
            lava_rate = n * T / lava_s
            rows.append({"network": name, "neurons": graph.num_neurons, "steps": T, "samples": x.shape[0],
                         "lava": lava_rate, **{f"fast_b{b}": r for b, r in rates.items()},
                         "ratio": rates[100] / lava_rate, "full_s": full_s, "peak_gb": peak_gb,
                         "mismatches": mismatches, "lava_samples": n})
            print(rows[-1], flush=True)
    lines = [f"Command: `.venv/bin/python benchmarks/sim_speed.py --threads {args.threads}`; "
             f"device {default_device()}, torch {versions().get('torch')}; Lava on the samples of column "
             f"'Lava samples', back to back in one runtime, its start-up included.", "",
             "| network | neurons | steps | Lava samples | Lava sample-steps/s | fast, batch 1 | batch 10 | batch 100 | "
             "fast / Lava (batch 100) | whole set with accounting | peak RSS | spikes differing |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['network']} | {r['neurons']:,} | {r['steps']} | {r['lava_samples']} | {r['lava']:.2f} | "
                     f"{r['fast_b1']:,.0f} | "
                     f"{r['fast_b10']:,.0f} | {r['fast_b100']:,.0f} | {r['ratio']:,.0f}x | "
                     f"{r['samples']} samples in {r['full_s']:.1f} s | {r['peak_gb']:.2f} GB | {r['mismatches']} |")
    table = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
