"""Lava against SLAYER and the fast engine against Lava, layer by layer, for the full-size zoo SNNs.

For each family at the digits input (1 x 8 x 8): random weights (the family's own init, seeded),
random input spikes for 32 steps, export to NetX (graph format where needed), load, run in Lava
(fixed-point CPU simulator) and compare every layer's spikes with SLAYER's, then run the fast engine
on the same input and compare every layer and step with Lava. Prints per family: layers, joins,
lagged edges, spikes compared, mismatches (Lava vs SLAYER, fast vs Lava), silent layers and wall times.

    .venv/bin/python benchmarks/graph_exactness.py [--families squeezenet mnasnet ...] [--steps 32]

Slow on purpose (the Lava simulator runs one OS process per process); the test suite runs small
instances of every family instead (tests/test_graph_netx.py).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neuromap.models import create_model
from neuromap.netx.lower import lava_mismatches
from neuromap.netx.export import export_netx
from neuromap.netx.load import load_netx
from neuromap.sim.fast import simulate_fast
from neuromap.sim.lava import ensure_lava_importable, simulate_lava

FAMILIES = ["squeezenet", "squeezenet_p", "shufflenetv2", "mnasnet", "mixnet"]


def check(family: str, steps: int, seed: int, rate: float) -> dict:
    torch.manual_seed(seed)
    model = create_model(family, kind="snn", num_classes=10, input_shape=(1, 8, 8))
    with tempfile.TemporaryDirectory() as tmp:
        graph = load_netx(export_netx(model, Path(tmp) / f"{family}.net"))
    rng = np.random.default_rng(seed)
    x = (rng.random((1, 1, 8, 8, steps)) < rate).astype(np.float32)
    t0 = time.perf_counter()
    act = simulate_lava(graph, x.transpose(0, 3, 2, 1, 4))
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = simulate_fast(graph, x.transpose(0, 3, 2, 1, 4))
    fast_wall = time.perf_counter() - t0
    fast_bad = sum(int((fast.events[k] != v).sum()) for k, v in act.events.items())
    checks = lava_mismatches(model, graph, x, act)
    mismatches = sum(bad for bad, _ in checks.values())
    spikes = sum(n for _, n in checks.values())
    worst = next((name for name, (bad, _) in checks.items() if bad), None)
    silent = [name for name, (_, n) in checks.items() if n == 0]
    return {"family": family, "layers": len(graph.layers) - 1, "neurons": graph.num_neurons,
            "joins": sum(len([e for e in graph.in_edges(lay.name) if e.src != lay.name]) > 1
                         for lay in graph.layers),
            "lagged_edges": sum(1 for e in graph.edges if e.lag), "steps": steps,
            "lava_spikes": spikes, "mismatches": mismatches, "first_mismatch": worst,
            "silent_layers": len(silent), "lava_seconds": round(wall, 1), "fast_mismatches": fast_bad,
            "fast_seconds": round(fast_wall, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", nargs="+", default=FAMILIES)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.3, help="input spike probability per step")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = p.parse_args()
    ensure_lava_importable()
    rows = []
    print("| family | layers | neurons | joins | lagged edges | Lava spikes | Lava vs SLAYER mismatches | "
          "fast vs Lava mismatches | silent layers | Lava s | fast s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for fam in args.families:
        r = check(fam, args.steps, args.seed, args.rate)
        rows.append(r)
        print(f"| {fam} | {r['layers']} | {r['neurons']:,} | {r['joins']} | {r['lagged_edges']} | "
              f"{r['lava_spikes']:,} | {r['mismatches']} | {r['fast_mismatches']} | {r['silent_layers']} | "
              f"{r['lava_seconds']} | {r['fast_seconds']} |",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
