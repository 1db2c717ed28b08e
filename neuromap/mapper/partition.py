"""Traffic-aware partitioning of units onto cores with Mt-KaHyPar (connectivity objective).

Vertices are units (neuron tiles, finer than the layer-wise tiles so that a core can hold a
producer tile and the consumer tiles it feeds); hyperedges are the source classes of
``units.build_unit_graph`` (``{source unit} + destination units``, weighted by neurons or, with an
Activity, by spikes), so the km1 objective Mt-KaHyPar minimises is the inter-core message count.
A vertex weighs its dominant resource (neuron use or memory words, kernel slices amortised) in
millionths of a core; every block may hold one core's worth. Weight sharing and input-axon
overlap make the real budgets non-additive, so the result is checked exactly
(``resources.unit_core_usage``) and repaired by moving units, opening a core only when no
existing core takes them. More than one chip's worth of cores is partitioned in two levels:
first into chips, then each chip into cores (the chip blocks also drive placement).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ..errors import NeuromapError
from ..hw.profile import HardwareProfile
from .metrics import unit_traffic
from .resources import kernel_words, list_words, unit_core_usage
from .units import Tiling, UnitGraph, chip_edges, dims3

SCALE = 1_000_000          # vertex weight of one full core
LEAF = 16                  # largest k of one Mt-KaHyPar call at the bottom of the recursion
_MTK = None


def _mtk():
    global _MTK
    if _MTK is None:
        import mtkahypar
        _MTK = mtkahypar.initialize(2, False)
    return _MTK


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


def vertex_weights(ug: UnitGraph, lw: dict[str, Tiling], profile: HardwareProfile) -> np.ndarray:
    g = ug.graph
    w = np.zeros(ug.n_units)
    edges = chip_edges(g)
    for name in ug.layers:
        t = ug.tilings[name]
        n = t.unit_neurons()
        ntype = g.layer(name).neuron.type
        words = n * profile.state_words(ntype)
        lw_tile = math.prod(lw[name].max_tile)
        for e in [e for e in edges if e.dst == name]:
            if e.kind == "dense":
                words = words + g.layer(e.src).size * list_words(n, profile)
            elif profile.conv_weight_sharing:
                ch = np.broadcast_to(t.sizes(2)[None, None, :], t.grid).reshape(-1)
                words = words + kernel_words(e, ch, profile) * n / lw_tile
        use = np.maximum(n / profile.neuron_limit(ntype), words / profile.memory_words)
        w[ug.units_of(name)] = use
    return np.maximum(1, np.ceil(w * SCALE)).astype(np.int64)


def hyperedges(ug: UnitGraph, weighted: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hyperedges with at least two distinct units as CSR (ptr, pins) and integer weights."""
    ptrs, pins_all, weights = [np.zeros(1, np.int64)], [], []
    base = 0
    for b in ug.blocks:
        keep = b.pins[:, 0] >= 0
        if not keep.any():
            continue
        pins = b.pins[keep]
        w = np.rint((b.weight if weighted else b.neurons)[keep]).astype(np.int64)
        src = pins[:, :1]
        dst = np.where(pins[:, 1:] == src, -1, pins[:, 1:])
        full = np.concatenate([src, dst], axis=1)
        valid = full >= 0
        cnt = valid.sum(axis=1)
        ok = (cnt > 1) & (w > 0)
        ptrs.append(base + np.cumsum(cnt[ok]))
        base += int(cnt[ok].sum())
        pins_all.append(full[ok][valid[ok]])
        weights.append(w[ok])
    ptr = np.concatenate(ptrs)
    idx = np.concatenate(pins_all) if pins_all else np.zeros(0, np.int64)
    return ptr, idx, (np.concatenate(weights) if weights else np.zeros(0, np.int64))


def kway(n: int, edges: list[list[int]], ew: np.ndarray, vw: np.ndarray, caps: list[int],
         seed: int) -> np.ndarray:
    """Mt-KaHyPar (deterministic preset, km1) into ``len(caps)`` blocks of the given capacities."""
    k = len(caps)
    if k <= 1 or n <= 1:
        return np.zeros(n, np.int64)
    import mtkahypar
    mk = _mtk()
    ctx = mk.context_from_preset(mtkahypar.PresetType.DETERMINISTIC)
    ctx.set_partitioning_parameters(k, 0.03, mtkahypar.Objective.KM1)
    ctx.logging = False
    mtkahypar.set_seed(seed)
    total = int(vw.sum())
    if total > 10**9:                  # Mt-KaHyPar's node weights are 32-bit: rescale
        f = -(-total // 10**9)
        vw = -(-vw // f)
        caps = [c // f for c in caps]
        total = int(vw.sum())
    if sum(caps) < total:          # the partitioner needs room for everything
        caps = [int(c * total / sum(caps)) + 1 for c in caps]
    ctx.set_individual_target_block_weights([int(c) for c in caps])
    hg = mk.create_hypergraph(ctx, n, len(edges), edges, vw.tolist(), ew.tolist())
    return np.asarray(hg.partition(ctx).get_partition(), np.int64)



def partition_units(ug: UnitGraph, lw: dict[str, Tiling], profile: HardwareProfile, max_cores: int,
                    weighted: bool = False, seed: int = 0, fill: float = 0.97, branch: int = 8
                    ) -> tuple[np.ndarray, int]:
    """Unit -> core assignment (cores numbered in the order of the recursion, which keeps sibling
    blocks adjacent: the placement lays them along the mesh curve in that order) and core count."""
    vw = vertex_weights(ug, lw, profile)
    ptr, idx, ew = hyperedges(ug, weighted)
    # cores: the total weight, and at least one per unit heavier than half a core (no two share)
    k = max(1, min(max_cores, max(math.ceil(vw.sum() / SCALE / fill), int((vw > SCALE // 2).sum()))))
    out = np.zeros(ug.n_units, np.int64)
    _recurse(np.arange(ug.n_units), ptr, idx, ew, k, 0, out, vw, seed, branch, fill)
    cou, n_cores = _compact(out)
    return repair(ug, cou, n_cores, profile, vw, (ptr, idx))


def _recurse(nodes: np.ndarray, ptr: np.ndarray, idx: np.ndarray, ew: np.ndarray, k: int, offset: int,
             out: np.ndarray, vw: np.ndarray, seed: int, branch: int, fill: float = 0.97) -> int:
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
    edges, weights = _csr_lists(ptr, idx, ew)
    part = kway(len(nodes), edges, weights, vw[nodes], caps, seed)
    start = offset
    for i in range(b):
        members = np.flatnonzero(part == i)
        if len(members):
            # cores for the block: its planned share, or more when its weight (or its count of
            # units heavier than half a core) needs more; the following ranges shift along
            w = vw[nodes[members]]
            ki = max(1, math.ceil(w.sum() / SCALE / fill), int((w > SCALE // 2).sum()))
            ki = max(ki, ks[i]) if w.sum() > 0.5 * ks[i] * SCALE else ki
            cptr, cidx, cew = _restrict(ptr, idx, ew, members, len(nodes))
            start += _recurse(nodes[members], cptr, cidx, cew, ki, start, out, vw, seed, branch, fill)
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


def _compact(part: np.ndarray) -> tuple[np.ndarray, int]:
    used, inv = np.unique(part, return_inverse=True)
    return inv.astype(np.int64), len(used)


def repair(ug: UnitGraph, cou: np.ndarray, n_cores: int, profile: HardwareProfile, vw: np.ndarray,
           csr: tuple[np.ndarray, np.ndarray] | None = None, rounds: int = 50) -> tuple[np.ndarray, int]:
    """Move units off cores that break a budget (counted exactly) until every core fits: a unit
    of the layer with the fewest units on the core goes to the core it talks to most (or, failing
    that, a light nearby core) that still fits it, or to a new core when none does."""
    from .resources import core_fits
    cou = cou.copy()
    if csr is not None:                       # unit -> the units it shares a hyperedge with
        ptr, idx = csr
        eid = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        inc = sp.csr_matrix((np.ones(len(idx)), (idx, eid)), shape=(ug.n_units, len(ptr) - 1))
    else:
        inc = None
    for _ in range(rounds):
        usage = _usage(ug, cou, n_cores, profile)
        bad = np.flatnonzero(~usage.fits(profile))
        if not len(bad):
            return cou, n_cores
        load = np.bincount(cou, vw, n_cores)
        members_of = _members(cou, n_cores)
        for c in bad:
            while True:
                members = members_of[c]
                if core_fits(ug, cou, members, profile):
                    break
                if len(members) <= 1:
                    layer = ug.layers[ug.unit_layer[members[0]]]
                    raise NeuromapError(f"a unit of layer {layer} does not fit a {profile.name} core "
                                        f"on its own; use --strategy layerwise")
                layers, counts = np.unique(ug.unit_layer[members], return_counts=True)
                cand = members[ug.unit_layer[members] == layers[np.argmin(counts)]]
                u = int(cand[np.argmin(vw[cand])])
                near = np.r_[np.arange(max(0, c - 8), c), np.arange(c + 1, min(n_cores, c + 9))]
                near = list(near[np.argsort(load[near], kind="stable")][:4])
                if inc is not None:
                    nb = idx[np.concatenate([np.arange(ptr[e], ptr[e + 1]) for e in inc[u].indices])] \
                        if inc[u].nnz else np.zeros(0, np.int64)
                    talk = np.bincount(cou[nb], minlength=n_cores)
                    talk[c] = 0
                    near = [int(t) for t in np.argsort(-talk, kind="stable")[:6] if talk[t] > 0] + near
                target = -1
                for t in dict.fromkeys(near):
                    cou[u] = t
                    if core_fits(ug, cou, np.r_[members_of[t], u], profile):
                        target = int(t)
                        break
                    cou[u] = c
                if target < 0:
                    target = n_cores
                    n_cores += 1
                    members_of.append(np.zeros(0, np.int64))
                    load = np.r_[load, 0.0]
                cou[u] = target
                members_of[c] = members[members != u]
                members_of[target] = np.r_[members_of[target], u]
                load[c] -= vw[u]
                load[target] += vw[u]
    raise NeuromapError("the graph mapper could not repair its partition; use --strategy layerwise")


def _members(cou: np.ndarray, n_cores: int) -> list[np.ndarray]:
    order = np.argsort(cou, kind="stable")
    bounds = np.searchsorted(cou[order], np.arange(n_cores + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(n_cores)]


def _usage(ug: UnitGraph, cou: np.ndarray, n_cores: int, profile: HardwareProfile):
    routes = unit_traffic(ug, cou, n_cores).routes
    return unit_core_usage(ug, cou, n_cores, profile, routes, exact_axons=False)
