"""Per-core resource model: what a set of neurons costs a Loihi-style neurocore.

Budgets come from the profile (docs/mapping.md has the reasoning, the published printouts and
the calibration). Each is one of the registers Intel's Loihi 2 compiler checks and prints:

* **Neurons** per type: a core's neuron use is ``sum(n_type / limit_type)`` and must be <= 1;
* **NeuronGr** (neuron groups): one per layer with neurons on the core;
* **SynMem** ("Synapses"), words of 64 bits, holding
  - neuron state: ``neuron_state_words[type]`` per neuron (0 on Loihi 2, whose neuron state has
    its own register; the Loihi 1 profiles keep one pool),
  - dense synapses, one entry each (zero weights included, as Loihi stores them): every input axon
    has a synapse list of ``list_header_words`` plus ``ceil(n_targets * entry_bits / 64)`` words;
  - convolutions with weight sharing (Loihi 2): the kernel slice of the output channels on the
    core, stored once, one row per kernel tap and input channel,
    ``kx * ky * c_in/groups * ceil(channels * conv_bits / 64)`` words;
    without sharing (Loihi 1) every synapse is an entry of its input axon's list;
* **AxonIn** (input axons): distinct presynaptic neurons (or host inputs) with a synapse on the
  core; with ``conv_input_axons: per_edge`` a convolution edge is one axon per core instead
  (Loihi 2 sends convolution spikes with their position, Intel's printouts count 1 or 2);
* **AxonMap** (output axon map): per neuron and outgoing dense edge (or readout) one entry, per
  spatial position and outgoing convolution edge one entry;
* **output routes**: for the core's neurons, the sum of their distinct destination cores.

Three ways to count, for three users: per tile (the layer-wise search), per core from whole
units (the graph mapper; exact except Loihi 1 convolution lists, which are bounded above), and
per neuron from a Mapping (the validator, exact, independent of any partitioner).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Edge, NetworkGraph
from ..hw.profile import HardwareProfile
from ..geometry import chip_edges, conv_fanout, dims3, reach_mask
from .units import Tiling, UnitGraph, edge_axis_maps

WORD = 64
#: below this many units, input axons are counted exactly on every core (else bounded above)
EXACT_UNITS = 20000


@dataclass
class Usage:
    """Resource use per core (arrays of length ``cores``)."""

    neuron_use: np.ndarray      # sum over types of neurons / limit
    neurons: np.ndarray
    memory: np.ndarray          # words (SynMem)
    axons: np.ndarray           # AxonIn
    routes: np.ndarray
    groups: np.ndarray | None = None     # NeuronGr: layers with neurons on the core
    axon_map: np.ndarray | None = None   # AxonMap entries

    def _budgets(self, profile: HardwareProfile) -> list[tuple[str, np.ndarray, float]]:
        out = [("neurons", self.neuron_use, 1.0), ("memory", self.memory, profile.memory_words),
               ("axons", self.axons, profile.max_input_axons),
               ("routes", self.routes, profile.max_output_routes)]
        if self.groups is not None:
            out.append(("groups", self.groups, profile.max_neuron_groups))
        if self.axon_map is not None:
            out.append(("axon_map", self.axon_map, profile.max_axon_map))
        return out

    def violations(self, profile: HardwareProfile) -> list[tuple[str, int, float, float]]:
        """(what, core, value, limit) for every budget a core exceeds, worst first per kind."""
        out = []
        for what, arr, lim in self._budgets(profile):
            bad = np.flatnonzero(arr > lim + 1e-9)
            for c in bad[np.argsort(-arr[bad])]:
                out.append((what, int(c), float(arr[c]), float(lim)))
        return out

    def fits(self, profile: HardwareProfile) -> np.ndarray:
        ok = np.ones(len(self.neurons), bool)
        for _, arr, lim in self._budgets(profile):
            ok &= arr <= lim + 1e-9
        return ok


def list_words(targets: np.ndarray | int, profile: HardwareProfile) -> np.ndarray:
    """Words of the synapse lists of axons with ``targets`` entries each (0 -> no list)."""
    t = np.asarray(targets, np.int64)
    words = profile.list_header_words + -(-t * profile.entry_bits // WORD)
    return np.where(t > 0, words, 0)


def kernel_words(edge: Edge, channels: np.ndarray | int, profile: HardwareProfile) -> np.ndarray:
    """Words of a weight-shared convolution kernel slice for ``channels`` output channels: one row
    per kernel tap and input channel, each row the slice's weights packed into whole words."""
    _, kx, ky, cin_g = edge.weight.shape
    ch = np.asarray(channels, np.int64)
    return kx * ky * cin_g * -(-ch * profile.conv_bits // WORD)


def neuron_type(graph: NetworkGraph, layer: str) -> str:
    return graph.layer(layer).neuron.type


def per_edge_axons(profile: HardwareProfile, edge: Edge) -> bool:
    """Whether ``edge`` costs one input axon per core (a Loihi 2 convolution axon)."""
    return edge.kind == "conv" and profile.conv_input_axons == "per_edge"


def axon_map_rates(graph: NetworkGraph, layer: str) -> tuple[int, int]:
    """AxonMap entries of a layer's neurons: (per spatial position, per neuron). One per position
    for every outgoing convolution edge, one per neuron for every other outgoing edge, and one per
    neuron for a layer whose spikes leave the chip (no on-chip destination)."""
    outs = [e for e in chip_edges(graph) if e.src == layer]
    per_pos = sum(1 for e in outs if e.kind == "conv")
    per_neuron = sum(1 for e in outs if e.kind != "conv")
    return per_pos, (per_neuron if outs else 1)


def tiling_axon_map(graph: NetworkGraph, layer: str, tiling: Tiling) -> np.ndarray:
    """AxonMap entries of every unit of a tiling (positions: x * y of the unit)."""
    per_pos, per_neuron = axon_map_rates(graph, layer)
    sx, sy = tiling.sizes(0), tiling.sizes(1)
    pos = np.broadcast_to((sx[:, None] * sy[None, :])[:, :, None], tiling.grid).reshape(-1)
    return per_pos * pos + per_neuron * tiling.unit_neurons()


# ---------------------------------------------------------------- per tile (layer-wise search)

def tile_usage(graph: NetworkGraph, layer: str, tiling: Tiling, profile: HardwareProfile
               ) -> dict[str, np.ndarray]:
    """Per unit of ``tiling`` alone on a core: neurons, neuron use, memory words, input axons.
    (Output routes depend on the next layers' cores and are checked once all are tiled.)"""
    lay = graph.layer(layer)
    size = dims3(lay)
    n = tiling.unit_neurons()
    ntype = lay.neuron.type
    memory = n * profile.state_words(ntype)
    axon_parts: dict[str, list[list[np.ndarray]]] = {}
    axons = np.zeros(tiling.n_units)
    for e in [e for e in chip_edges(graph) if e.dst == layer]:
        src = graph.layer(e.src)
        ssize = dims3(src)
        if e.kind == "dense":
            memory = memory + ssize[0] * ssize[1] * ssize[2] * list_words(n, profile)
            axon_parts.setdefault(e.src, []).append(None)  # type: ignore[arg-type]
            continue
        maps = edge_axis_maps(e, ssize, tiling, size)
        if profile.conv_weight_sharing:
            ch = np.broadcast_to(tiling.sizes(2)[None, None, :], tiling.grid).reshape(-1)
            memory = memory + kernel_words(e, ch, profile)
        else:
            memory = memory + _unshared_unit_words(maps, tiling, profile)
        if per_edge_axons(profile, e):
            axons = axons + 1
            continue
        axon_parts.setdefault(e.src, []).append(maps)  # type: ignore[arg-type]
    gx, gy, gc = tiling.grid
    for src_name, parts in axon_parts.items():
        ssize = dims3(graph.layer(src_name))
        if any(p is None for p in parts):        # a dense edge reaches every source neuron
            axons = axons + ssize[0] * ssize[1] * ssize[2]
        elif len(parts) == 1:
            (rx, _), (ry, _), (rc, _) = parts[0]
            vol = (rx.sum(1)[:, None, None] * ry.sum(1)[None, :, None] * rc.sum(1)[None, None, :])
            axons = axons + vol.reshape(-1)
        else:
            vol = np.zeros((gx, gy, gc))
            for i, j, k in np.ndindex(gx, gy, gc):
                vol[i, j, k] = union_volume([(p[0][0][i], p[1][0][j], p[2][0][k]) for p in parts])
            axons = axons + vol.reshape(-1)
    return {"neurons": n, "neuron_use": n / profile.neuron_limit(ntype), "memory": memory,
            "axons": axons, "groups": np.ones(tiling.n_units),
            "axon_map": tiling_axon_map(graph, layer, tiling).astype(float)}


def _unshared_unit_words(maps, tiling: Tiling, profile: HardwareProfile) -> np.ndarray:
    """Exact synapse-list words per unit when every conv synapse is stored (no sharing):
    an axon's target count on a tile is the product of its per-axis counts."""
    hist = []
    for axis in range(3):
        cnt = maps[axis][1]                     # (tiles, n_in)
        per_tile = []
        for t in range(cnt.shape[0]):
            vals, freq = np.unique(cnt[t][cnt[t] > 0], return_counts=True)
            per_tile.append((vals, freq))
        hist.append(per_tile)
    gx, gy, gc = tiling.grid
    out = np.zeros((gx, gy, gc))
    for i, j, k in np.ndindex(gx, gy, gc):
        (vx, fx), (vy, fy), (vc, fc) = hist[0][i], hist[1][j], hist[2][k]
        t = vx[:, None, None] * vy[None, :, None] * vc[None, None, :]
        f = fx[:, None, None] * fy[None, :, None] * fc[None, None, :]
        out[i, j, k] = float((f * list_words(t, profile)).sum())
    return out.reshape(-1)


def union_volume(boxes: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> int:
    """Size of the union of product sets ``x_set x y_set x c_set`` (boolean axis masks)."""
    if not boxes:
        return 0
    pats, sizes = [], []
    for axis in range(3):
        m = np.stack([b[axis] for b in boxes])          # (m, n)
        u, cnt = np.unique(m, axis=1, return_counts=True)
        pats.append(u)
        sizes.append(cnt)
    px, py, pc = pats
    cover = (px[:, :, None, None] & py[:, None, :, None] & pc[:, None, None, :]).any(axis=0)
    vol = sizes[0][:, None, None] * sizes[1][None, :, None] * sizes[2][None, None, :]
    return int((vol * cover).sum())


# ---------------------------------------------------------------- per core, from whole units

def unit_core_usage(ug: UnitGraph, core_of_unit: np.ndarray, n_cores: int, profile: HardwareProfile,
                    routes: np.ndarray, exact_axons: bool = True) -> Usage:
    """Resource use of every core holding the given units (``routes`` from the traffic pass).
    With ``exact_axons=False`` input axons are bounded above by per-unit sums, and counted exactly
    only on cores where that bound breaks the budget (what feasibility checks need)."""
    g = ug.graph
    neuron_use = np.zeros(n_cores)
    neurons = np.zeros(n_cores)
    memory = np.zeros(n_cores)
    axons = np.zeros(n_cores)
    groups = np.zeros(n_cores)
    axon_map = np.zeros(n_cores)
    edges = chip_edges(g)
    per_src_bound: dict[str, np.ndarray] = {}
    for name in ug.layers:
        units = ug.units_of(name)
        cores = core_of_unit[units]
        n = ug.tilings[name].unit_neurons()
        ntype = neuron_type(g, name)
        neuron_use += np.bincount(cores, n / profile.neuron_limit(ntype), n_cores)
        neurons += np.bincount(cores, n, n_cores)
        memory += np.bincount(cores, n * profile.state_words(ntype), n_cores)
        n_on = np.bincount(cores, n, n_cores)
        tiling = ug.tilings[name]
        groups += n_on > 0
        axon_map += _core_axon_map(g, name, tiling, cores, n_cores)
        for e in [e for e in edges if e.dst == name]:
            ssize = dims3(g.layer(e.src))
            src_n = ssize[0] * ssize[1] * ssize[2]
            if e.kind == "dense":
                memory += src_n * list_words(n_on.astype(np.int64), profile)
                bound = np.where(n_on > 0, src_n, 0).astype(float)
            else:
                maps = ug.maps[id(e)]
                if profile.conv_weight_sharing:
                    ctile = np.broadcast_to(np.arange(tiling.grid[2])[None, None, :], tiling.grid).reshape(-1)
                    pairs = np.unique(cores * tiling.grid[2] + ctile)
                    ch = tiling.sizes(2)[pairs % tiling.grid[2]]
                    memory += np.bincount(pairs // tiling.grid[2], kernel_words(e, ch, profile), n_cores)
                else:
                    memory += np.bincount(cores, _unshared_unit_words(maps, tiling, profile), n_cores)
                if per_edge_axons(profile, e):
                    axons += n_on > 0
                    continue
                (rx, _), (ry, _), (rc, _) = maps
                vol = (rx.sum(1)[:, None, None] * ry.sum(1)[None, :, None] * rc.sum(1)[None, None, :])
                bound = np.bincount(cores, vol.reshape(-1), n_cores)
            if e.src in per_src_bound:
                per_src_bound[e.src] = per_src_bound[e.src] + bound
            else:
                per_src_bound[e.src] = bound
    for src, bound in per_src_bound.items():
        ssize = dims3(g.layer(src))
        src_n = ssize[0] * ssize[1] * ssize[2]
        exact = np.minimum(bound, src_n)
        # the sum over units overcounts shared inputs: count the union exactly where it matters
        # (everywhere for up to EXACT_UNITS units, else only where the bound breaks the budget)
        multi = np.bincount(core_of_unit, minlength=n_cores) > 1
        need = (bound > src_n) | (bound > profile.max_input_axons) | (multi & exact_axons & (ug.n_units <= EXACT_UNITS))
        for c in np.flatnonzero(need & (bound > 0)):
            exact[c] = _core_axons_exact(ug, core_of_unit, int(c), src, profile)
        axons += exact
    return Usage(neuron_use, neurons, memory, axons, routes, groups, axon_map)


def _units_axon_map(g: NetworkGraph, name: str, tiling: Tiling, local_units: np.ndarray) -> float:
    """AxonMap entries of some units of one layer held by one core."""
    cores = np.full(tiling.n_units, -1, np.int64)
    cores[local_units] = 0
    sel = cores >= 0
    per_pos, per_neuron = axon_map_rates(g, name)
    total = float(per_neuron * tiling.unit_neurons()[sel].sum())
    if per_pos:
        gc = tiling.grid[2]
        xy = np.unique(np.flatnonzero(sel) // gc)
        sx, sy = tiling.sizes(0), tiling.sizes(1)
        total += per_pos * float((sx[:, None] * sy[None, :]).reshape(-1)[xy].sum())
    return total


def _core_axon_map(g: NetworkGraph, name: str, tiling: Tiling, cores: np.ndarray, n_cores: int) -> np.ndarray:
    """AxonMap entries per core of one layer's units (a position counts once per core)."""
    per_pos, per_neuron = axon_map_rates(g, name)
    out = np.bincount(cores, per_neuron * tiling.unit_neurons(), n_cores).astype(float)
    if per_pos:
        gx, gy, gc = tiling.grid
        xy = np.arange(gx * gy * gc) // gc                 # unit -> its (x, y) tile cell
        cell = np.unique(cores.astype(np.int64) * (gx * gy) + xy)
        sx, sy = tiling.sizes(0), tiling.sizes(1)
        area = (sx[:, None] * sy[None, :]).reshape(-1)
        out += per_pos * np.bincount(cell // (gx * gy), area[cell % (gx * gy)], n_cores)
    return out


def _unit_tables(ug: UnitGraph, profile: HardwareProfile) -> dict:
    """Per-unit numbers that do not depend on the assignment (cached on the unit graph)."""
    key = ("tables", profile.name, profile.conv_weight_sharing, profile.weight_bits, profile.entry_bits,
           profile.conv_input_axons)
    if key in ug.cache:
        return ug.cache[key]
    g = ug.graph
    use = np.zeros(ug.n_units)
    state = np.zeros(ug.n_units)
    unshared = np.zeros(ug.n_units)
    rf: dict[str, np.ndarray] = {}                 # source layer -> per-unit input-axon bound
    for name in ug.layers:
        units = ug.units_of(name)
        t = ug.tilings[name]
        n = t.unit_neurons()
        ntype = neuron_type(g, name)
        use[units] = n / profile.neuron_limit(ntype)
        state[units] = n * profile.state_words(ntype)
        for e in [e for e in chip_edges(g) if e.dst == name]:
            ssize = dims3(g.layer(e.src))
            if per_edge_axons(profile, e):     # counted per core in core_fits, not per unit
                if not profile.conv_weight_sharing:
                    unshared[units] += _unshared_unit_words(ug.maps[id(e)], t, profile)
                continue
            bound = rf.setdefault(e.src, np.zeros(ug.n_units))
            if e.kind == "dense":
                bound[units] += ssize[0] * ssize[1] * ssize[2]
                continue
            (rx, _), (ry, _), (rc, _) = ug.maps[id(e)]
            bound[units] += (rx.sum(1)[:, None, None] * ry.sum(1)[None, :, None]
                             * rc.sum(1)[None, None, :]).reshape(-1)
            if not profile.conv_weight_sharing:
                unshared[units] += _unshared_unit_words(ug.maps[id(e)], t, profile)
    rows = []
    for b in ug.blocks:
        order = np.argsort(b.pins[:, 0], kind="stable")
        rows.append((order, b.pins[order, 0]))
    ug.cache[key] = {"use": use, "state": state, "unshared": unshared, "rf": rf, "rows": rows}
    return ug.cache[key]


def core_fits(ug: UnitGraph, core_of_unit: np.ndarray, units: np.ndarray, profile: HardwareProfile) -> bool:
    """Whether the given units, all on one core in ``core_of_unit``, fit that core (exact)."""
    if not len(units):
        return True
    tab = _unit_tables(ug, profile)
    core = int(core_of_unit[units[0]])
    if tab["use"][units].sum() > 1 + 1e-9:
        return False
    g = ug.graph
    memory = float(tab["state"][units].sum() + tab["unshared"][units].sum())
    layer_idx = ug.unit_layer[units]
    for li in np.unique(layer_idx):
        name = ug.layers[li]
        mine = units[layer_idx == li]
        t = ug.tilings[name]
        n_on = int(ug.unit_neurons[mine].sum())
        for e in [e for e in chip_edges(g) if e.dst == name]:
            if e.kind == "dense":
                memory += g.layer(e.src).size * int(list_words(n_on, profile))
            elif profile.conv_weight_sharing:
                ctiles = np.unique((mine - ug.offsets[name]) % t.grid[2])
                memory += int(kernel_words(e, int(t.sizes(2)[ctiles].sum()), profile))
    if memory > profile.memory_words:
        return False
    if len(np.unique(layer_idx)) > profile.max_neuron_groups:
        return False
    if profile.max_axon_map < (1 << 62):
        amap = 0.0
        for li in np.unique(layer_idx):
            name = ug.layers[li]
            mine = units[layer_idx == li] - ug.offsets[name]
            amap += _units_axon_map(g, name, ug.tilings[name], mine)
        if amap > profile.max_axon_map:
            return False
    axons = 0.0
    for src, bound in tab["rf"].items():
        b = float(bound[units].sum())
        if b == 0:
            continue
        if b > profile.max_input_axons or len(units) > 1:
            ssize = dims3(g.layer(src))
            b = min(b, ssize[0] * ssize[1] * ssize[2])
            if b > profile.max_input_axons:
                b = _core_axons_exact(ug, core_of_unit, core, src, profile)
        axons += b
    # per-edge convolution axons: one per edge with a target on the core (not per unit)
    for li in np.unique(layer_idx):
        name = ug.layers[li]
        axons += sum(1 for e in chip_edges(g) if e.dst == name and per_edge_axons(profile, e))
    if axons > profile.max_input_axons:
        return False
    cu = np.r_[core_of_unit, -1]
    routes = 0.0
    for b, (order, srcs) in zip(ug.blocks, tab["rows"]):
        lo, hi = np.searchsorted(srcs, units.min()), np.searchsorted(srcs, units.max(), "right")
        sel = order[lo:hi]
        sel = sel[np.isin(b.pins[sel, 0], units)]
        if not len(sel):
            continue
        dst = np.sort(cu[b.pins[sel, 1:]], axis=1)
        first = np.ones_like(dst, dtype=bool)
        first[:, 1:] = dst[:, 1:] != dst[:, :-1]
        routes += float((b.neurons[sel] * (first & (dst >= 0)).sum(axis=1)).sum())
    return routes <= profile.max_output_routes


def _core_axons_exact(ug: UnitGraph, core_of_unit: np.ndarray, core: int, src: str,
                      profile: HardwareProfile) -> int:
    g = ug.graph
    ssize = dims3(g.layer(src))
    boxes = []
    for e in [e for e in chip_edges(g) if e.src == src and not per_edge_axons(profile, e)]:
        units = ug.units_of(e.dst)
        mine = np.flatnonzero(core_of_unit[units] == core)
        if not len(mine):
            continue
        if e.kind == "dense":
            return ssize[0] * ssize[1] * ssize[2]
        gx, gy, gc = ug.tilings[e.dst].grid
        (rx, _), (ry, _), (rc, _) = ug.maps[id(e)]
        for u in mine:
            i, rem = divmod(int(u), gy * gc)
            j, k = divmod(rem, gc)
            boxes.append((rx[i], ry[j], rc[k]))
    return union_volume(boxes)


# ---------------------------------------------------------------- per neuron (the validator)

def neuron_core_usage(graph: NetworkGraph, assignment, n_cores: int, profile: HardwareProfile) -> Usage:
    """Exact resource use per core of an arbitrary neuron -> core assignment."""
    neuron_use = np.zeros(n_cores)
    neurons = np.zeros(n_cores)
    memory = np.zeros(n_cores)
    axons = np.zeros(n_cores)
    routes = np.zeros(n_cores)
    groups = np.zeros(n_cores)
    axon_map = np.zeros(n_cores)
    reach: dict[tuple[str, int], np.ndarray] = {}        # who sends to the core (routes)
    axon_reach: dict[tuple[str, int], np.ndarray] = {}   # who takes an input axon on it
    for lay in graph.layers:
        if not lay.on_chip:
            continue
        assign = np.asarray(assignment[lay.name])
        ntype = lay.neuron.type
        counts = np.bincount(assign, minlength=n_cores)
        neuron_use += counts / profile.neuron_limit(ntype)
        neurons += counts
        memory += counts * profile.state_words(ntype)
        groups += counts > 0
        size = dims3(lay)
        per_pos, per_neuron = axon_map_rates(graph, lay.name)
        axon_map += per_neuron * counts
        if per_pos:
            xy = assign.reshape(size)
            for c in np.flatnonzero(counts):
                axon_map[c] += per_pos * int((xy == c).any(axis=2).sum())
        for e in [e for e in chip_edges(graph) if e.dst == lay.name]:
            src = graph.layer(e.src)
            ssize = dims3(src)
            for c in np.flatnonzero(counts):
                post = assign == c
                if e.kind == "dense":
                    memory[c] += src.size * int(list_words(int(counts[c]), profile))
                    r = np.ones(src.size, bool)
                else:
                    if profile.conv_weight_sharing:
                        ch = int(post.reshape(size).any(axis=(0, 1)).sum())
                        memory[c] += int(kernel_words(e, ch, profile))
                        r = reach_mask(post, e, ssize, size)
                    else:
                        fan = conv_fanout(post, e, ssize, size)
                        memory[c] += int(list_words(fan, profile).sum())
                        r = fan > 0
                key = (e.src, int(c))
                reach[key] = reach[key] | r if key in reach else r
                if per_edge_axons(profile, e):
                    axons[c] += 1
                else:
                    axon_reach[key] = axon_reach[key] | r if key in axon_reach else r
    for (src, c), r in axon_reach.items():
        axons[c] += int(r.sum())
    for (src, c), r in reach.items():
        lay = graph.layer(src)
        if lay.on_chip:
            routes += np.bincount(np.asarray(assignment[src])[r], minlength=n_cores)
    return Usage(neuron_use, neurons, memory, axons, routes, groups, axon_map)


def describe(what: str, value: float, limit: float, profile: HardwareProfile) -> str:
    if what == "neurons":
        return f"neuron use {value:.2%} of the {profile.name} per-core neuron budget"
    unit = {"memory": "words of memory", "axons": "input axons", "routes": "output routes",
            "groups": "neuron groups", "axon_map": "axon map entries"}[what]
    return f"{value:,.0f} {unit}, over the {profile.name} limit of {limit:,.0f} per core"
