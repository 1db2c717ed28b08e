"""One entry point for every strategy: ``map_network(graph, profile, strategy, options)``.

A pure function of its arguments (the tuning knobs are a frozen ``MapOptions``; nothing global is
read or written). Returns a frozen MapResult: the Mapping (neuron -> core, core -> chip and tile),
the units and their assignment, exact per-core resource use, and the spike traffic with its hop
cost, all counted per unit and class (never per synapse), so the same code runs from 1e4 to 1e8
neurons."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import NeuromapError
from ..graph import NetworkGraph
from ..hw.profile import HardwareProfile
from .layerwise import layerwise_tilings
from .mapping import Core, Mapping, place_linear, validate as validate_mapping
from .metrics import Hops, Traffic, hop_traffic, unit_traffic
from .options import MapOptions
from .partition import partition_units, refine_tilings
from .placement import place_traffic
from .resources import Usage, unit_core_usage
from .units import Tiling, UnitGraph, build_unit_graph

STRATEGIES = ("layerwise", "graph")


@dataclass(frozen=True)
class MapResult:
    graph: NetworkGraph
    profile: HardwareProfile
    strategy: str
    tilings: dict[str, Tiling]
    units: UnitGraph
    core_of_unit: np.ndarray
    n_cores: int
    chip: np.ndarray
    tile_x: np.ndarray
    tile_y: np.ndarray
    usage: Usage
    traffic: Traffic                 # uniform activity: every neuron spikes once
    hops: Hops
    seconds: float
    spike_traffic: Traffic | None = None
    spike_hops: Hops | None = None
    mapping: Mapping | None = None
    #: seconds per step, the chosen candidate and the partitioner's call counts (``summary``)
    timings: dict[str, float] = field(default_factory=dict)
    #: graph strategy: every valid (unit factor, fill) candidate tried, with its cores and messages
    portfolio: tuple[dict[str, float], ...] = ()

    @property
    def chips(self) -> int:
        return int(self.chip.max()) + 1 if self.n_cores else 0

    def per_layer(self) -> list[dict[str, Any]]:
        """Per layer: tile, units, the cores holding its units and how many of those it shares with
        other layers (the graph strategy packs layers together, so the layers' core counts add up
        to more than the total), and per-core register use in Intel's columns (``registers``: the
        largest value over the layer's cores; a shared core counts every layer on it)."""
        rows = []
        layers_on = np.zeros(self.n_cores, np.int64)
        for name in self.units.layers:
            layers_on[np.unique(self.core_of_unit[self.units.units_of(name)])] += 1
        u = self.usage
        for name in self.units.layers:
            lay = self.graph.layer(name)
            units = self.units.units_of(name)
            cores = self.core_of_unit[units]
            n = self.tilings[name].unit_neurons()
            per_core = np.bincount(cores, n, self.n_cores)
            used = np.unique(cores)
            regs = {"axon_in": u.axons, "neuron_groups": u.groups, "neurons": u.neurons,
                    "synapses": u.memory, "axon_map": u.axon_map}
            rows.append({"name": name, "shape": list(lay.shape), "neurons": lay.size,
                         "tile": list(self.tilings[name].max_tile), "units": len(units),
                         "cores": int(len(used)), "neurons_per_core": int(per_core[used].max()),
                         "shared_cores": int((layers_on[used] > 1).sum()),
                         "registers": {k: float(v[used].max()) for k, v in regs.items() if v is not None}})
        return rows

    def register_budgets(self) -> dict[str, float | None]:
        """Per-core budget of each register in Intel's columns (None: not bounded by the profile).
        Neurons: the budget of the network's first on-chip neuron type (Loihi 2: one for all)."""
        p = self.profile
        big = 1 << 62
        first = next((lay for lay in self.graph.layers if lay.on_chip), None)
        neurons = p.neuron_limit(first.neuron.type) if first is not None else p.neuron_limit("default")
        return {k: (float(v) if v < big else None) for k, v in (
            ("axon_in", p.max_input_axons), ("neuron_groups", p.max_neuron_groups), ("neurons", neurons),
            ("synapses", p.memory_words), ("axon_map", p.max_axon_map))}

    def summary(self) -> dict[str, Any]:
        u = self.usage
        out: dict[str, Any] = {
            "name": self.graph.name, "profile": self.profile.name, "strategy": self.strategy,
            "neurons": int(self.graph.num_neurons), "cores": int(self.n_cores), "chips": self.chips,
            "tiles": int(len({(int(c), int(x), int(y)) for c, x, y in zip(self.chip, self.tile_x, self.tile_y)})),
            "units": int(self.units.n_units),
            "inter_core_messages": float(self.traffic.messages),
            "hop_weighted_traffic": float(self.hops.total),
            "hops_east_west": float(self.hops.east_west),
            "hops_north_south": float(self.hops.north_south),
            "chip_crossings": float(self.hops.chip_crossings),
            "mapping_seconds": float(self.seconds),
            "max_use": {"neurons": float(u.neuron_use.max(initial=0)),
                        "memory_words": float(u.memory.max(initial=0)),
                        "input_axons": float(u.axons.max(initial=0)),
                        "output_routes": float(u.routes.max(initial=0)),
                        **({"neuron_groups": float(u.groups.max(initial=0))} if u.groups is not None else {}),
                        **({"axon_map": float(u.axon_map.max(initial=0))} if u.axon_map is not None else {})},
            "limits": {"memory_words": self.profile.memory_words,
                       "input_axons": self.profile.max_input_axons,
                       "output_routes": self.profile.max_output_routes,
                       "neuron_groups": self.profile.max_neuron_groups,
                       "axon_map": self.profile.max_axon_map},
            "register_budgets": self.register_budgets(),
            "per_layer": self.per_layer(),
            "timings": self.timings,
        }
        if self.portfolio:
            out["portfolio"] = list(self.portfolio)
        if self.spike_traffic is not None and self.spike_hops is not None:
            out["activity_inter_core_messages"] = float(self.spike_traffic.messages)
            out["activity_hop_weighted_traffic"] = float(self.spike_hops.total)
        return out


def activity_counts(graph: NetworkGraph, activity: Any) -> dict[str, np.ndarray]:
    """Spike count per neuron and layer from an Activity or a {layer: array} mapping
    (``(neurons,)`` counts, or ``(samples, steps, neurons)`` events)."""
    events = getattr(activity, "events", activity)
    out = {}
    for lay in graph.layers:
        if lay.name not in events:
            continue
        a = np.asarray(events[lay.name])
        counts = (a != 0).sum(axis=tuple(range(a.ndim - 1))) if a.ndim > 1 else a
        if counts.shape != (lay.size,):
            raise NeuromapError(f"activity for layer {lay.name} has {counts.shape[0]} neurons, the "
                                f"layer has {lay.size}; record the activity of this model")
        out[lay.name] = counts.astype(np.float64)
    return out


def map_network(graph: NetworkGraph, profile: HardwareProfile, strategy: str = "layerwise",
                options: MapOptions | None = None, *, activity: Any = None, validate: bool = True,
                materialize: bool = True) -> MapResult:
    """Map ``graph`` onto ``profile``'s cores with ``strategy`` ('layerwise' or 'graph').

    ``options`` (default ``MapOptions()``): ``unit_factor``: the graph mapper cuts each layer-wise
    tile into about this many units (default: 8 up to 256 layer-wise cores, 4 above, which halves
    the partitioning time of large networks for some of the traffic gain; docs/mapping.md). Above
    ``fast_units`` units the partitioner replaces Mt-KaHyPar by cheap geometric and greedy splits
    where they apply. Below it, the graph strategy maps a small portfolio (fills ``fills``; unit
    factor 4 too when the default is 8 and gives at most ``alt_factor_units`` units) and keeps the
    valid candidate with the fewest messages (ties: the least hop-weighted traffic);
    ``unit_factor`` and ``fill`` pin one of them. ``activity`` (an Activity or per-layer spike
    counts) weights the traffic by spikes. ``validate``: check the Mapping with ``mapping.validate``;
    ``materialize``: build the per-neuron Mapping (large networks can skip it)."""
    opts = MapOptions() if options is None else options
    if strategy not in STRATEGIES:
        raise NeuromapError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    counts = activity_counts(graph, activity) if activity is not None else None
    lw = layerwise_tilings(graph, profile)
    timings["tiling"] = time.perf_counter() - t0
    best: dict[str, Any] | None = None          # graph: the chosen portfolio candidate
    portfolio: list[dict[str, Any]] = []
    if strategy == "layerwise":
        tilings = lw
        ug = build_unit_graph(graph, tilings, counts)
        cou = np.arange(ug.n_units)
        n_cores = ug.n_units
        timings["units"] = time.perf_counter() - t0 - timings["tiling"]
        pos = np.array([place_linear(i, profile) for i in range(n_cores)], np.int64).reshape(-1, 3)
        chip, tx, ty = pos[:, 0], pos[:, 1], pos[:, 2]
        traffic = unit_traffic(ug, cou, n_cores)
    else:
        lw_cores = sum(t.n_units for t in lw.values())
        default = 8 if lw_cores <= 256 else 4
        factors = [opts.unit_factor] if opts.unit_factor is not None else \
            [default] + ([4] if default == 8 and opts.portfolio else [])
        small = True                        # the default unit graph is small: try the other factor
        fills = (opts.fill,) if opts.fill is not None else opts.fills
        t1 = time.perf_counter()
        # the portfolio (docs/mapping.md, step 6): below options.fast_units units every
        # (unit factor, fill) candidate is partitioned, refined and kept if it uses no more cores
        # than layer-wise; the fewest messages win, ties broken by hop-weighted traffic. Fast mode
        # (big graphs) keeps the first fill that fits, as before.
        cands: list[dict[str, Any]] = []
        stats: dict[str, float] = {}
        for f in factors:
            if f != factors[0] and not small:
                continue
            tu = time.perf_counter()
            til = refine_tilings(graph, lw, f)
            ugf = build_unit_graph(graph, til, counts)
            stats["units"] = stats.get("units", 0.0) + time.perf_counter() - tu
            fast = ugf.n_units > opts.fast_units
            if f == factors[0]:
                small = ugf.n_units <= opts.alt_factor_units
            elif fast:
                continue
            for fl in fills:
                cou, n_cores, calls = partition_units(ugf, lw, profile, max_cores=lw_cores,
                                                      weighted=counts is not None, fill=fl, options=opts)
                for key, val in calls.items():
                    stats[key] = stats.get(key, 0.0) + float(val)
                if n_cores > lw_cores:
                    continue
                tr = unit_traffic(ugf, cou, n_cores, weighted=counts is not None)   # the objective
                cands.append({"unit_factor": f, "fill": fl, "cores": n_cores, "messages": tr.messages,
                              "tilings": til, "units": ugf, "cou": cou, "traffic": tr, "fast": fast})
                if fast or not opts.portfolio:
                    break
            if cands and (cands[-1]["fast"] or not opts.portfolio):
                break
        timings.update(stats)
        if cands:
            least = min(c["messages"] for c in cands)
            tied = [c for c in cands if c["messages"] <= least]
            for c in tied:
                c["place"] = place_traffic(c["traffic"].pairs, profile, order=np.arange(c["cores"]))
                c["hops"] = hop_traffic(c["traffic"].pairs, *c["place"], profile.mesh_tiles[0]).total
            best = min(tied, key=lambda c: (c["hops"], c["cores"]))
            tilings, ug, cou, n_cores = best["tilings"], best["units"], best["cou"], best["cores"]
            timings["unit_factor"] = best["unit_factor"]
            timings["fill"] = best["fill"]
            timings["fast_splits"] = float(best["fast"])
            timings["candidates"] = float(len(cands))
            portfolio = [{k: c[k] for k in ("unit_factor", "fill", "cores", "messages")} for c in cands]
        else:                               # never more cores than layer-wise: keep its tiles
            tilings = lw
            ug = build_unit_graph(graph, tilings, counts)
            cou, n_cores = np.arange(ug.n_units), ug.n_units
            timings["fallback_to_layerwise_tiles"] = 1.0
        t2 = time.perf_counter()
        timings["partition"] = t2 - t1
        # the chosen candidate's traffic was counted while choosing (spike-weighted with --activity)
        traffic = best["traffic"] if best is not None and counts is None else unit_traffic(ug, cou, n_cores)
        if best is not None:                # placed on its (spike-weighted with --activity) traffic
            chip, tx, ty = best["place"]
        else:
            steer = unit_traffic(ug, cou, n_cores, weighted=True) if counts is not None else traffic
            chip, tx, ty = place_traffic(steer.pairs, profile, order=np.arange(n_cores))
        timings["placement"] = time.perf_counter() - t2
    usage = unit_core_usage(ug, cou, n_cores, profile, traffic.routes)
    hops = hop_traffic(traffic.pairs, chip, tx, ty, profile.mesh_tiles[0])
    spike_traffic = spike_hops = None
    if counts is not None:
        spike_traffic = best["traffic"] if best is not None else unit_traffic(ug, cou, n_cores, weighted=True)
        spike_hops = hop_traffic(spike_traffic.pairs, chip, tx, ty, profile.mesh_tiles[0])
    mapping = to_mapping(profile, strategy, tilings, ug, cou, n_cores, (chip, tx, ty)) if materialize else None
    seconds = time.perf_counter() - t0
    bad = usage.violations(profile)
    if bad:
        raise NeuromapError(f"{strategy} mapping breaks a budget ({bad[0]}); this is a bug")
    if validate and mapping is not None:
        tv = time.perf_counter()
        validate_mapping(graph, mapping, profile)
        timings["validate"] = time.perf_counter() - tv
    return MapResult(graph, profile, strategy, tilings, ug, cou, n_cores, chip, tx, ty, usage, traffic,
                     hops, seconds, spike_traffic, spike_hops, mapping, timings, tuple(portfolio))


def map_layerwise(graph: NetworkGraph, profile: HardwareProfile) -> Mapping:
    """Layer-wise mapping, cores placed in order along the mesh (validated)."""
    return map_network(graph, profile, "layerwise").mapping


def to_mapping(profile: HardwareProfile, strategy: str, tilings: dict[str, Tiling], ug: UnitGraph,
               core_of_unit: np.ndarray, n_cores: int, place: tuple[np.ndarray, np.ndarray, np.ndarray]
               ) -> Mapping:
    """The per-neuron Mapping of a unit assignment placed at ``place`` = (chip, tile x, tile y)."""
    chip, tile_x, tile_y = place
    assignment = {name: tilings[name].expand(core_of_unit[ug.units_of(name)]) for name in ug.layers}
    neurons = np.bincount(core_of_unit, ug.unit_neurons, n_cores).astype(np.int64)
    names: list[list[str]] = [[] for _ in range(n_cores)]
    for name in ug.layers:
        for c in np.unique(core_of_unit[ug.units_of(name)]):
            names[c].append(name)
    cores = tuple(Core(i, int(chip[i]), int(tile_x[i]), int(tile_y[i]), "+".join(names[i]),
                       int(neurons[i])) for i in range(n_cores))
    return Mapping(profile.name, strategy, cores, assignment)
