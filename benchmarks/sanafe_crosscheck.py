"""neuromap's cost model (profile loihi1-sanafe) against SANA-FE on the same mapped networks.

For each network: neuromap maps it layer-wise onto loihi1-sanafe's cores, Lava simulates it and
neuromap accounts and prices the events. The same network then runs on SANA-FE (sanafe 2.2.9,
its shipped Loihi architecture file) with the same core for every neuron, the same input spikes
(replayed by SANA-FE input neurons) and the same neuron dynamics (CUBA as SANA-FE's leaky
integrate-and-fire: retention factors 1 - decay / 4096, threshold vThMant, Lava's kernel
orientation, every structural synapse as an explicit sparse connection, so padded convolutions
stay exact). The table compares energy per term (synapse, soma, network), the event counts behind
them and the time per step.

    .venv/bin/python benchmarks/sanafe_crosscheck.py [--nets digitnet squeezenet_p pilotnet]
        [--samples 2] [--steps 16] [--out benchmarks/results/sanafe_crosscheck.json]

Networks: digitnet and squeezenet_p at the digits input (random weights of the zoo's own seeded
init, woken up by neuromap.models.calibrate to fire about 10 % of the time on digits; the first
samples of the digits test split, rate-coded), and the first two layers of lava-dl's PilotNet LIF
(input and conv1, 2.05 M synapses: SANA-FE keeps about 1.1 KB per synapse, so the whole network
does not fit in memory) driven by its shipped image.npy for 16 steps. Needs `sanafe` and pyyaml
(benchmarks/requirements.txt). Lava is slow: PilotNet's two layers take a few minutes.
"""
from __future__ import annotations

import argparse
import json
import sys
import sysconfig
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from neuromap.cost import account, estimate_cost
from neuromap.graph import NetworkGraph, conv_output_shape
from neuromap.hw.profile import load_profile
from neuromap.mapper import map_network
from neuromap.netx.export import export_netx
from neuromap.netx.load import load_netx
from neuromap.provenance import versions
from neuromap.sim.activity import Activity, depths

PROFILE = "loihi1-sanafe"
NETS = ["digitnet", "squeezenet_p", "pilotnet"]


# ---------------------------------------------------------------- networks and activity

def zoo_network(family: str, samples: int, steps: int, seed: int) -> tuple[NetworkGraph, np.ndarray, str]:
    import torch

    from neuromap.data.digits import load_digits_split
    from neuromap.data.encode import rate_encode
    from neuromap.models import create_model
    from neuromap.models.calibrate import calibrate_snn

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    model = create_model(family, kind="snn", num_classes=10, input_shape=(1, 8, 8))
    split = load_digits_split(seed)
    wake = torch.from_numpy(rate_encode(split.x_train[:32], split.max_level, steps).astype(np.float32))
    calibrate_snn(model, wake, target_rate=0.1)
    with tempfile.TemporaryDirectory() as tmp:
        graph = load_netx(export_netx(model, Path(tmp) / f"{family}.net"))
    nchwt = rate_encode(split.x_test[:samples], split.max_level, steps)
    return graph, nchwt.transpose(0, 3, 2, 1, 4), (f"digits test split, first {samples} samples, "
                                                   f"rate-coded over {steps} steps; seed {seed}")


def pilotnet_head(steps: int) -> tuple[NetworkGraph, np.ndarray, str]:
    gts = Path(sysconfig.get_paths()["purelib"]) / "tests/lava/lib/dl/netx/gts/pilotnet_lif"
    full = load_netx(gts / "network.net")
    head = NetworkGraph("pilotnet_lif_input_conv1", full.layers[:2], full.edges[:1], full.meta)
    return head, np.load(gts / "image.npy")[None], f"lava-dl's pilotnet_lif/image.npy, static drive, {steps} steps"


def simulate(graph: NetworkGraph, data: np.ndarray, steps: int) -> Activity:
    try:
        from neuromap.sim.fast import simulate_fast as run   # bit-exact and faster, where present
    except ImportError:
        from neuromap.sim.lava import simulate_lava as run
    return run(graph, data, steps=steps)


# ---------------------------------------------------------------- SANA-FE

def edge_matrix(graph: NetworkGraph, edge: Any) -> sp.csr_matrix:
    """Every structural synapse of an edge (zero weights included) as (post, pre) -> weight, in
    Lava's orientation (its convolution flips the kernel relative to the IR's weight layout)."""
    src, dst = graph.layer(edge.src), graph.layer(edge.dst)
    if edge.kind == "dense":
        rows, cols = np.nonzero(np.ones_like(edge.weight, dtype=bool))
        return sp.csr_matrix((edge.weight[rows, cols], (rows, cols)), shape=edge.weight.shape)
    if edge.kind != "conv":
        raise SystemExit(f"{graph.name}: edge kind {edge.kind} is not supported by this cross-check")
    X, Y, C = src.shape
    Xo, Yo, Co = conv_output_shape(src.shape, edge)
    G = edge.groups
    cin, cout = C // G, Co // G
    (px, py), (sx, sy), (dx, dy) = edge.padding, edge.stride, edge.dilation
    w = edge.weight[:, ::-1, ::-1, :]
    _, kx, ky, _ = w.shape
    xo, yo, co = (a.ravel() for a in np.meshgrid(np.arange(Xo), np.arange(Yo), np.arange(Co), indexing="ij"))
    post = np.arange(Xo * Yo * Co)
    rows, cols, vals = [], [], []
    for i in range(kx):
        for j in range(ky):
            x, y = xo * sx - px + i * dx, yo * sy - py + j * dy
            ok = (x >= 0) & (x < X) & (y >= 0) & (y < Y)
            for c in range(cin):
                rows.append(post[ok])
                cols.append((x[ok] * Y + y[ok]) * C + (co[ok] // cout) * cin + c)
                vals.append(w[co[ok], i, j, c])
    return sp.csr_matrix((np.concatenate(vals).astype(float), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(Xo * Yo * Co, X * Y * C))


def loihi_arch(chips: int) -> Any:
    """SANA-FE's shipped Loihi architecture; for several chips, the same tiles on a mesh
    8 x chips tiles wide (chips side by side east-west, as neuromap's hop model lays them)."""
    import sanafe
    import yaml
    from importlib.resources import files

    if chips == 1:
        return sanafe.load_loihi()
    raw = yaml.safe_load((files("sanafe.examples") / "loihi.yaml").read_text())
    raw["architecture"]["attributes"]["width"] = 8 * chips
    raw["architecture"]["tile"][0]["name"] = f"loihi_tile[0..{32 * chips - 1}]"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "loihi_chips.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return sanafe.load_arch(str(path))


def per_step_busiest_ns(graph: NetworkGraph, mapping: Any, activity: Activity, prof: Any,
                        depth: dict[str, int], run_steps: int) -> float:
    """The model's step time if the busiest core were taken step by step (mean over the steps of
    each step's busiest core, plus the barrier) instead of from the run's average."""
    worst = []
    for g in range(run_steps):
        sliced = {}
        for layer, ev in activity.events.items():
            k = g - depth[layer]
            sliced[layer] = ev[:, k:k + 1] if 0 <= k < ev.shape[1] else np.zeros_like(ev[:, :1])
        one = account(graph, mapping, Activity(sliced, 1))
        cost = estimate_cost(one, mapping, prof, graph)
        worst.append(cost.step_terms["busiest_core_ns"] + cost.step_terms["barrier_ns"])
    return float(np.mean(worst))


def sanafe_run(graph: NetworkGraph, mapping: Any, activity: Activity, sample: int, run_steps: int,
               threads: int) -> dict[str, Any]:
    """One sample on SANA-FE's Loihi: layers with neurons become LIF groups, the input layer (and
    any layer without incoming edges) replays its Lava spikes through SANA-FE input neurons."""
    import sanafe

    arch = loihi_arch(mapping.num_chips)
    tiles = list(arch.tiles)
    height = 4   # SANA-FE numbers a mesh tile x * height + y (its loihi.yaml: 8 x 4 tiles)
    net = sanafe.Network()
    depth = depths(graph)
    groups = {}
    slot: dict[tuple[int, int], list[int]] = {}   # neuromap core -> (SANA-FE tile, core in tile)
    where = {}
    for c in mapping.cores:
        key = (c.chip, c.tile_x, c.tile_y)
        slot.setdefault(key, []).append(c.index)
        where[c.index] = ((c.chip * 8 + c.tile_x) * height + c.tile_y, len(slot[key]) - 1)
    spare = len(mapping.cores)   # input neurons of an off-chip layer go on the cores after these
    replayed = 0
    for lay in graph.layers:
        sources = [e for e in graph.in_edges(lay.name) if e.src != lay.name]
        if not sources:
            spikes = (activity.events[lay.name][sample] != 0)      # (T, n)
            grp = net.create_neuron_group(lay.name, lay.size)
            assign = mapping.assignment.get(lay.name)
            per_core: dict[int, int] = {}
            for i, neuron in enumerate(grp):
                train = np.zeros(run_steps, int)
                train[:spikes.shape[0]] = spikes[:, i]
                if assign is not None:
                    core = int(assign[i])
                else:
                    core = spare + i // 1024
                    if core not in where:
                        tile, _ = divmod(core, 4)
                        where[core] = (tile, core % 4)
                k = per_core.get(core, 0)
                per_core[core] = k + 1
                neuron.set_attributes(soma_hw_name=f"loihi_inputs[{k}]",
                                      model_attributes={"spikes": train.tolist()})
                tile, idx = where[core]
                neuron.map_to_core(tiles[tile].cores[idx])
            replayed += int(spikes.sum())
            groups[lay.name] = grp
            continue
        p = lay.neuron.params
        attrs = {"threshold": float(p["vThMant"]), "leak_decay": 1.0 - p["vDecay"] / 4096.0,
                 "input_decay": 1.0 - p["iDecay"] / 4096.0, "reset": 0.0}
        synapse = "loihi_conv_synapse" if {e.kind for e in sources} == {"conv"} else "loihi_dense_synapse"
        grp = net.create_neuron_group(lay.name, lay.size, model_attributes=attrs, soma_hw_name="loihi_lif",
                                      default_synapse_hw_name=synapse, log_spikes=True)
        bias = None if lay.bias is None else np.asarray(lay.bias, float).reshape(-1)
        assign = mapping.assignment[lay.name]
        for i, neuron in enumerate(grp):
            if bias is not None and bias[i] != 0:
                neuron.set_attributes(model_attributes={"bias": float(bias[i])})
            tile, idx = where[int(assign[i])]
            neuron.map_to_core(tiles[tile].cores[idx])
        groups[lay.name] = grp
    for edge in graph.edges:
        m = edge_matrix(graph, edge).tocoo()
        groups[edge.src].connect_neurons_sparse(groups[edge.dst], {"weight": m.data.tolist()},
                                                list(zip(m.col.tolist(), m.row.tolist())))
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    t0 = time.perf_counter()
    res = chip.sim(run_steps, perf_trace=True, spike_trace=True, processing_threads=threads)
    wall = time.perf_counter() - t0
    fired: dict[str, int] = {}
    for step in res["spike_trace"]:
        for addr in step:
            fired[addr.group_name] = fired.get(addr.group_name, 0) + 1
    perf = res["perf_trace"]
    del chip, net
    return {"energy_pj": {k: v * 1e12 for k, v in res["energy"].items()},
            "sim_time_us": res["sim_time"] * 1e6, "steps": run_steps,
            "synaptic_events": int(sum(perf["spikes"])), "updated": int(sum(perf["updated"])),
            "fired": int(sum(perf["fired"])), "packets": int(res["packets_sent"]),
            "hops": int(sum(perf["hops"])), "fired_by_layer": fired, "replayed_spikes": replayed,
            "wall_s": wall, "depth": max(depth.values())}


# ---------------------------------------------------------------- comparison

def crosscheck(name: str, graph: NetworkGraph, data: np.ndarray, steps: int, input_desc: str,
               threads: int) -> dict[str, Any]:
    prof = load_profile(PROFILE)
    mapping = map_network(graph, prof, "layerwise").mapping
    depth = depths(graph)
    D = max(depth.values())
    run_steps = steps + D   # the input's T steps, then D more so the last layer sees all of it
    if data.ndim == len(graph.input_layer.shape) + 2:     # per-step input: zeros after T steps
        data = np.concatenate([data, np.zeros(data.shape[:-1] + (D,), data.dtype)], axis=-1)
    t0 = time.perf_counter()
    activity = simulate(graph, data, run_steps)
    sim_s = time.perf_counter() - t0
    # SANA-FE runs global steps [0, T + D); a layer's Lava window starts at its depth, so keep
    # the window's first T + D - depth steps: both sides then hold the same steps of every layer
    kept = {}
    for layer, ev in activity.events.items():
        ev = ev.copy()
        ev[:, run_steps - depth[layer]:, :] = 0
        kept[layer] = ev
    activity = Activity(kept, run_steps)
    S, T = activity.samples, steps
    events = account(graph, mapping, activity)
    cost = estimate_cost(events, mapping, prof, graph)
    runs = [sanafe_run(graph, mapping, activity, s, run_steps, threads) for s in range(S)]
    sf = {k: sum(r[k] for r in runs) / S for k in ("sim_time_us", "synaptic_events", "updated", "fired",
                                                  "packets", "hops", "replayed_spikes")}
    sf_energy = {k: sum(r["energy_pj"][k] for r in runs) / S for k in runs[0]["energy_pj"]}
    fired_by_layer = {}
    for r in runs:
        for k, v in r["fired_by_layer"].items():
            fired_by_layer[k] = fired_by_layer.get(k, 0) + v / S
    ours = cost.energy_pj
    per = 1.0 / S
    on_chip_sources = [l.name for l in graph.layers if l.on_chip and not graph.in_edges(l.name)]
    lif_spikes = {l.name: events.layer_spikes.get(l.name, 0) * per for l in graph.layers
                  if graph.in_edges(l.name)}
    terms = {
        "synapse": (ours["synops"], sf_energy["synapse"]),
        "soma": (ours["neuron_updates"] + ours["spike_out"], sf_energy["soma"] + sf_energy["dendrite"]),
        "network": (ours["spikes"] + ours["hops"], sf_energy["network"]),
        "dynamic": (ours["dynamic"], sf_energy["total"]),
    }
    if on_chip_sources:
        # SANA-FE's input neurons replaying an on-chip layer cost nothing at the soma: leave that
        # layer's soma energy out on our side too, to compare the rest
        e = prof.energy_pj
        cores = [c.index for c in mapping.cores if set(c.layers) & set(on_chip_sources)]
        replayed = float(sum(events.active_updates[i] * e["neuron_update_active"]
                             + (events.updates[i] - events.active_updates[i]) * e["neuron_update_inactive"]
                             + events.spikes[i] * e["spike_out"] for i in cores) * per)
        terms["soma, replayed layer left out"] = (terms["soma"][0] - replayed, terms["soma"][1])
        terms["dynamic, replayed layer left out"] = (terms["dynamic"][0] - replayed, terms["dynamic"][1])
    counts = {
        "synaptic events": (float(events.synops.sum() * per), sf["synaptic_events"]),
        "LIF spikes": (sum(lif_spikes.values()), sf["fired"] - sf["replayed_spikes"]),
        "neuron-steps updated (ours: active)": (float(events.active_updates.sum() * per), sf["updated"]),
        "messages (packets)": (float((events.messages.sum() + events.traffic[-1].sum()) * per), sf["packets"]),
        "hops": (cost.hops_east_west + cost.hops_north_south, sf["hops"]),
    }
    step_ns = (cost.step_ns, sf["sim_time_us"] * 1000.0 / run_steps)   # both over the same steps
    step_by_step = per_step_busiest_ns(graph, mapping, activity, prof, depth, run_steps)
    return {
        "network": name, "input": input_desc, "samples": S, "input_steps": T, "steps_run": run_steps,
        "neurons": graph.num_neurons, "synapses": graph.num_synapses, "cores": mapping.num_cores,
        "tiles": cost.tiles_used, "on_chip_replayed_layers": on_chip_sources,
        "energy_pj": {k: {"neuromap": a, "sanafe": b, "diff_pct": _pct(a, b)} for k, (a, b) in terms.items()},
        "counts": {k: {"neuromap": a, "sanafe": b, "diff_pct": _pct(a, b)} for k, (a, b) in counts.items()},
        "step_ns": {"neuromap": step_ns[0], "sanafe": step_ns[1], "diff_pct": _pct(*step_ns),
                    "neuromap_terms": cost.step_terms},
        "step_ns_busiest_core_per_step": {"neuromap": step_by_step, "sanafe": step_ns[1],
                                          "diff_pct": _pct(step_by_step, step_ns[1])},
        "spikes_by_layer": {k: {"lava": v, "sanafe": fired_by_layer.get(k, 0.0)} for k, v in lif_spikes.items()},
        "lava_seconds": round(sim_s, 1), "sanafe_seconds": round(sum(r["wall_s"] for r in runs), 1),
    }


def _pct(ours: float, theirs: float) -> float | None:
    return None if theirs == 0 else round(100.0 * (ours - theirs) / theirs, 2)


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| network | quantity | neuromap | SANA-FE | diff |", "|---|---|---|---|---|"]
    for r in results:
        name = r["network"]
        for k, v in r["energy_pj"].items():
            lines.append(f"| {name} | {k} energy (nJ/inference) | {v['neuromap'] / 1e3:,.2f} | "
                         f"{v['sanafe'] / 1e3:,.2f} | {_fmt(v['diff_pct'])} |")
        for k, v in r["counts"].items():
            lines.append(f"| {name} | {k} | {v['neuromap']:,.0f} | {v['sanafe']:,.0f} | {_fmt(v['diff_pct'])} |")
        s = r["step_ns"]
        lines.append(f"| {name} | time per step (ns) | {s['neuromap']:,.0f} | {s['sanafe']:,.0f} | "
                     f"{_fmt(s['diff_pct'])} |")
        s = r["step_ns_busiest_core_per_step"]
        lines.append(f"| {name} | time per step, each step's busiest core (ns) | {s['neuromap']:,.0f} | "
                     f"{s['sanafe']:,.0f} | {_fmt(s['diff_pct'])} |")
    return "\n".join(lines)


def _fmt(p: float | None) -> str:
    return "n/a" if p is None else f"{p:+.1f} %"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", nargs="+", default=NETS, choices=NETS)
    ap.add_argument("--samples", type=int, default=2, help="digits samples per zoo network")
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="SANA-FE processing threads")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/sanafe_crosscheck.json"))
    args = ap.parse_args()
    try:
        import sanafe  # noqa: F401
    except ImportError:
        sys.exit("error: sanafe is not installed; pip install -r benchmarks/requirements.txt")
    results = []
    for name in args.nets:
        if name == "pilotnet":
            graph, data, desc = pilotnet_head(args.steps)
        else:
            graph, data, desc = zoo_network(name, args.samples, args.steps, args.seed)
        results.append(crosscheck(name, graph, data, args.steps, desc, args.threads))
        print(table(results[-1:]), flush=True)
    from importlib import metadata
    out = {"command": "python " + " ".join(sys.argv), "profile": PROFILE, "seed": args.seed,
           "versions": {**versions(), "sanafe": metadata.version("sanafe")}, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
