"""Traffic-aware partitioning of units onto cores with Mt-KaHyPar (connectivity objective).

Vertices are units (neuron tiles, finer than the layer-wise tiles so that a core can hold a
producer tile and the consumer tiles it feeds); hyperedges are the source classes of
``units.build_unit_graph`` (``{source unit} + destination units``, weighted by neurons or, with an
Activity, by spikes), so the km1 objective Mt-KaHyPar minimises is the inter-core message count.
A vertex weighs its dominant resource (neuron use or memory words, kernel slices amortised) in
millionths of a core; every block may hold one core's worth. Weight sharing and input-axon
overlap make the real budgets non-additive, so the result is checked exactly
(``resources.unit_core_usage``) and repaired by moving units, opening a core only when no
existing core takes them. The recursion gives every block a contiguous range of core numbers
(the order also drives placement). Unit graphs of more than ``MapOptions.fast_units`` units
replace Mt-KaHyPar (``kahypar.kway``) by recursive coordinate bisection of the unit centres
(``bisection.geometric_split``) on big subproblems and by a greedy split (``greedy.greedy_kway``)
on the small ones at the bottom (docs/mapping.md, "Speed and scale"). Below that size a final
pass (``refine.refine_moves``) moves units between cores while that lowers the messages and the
exact budgets allow it.
"""
from __future__ import annotations

import math

import numpy as np

from ..geometry import chip_edges, dims3
from ..hw.profile import HardwareProfile
from .bisection import geometric_split
from .greedy import greedy_kway
from .kahypar import kway
from .options import MapOptions
from .refine import compact, refine_moves, repair
from .resources import kernel_words, list_words
from .units import Tiling, UnitGraph, hyperedges

SCALE = 1_000_000          # vertex weight of one full core
LEAF = 16                  # largest k of one Mt-KaHyPar call at the bottom of the recursion


def refine_tilings(graph, tilings: dict[str, Tiling], factor: int) -> dict[str, Tiling]:
    """Units for the graph mapper: each layer-wise tile cut into about ``factor`` parts by
    halving its longer spatial side. Flat layers keep their layer-wise parts (each of their
    units pays a synapse list per input axon, so cutting them finer only costs memory)."""
    out = {}
    for name, t in tilings.items():
        lay = graph.layer(name)
        if len(lay.shape) == 1 or factor <= 1:
            out[name] = t
            continue
        tile = list(t.max_tile)
        target = max(1, math.prod(tile) // factor)
        while math.prod(tile) > target:
            axis = 0 if tile[0] >= tile[1] else 1
            if tile[axis] == 1:
                axis = 1 - axis
                if tile[axis] == 1:
                    break
            tile[axis] = -(-tile[axis] // 2)
        out[name] = Tiling.regular(name, dims3(lay), tuple(tile))
    return out


def vertex_weights(ug: UnitGraph, lw: dict[str, Tiling], profile: HardwareProfile,
                   amortise_fit: bool = True) -> np.ndarray:
    g = ug.graph
    w = np.zeros(ug.n_units)
    edges = chip_edges(g)
    for name in ug.layers:
        t = ug.tilings[name]
        n = t.unit_neurons()
        ntype = g.layer(name).neuron.type
        words = n * profile.state_words(ntype)
        lw_tile = math.prod(lw[name].max_tile)
        ins = [e for e in edges if e.dst == name]
        ch = np.broadcast_to(t.sizes(2)[None, None, :], t.grid).reshape(-1)
        share = np.full(len(n), float(lw_tile))
        X, Y, C = dims3(g.layer(name))
        split = lw[name].max_tile[2] < C                # layer-wise tiles cut the channels
        if amortise_fit and split and profile.conv_weight_sharing and any(e.kind == "conv" for e in ins):
            # channel-split layers (kernels too big for one core): a kernel slice is shared by
            # every neuron of its channels on the core, so amortise it over as many as fit beside
            # it, not over a layer-wise tile (whose narrow spatial extent would then be kept)
            kw = sum(kernel_words(e, ch, profile) for e in ins if e.kind == "conv")
            st = profile.state_words(ntype)
            fit = (profile.memory_words - kw) / st if st > 0 else np.inf
            share = np.maximum(share, np.minimum(np.minimum(fit, profile.neuron_limit(ntype)), X * Y * ch))
        for e in ins:
            if e.kind == "dense":
                words = words + g.layer(e.src).size * list_words(n, profile)
            elif profile.conv_weight_sharing:
                words = words + kernel_words(e, ch, profile) * n / share
        use = np.maximum(n / profile.neuron_limit(ntype), words / profile.memory_words)
        w[ug.units_of(name)] = use
    return np.maximum(1, np.ceil(w * SCALE)).astype(np.int64)


def partition_units(ug: UnitGraph, lw: dict[str, Tiling], profile: HardwareProfile, max_cores: int,
                    weighted: bool = False, fill: float = 0.97, branch: int = 8,
                    options: MapOptions = MapOptions()) -> tuple[np.ndarray, int, dict[str, int]]:
    """Unit -> core assignment (cores numbered in the order of the recursion, which keeps sibling
    blocks adjacent: the placement lays them along the mesh curve in that order), the core count,
    and the calls of each kind it made (Mt-KaHyPar, greedy and geometric splits, refinement moves).
    ``options`` gives the seed and the thresholds of the cheap splits and the refinement."""
    vw = vertex_weights(ug, lw, profile, options.amortise_fit)
    ptr, idx, ew = hyperedges(ug, weighted)
    # cores: the total weight, and at least one per unit heavier than half a core (no two share)
    k = max(1, min(max_cores, max(math.ceil(vw.sum() / SCALE / fill), int((vw > SCALE // 2).sum()))))
    out = np.zeros(ug.n_units, np.int64)
    fast = ug.n_units > options.fast_units
    stats = dict(mtkahypar_calls=0, greedy_calls=0, geometric_calls=0, refine_moves=0, refine_undone=0)
    _recurse(np.arange(ug.n_units), ptr, idx, ew, k, 0, out, vw, branch, fill,
             unit_centres(ug) if fast else None, options, stats)
    cou, n_cores = compact(out)
    cou, n_cores = repair(ug, cou, n_cores, profile, vw, (ptr, idx))
    if options.refine and not fast:
        cou, n_cores = refine_moves(ug, cou, n_cores, profile, csr=(ptr, idx, ew), stats=stats)
    return cou, n_cores, stats


def unit_centres(ug: UnitGraph) -> np.ndarray:
    """(units, 3): each unit's centre in x, y and c as a fraction of its layer's size."""
    out = np.zeros((ug.n_units, 3))
    for name in ug.layers:
        t = ug.tilings[name]
        cen = [(t.bounds[a][:-1] + t.bounds[a][1:]) / 2 / t.bounds[a][-1] for a in range(3)]
        out[ug.units_of(name)] = np.stack(np.meshgrid(*cen, indexing="ij"), axis=-1).reshape(-1, 3)
    return out


def _recurse(nodes: np.ndarray, ptr: np.ndarray, idx: np.ndarray, ew: np.ndarray, k: int, offset: int,
             out: np.ndarray, vw: np.ndarray, branch: int, fill: float, coords: np.ndarray | None,
             options: MapOptions, stats: dict[str, int]) -> int:
    """Recursive k-way: at most ``branch`` blocks per Mt-KaHyPar call, each block getting a
    contiguous range of core numbers and a weight share proportional to its core count.
    Returns the number of cores used."""
    if k <= 1 or len(nodes) <= 1:
        out[nodes] = offset
        return 1
    # a direct k-way call for up to LEAF cores, else at most ``branch`` blocks of similar size
    b = k if k <= LEAF else min(branch, math.ceil(k / LEAF))
    ks = [k // b + (i < k % b) for i in range(b)]
    total = vw[nodes].sum()
    caps = [int(min(ki * SCALE, total * ki / k * 1.03)) + 1 for ki in ks]
    geometric = options.geometric_units
    if geometric is not None and coords is not None and len(nodes) > geometric:
        part = geometric_split(coords[nodes], vw[nodes].astype(np.float64), caps)
        stats["geometric_calls"] += 1
    elif coords is not None and b == k and len(nodes) <= options.greedy_units:
        part = greedy_kway(len(nodes), ptr, idx, ew, vw[nodes], caps, coords[nodes])
        stats["greedy_calls"] += 1
    else:
        edges, weights = _csr_lists(ptr, idx, ew)
        part = kway(len(nodes), edges, weights, vw[nodes], caps, options.seed)
        stats["mtkahypar_calls"] += 1
    start = offset
    for i in range(b):
        members = np.flatnonzero(part == i)
        if len(members):
            # cores for the block: its planned share, or more when its weight (or its count of
            # units heavier than half a core) needs more; the following ranges shift along
            w = vw[nodes[members]]
            ki = max(1, math.ceil(w.sum() / SCALE / fill), int((w > SCALE // 2).sum()))
            if ks[i] == 1 and w.sum() <= SCALE and int((w > SCALE // 2).sum()) <= 1:
                ki = 1              # a planned single core that fits by weight stays one
            ki = max(ki, ks[i]) if w.sum() > 0.5 * ks[i] * SCALE else ki
            cptr, cidx, cew = _restrict(ptr, idx, ew, members, len(nodes))
            start += _recurse(nodes[members], cptr, cidx, cew, ki, start, out, vw, branch, fill,
                              coords, options, stats)
    return start - offset


def _restrict(ptr: np.ndarray, idx: np.ndarray, ew: np.ndarray, members: np.ndarray, n: int):
    """Hyperedges (CSR over local ids 0..n-1) restricted to ``members`` and relabelled, keeping
    those with two or more pins."""
    local = -np.ones(n, np.int64)
    local[members] = np.arange(len(members))
    eid = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    new = local[idx]
    keep = new >= 0
    eid, new = eid[keep], new[keep]
    cnt = np.bincount(eid, minlength=len(ptr) - 1)
    ok = cnt >= 2
    cptr = np.r_[0, np.cumsum(cnt[ok])]
    return cptr, new[ok[eid]], ew[ok]


def _csr_lists(ptr: np.ndarray, idx: np.ndarray, ew: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """CSR hyperedges as the list of lists Mt-KaHyPar takes (grouped by size) and their weights."""
    sizes = np.diff(ptr)
    edges: list[list[int]] = []
    weights = []
    for n in np.unique(sizes):
        rows = np.flatnonzero(sizes == n)
        edges.extend(idx[ptr[rows][:, None] + np.arange(n)[None, :]].tolist())
        weights.append(ew[rows])
    return edges, (np.concatenate(weights) if weights else np.zeros(0, np.int64))


