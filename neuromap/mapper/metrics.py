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

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..geometry import axis_reach, chan_reach, chip_edges, dims3
from .resources import kernel_words, list_words
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


# ---------------------------------------------------------------- a lower bound on messages

def message_lower_bound(graph, profile, per_layer: dict | None = None) -> float:
    """A lower bound on ``inter_core_messages`` (uniform activity, every on-chip neuron spikes
    once) that holds for ANY neuron -> core assignment within ``profile``'s per-core budgets as
    ``resources`` counts them (neurons, the memory pool; axons and routes are not used, they
    could only raise it).

    A spike costs the distinct cores holding its targets, minus one when its own core is among
    them. (1) Its targets need at least ``m`` cores, the largest of: per outgoing edge,
    ``ceil(targets / most targets of this neuron one core can hold)`` -- a weight-shared
    convolution core holding ``n`` of them covers at most ``P`` per output channel (``P`` =
    output positions the neuron reaches), so it stores ``ceil(n / P)`` kernel channels,
    ``kernel_words(ch) + n x state <= memory``; a dense core with ``n`` neurons stores a synapse
    list per source neuron, ``S x list_words(n) + n x state <= memory``; without sharing each
    target stores at least its smallest fan-in -- and, over all outgoing edges together,
    ``ceil(sum of targets x words per target / memory)`` and ``ceil(sum of targets / neuron
    limit)`` with those costs made linear (which only lowers them). (2) The ``G`` neurons of a
    *class* (one position and one channel group: the same targets) share those ``>= m``
    cores, and a core holding a target can host at most ``C`` of them (their own kernel channels
    or synapse lists, their state and one target's must fit), so the class sends at least
    ``G m - min(G, m C)`` messages, which is ``G (m - 1)`` when ``C >= G`` and more when a
    layer's neurons at one position cannot all sit with their targets (channel-split layers).
    (3) The same holds edge by edge (the neurons of one position and one channel group of an edge
    share that edge's targets), and a layer counts the largest of these sums.
    ``per_layer`` (optional dict) receives the bound of each source layer."""
    M = float(profile.memory_words)
    eb = profile.entry_bits
    edges = chip_edges(graph)
    total = 0.0
    for lay in graph.layers:
        out = [e for e in edges if e.src == lay.name]
        if not lay.on_chip or not out:
            continue
        size = dims3(lay)
        axis_keys: list[list[np.ndarray]] = [[np.zeros(size[a], np.int64)] for a in range(3)]
        per_edge = []
        one_target = []                       # (words, neuron use) of one target, per edge
        for e in out:
            dlay = graph.layer(e.dst)
            dsize = dims3(dlay)
            L = float(profile.neuron_limit(dlay.neuron.type))
            st = float(profile.state_words(dlay.neuron.type))
            if e.kind == "dense":
                per_edge.append(("dense", e, L, st, dlay.size))
                one_target.append((st + lay.size * float(list_words(1, profile)), 1 / L))
                continue
            c_out, kx, ky, cin_g = e.weight.shape
            rx, ry, fmin = _spatial_reach(e, size, dsize)
            rc, _ = chan_reach(size[2], dsize[2], e.groups, np.arange(dsize[2] + 1))
            reach = [r.sum(axis=0).astype(np.int64) for r in (rx, ry, rc)]   # per input coordinate
            for a in range(3):
                axis_keys[a].append(reach[a])
            axis_keys[2].append(np.arange(size[2]) // max(1, size[2] // e.groups))  # channel group
            per_edge.append(("conv", e, L, st, (len(axis_keys[0]) - 1, len(axis_keys[2]) - 2, kx * ky * cin_g, fmin)))
            own = float(kernel_words(e, 1, profile)) if profile.conv_weight_sharing else fmin * eb / 64
            one_target.append((st + own, 1 / L))
        groups = []
        for a in range(3):
            u, cnt = np.unique(np.stack(axis_keys[a]), axis=1, return_counts=True)
            groups.append((u, cnt))
        (ux, nx), (uy, ny), (uc, nc) = groups
        shape = (len(nx), len(ny), len(nc))
        m = np.ones(shape)
        mem_lin = {}                          # dst layer -> sum of targets x words per target
        neu_lin = {}
        edge_m = []
        for kind, e, L, st, info in per_edge:
            if kind == "dense":
                T = float(info)
                S = lay.size
                n = np.arange(1, int(min(L, T)) + 1)
                fits = S * list_words(n, profile) + st * n <= M
                if not fits.any():
                    return math.inf           # no mapping exists at all
                me = np.full(shape, math.ceil(T / int(n[fits].max())))
                lin = np.full(shape, T * (st + S * eb / 64))
                tgt = np.full(shape, T)
            else:
                row, crow, K, fmin = info
                px = ux[row][:, None, None]
                py = uy[row][None, :, None]
                pc = uc[crow][None, None, :]
                P = np.broadcast_to(px * py, shape)
                tgt = (px * py * pc).astype(np.float64) * np.ones(shape)
                me = np.ones(shape)
                lin = np.zeros(shape)
                if profile.conv_weight_sharing:
                    chs = np.arange(1, int(max(pc.max(), 1)) + 1)
                    kw = kernel_words(e, chs, profile).astype(np.float64)
                    room = np.floor((M - kw) / st) if st > 0 else np.where(kw <= M, np.inf, -np.inf)
                    for p in np.unique(P[P > 0]):
                        n_max = float(np.minimum(np.minimum(chs * p, L), room).max())
                        if n_max < 1:
                            return math.inf
                        sel = P == p
                        me[sel] = np.ceil(tgt[sel] / n_max - 1e-9)
                        lin[sel] = tgt[sel] * (st + K * profile.conv_bits / 64 / p)
                else:
                    a = st + fmin * eb / 64
                    n_max = min(L, math.floor(M / a)) if a > 0 else L
                    if n_max < 1:
                        return math.inf
                    me = np.ceil(tgt / n_max - 1e-9)
                    lin = tgt * a
            m = np.maximum(m, me)
            edge_m.append((e, me[:, :, 0]))
            mem_lin[e.dst] = np.maximum(mem_lin.get(e.dst, 0.0), lin)
            neu_lin[e.dst] = np.maximum(neu_lin.get(e.dst, 0.0), tgt / L)
        m = np.maximum(m, np.ceil(sum(mem_lin.values()) / M - 1e-9))
        m = np.maximum(m, np.ceil(sum(neu_lin.values()) - 1e-9))
        # classes: one position x one channel group (a c-group of the key above), G neurons each
        G = np.broadcast_to(nc[None, None, :], shape).astype(np.float64)
        ins = [e for e in edges if e.dst == lay.name]
        C = np.array([_colocated(graph, lay, ins, int(g), one_target, profile) for g in nc], np.float64)
        C = np.broadcast_to(C[None, None, :], shape)
        positions = nx[:, None, None] * ny[None, :, None]
        per_class = np.maximum(G * m - np.minimum(G, m * C), 0)
        layer_bound = float((positions * per_class).sum())
        # (3) the same per edge: the neurons with the same targets *on that edge* (one position,
        # one of its channel groups) share those targets' cores, whatever their other edges
        for (e, me), tgt_one in zip(edge_m, one_target):
            groups_e = e.groups if e.kind == "conv" else 1
            G_e = size[2] // groups_e
            C_e = _colocated(graph, lay, ins, G_e, [tgt_one], profile)
            cls = np.maximum(G_e * me - np.minimum(G_e, me * C_e), 0)
            layer_bound = max(layer_bound, float((positions[:, :, 0] * groups_e * cls).sum()))
        total += layer_bound
        if per_layer is not None:
            per_layer[lay.name] = layer_bound
    return total


def _spatial_reach(e, src_size, dst_size) -> tuple[np.ndarray, np.ndarray, int]:
    """A conv edge's x and y reach matrices (geometry.axis_reach) and the smallest fan-in of any of
    its target neurons (x reach x y reach x input channels per group)."""
    _, kx, ky, cin_g = e.weight.shape
    rx, _ = axis_reach(src_size[0], np.arange(dst_size[0] + 1), kx, e.stride[0], e.padding[0], e.dilation[0])
    ry, _ = axis_reach(src_size[1], np.arange(dst_size[1] + 1), ky, e.stride[1], e.padding[1], e.dilation[1])
    return rx, ry, int(rx.sum(axis=1).min()) * int(ry.sum(axis=1).min()) * cin_g


def _colocated(graph, lay, ins: list, G: int, one_target: list[tuple[float, float]], profile) -> int:
    """Most neurons of one class (``G`` neurons of ``lay`` at one position, so one channel
    each) that one core can hold together with at least one of their targets. ``ins``: the
    on-chip edges into ``lay`` (``geometry.chip_edges`` with ``dst == lay.name``)."""
    n = np.arange(1, G + 1)
    words = n * float(profile.state_words(lay.neuron.type))
    use = n / float(profile.neuron_limit(lay.neuron.type))
    for e in ins:
        if e.kind == "dense":
            words = words + graph.layer(e.src).size * list_words(n, profile)
        elif profile.conv_weight_sharing:
            words = words + kernel_words(e, n, profile)
        else:                                 # every neuron stores at least its smallest fan-in
            _, _, fmin = _spatial_reach(e, dims3(graph.layer(e.src)), dims3(lay))
            words = words + n * fmin * profile.entry_bits / 64
    best = 0
    for tw, tu in one_target:
        ok = (words + tw <= profile.memory_words) & (use + tu <= 1 + 1e-9)
        best = max(best, int(n[ok].max()) if ok.any() else 0)
    return best
