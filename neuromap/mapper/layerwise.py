"""Layer-wise tiling, what Intel's compiler does: every layer gets its own cores, cut into
rectangular (x, y, c) tiles that are split until no per-core budget is violated.

* Spatial layers start as one tile of the whole layer; while the tile breaks a budget its
  width is cut to the next power of two below it (then halved), x first, then y, then c.
  That reproduces Intel's PilotNet tiles (16, 4, 4, 8, 8, 16 wide) and core counts.
* Flat ``(n,)`` layers are split into the fewest near-equal parts that fit (Intel's dense
  100 layer: 12 cores of 8 or 9 neurons).
* Output routes depend on the next layers' cores, so they are checked once every layer is
  tiled; a layer whose cores send too many routes is split further.
A single neuron that fits no core raises a NeuromapError naming the layer, the budget, the value
and the remedy.
"""
from __future__ import annotations

import numpy as np

from ..errors import NeuromapError
from ..graph import NetworkGraph
from ..hw.profile import HardwareProfile
from .mapping import Mapping
from .resources import tile_usage
from .units import Tiling, dims3

BUDGETS = ("neuron_use", "memory", "axons")


def _limits(profile: HardwareProfile) -> dict[str, float]:
    return {"neuron_use": 1.0, "memory": profile.memory_words, "axons": profile.max_input_axons}


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


def _infeasible(graph: NetworkGraph, layer: str, tiling: Tiling, profile: HardwareProfile) -> None:
    usage = tile_usage(graph, layer, tiling, profile)
    what, value, limit = _worst(usage, profile)  # type: ignore[misc]
    fan_in = sum(graph.layer(e.src).size for e in graph.in_edges(layer) if e.kind == "dense")
    if what == "memory":
        raise NeuromapError(
            f"layer {layer}: a single neuron needs {value:,.0f} words of synaptic memory"
            f"{f' (dense fan-in {fan_in:,} inputs, one synapse list each)' if fan_in else ''}, "
            f"over the {profile.name} limit of {limit:,.0f} words per core; reduce the fan-in of "
            f"{layer} (fewer inputs, a convolution or grouped connection instead of dense) or use a "
            f"profile with more memory per core")
    if what == "axons":
        raise NeuromapError(
            f"layer {layer}: a single neuron receives from {value:,.0f} presynaptic neurons, over the "
            f"{profile.name} limit of {limit:,.0f} input axons per core; reduce the fan-in of {layer} "
            f"(smaller kernel or fewer input channels / groups) or use a profile with more input axons")
    raise NeuromapError(f"layer {layer}: a single neuron exceeds the {profile.name} neuron budget "
                        f"({value:.2f} of a core); check max_neurons in the profile")


def layerwise_tilings(graph: NetworkGraph, profile: HardwareProfile) -> dict[str, Tiling]:
    """Tilings of every on-chip layer, output routes included."""
    from .metrics import unit_traffic
    from .units import build_unit_graph
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
                tilings[name] = Tiling.balanced(name, dims3(graph.layer(name)), (1, 1, min(n, 2 * t.grid[2])))
            else:
                axis = next(a for a in range(3) if tile[a] > 1)
                new = list(tile)
                new[axis] = _shrink(tile[axis])
                tilings[name] = layer_tiling(graph, name, profile, start=tuple(new))
    raise NeuromapError("layer-wise tiling did not converge on the output-route budget")


def map_layerwise(graph: NetworkGraph, profile: HardwareProfile) -> Mapping:
    """Layer-wise mapping, cores placed in order along the mesh (validated)."""
    from .api import map_network
    return map_network(graph, profile, "layerwise").mapping
