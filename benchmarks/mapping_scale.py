"""Mapping time and memory versus network size (synthetic conv stacks), layerwise vs graph,
each size and strategy in a fresh process so that its peak memory is its own. Prints a table with
wall and CPU seconds, peak resident memory, the log-log slope of time versus neurons between
consecutive sizes (1.0 = linear), and the graph/layerwise ratios of cores, messages and hops.

    .venv/bin/python benchmarks/mapping_scale.py [--sizes 1e4 1e5 1e6 1e7] [--strategies layerwise graph]
                                                 [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {here!r})
from synthetic import conv_stack
from neuromap.hw.profile import load_profile
from neuromap.mapper import map_network
g = conv_stack({n})
t, c = time.perf_counter(), time.process_time()
r = map_network(g, load_profile({profile!r}), {strategy!r}, validate=False, materialize=False)
wall, cpu = time.perf_counter() - t, time.process_time() - c
s = r.summary()
print(json.dumps({{"neurons": s["neurons"], "units": s["units"], "cores": s["cores"], "chips": s["chips"],
                  "messages": s["inter_core_messages"], "hops": s["hop_weighted_traffic"],
                  "crossings": s["chip_crossings"], "wall": wall, "cpu": cpu, "timings": s["timings"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def measure(n: float, strategy: str, profile: str) -> dict:
    code = CHILD.format(here=str(HERE), n=n, strategy=strategy, profile=profile)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6, 1e7])
    ap.add_argument("--strategies", nargs="+", default=["layerwise", "graph"])
    ap.add_argument("--profile", default="loihi2")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    head = (f"{'neurons':>13} {'strategy':<10} {'units':>8} {'cores':>7} {'chips':>5} {'wall s':>8} "
            f"{'cpu s':>8} {'peak MB':>8} {'slope':>6} {'messages':>13} {'hop-weighted':>15}")
    print(head)
    print("-" * len(head))
    results: dict[str, list[dict]] = {s: [] for s in args.strategies}
    for n in args.sizes:
        for strat in args.strategies:
            r = measure(n, strat, args.profile)
            prev = results[strat][-1] if results[strat] else None
            slope = (math.log(r["wall"] / prev["wall"]) / math.log(r["neurons"] / prev["neurons"])
                     if prev and prev["wall"] > 0 else float("nan"))
            r["slope"] = slope
            results[strat].append(r)
            print(f"{r['neurons']:>13,} {strat:<10} {r['units']:>8,} {r['cores']:>7,} {r['chips']:>5} "
                  f"{r['wall']:>8.2f} {r['cpu']:>8.2f} {r['peak_mb']:>8.0f} {slope:>6.2f} "
                  f"{r['messages']:>13,.0f} {r['hops']:>15,.0f}")
            sys.stdout.flush()
        if {"layerwise", "graph"} <= set(args.strategies):
            lw, gr = results["layerwise"][-1], results["graph"][-1]
            print(f"{'':>13} {'graph/lw':<10} {'':>8} {gr['cores'] / lw['cores']:>7.2f} {'':>5} {'':>8} {'':>8} "
                  f"{'':>8} {'':>6} {gr['messages'] / lw['messages']:>13.2f} {gr['hops'] / lw['hops']:>15.2f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
