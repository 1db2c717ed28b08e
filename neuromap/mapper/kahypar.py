"""Mt-KaHyPar k-way partitioning (deterministic preset, connectivity objective) of a hypergraph
given as lists of pins, into blocks of given capacities."""
from __future__ import annotations

import numpy as np

_MTK = None   # one Mt-KaHyPar instance (2 threads) per process, made on first use


def _mtk():
    global _MTK
    if _MTK is None:
        import mtkahypar
        _MTK = mtkahypar.initialize(2, False)
    return _MTK


def kway(n: int, edges: list[list[int]], ew: np.ndarray, vw: np.ndarray, caps: list[int],
         seed: int) -> np.ndarray:
    """Mt-KaHyPar (deterministic preset, km1) into ``len(caps)`` blocks of the given capacities."""
    k = len(caps)
    if k <= 1 or n <= 1:
        return np.zeros(n, np.int64)
    import mtkahypar  # the layerwise strategy never loads it
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
