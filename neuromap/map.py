"""``python -m neuromap.map``: map a NetX model onto Loihi-style cores and print the per-layer
table (tile, neurons per core, cores), the totals and the spike traffic the mapping causes.

    python -m neuromap.map --model X.net --profile loihi2 --strategy layerwise|graph
                           [--activity A.npz] [--out mapping.json] [--summary-json S.json]

``--activity`` is a NumPy .npz with one array per layer name: spike counts per neuron
``(neurons,)`` or events ``(samples, steps, neurons)``; the graph strategy then weighs traffic by
measured spikes instead of assuming every neuron spikes once. The summary always reports the
uniform-activity numbers (every neuron spikes once): ``inter_core_messages`` (spike messages
leaving their core) and ``hop_weighted_traffic`` (those messages times mesh hops, chips laid
side by side east-west so chip crossings are hops too)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import NeuromapError, run_cli
from .hw.profile import available_profiles, load_profile
from .mapper import STRATEGIES, MapResult, map_network
from .netx.load import load_netx
from .report import write_json_atomic


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuromap.map", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="NetX .net file")
    parser.add_argument("--profile", default="loihi2",
                        help=f"hardware profile: {', '.join(available_profiles())} or a YAML path")
    parser.add_argument("--strategy", choices=STRATEGIES, default="layerwise",
                        help="layerwise: Intel-style tiles per layer; graph: traffic-aware partition")
    parser.add_argument("--activity", type=Path, help="spike counts per layer (.npz), see below")
    parser.add_argument("--out", type=Path, help="write the full mapping (neuron -> core) as JSON")
    parser.add_argument("--summary-json", type=Path, help="write the summary as JSON")
    parser.add_argument("--seed", type=int, default=0, help="partitioner seed (default 0)")
    parser.add_argument("--unit-factor", type=int, help="graph strategy: units per layer-wise tile "
                        "(default 8 up to 256 layer-wise cores, else 4)")
    args = parser.parse_args(argv)
    graph = load_netx(args.model)
    profile = load_profile(args.profile)
    activity = load_activity(args.activity) if args.activity else None
    if args.unit_factor is not None and args.unit_factor < 1:
        raise NeuromapError(f"--unit-factor must be at least 1 (got {args.unit_factor})")
    res = map_network(graph, profile, args.strategy, activity, seed=args.seed, unit_factor=args.unit_factor)
    summary = res.summary()
    summary["model"] = str(args.model)
    if args.summary_json:
        write_json_atomic(args.summary_json, summary)
    if args.out:
        write_json_atomic(args.out, mapping_json(res, summary))
    print(format_table(summary))
    return 0


def load_activity(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise NeuromapError(f"activity file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (ValueError, OSError) as exc:
        raise NeuromapError(f"activity file {path} is not a plain .npz of arrays ({exc}); save it with "
                            f"numpy.savez(path, **{{layer: spike_counts}})") from None


def mapping_json(res: MapResult, summary: dict[str, Any]) -> dict[str, Any]:
    m = res.mapping
    assert m is not None
    return {"summary": summary,
            "cores": [{"core": c.index, "chip": c.chip, "tile": [c.tile_x, c.tile_y], "layers": list(c.layers),
                       "neurons": c.neurons, "memory_words": float(res.usage.memory[c.index]),
                       "input_axons": float(res.usage.axons[c.index]),
                       "output_routes": float(res.usage.routes[c.index])} for c in m.cores],
            "assignment": {k: v.tolist() for k, v in m.assignment.items()}}


def format_table(s: dict[str, Any]) -> str:
    lines = [f"{s['name']} on {s['profile']} ({s['strategy']}): {s['cores']} cores on {s['chips']} chip(s), "
             f"{s['neurons']:,} neurons",
             f"{'layer':<12} {'shape (x y c)':<16} {'tile (x,y,c)':<14} {'neurons/core':>12} {'cores':>6}"]
    for lay in s["per_layer"]:
        shape = " x ".join(map(str, lay["shape"]))
        tile = ",".join(map(str, lay["tile"]))
        lines.append(f"{lay['name']:<12} {shape:<16} {tile:<14} {lay['neurons_per_core']:>12,} {lay['cores']:>6}")
    lines.append(f"{'total':<12} {'':<16} {'':<14} {'':>12} {s['cores']:>6}")
    u = s["max_use"]
    lines.append(f"busiest core: {u['neurons']:.0%} neurons, {u['memory_words']:,.0f} / "
                 f"{s['limits']['memory_words']:,} memory words, {u['input_axons']:,.0f} input axons, "
                 f"{u['output_routes']:,.0f} output routes")
    lines.append(f"uniform activity: {s['inter_core_messages']:,.0f} inter-core messages, "
                 f"{s['hop_weighted_traffic']:,.0f} hop-weighted (east-west {s['hops_east_west']:,.0f}, "
                 f"north-south {s['hops_north_south']:,.0f}; chip crossings {s['chip_crossings']:,.0f})")
    if "activity_inter_core_messages" in s:
        lines.append(f"measured activity: {s['activity_inter_core_messages']:,.0f} inter-core messages, "
                     f"{s['activity_hop_weighted_traffic']:,.0f} hop-weighted")
    lines.append(f"mapping took {s['mapping_seconds']:.2f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
