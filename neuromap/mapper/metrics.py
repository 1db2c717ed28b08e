"""Spike traffic of a unit -> core assignment, computed per source class (never per synapse).

A spike is multicast once to every core holding at least one of its synapses. For a class of
source neurons with the same destination units, the inter-core messages are
``weight * (distinct cores among {own core} + destination cores - 1)``, i.e. the connectivity
(lambda - 1) metric; the output routes of its core grow by ``neurons * destination cores``.
Hops: cores sit on (chip, tile_x, tile_y); chips are laid side by side east-west (as the cost
model does), so a message's east-west hops are ``|chip_a * W + x_a - chip_b * W - x_b|``, its
north-south hops ``|y_a - y_b|``, and the chips it crosses ``|chip_a - chip_b|``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .units import UnitGraph


@dataclass
class Traffic:
    messages: float              # inter-core messages (class weights: neurons, or spikes)
    pairs: sp.csr_matrix         # (cores, cores) messages from core i to core j != i
    routes: np.ndarray           # (cores,) output routes (neuron counts)
    host: np.ndarray             # (cores,) messages from the host


def unit_traffic(ug: UnitGraph, core_of_unit: np.ndarray, n_cores: int, weighted: bool = False) -> Traffic:
    rows, cols, vals = [], [], []
    routes = np.zeros(n_cores)
    host = np.zeros(n_cores)
    messages = 0.0
    cu = np.r_[core_of_unit, -1]          # index -1 (padding / host) -> -1
    for b in ug.blocks:
        w = b.weight if weighted else b.neurons.astype(np.float64)
        own = cu[b.pins[:, 0]]
        dst = np.sort(cu[b.pins[:, 1:]], axis=1)
        first = np.ones_like(dst, dtype=bool)
        first[:, 1:] = dst[:, 1:] != dst[:, :-1]
        first &= dst >= 0
        distinct = first.sum(axis=1)
        on = own >= 0
        routes += np.bincount(own[on], b.neurons[on] * distinct[on], n_cores)
        r, c = np.nonzero(first)
        d = dst[r, c]
        src = own[r]
        if (~on).any():
            hr = ~on[r]
            host += np.bincount(d[hr], w[r][hr], n_cores)
        keep = (src >= 0) & (d != src)
        rows.append(src[keep])
        cols.append(d[keep])
        vals.append(w[r][keep])
        messages += float(w[r][keep].sum())
    if rows:
        pairs = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(n_cores, n_cores)).tocsr()
    else:
        pairs = sp.csr_matrix((n_cores, n_cores))
    pairs.sum_duplicates()
    return Traffic(messages, pairs, routes, host)


@dataclass
class Hops:
    east_west: float
    north_south: float
    chip_crossings: float

    @property
    def total(self) -> float:
        """Hop-weighted traffic: messages x mesh hops, chip crossings included in the hops."""
        return self.east_west + self.north_south


def hop_traffic(pairs: sp.csr_matrix, chip: np.ndarray, tx: np.ndarray, ty: np.ndarray,
                mesh_width: int) -> Hops:
    coo = pairs.tocoo()
    gx = chip * mesh_width + tx
    ew = np.abs(gx[coo.row] - gx[coo.col])
    ns = np.abs(ty[coo.row] - ty[coo.col])
    cross = np.abs(chip[coo.row] - chip[coo.col])
    return Hops(float((coo.data * ew).sum()), float((coo.data * ns).sum()),
                float((coo.data * cross).sum()))
