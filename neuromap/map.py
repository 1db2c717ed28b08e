"""``python -m neuromap.map``: map a NetX or NIR model onto Loihi-style cores and print the
per-layer table (tile, neurons per core, cores), the totals and the spike traffic it causes.

    python -m neuromap.map --model X.net|X.nir [--dt S] [--from nir|rockpool]
                           --profile loihi2 --strategy layerwise|graph
                           [--activity A.npz] [--out mapping.json] [--summary-json S.json]

``--activity`` is a NumPy .npz with one array per layer name: spike counts per neuron
``(neurons,)`` or events ``(samples, steps, neurons)``; the graph strategy then weighs traffic by
measured spikes instead of assuming every neuron spikes once. The summary always reports the
uniform-activity numbers (every neuron spikes once): ``inter_core_messages`` (spike messages
leaving their core) and ``hop_weighted_traffic`` (those messages times mesh hops, chips laid
side by side east-west so chip crossings are hops too)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import CliParser, NeuromapError, int_in, run_cli
from .hw.profile import available_profiles, load_profile, profile_path
from .interop.model_file import add_nir_options, read_model
from .mapper import STRATEGIES, MapOptions, MapResult, map_network
from .mapper.mapping import mapping_to_dict
from .outputs import check_file
from .report import write_json_atomic
from .validate import add_limit_options, set_limits


def main(argv: Sequence[str] | None = None) -> int:
    parser = CliParser(prog="python -m neuromap.map", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--model", type=Path, required=True, help="NetX .net or NIR .nir file")
    add_nir_options(parser)
    parser.add_argument("--profile", default="loihi2",
                        help=f"hardware profile: {', '.join(available_profiles())} or a YAML path")
    parser.add_argument("--strategy", choices=STRATEGIES, default="layerwise",
                        help="layerwise: Intel-style tiles per layer; graph: traffic-aware partition")
    parser.add_argument("--activity", type=Path, help="spike counts per layer (.npz), see below")
    parser.add_argument("--out", type=Path, help="write the full mapping (neuron -> core) as JSON")
    parser.add_argument("--summary-json", type=Path, help="write the summary as JSON")
    parser.add_argument("--seed", type=int_in(0, 2**31 - 1), default=0, help="partitioner seed")
    parser.add_argument("--unit-factor", type=int_in(1, 1 << 16), help="graph strategy: units per "
                        "layer-wise tile (default 8 up to 256 layer-wise cores, else 4)")
    add_limit_options(parser)
    args = parser.parse_args(argv)
    set_limits(args.max_neurons, args.max_synapses)
    inputs = [args.model, args.activity, profile_path(args.profile)]
    check_file(args.out, "--out", inputs)
    check_file(args.summary_json, "--summary-json", inputs)
    if args.out is not None and args.summary_json is not None and \
            os.path.abspath(args.out) == os.path.abspath(args.summary_json):
        raise NeuromapError("--out and --summary-json name the same file; pass two paths")
    graph = read_model(args.model, args.dt, args.convention)
    profile = load_profile(args.profile)
    activity = load_activity(args.activity) if args.activity else None
    res = map_network(graph, profile, args.strategy, MapOptions(seed=args.seed, unit_factor=args.unit_factor),
                      activity=activity)
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
            out = {k: np.asarray(data[k]) for k in data.files}
    except (ValueError, OSError, EOFError, KeyError, RuntimeError) as exc:
        raise NeuromapError(f"activity file {path} is not a plain .npz of arrays ({exc}); save it with "
                            f"numpy.savez(path, **{{layer: spike_counts}})") from None
    except Exception as exc:  # zipfile raises BadZipFile, zlib.error... on a corrupt archive
        raise NeuromapError(f"activity file {path} is corrupt ({exc.__class__.__name__}); save it "
                            f"again with numpy.savez") from None
    for k, v in out.items():
        if not np.issubdtype(v.dtype, np.number) or v.size and (
                not np.all(np.isfinite(v)) or np.min(v) < 0):
            raise NeuromapError(f"activity file {path}: '{k}' must hold finite, non-negative spike "
                                f"counts")
    return out


def mapping_json(res: MapResult, summary: dict[str, Any]) -> dict[str, Any]:
    """The mapping as ``deploy --mapping`` reads it back (``mapper.mapping.mapping_to_dict``), with
    the summary and each core's resource use beside it."""
    out = mapping_to_dict(res.mapping, res.graph.name)
    for c in out["cores"]:
        i = c["core"]
        c.update(memory_words=float(res.usage.memory[i]), input_axons=float(res.usage.axons[i]),
                 output_routes=float(res.usage.routes[i]))
    return {**out, "summary": summary}


REGISTERS = (("AxonIn", "axon_in"), ("NeuronGr", "neuron_groups"), ("Neurons", "neurons"),
             ("Synapses", "synapses"), ("AxonMap", "axon_map"), ("AxonMem", None))


def utilisation_table(s: dict[str, Any]) -> list[str]:
    """Per-core utilisation in the columns of Intel's compiler printout (per layer, the largest use
    over its cores, in percent of the profile's budget; '-' where the model has no such budget)."""
    budgets = s.get("register_budgets") or {}
    rows = [lay for lay in s["per_layer"] if lay.get("registers")]
    if not rows:
        return []
    head = "|".join(f"{name:>8}" for name, _ in REGISTERS)
    out = [f"per-core utilisation in Intel's compiler columns (% of the {s['profile']} budget, the busiest "
           f"of each layer's cores; AxonMem is not modelled)",
           f"|{head}|{'Cores':>8}| layer, tile (x,y,c)"]
    for lay in rows:
        cells = []
        for _, key in REGISTERS:
            val, lim = lay["registers"].get(key) if key else None, budgets.get(key) if key else None
            cells.append(f"{100 * val / lim:>7.2f}%" if val is not None and lim else f"{'-':>8}")
        tile = ", ".join(map(str, lay["tile"]))
        out.append(f"|{'|'.join(cells)}|{lay['cores']:>8}| {lay['name']} ({tile})")
    return out


def format_table(s: dict[str, Any]) -> str:
    lines = [f"{s['name']} on {s['profile']} ({s['strategy']}): {s['cores']} cores on {s['chips']} chip(s), "
             f"{s['neurons']:,} neurons",
             f"{'layer':<12} {'shape (x y c)':<16} {'tile (x,y,c)':<14} {'neurons/core':>12} {'cores':>6}"]
    for lay in s["per_layer"]:
        shape = " x ".join(map(str, lay["shape"]))
        tile = ",".join(map(str, lay["tile"]))
        lines.append(f"{lay['name']:<12} {shape:<16} {tile:<14} {lay['neurons_per_core']:>12,} {lay['cores']:>6}")
    lines.append(f"{'total':<12} {'':<16} {'':<14} {'':>12} {s['cores']:>6}")
    summed = sum(lay["cores"] for lay in s["per_layer"])
    shared = sum(lay.get("shared_cores", 0) for lay in s["per_layer"])
    if summed != s["cores"]:
        lines.append(f"layers share cores: the per-layer core counts add up to {summed:,} over the "
                     f"{s['cores']:,} cores ({shared:,} layer-core pairs are on cores that hold several layers)")
    lines.extend(utilisation_table(s))
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
