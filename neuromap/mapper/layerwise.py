"""Layer-wise tiling, what Intel's compiler does: every layer gets its own cores, cut into
rectangular (x, y, c) tiles that are split until no per-core budget is violated.

Two rules, chosen by the profile's ``layerwise_rule`` (docs/mapping.md has the evidence):

* ``intel`` (Loihi 2), the rule Intel's printed placements of PilotNet LIF, PilotNet SDNN and
  YOLO-KP follow:
  - a spatial layer's tile width along x is always a power of two (the largest one <= the
    layer's width to start with, then halved);
  - the channels are halved first, while the kernel slice of the tile's channels alone breaks
    the synaptic memory (a weight-shared kernel does not shrink with x or y);
  - then, while a budget is broken, a wide layer (width >= 2 x height) halves x until 1, then y;
    a squarer layer halves x and y in turn, starting with x, or with y when its channels were
    cut; y halves round up (224 -> 112 -> ... -> 7 -> 4);
  - a flat ``(n,)`` layer goes from 1 part to ``ceil(worst ratio)`` parts and multiplies its
    parts by ``max(2, ceil(worst ratio))`` while a budget is broken; each part holds
    ``ceil(n / parts)`` neurons and the last one the rest (dense 100 of PilotNet: 1 -> 6 -> 12
    parts, 11 cores of 9 neurons and one of 1).
* ``halving`` (Loihi 1 profiles): a spatial layer starts as one tile; while it breaks a budget its
  width is cut to the next power of two below it (then halved), x first, then y, then c; a flat
  layer is split into the fewest near-equal parts that fit.
* Output routes depend on the next layers' cores, so they are checked once every layer is
  tiled; a layer whose cores send too many routes is split further.
A single neuron that fits no core raises a NeuromapError naming the layer, the budget, the value
and the remedy.
"""
from __future__ import annotations

import numpy as np

from ..errors import NeuromapError
from ..geometry import dims3
from ..graph import NetworkGraph
from ..hw.profile import HardwareProfile
from .metrics import unit_traffic
from .resources import tile_usage
from .units import Tiling, build_unit_graph

BUDGETS = ("neuron_use", "memory", "axons", "groups", "axon_map")


def _limits(profile: HardwareProfile) -> dict[str, float]:
    return {"neuron_use": 1.0, "memory": profile.memory_words, "axons": profile.max_input_axons,
            "groups": profile.max_neuron_groups, "axon_map": profile.max_axon_map}


def _ratio(usage: dict[str, np.ndarray], profile: HardwareProfile) -> float:
    """The largest use / budget over every budget and unit."""
    lim = _limits(profile)
    return max(float(usage[k].max(initial=0)) / lim[k] for k in BUDGETS)


def _worst(usage: dict[str, np.ndarray], profile: HardwareProfile) -> tuple[str, float, float] | None:
    lim = _limits(profile)
    for key in BUDGETS:
        if usage[key].max(initial=0) > lim[key] + 1e-9:
            return key, float(usage[key].max()), float(lim[key])
    return None


def _shrink(t: int) -> int:
    """Next tile width: the power of two below a non-power, else half."""
    if t & (t - 1):
        return 1 << (t.bit_length() - 1)
    return t // 2


def layer_tiling(graph: NetworkGraph, layer: str, profile: HardwareProfile,
                 start: tuple[int, int, int] | None = None) -> Tiling:
    """The layer-wise tiling of one layer (from ``start`` tile size, default the whole layer)."""
    lay = graph.layer(layer)
    size = dims3(lay)
    if profile.layerwise_rule == "intel":
        return _intel_flat(graph, layer, profile, start) if len(lay.shape) == 1 else \
            _intel_spatial(graph, layer, profile, start)
    if len(lay.shape) == 1:
        n = size[2]
        lo = 1 if start is None else max(1, -(-n // start[2]))
        if _worst(tile_usage(graph, layer, Tiling.balanced(layer, size, (1, 1, n)), profile), profile):
            _infeasible(graph, layer, Tiling.balanced(layer, size, (1, 1, n)), profile)
        hi = n
        while lo < hi:                          # fewest near-equal parts that fit
            mid = (lo + hi) // 2
            if _worst(tile_usage(graph, layer, Tiling.balanced(layer, size, (1, 1, mid)), profile), profile):
                lo = mid + 1
            else:
                hi = mid
        return Tiling.balanced(layer, size, (1, 1, lo))
    tile = list(start or size)
    while True:
        tiling = Tiling.regular(layer, size, tuple(tile))
        if not _worst(tile_usage(graph, layer, tiling, profile), profile):
            return tiling
        axis = next((a for a in range(3) if tile[a] > 1), None)
        if axis is None:
            _infeasible(graph, layer, tiling, profile)
        tile[axis] = _shrink(tile[axis])


def _pow2_floor(n: int) -> int:
    return 1 << (int(n).bit_length() - 1)


def _intel_flat(graph: NetworkGraph, layer: str, profile: HardwareProfile,
                start: tuple[int, int, int] | None) -> Tiling:
    size = dims3(graph.layer(layer))
    n = size[2]
    parts = 1 if start is None else max(1, -(-n // start[2]))
    while True:
        tiling = Tiling.regular(layer, size, (1, 1, -(-n // parts)))
        usage = tile_usage(graph, layer, tiling, profile)
        if not _worst(usage, profile):
            return tiling
        if parts >= n:
            _infeasible(graph, layer, tiling, profile)
        parts = min(n, parts * max(2, int(np.ceil(_ratio(usage, profile) - 1e-9))))


def _channel_probe(graph: NetworkGraph, layer: str, size: tuple[int, int, int], c: int,
                   profile: HardwareProfile) -> bool:
    """Whether a 1 x 1 x c tile (what a channel slice costs before any spatial split) breaks a budget."""
    X, Y, C = size
    probe = Tiling(layer, (np.unique([0, 1, X]), np.unique([0, 1, Y]),
                           np.unique(np.r_[np.arange(0, C, c), C])))
    usage = tile_usage(graph, layer, probe, profile)
    return bool(_worst({k: v[:1] for k, v in usage.items()}, profile))


def _intel_spatial(graph: NetworkGraph, layer: str, profile: HardwareProfile,
                   start: tuple[int, int, int] | None) -> Tiling:
    size = dims3(graph.layer(layer))
    X, Y, C = size
    tile = [_pow2_floor(X), Y, C] if start is None else [_pow2_floor(start[0]), start[1], start[2]]
    channels_cut = False
    while start is None and tile[2] > 1 and _channel_probe(graph, layer, size, tile[2], profile):
        tile[2] = -(-tile[2] // 2)
        channels_cut = True
    wide = X >= 2 * Y
    turn = 1 if channels_cut else 0
    while True:
        tiling = Tiling.regular(layer, size, tuple(tile))
        if not _worst(tile_usage(graph, layer, tiling, profile), profile):
            return tiling
        if wide:
            axis = next((a for a in range(3) if tile[a] > 1), None)
        else:
            order = (turn % 2, 1 - turn % 2, 2)
            axis = next((a for a in order if tile[a] > 1), None)
            turn += 1
        if axis is None:
            _infeasible(graph, layer, tiling, profile)
        tile[axis] = tile[axis] // 2 if axis == 0 else -(-tile[axis] // 2)


def _infeasible(graph: NetworkGraph, layer: str, tiling: Tiling, profile: HardwareProfile) -> None:
    usage = tile_usage(graph, layer, tiling, profile)
    what, value, limit = _worst(usage, profile)  # type: ignore[misc]
    over = f"({value - limit:,.0f} over, {value / limit:.0%})"
    fan_in = sum(graph.layer(e.src).size for e in graph.in_edges(layer) if e.kind == "dense")
    if what == "memory":
        raise NeuromapError(
            f"layer {layer}: a single neuron needs {value:,.0f} words of synaptic memory"
            f"{f' (dense fan-in {fan_in:,} inputs, one synapse list each)' if fan_in else ''}, "
            f"over the {profile.name} limit of {limit:,.0f} words per core {over}; reduce the fan-in of "
            f"{layer} (fewer inputs, a convolution or grouped connection instead of dense) or use a "
            f"profile with more memory per core")
    if what == "axons":
        raise NeuromapError(
            f"layer {layer}: a single neuron receives from {value:,.0f} presynaptic neurons, over the "
            f"{profile.name} limit of {limit:,.0f} input axons per core {over}; reduce the fan-in of {layer} "
            f"(smaller kernel or fewer input channels / groups) or use a profile with more input axons")
    if what == "axon_map":
        raise NeuromapError(
            f"layer {layer}: a single neuron needs {value:,.0f} axon map entries, over the {profile.name} "
            f"limit of {limit:,.0f} per core {over}; give {layer} fewer outgoing connections")
    raise NeuromapError(f"layer {layer}: a single neuron exceeds the {profile.name} {what} budget "
                        f"({value:,.2f} against {limit:,.2f} per core); check the core budgets in the profile")


def layerwise_tilings(graph: NetworkGraph, profile: HardwareProfile) -> dict[str, Tiling]:
    """Tilings of every on-chip layer, output routes included."""
    tilings = {lay.name: layer_tiling(graph, lay.name, profile) for lay in graph.layers if lay.on_chip}
    for _ in range(64):
        ug = build_unit_graph(graph, tilings)
        routes = unit_traffic(ug, np.arange(ug.n_units), ug.n_units).routes
        bad = np.flatnonzero(routes > profile.max_output_routes)
        if not len(bad):
            return tilings
        for name in {ug.layers[ug.unit_layer[u]] for u in bad}:
            t = tilings[name]
            tile = t.max_tile
            if max(tile) == 1:
                raise NeuromapError(
                    f"layer {name}: a single neuron projects to {int(routes[bad].max()):,} destination "
                    f"cores, over the {profile.name} limit of {profile.max_output_routes:,} output routes "
                    f"per core; give the next layer larger tiles or fewer cores")
            if len(graph.layer(name).shape) == 1:
                n = dims3(graph.layer(name))[2]
                if profile.layerwise_rule == "intel":
                    tilings[name] = layer_tiling(graph, name, profile, start=(1, 1, -(-n // (2 * t.grid[2]))))
                else:
                    tilings[name] = Tiling.balanced(name, dims3(graph.layer(name)), (1, 1, min(n, 2 * t.grid[2])))
            else:
                axis = next(a for a in range(3) if tile[a] > 1)
                new = list(tile)
                new[axis] = _shrink(tile[axis])
                tilings[name] = layer_tiling(graph, name, profile, start=tuple(new))
    raise NeuromapError("layer-wise tiling did not converge on the output-route budget")
