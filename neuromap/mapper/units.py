"""Coarse units (rectangular neuron tiles) and the exact unit hypergraph.

Every on-chip layer is cut into a grid of tiles in (x, y, c) (a flat ``(n,)`` layer is
``(1, 1, n)``; IR neuron order is C order over the shape, so this is the same numbering).
A *unit* is one tile; a core holds whole units. Nothing here ever lists synapses:
convolution connectivity is separable per axis (a source neuron reaches a destination tile
iff it does so along x, along y and along c), so the destination tiles a source neuron reaches
follow from three small boolean matrices per edge, and source neurons with the same reach form
*classes*: the cells of the product of per-axis groups. One class becomes one hyperedge
``{source unit} + destination units`` weighted by its neuron (or spike) count, which makes the
connectivity objective (lambda - 1) of a unit-to-core assignment exactly the number of spike
messages that leave their core when each neuron of the class spikes once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry import axis_reach, chan_reach, chip_edges, dims3
from ..graph import Edge, Layer, NetworkGraph


@dataclass(frozen=True)
class Tiling:
    """Tile boundaries of one layer along x, y and c (each increasing from 0 to the size)."""

    layer: str
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray]

    @staticmethod
    def regular(layer: str, size: tuple[int, int, int], tile: tuple[int, int, int]) -> "Tiling":
        return Tiling(layer, tuple(np.unique(np.r_[np.arange(0, n, t), n]).astype(np.int64)
                                   for n, t in zip(size, tile)))  # type: ignore[arg-type]

    @staticmethod
    def balanced(layer: str, size: tuple[int, int, int], parts: tuple[int, int, int]) -> "Tiling":
        """Near-equal parts (the split the original layer-wise mapper used)."""
        return Tiling(layer, tuple(np.linspace(0, n, k + 1).round().astype(np.int64)
                                   for n, k in zip(size, parts)))  # type: ignore[arg-type]

    @property
    def grid(self) -> tuple[int, int, int]:
        return tuple(len(b) - 1 for b in self.bounds)  # type: ignore[return-value]

    @property
    def n_units(self) -> int:
        gx, gy, gc = self.grid
        return gx * gy * gc

    def sizes(self, axis: int) -> np.ndarray:
        return np.diff(self.bounds[axis])

    @property
    def max_tile(self) -> tuple[int, int, int]:
        return tuple(int(self.sizes(a).max()) for a in range(3))  # type: ignore[return-value]

    def unit_neurons(self) -> np.ndarray:
        sx, sy, sc = (self.sizes(a) for a in range(3))
        return (sx[:, None, None] * sy[None, :, None] * sc[None, None, :]).reshape(-1)

    def tile_of(self, axis: int) -> np.ndarray:
        """Tile index of every coordinate along ``axis``."""
        return np.repeat(np.arange(len(self.bounds[axis]) - 1), self.sizes(axis))

    def expand(self, per_unit: np.ndarray) -> np.ndarray:
        """A per-unit value broadcast to every neuron of the layer (IR neuron order)."""
        arr = np.asarray(per_unit).reshape(self.grid)
        for axis in range(3):
            arr = np.repeat(arr, self.sizes(axis), axis=axis)
        return arr.reshape(-1)


# ---------------------------------------------------------------- per-axis connectivity

def edge_axis_maps(edge: Edge, src: tuple[int, int, int], dst: Tiling, dst_size: tuple[int, int, int]
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(reach, count) per axis for a conv edge and the destination's tiling."""
    c_out, kx, ky, _ = edge.weight.shape
    return [axis_reach(src[0], dst.bounds[0], kx, edge.stride[0], edge.padding[0], edge.dilation[0]),
            axis_reach(src[1], dst.bounds[1], ky, edge.stride[1], edge.padding[1], edge.dilation[1]),
            chan_reach(src[2], dst_size[2], edge.groups, dst.bounds[2])]


# ---------------------------------------------------------------- the unit hypergraph

@dataclass
class ClassBlock:
    """Source-neuron classes of one source layer: ``pins[:, 0]`` is the source unit (global id,
    or -1 for the host), ``pins[:, 1:]`` its destination units (-1 = padding)."""

    source: str
    pins: np.ndarray          # (classes, 1 + P) int64
    neurons: np.ndarray       # (classes,) neuron count
    weight: np.ndarray        # (classes,) spike count (== neurons for uniform activity)


@dataclass
class UnitGraph:
    graph: NetworkGraph
    tilings: dict[str, Tiling]
    offsets: dict[str, int]              # first global unit id of each on-chip layer
    n_units: int
    unit_layer: np.ndarray               # (units,) layer index into ``layers``
    unit_neurons: np.ndarray             # (units,)
    layers: list[str]
    blocks: list[ClassBlock] = field(default_factory=list)
    maps: dict[int, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)  # id(edge) ->
    cache: dict = field(default_factory=dict)   # derived per-unit tables (resources.core_fits)

    def units_of(self, layer: str) -> np.ndarray:
        return np.arange(self.offsets[layer], self.offsets[layer] + self.tilings[layer].n_units)


def build_unit_graph(graph: NetworkGraph, tilings: dict[str, Tiling],
                     activity: dict[str, np.ndarray] | None = None) -> UnitGraph:
    """Units and source classes for the given tilings. ``activity[layer]`` (optional) is the
    spike count per neuron (IR order) that weights the classes instead of neuron counts."""
    layers = [lay.name for lay in graph.layers if lay.on_chip]
    offsets, start = {}, 0
    for name in layers:
        offsets[name] = start
        start += tilings[name].n_units
    unit_layer = np.concatenate([np.full(tilings[n].n_units, i) for i, n in enumerate(layers)]) \
        if layers else np.zeros(0, np.int64)
    unit_neurons = np.concatenate([tilings[n].unit_neurons() for n in layers]) if layers \
        else np.zeros(0, np.int64)
    ug = UnitGraph(graph, tilings, offsets, start, unit_layer, unit_neurons, layers)
    edges = chip_edges(graph)
    for e in edges:
        if e.kind == "conv":
            ug.maps[id(e)] = edge_axis_maps(e, dims3(graph.layer(e.src)), tilings[e.dst],
                                            dims3(graph.layer(e.dst)))
    for lay in graph.layers:
        out = [e for e in edges if e.src == lay.name]
        if out:
            counts = None if activity is None or lay.name not in activity else activity[lay.name]
            ug.blocks.append(_classes(ug, lay, out, counts))
    return ug


def _classes(ug: UnitGraph, src: Layer, out: list[Edge], spikes: np.ndarray | None) -> ClassBlock:
    size = dims3(src)
    src_tiling = ug.tilings.get(src.name) if src.on_chip else None
    conv = [e for e in out if e.kind == "conv"]
    groups, inverse = [], []
    for axis in range(3):
        tile = src_tiling.tile_of(axis) if src_tiling is not None else np.zeros(size[axis], np.int64)
        rows = [tile[None, :]] + [ug.maps[id(e)][axis][0] for e in conv]
        key = np.concatenate(rows, axis=0).astype(np.int64)
        uniq, inv, cnt = np.unique(key, axis=1, return_inverse=True, return_counts=True)
        groups.append((uniq, cnt))
        inverse.append(inv.reshape(-1))
    (ux, nx), (uy, ny), (uc, nc) = groups
    Gx, Gy, Gc = len(nx), len(ny), len(nc)
    neurons = (nx[:, None, None] * ny[None, :, None] * nc[None, None, :]).reshape(-1)
    if spikes is None:
        weight = neurons.astype(np.float64)
    else:
        idx = (inverse[0][:, None, None] * Gy + inverse[1][None, :, None]) * Gc + inverse[2][None, None, :]
        weight = np.bincount(idx.reshape(-1), weights=np.asarray(spikes, np.float64).reshape(-1),
                             minlength=Gx * Gy * Gc)
    cols = []
    if src_tiling is not None:
        sgx, sgy, sgc = src_tiling.grid
        su = (ux[0][:, None, None] * sgy + uy[0][None, :, None]) * sgc + uc[0][None, None, :]
        cols.append((su + ug.offsets[src.name]).reshape(-1, 1))
    else:
        cols.append(np.full((Gx * Gy * Gc, 1), -1, np.int64))
    rowstart = [1, 1, 1]
    for e in conv:
        dt = ug.tilings[e.dst]
        tx, ty, tc = dt.grid
        lists = []
        for axis, (u, n_t) in enumerate(((ux, tx), (uy, ty), (uc, tc))):
            member = u[rowstart[axis]: rowstart[axis] + n_t].astype(bool)   # (tiles, groups)
            rowstart[axis] += n_t
            lists.append(_member_lists(member))
        lx, ly, lc = lists
        ids = (lx[:, None, None, :, None, None] * ty + ly[None, :, None, None, :, None]) * tc \
            + lc[None, None, :, None, None, :]
        bad = (lx[:, None, None, :, None, None] < 0) | (ly[None, :, None, None, :, None] < 0) \
            | (lc[None, None, :, None, None, :] < 0)
        ids = np.where(bad, -1, ids + ug.offsets[e.dst])
        cols.append(ids.reshape(Gx * Gy * Gc, -1))
    for e in out:
        if e.kind == "dense":
            units = ug.units_of(e.dst)
            cols.append(np.broadcast_to(units, (Gx * Gy * Gc, len(units))))
    pins = np.concatenate(cols, axis=1)
    pins = _dedupe_rows(pins)
    return ClassBlock(src.name, pins, neurons, weight)


def _member_lists(member: np.ndarray) -> np.ndarray:
    """``member`` (tiles, groups) bool -> (groups, m) tile indices padded with -1."""
    counts = member.sum(axis=0)
    m = max(int(counts.max(initial=0)), 1)
    out = np.full((member.shape[1], m), -1, np.int64)
    g, t = np.nonzero(member.T)
    pos = np.arange(len(g)) - np.repeat(np.r_[0, np.cumsum(counts)[:-1]], counts)
    out[g, pos] = t
    return out


def _dedupe_rows(pins: np.ndarray) -> np.ndarray:
    """Keep column 0; sort the destinations of each row, blank duplicates, drop empty columns."""
    if pins.shape[1] <= 1:
        return pins
    dst = np.sort(pins[:, 1:], axis=1)
    dup = np.zeros_like(dst, dtype=bool)
    dup[:, 1:] = dst[:, 1:] == dst[:, :-1]
    dst = np.where(dup, -1, dst)
    dst = -np.sort(-dst, axis=1)                       # valid ids first, -1 padding last
    keep = (dst >= 0).any(axis=0)
    return np.concatenate([pins[:, :1], dst[:, keep]], axis=1)


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
