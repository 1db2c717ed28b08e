"""A cheap deterministic k-way split of small hypergraphs (``greedy_kway``), used at the bottom of
the graph mapper's recursion in fast mode instead of Mt-KaHyPar."""
from __future__ import annotations

import math

import numpy as np

from .bisection import geometric_split


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
        cands.append(geometric_split(coords, vw, caps))
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
