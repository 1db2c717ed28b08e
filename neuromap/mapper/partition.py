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
(the order also drives placement). Unit graphs of more than ``FAST_UNITS`` units replace
Mt-KaHyPar by recursive coordinate bisection of the unit centres on big subproblems and by a
greedy split (``greedy_kway``) on the small ones at the bottom (docs/mapping.md, "Speed and scale").
Below that size a final pass (``refine_moves``) moves units between cores while that lowers the
messages and the exact budgets allow it.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ..errors import NeuromapError
from ..hw.profile import HardwareProfile
from .metrics import unit_traffic
from .resources import core_fits, kernel_words, list_words, unit_core_usage
from ..geometry import chip_edges, dims3
from .units import Tiling, UnitGraph

SCALE = 1_000_000          # vertex weight of one full core
LEAF = 16                  # largest k of one Mt-KaHyPar call at the bottom of the recursion
#: unit graphs of more units than this (the synthetic stack from 1e6 neurons) are partitioned with
#: the cheap splits below wherever they apply, smaller ones with Mt-KaHyPar only (docs/mapping.md:
#: the cheap splits cost PilotNet and the zoo 10 to 20 % more messages, big stacks save time)
FAST_UNITS = 2000
#: in fast mode, subproblems of at most LEAF cores and at most this many units are split by
#: ``greedy_kway`` (deterministic, 20 to 40 ms) instead of Mt-KaHyPar, whose deterministic preset
#: costs 0.1 to 0.2 s per call at this size
GREEDY_UNITS = 256
#: in fast mode, subproblems of more units than this are cut by recursive coordinate bisection
#: of the unit centres (``_geometric``, O(n log n)) instead of Mt-KaHyPar, whose cost grows with
#: the units of every recursion level (0.3 to 0.5 ms per unit and level); None: never
GEOMETRIC_UNITS: int | None = 400
#: amortise the kernel slice of a channel-split layer over the neurons that fit beside it
#: (instead of over a layer-wise tile); see ``vertex_weights``
AMORTISE_FIT = True
#: after the repair, move units between cores while that lowers the messages and the exact
#: budgets allow it (``refine_moves``; not in fast mode)
REFINE = True
#: calls of each kind in the last ``partition_units`` (reported in the summary's timings)
STATS: dict[str, int] = {}
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
        ins = [e for e in edges if e.dst == name]
        ch = np.broadcast_to(t.sizes(2)[None, None, :], t.grid).reshape(-1)
        share = np.full(len(n), float(lw_tile))
        X, Y, C = dims3(g.layer(name))
        split = lw[name].max_tile[2] < C                # layer-wise tiles cut the channels
        if AMORTISE_FIT and split and profile.conv_weight_sharing and any(e.kind == "conv" for e in ins):
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
                    weighted: bool = False, seed: int = 0, fill: float = 0.97, branch: int = 8,
                    fast: bool | None = None) -> tuple[np.ndarray, int]:
    """Unit -> core assignment (cores numbered in the order of the recursion, which keeps sibling
    blocks adjacent: the placement lays them along the mesh curve in that order) and core count."""
    vw = vertex_weights(ug, lw, profile)
    ptr, idx, ew = hyperedges(ug, weighted)
    # cores: the total weight, and at least one per unit heavier than half a core (no two share)
    k = max(1, min(max_cores, max(math.ceil(vw.sum() / SCALE / fill), int((vw > SCALE // 2).sum()))))
    out = np.zeros(ug.n_units, np.int64)
    if fast is None:
        fast = ug.n_units > FAST_UNITS
    STATS.clear()
    STATS.update(mtkahypar_calls=0, greedy_calls=0, geometric_calls=0, refine_moves=0, refine_undone=0)
    _recurse(np.arange(ug.n_units), ptr, idx, ew, k, 0, out, vw, seed, branch, fill,
             unit_centres(ug) if fast else None)
    cou, n_cores = _compact(out)
    cou, n_cores = repair(ug, cou, n_cores, profile, vw, (ptr, idx))
    if REFINE and not fast:
        cou, n_cores = refine_moves(ug, cou, n_cores, profile, csr=(ptr, idx, ew))
    return cou, n_cores


def unit_centres(ug: UnitGraph) -> np.ndarray:
    """(units, 3): each unit's centre in x, y and c as a fraction of its layer's size."""
    out = np.zeros((ug.n_units, 3))
    for name in ug.layers:
        t = ug.tilings[name]
        cen = [(t.bounds[a][:-1] + t.bounds[a][1:]) / 2 / t.bounds[a][-1] for a in range(3)]
        out[ug.units_of(name)] = np.stack(np.meshgrid(*cen, indexing="ij"), axis=-1).reshape(-1, 3)
    return out


def _recurse(nodes: np.ndarray, ptr: np.ndarray, idx: np.ndarray, ew: np.ndarray, k: int, offset: int,
             out: np.ndarray, vw: np.ndarray, seed: int, branch: int, fill: float = 0.97,
             coords: np.ndarray | None = None) -> int:
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
    if GEOMETRIC_UNITS is not None and coords is not None and len(nodes) > GEOMETRIC_UNITS:
        part = _geometric(coords[nodes], vw[nodes].astype(np.float64), caps)
        STATS["geometric_calls"] = STATS.get("geometric_calls", 0) + 1
    elif coords is not None and b == k and len(nodes) <= GREEDY_UNITS:
        part = greedy_kway(len(nodes), ptr, idx, ew, vw[nodes], caps, coords[nodes])
        STATS["greedy_calls"] = STATS.get("greedy_calls", 0) + 1
    else:
        edges, weights = _csr_lists(ptr, idx, ew)
        part = kway(len(nodes), edges, weights, vw[nodes], caps, seed)
        STATS["mtkahypar_calls"] = STATS.get("mtkahypar_calls", 0) + 1
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
            start += _recurse(nodes[members], cptr, cidx, cew, ki, start, out, vw, seed, branch, fill,
                              coords)
    return start - offset


def greedy_kway(n: int, ptr: np.ndarray, idx: np.ndarray, ew: np.ndarray, vw: np.ndarray,
                caps: list[int], coords: np.ndarray | None = None) -> np.ndarray:
    """A cheap deterministic k-way split of a small hypergraph (CSR over 0..n-1) into blocks of
    the given capacities, for the bottom of the recursion (20 to 40 ms for 100 to 150 units where
    a Mt-KaHyPar call costs 0.1 to 0.2 s). Two candidates, each refined by moves that lower the
    connectivity (lambda - 1) within the capacities, the better one kept:

    * *geometric*: recursive bisection of the units by their centre (x, y, c, each as a fraction
      of its layer's size) along the widest coordinate, cut at the weight share of each side, so
      that the units of consecutive layers over the same area (what a convolution connects) end
      on the same core;
    * *growth*: blocks grown one after the other, each from the free vertex most connected to
      the blocks already grown, taking the free vertex that brings the most hyperedge weight
      already touching the block (net of what it brings new).
    """
    k = len(caps)
    if k <= 1 or n <= 1:
        return np.zeros(n, np.int64)
    m = len(ptr) - 1
    eid = np.repeat(np.arange(m), np.diff(ptr))
    w = ew.astype(np.float64)
    vw = vw.astype(np.float64)
    H = np.zeros((m, n))
    H[eid, idx] = 1.0
    HW = H * w[:, None]
    edges_of = [np.flatnonzero(H[:, v]) for v in range(n)]
    capv = np.asarray(caps, np.float64)
    best, best_cost = None, math.inf
    cands = []
    if coords is not None:
        cands.append(_geometric(coords, vw, caps))
    cands.append(_grow(H, HW, w, vw, caps))
    for part in cands:
        part = _refine(part, eid, idx, w, vw, capv, edges_of)
        cost = _km1(eid, idx, w, part, k)
        if cost < best_cost:
            best, best_cost = part, cost
    return best


def _km1(eid: np.ndarray, idx: np.ndarray, w: np.ndarray, part: np.ndarray, k: int) -> float:
    pins = np.zeros((len(w), k), bool)
    pins[eid, part[idx]] = True
    return float((w * (pins.sum(axis=1) - 1)).sum())


def _geometric(coords: np.ndarray, vw: np.ndarray, caps: list[int]) -> np.ndarray:
    """Recursive coordinate bisection: blocks ``caps[:k//2]`` get the units below the weighted
    cut along the widest coordinate (ties by the other coordinates, then by id)."""
    n, k = len(vw), len(caps)
    out = np.zeros(n, np.int64)
    stack = [(np.arange(n), 0, k)]
    while stack:
        nodes, off, kk = stack.pop()
        if kk <= 1 or len(nodes) <= 1:
            out[nodes] = off
            continue
        k1 = kk // 2
        c = coords[nodes]
        axis = int(np.argmax(c.max(axis=0) - c.min(axis=0)))
        keys = [nodes] + [c[:, a] for a in range(3) if a != axis] + [c[:, axis]]
        order = nodes[np.lexsort(keys)]
        share = sum(caps[off:off + k1]) / sum(caps[off:off + kk])
        cum = np.cumsum(vw[order])
        cut = int(np.argmin(np.abs(cum - share * cum[-1]))) + 1
        cut = min(max(cut, 1), len(order) - 1)
        stack.append((order[cut:], off + k1, kk - k1))
        stack.append((order[:cut], off, k1))
    return out


def _grow(H: np.ndarray, HW: np.ndarray, w: np.ndarray, vw: np.ndarray, caps: list[int],
          alpha: float = 3.0) -> np.ndarray:
    m, n = H.shape
    k = len(caps)
    adj = H.T @ HW
    np.fill_diagonal(adj, 0.0)
    deg = w @ H
    part = -np.ones(n, np.int64)
    load = np.zeros(k)
    start = 0                        # pseudo-peripheral start: farthest (BFS) from vertex 0, twice
    for _ in range(2):
        dist = -np.ones(n, np.int64)
        dist[start] = 0
        front = np.array([start])
        while len(front):
            nxt = np.flatnonzero((adj[front] > 0).any(axis=0) & (dist < 0))
            dist[nxt] = dist[front[0]] + 1
            front = nxt
        far = np.flatnonzero(dist == dist.max())
        start = int(far[np.argmin(deg[far])])
    remaining = vw.sum()
    to_assigned = np.zeros(n)       # clique weight towards assigned vertices
    for b in range(k):
        free = part < 0
        if not free.any():
            break
        cap = float(caps[b]) if b == k - 1 else \
            min(float(caps[b]), remaining * caps[b] / sum(caps[b:]) * 1.03 + 1)
        if b == 0:
            v = start
        else:
            cand = np.flatnonzero(free)
            v = int(cand[np.lexsort((cand, deg[cand] - to_assigned[cand], -to_assigned[cand]))[0]])
        present = np.zeros(m, bool)
        score = np.zeros(n)         # weight of v's hyperedges already touching block b
        while True:
            part[v] = b
            load[b] += vw[v]
            remaining -= vw[v]
            to_assigned += adj[v]
            new = np.flatnonzero((H[:, v] > 0) & ~present)
            if len(new):
                present[new] = True
                score += HW[new].sum(axis=0)
            ok = (part < 0) & (load[b] + vw <= cap)
            if not ok.any():
                break
            cand = np.flatnonzero(ok)
            if score[cand].max() <= 0 and load[b] >= 0.5 * cap:
                break
            key = alpha * score[cand] - deg[cand]
            v = int(cand[np.lexsort((cand, -to_assigned[cand], -key))[0]])
    for v in np.flatnonzero(part < 0):              # nothing fits: the lightest block
        b = int(np.argmin(load))
        part[v] = b
        load[b] += vw[v]
    return part


def _refine(part: np.ndarray, eid: np.ndarray, idx: np.ndarray, w: np.ndarray, vw: np.ndarray,
            capv: np.ndarray, edges_of: list[np.ndarray], passes: int = 4) -> np.ndarray:
    """Passes over the vertices in id order, moving each to the block that lowers lambda - 1
    most while that block stays within its capacity."""
    k = len(capv)
    part = part.copy()
    pins = np.zeros((len(w), k), np.int64)
    np.add.at(pins, (eid, part[idx]), 1)
    load = np.bincount(part, vw, k)

    def best_move(v: int) -> tuple[float, int]:
        """(gain in lambda - 1, target block) of v's best move to a block with room for it."""
        a, ev = part[v], edges_of[v]
        pe, we = pins[ev], w[ev]
        gain = (we * (pe[:, a] == 1)).sum() - (we[:, None] * (pe == 0)).sum(axis=0)
        gain[a] = -np.inf
        gain[load + vw[v] > capv] = -np.inf
        b = int(np.argmax(gain))
        return float(gain[b]), b

    def move(v: int, b: int) -> None:
        a, ev = part[v], edges_of[v]
        pins[ev, a] -= 1
        pins[ev, b] += 1
        load[a] -= vw[v]
        load[b] += vw[v]
        part[v] = b

    for a in np.flatnonzero(load > capv):       # rebalance: cheapest moves off overfull blocks
        while load[a] > capv[a]:
            best = (-np.inf, -1, -1)
            for v in np.flatnonzero(part == a):
                gain, b = best_move(v)
                if gain > best[0]:
                    best = (gain, v, b)
            _, v, b = best
            if v < 0:
                break
            move(v, b)
    for _ in range(passes):
        moved = 0
        for v in range(len(part)):
            if not len(edges_of[v]):
                continue
            gain, b = best_move(v)
            if gain > 0:
                move(v, b)
                moved += 1
        if not moved:
            break
    return part


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


def refine_moves(ug: UnitGraph, cou: np.ndarray, n_cores: int, profile: HardwareProfile,
                 weighted: bool = False, passes: int = 4,
                 csr: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """A final message-reducing pass over an already valid assignment: each unit in turn moves to
    the core that lowers lambda - 1 (the inter-core messages, exactly) most, provided that core
    still fits it as ``resources.core_fits`` counts it. Leaving a core never breaks its budgets;
    the output routes of the cores that feed the moved unit can grow, so every pass ends with an
    exact check of all cores and is undone whole if any breaks a budget. Messages never increase;
    cores emptied by the moves are dropped (the order of the others is kept)."""
    ptr, idx, ew = csr if csr is not None else hyperedges(ug, weighted)
    if len(ew) == 0 or n_cores <= 1:
        return cou, n_cores
    cou = cou.copy()
    w = ew.astype(np.float64)
    m = len(ptr) - 1
    eid = np.repeat(np.arange(m), np.diff(ptr))
    inc = sp.csr_matrix((np.ones(len(idx)), (idx, eid)), shape=(ug.n_units, m))
    inc_ptr, inc_idx = inc.indptr, inc.indices
    members = [set(map(int, s)) for s in _members(cou, n_cores)]
    for _ in range(passes):
        moves = []
        for v in range(ug.n_units):
            ev = inc_idx[inc_ptr[v]:inc_ptr[v + 1]]
            if not len(ev):
                continue
            a = int(cou[v])
            lens = ptr[ev + 1] - ptr[ev]
            loc = np.repeat(np.arange(len(ev)), lens)
            pos = np.repeat(ptr[ev] - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
            cores = cou[idx[pos]]
            key = np.unique(loc * n_cores + cores)
            e_l, c_l = key // n_cores, key % n_cores
            cnt_a = np.bincount(loc[cores == a], minlength=len(ev))
            g_a = float(w[ev][cnt_a == 1].sum())          # hyperedges that leave core a
            S = np.bincount(c_l, w[ev][e_l], n_cores)     # weight of v's hyperedges present per core
            gain = g_a - float(w[ev].sum()) + S
            gain[a] = -np.inf
            for b in np.argsort(-gain, kind="stable"):
                if gain[b] <= 1e-9:
                    break
                cou[v] = b
                if core_fits(ug, cou, np.fromiter(members[b] | {v}, np.int64), profile):
                    members[a].discard(v)
                    members[b].add(v)
                    moves.append((v, a, int(b)))
                    break
                cou[v] = a
        if not moves:
            break
        if not _usage(ug, cou, n_cores, profile).fits(profile).all():
            for v, a, b in reversed(moves):
                cou[v] = a
                members[b].discard(v)
                members[a].add(v)
            STATS["refine_undone"] = STATS.get("refine_undone", 0) + 1
            break
        STATS["refine_moves"] = STATS.get("refine_moves", 0) + len(moves)
    return _compact(cou)
