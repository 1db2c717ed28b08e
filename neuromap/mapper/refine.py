"""After the partition: ``repair`` moves units off cores that break a budget (counted exactly)
until every core fits, and ``refine_moves`` moves units between cores while that lowers the
inter-core messages and the exact budgets allow it."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import NeuromapError
from ..hw.profile import HardwareProfile
from .metrics import unit_traffic
from .resources import core_fits, unit_core_usage
from .units import UnitGraph, hyperedges


def compact(part: np.ndarray) -> tuple[np.ndarray, int]:
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
                 csr: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 stats: dict[str, int] | None = None) -> tuple[np.ndarray, int]:
    """A final message-reducing pass over an already valid assignment: each unit in turn moves to
    the core that lowers lambda - 1 (the inter-core messages, exactly) most, provided that core
    still fits it as ``resources.core_fits`` counts it. Leaving a core never breaks its budgets;
    the output routes of the cores that feed the moved unit can grow, so every pass ends with an
    exact check of all cores and is undone whole if any breaks a budget. Messages never increase;
    cores emptied by the moves are dropped (the order of the others is kept). ``stats`` (optional)
    counts the moves kept (``refine_moves``) and the passes undone (``refine_undone``)."""
    stats = {} if stats is None else stats
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
            stats["refine_undone"] = stats.get("refine_undone", 0) + 1
            break
        stats["refine_moves"] = stats.get("refine_moves", 0) + len(moves)
    return compact(cou)
