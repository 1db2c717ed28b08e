"""Recursive coordinate bisection: the cheap O(n log n) split of big subproblems in the graph
mapper's fast mode (units cut along their widest coordinate at each side's share of the weight)."""
from __future__ import annotations

import numpy as np


def geometric_split(coords: np.ndarray, vw: np.ndarray, caps: list[int]) -> np.ndarray:
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
