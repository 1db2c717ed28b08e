"""Per-core event accounting: (graph, mapping, activity) -> CoreEvents.

* synaptic operations: each spike times the synapses it drives on that core (structural
  synapses, zero weights included, as Loihi stores and processes them);
* neuron updates: every on-chip neuron every step; *active* when it received at least one
  synaptic event that step, the rest inactive;
* spikes: spikes emitted by the neurons of the core;
* traffic: messages from core i to core j. A spike is multicast once per destination core
  it has synapses on (its own core included); the host (input data) is the last row.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Edge, NetworkGraph, conv_output_shape
from ..mapper.mapping import Mapping
from ..sim.activity import Activity


@dataclass(frozen=True)
class CoreEvents:
    """Event totals over all samples (divide by ``samples`` for one inference)."""

    samples: int
    steps: int
    synops: np.ndarray          # (cores,)
    updates: np.ndarray         # (cores,)
    active_updates: np.ndarray  # (cores,)
    spikes: np.ndarray          # (cores,)
    traffic: np.ndarray         # (cores + 1, cores): row = source core (last = host), col = destination
    layer_synops: dict[str, int]
    layer_spikes: dict[str, int]

    @property
    def messages(self) -> np.ndarray:
        """Messages each core sends (own core included), ``(cores,)``."""
        return self.traffic[:-1].sum(axis=1)

    @property
    def inter_core_messages(self) -> int:
        on_chip = self.traffic[:-1]
        return int(on_chip.sum() - np.trace(on_chip))


def account(graph: NetworkGraph, mapping: Mapping, activity: Activity) -> CoreEvents:
    n = mapping.num_cores
    S, T = activity.samples, activity.steps
    synops = np.zeros(n)
    active = np.zeros(n)
    updates = np.zeros(n)
    spikes = np.zeros(n)
    traffic = np.zeros((n + 1, n))
    layer_synops: dict[str, int] = {}
    layer_spikes: dict[str, int] = {}
    for lay in graph.layers:
        counts = activity.spike_counts(lay.name).sum(axis=0) if lay.name in activity.events else None
        if counts is not None:
            layer_spikes[lay.name] = int(counts.sum())
        if not lay.on_chip:
            continue
        assign = mapping.assignment[lay.name]
        updates += np.bincount(assign, minlength=n) * S * T
        spikes += np.bincount(assign, weights=counts, minlength=n)
        post_synops = np.zeros(lay.size)
        post_active = np.zeros(lay.size)
        edges = graph.in_edges(lay.name)
        pre = {e.src: activity.events[e.src] != 0 for e in edges}
        for s in range(S):
            got_input = np.zeros((T, lay.size), dtype=bool)  # input on any edge counts once
            for edge in edges:
                src = graph.layer(edge.src)
                fan = fanin_sum(pre[edge.src][s].reshape((T,) + tuple(src.shape)).astype(np.float64),
                                edge, src.shape, lay.shape)
                post_synops += fan.sum(axis=0)
                got_input |= fan > 0
            post_active += got_input.sum(axis=0)
        if not edges:  # an input layer with neurons is driven by the host every step
            post_active += T * S
        for edge in edges:
            _add_traffic(traffic, graph, mapping, edge, activity.spike_counts(edge.src).sum(axis=0))
        synops += np.bincount(assign, weights=post_synops, minlength=n)
        active += np.bincount(assign, weights=post_active, minlength=n)
        layer_synops[lay.name] = int(post_synops.sum())
    return CoreEvents(S, T, synops, updates, active, spikes, traffic, layer_synops, layer_spikes)


def fanin_sum(pre: np.ndarray, edge: Edge, src_shape: tuple[int, ...],
              dst_shape: tuple[int, ...]) -> np.ndarray:
    """For values on the source neurons (leading axes free), the sum each destination
    neuron receives over its structural synapses: ``(..., n_dst)``."""
    lead = pre.shape[:pre.ndim - len(src_shape)]
    if edge.kind in ("dense", "average"):
        flat = pre.reshape(lead + (-1,))
        mask = np.ones_like(edge.weight) if edge.kind == "dense" else (edge.weight != 0)
        return flat @ mask.T.astype(np.float64)
    X, Y, C = src_shape
    Xo, Yo, Co = conv_output_shape(src_shape, edge)
    G = edge.groups
    grouped = pre.reshape(lead + (X, Y, G, C // G)).sum(axis=-1)
    (px, py), (sx, sy), (dx, dy) = edge.padding, edge.stride, edge.dilation
    padded = np.pad(grouped, [(0, 0)] * len(lead) + [(px, px), (py, py), (0, 0)])
    _, kx, ky, _ = edge.weight.shape
    out = np.zeros(lead + (Xo, Yo, G))
    for i in range(kx):
        for j in range(ky):
            out += padded[..., i * dx: i * dx + sx * (Xo - 1) + 1: sx,
                          j * dy: j * dy + sy * (Yo - 1) + 1: sy, :]
    out = np.repeat(out, Co // G, axis=-1)
    return out.reshape(lead + (Xo * Yo * Co,))


def reach_mask(post_mask: np.ndarray, edge: Edge, src_shape: tuple[int, ...],
               dst_shape: tuple[int, ...]) -> np.ndarray:
    """Source neurons with at least one synapse onto the marked destination neurons."""
    if edge.kind in ("dense", "average"):
        return (edge.weight[post_mask] != 0).any(axis=0) if edge.kind == "average" \
            else np.full(int(np.prod(src_shape)), bool(post_mask.any()))
    Xo, Yo, Co = dst_shape
    marked = post_mask.reshape(Xo, Yo, edge.groups, Co // edge.groups).any(axis=-1)
    return _scatter_taps(marked, edge, src_shape)


def conv_fanout(post_mask: np.ndarray, edge: Edge, src_shape: tuple[int, ...],
                dst_shape: tuple[int, ...]) -> np.ndarray:
    """For each source neuron of a conv edge, its synapses onto the marked destination neurons."""
    Xo, Yo, Co = dst_shape
    marked = post_mask.reshape(Xo, Yo, edge.groups, Co // edge.groups).sum(axis=-1)
    return _scatter_taps(marked, edge, src_shape)


def _scatter_taps(per_out: np.ndarray, edge: Edge, src_shape: tuple[int, ...]) -> np.ndarray:
    """Every in-bounds kernel tap of a conv edge scattered back onto its input: `per_out` is
    (x_out, y_out, groups), bool (any marked output; the taps are OR-ed) or counts (summed); the
    result is per source neuron, in the source's C order."""
    X, Y, C = src_shape
    Xo, Yo, G = per_out.shape
    (px, py), (sx, sy), (dx, dy) = edge.padding, edge.stride, edge.dilation
    _, kx, ky, _ = edge.weight.shape
    acc = np.zeros((X + 2 * px + (kx - 1) * dx + sx, Y + 2 * py + (ky - 1) * dy + sy, G), per_out.dtype)
    add = np.logical_or if per_out.dtype == bool else np.add
    for i in range(kx):
        for j in range(ky):
            view = acc[i * dx: i * dx + sx * (Xo - 1) + 1: sx, j * dy: j * dy + sy * (Yo - 1) + 1: sy, :]
            add(view, per_out, out=view)
    acc = acc[px: px + X, py: py + Y, :]
    return np.repeat(acc, C // G, axis=-1).reshape(-1)


def _add_traffic(traffic: np.ndarray, graph: NetworkGraph, mapping: Mapping, edge: Edge,
                 src_counts: np.ndarray) -> None:
    src, dst = graph.layer(edge.src), graph.layer(edge.dst)
    n = mapping.num_cores
    src_assign = mapping.assignment.get(src.name)
    dst_assign = mapping.assignment[dst.name]
    for core in np.unique(dst_assign):
        mask = reach_mask(dst_assign == core, edge, src.shape, dst.shape)
        if src_assign is None:
            traffic[n, core] += src_counts[mask].sum()
        else:
            traffic[:n, core] += np.bincount(src_assign[mask], weights=src_counts[mask], minlength=n)
