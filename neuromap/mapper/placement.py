"""Placement of cores onto the chip mesh(es), minimising hop-weighted traffic.

Slots are the cores of each chip's tiles visited along a generalised Hilbert curve (Cervený's
"gilbert" curve for rectangles, which runs from the west edge to the east edge, so consecutive
chips laid east-west continue the curve). Cores are ordered by reverse Cuthill-McKee on their
traffic graph (communicating cores end up close in the order), laid along the curve, and refined
per chip by best-improvement pairwise swaps (empty slots included) on the exact hop cost.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from ..hw.profile import HardwareProfile


def gilbert(width: int, height: int) -> list[tuple[int, int]]:
    """Cells of a width x height grid along a generalised Hilbert curve from (0, 0)."""
    out: list[tuple[int, int]] = []

    def sgn(v: int) -> int:
        return (v > 0) - (v < 0)

    def rec(x: int, y: int, ax: int, ay: int, bx: int, by: int) -> None:
        w, h = abs(ax + ay), abs(bx + by)
        dax, day, dbx, dby = sgn(ax), sgn(ay), sgn(bx), sgn(by)
        if h == 1:
            for _ in range(w):
                out.append((x, y))
                x, y = x + dax, y + day
            return
        if w == 1:
            for _ in range(h):
                out.append((x, y))
                x, y = x + dbx, y + dby
            return
        ax2, ay2, bx2, by2 = ax // 2, ay // 2, bx // 2, by // 2
        w2, h2 = abs(ax2 + ay2), abs(bx2 + by2)
        if 2 * w > 3 * h:
            if w2 % 2 and w > 2:
                ax2, ay2 = ax2 + dax, ay2 + day
            rec(x, y, ax2, ay2, bx, by)
            rec(x + ax2, y + ay2, ax - ax2, ay - ay2, bx, by)
        else:
            if h2 % 2 and h > 2:
                bx2, by2 = bx2 + dbx, by2 + dby
            rec(x, y, bx2, by2, ax2, ay2)
            rec(x + bx2, y + by2, ax, ay, bx - bx2, by - by2)
            rec(x + (ax - dax) + (bx2 - dbx), y + (ay - day) + (by2 - dby), -bx2, -by2,
                -(ax - ax2), -(ay - ay2))

    if width >= height:
        rec(0, 0, width, 0, 0, height)
    else:
        rec(0, 0, 0, width, height, 0)
    return out


def chip_slots(profile: HardwareProfile) -> np.ndarray:
    """(tile_x, tile_y) of each core slot of one chip, in curve order: ``(cores_per_chip, 2)``."""
    tiles = gilbert(*profile.mesh_tiles)
    slots = [t for t in tiles for _ in range(profile.cores_per_tile)]
    return np.array(slots[:profile.cores_per_chip], np.int64)


def place_in_order(order: np.ndarray, profile: HardwareProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Core ``order[i]`` takes the i-th slot along the curve; returns (chip, tile_x, tile_y)."""
    n = len(order)
    slots = chip_slots(profile)
    per = profile.cores_per_chip
    i = np.arange(n)
    chip, tx, ty = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    chip[order] = i // per
    tx[order] = slots[i % per, 0]
    ty[order] = slots[i % per, 1]
    return chip, tx, ty


def traffic_order(sym: sp.csr_matrix, groups: np.ndarray | None = None) -> np.ndarray:
    """A linear order of cores keeping heavy communicators close (RCM), group by group."""
    n = sym.shape[0]
    if groups is None:
        return np.asarray(reverse_cuthill_mckee(sym.tocsr(), symmetric_mode=True), np.int64) if n else \
            np.zeros(0, np.int64)
    gids = np.unique(groups)
    # order the groups themselves by their mutual traffic, then the cores inside each
    onehot = sp.csr_matrix((np.ones(n), (np.arange(n), np.searchsorted(gids, groups))), shape=(n, len(gids)))
    gsym = (onehot.T @ sym @ onehot).tocsr()
    gsym.setdiag(0)
    gorder = traffic_order(gsym)
    out = []
    for g in gids[gorder]:
        members = np.flatnonzero(groups == g)
        sub = sym[members][:, members]
        out.append(members[traffic_order(sub)])
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def place_traffic(pairs: sp.csr_matrix, profile: HardwareProfile, order: np.ndarray | None = None,
                  refine: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Traffic-aware placement: the better of ``order`` (e.g. the partitioner's recursion order)
    and a reverse Cuthill-McKee order laid along the curve, then per-chip swap refinement."""
    n = pairs.shape[0]
    sym = (pairs + pairs.T).tocsr()
    best, best_cost = None, np.inf
    for cand in ([order] if order is not None else []) + [traffic_order(sym)]:
        pos = place_in_order(np.asarray(cand, np.int64), profile)
        cost = hop_cost(sym, *pos, profile.mesh_tiles[0])
        if cost < best_cost:
            best, best_cost = pos, cost
    chip, tx, ty = best
    if refine and n > 1:
        chip, tx, ty = _refine(sym, chip, tx, ty, profile)
    return chip, tx, ty


def hop_cost(sym: sp.csr_matrix, chip: np.ndarray, tx: np.ndarray, ty: np.ndarray, width: int) -> float:
    coo = sym.tocoo()
    gx = chip * width + tx
    return float((coo.data * (np.abs(gx[coo.row] - gx[coo.col]) + np.abs(ty[coo.row] - ty[coo.col]))).sum())


def _refine(sym: sp.csr_matrix, chip: np.ndarray, tx: np.ndarray, ty: np.ndarray,
            profile: HardwareProfile, max_swaps: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    width = profile.mesh_tiles[0]
    slots = chip_slots(profile)
    m = len(slots)
    chip, tx, ty = chip.copy(), tx.copy(), ty.copy()
    for c in range(int(chip.max()) + 1):
        cores = np.flatnonzero(chip == c)
        if len(cores) < 2:
            continue
        gx_slot = c * width + slots[:, 0]
        gy_slot = slots[:, 1]
        D = np.abs(gx_slot[:, None] - gx_slot[None, :]) + np.abs(gy_slot[:, None] - gy_slot[None, :])
        # nodes: the chip's cores, then phantoms for empty slots
        slot_of = {(int(x), int(y)): [] for x, y in slots}
        for k, s in enumerate(slots):
            slot_of[(int(s[0]), int(s[1]))].append(k)
        used = np.zeros(m, bool)
        pos = np.empty(m, np.int64)
        for i, core in enumerate(cores):
            cand = [k for k in slot_of[(int(tx[core]), int(ty[core]))] if not used[k]]
            pos[i] = cand[0]
            used[cand[0]] = True
        pos[len(cores):] = np.flatnonzero(~used)
        W = np.zeros((m, m))
        sub = sym[cores][:, cores].toarray()
        W[:len(cores), :len(cores)] = sub
        # traffic to cores on other chips is a fixed per-slot cost
        ext = np.zeros((m, m))
        rows = sym[cores].tocoo()
        other = chip[rows.col] != c
        if other.any():
            r, col, w = rows.row[other], rows.col[other], rows.data[other]
            gx_o = chip[col] * width + tx[col]
            dist = np.abs(gx_slot[None, :] - gx_o[:, None]) + np.abs(gy_slot[None, :] - ty[col][:, None])
            np.add.at(ext, r, w[:, None] * dist)
        C = W @ D[pos] + ext                          # C[i, s]: cost of node i at slot s
        for _ in range(max_swaps):
            A = C[:, pos]
            a = np.diag(A)
            delta = A + A.T - a[:, None] - a[None, :] + 2 * W * D[pos][:, pos]
            i, j = np.unravel_index(np.argmin(delta), delta.shape)
            if delta[i, j] > -1e-9:
                break
            pi, pj = pos[i], pos[j]
            C += np.outer(W[:, i], D[pj] - D[pi]) + np.outer(W[:, j], D[pi] - D[pj])
            pos[i], pos[j] = pj, pi
        tx[cores] = slots[pos[:len(cores)], 0]
        ty[cores] = slots[pos[:len(cores)], 1]
    return chip, tx, ty
