"""Edge geometry: which source neurons an edge connects to which destination neurons.

The one place that answers, for an IR edge, the fan-in of a destination neuron, the reach of a set
of destination neurons back onto the source, and the fan-out of a source neuron, per neuron or per
axis of a tiled layer. The mapper (resource and traffic counts), the accounting (per-core events
and traffic) and the model metrics (synaptic operations) all count through these functions, so
they agree on every synapse. Shapes follow neuromap.graph: ``(x, y, c)``, C-order neuron numbering.
"""
from __future__ import annotations

import numpy as np

from .graph import Edge, Layer, NetworkGraph, conv_output_shape


def dims3(layer: Layer) -> tuple[int, int, int]:
    """A layer's shape as (x, y, c); ``(n,)`` is ``(1, 1, n)``."""
    s = tuple(int(v) for v in layer.shape)
    if len(s) == 3:
        return s  # type: ignore[return-value]
    if len(s) == 1:
        return (1, 1, s[0])
    if len(s) == 2:
        return (s[0], s[1], 1)
    raise ValueError(f"layer {layer.name}: unsupported shape {layer.shape}")



def chip_edges(graph: NetworkGraph) -> list[Edge]:
    """Edges whose destination lives on neurocores (host readouts excluded)."""
    return [e for e in graph.edges if e.kind in ("dense", "conv") and graph.layer(e.dst).on_chip]


# ---------------------------------------------------------------- per-axis reach of tiles

def axis_reach(n_in: int, out_bounds: np.ndarray, k: int, s: int, p: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """For tiles of an output axis: (reach, count), each ``(tiles, n_in)``. ``reach[t, i]``: input
    coordinate i feeds some output of tile t along this axis; ``count``: how many outputs of t."""
    n_out = int(out_bounds[-1])
    tiles = len(out_bounds) - 1
    o = np.arange(n_out)
    src = o[:, None] * s - p + np.arange(k)[None, :] * d
    ok = (src >= 0) & (src < n_in)
    tile = np.repeat(np.arange(tiles), np.diff(out_bounds))[:, None].repeat(k, axis=1)
    count = np.zeros((tiles, n_in), np.int64)
    np.add.at(count, (tile[ok], src[ok]), 1)
    return count > 0, count


def chan_reach(c_in: int, c_out: int, groups: int, out_bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same along channels: input channel i feeds the output channels of its group."""
    cin_g, cout_g = c_in // groups, c_out // groups
    tiles = len(out_bounds) - 1
    count = np.zeros((tiles, c_in), np.int64)
    g_out = np.arange(c_out) // cout_g
    tile = np.repeat(np.arange(tiles), np.diff(out_bounds))
    per_group = np.zeros((tiles, groups), np.int64)
    np.add.at(per_group, (tile, g_out), 1)
    count[:] = np.repeat(per_group, cin_g, axis=1)
    return count > 0, count



# ---------------------------------------------------------------- per-neuron fan-in, reach and fan-out

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
