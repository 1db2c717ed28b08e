"""NetworkGraph: the one intermediate representation every stage reads.

Plain frozen dataclasses with no behaviour beyond derived shapes. Loaders produce it,
the mapper, simulators, accounting and reports consume it; no Lava or torch objects
appear here, so everything downstream of the loader runs without Lava.

Conventions
-----------
* Layer shapes follow NetX/Lava order: ``(x, y, c)`` for spatial layers (W, H, C),
  ``(n,)`` for dense layers.
* A layer's neurons are numbered in C order over its shape, so a contiguous range of
  neuron indices is a slab along x (the way Intel's compiler tiles a layer).
* Dense edge weights are ``(n_post, n_pre)`` with ``n_pre`` in the source layer's own
  neuron order (a NetX ``flatten``, which reads (c, y, x), is folded into the weights at load).
* Conv edge weights are ``(c_out, kx, ky, c_in / groups)`` exactly as Lava's Conv takes them;
  stride, padding and dilation are ``(x, y)`` pairs.
* Weights are the integer mantissas stored in the file (as float64 holding integers).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

LAYER_KINDS = ("input", "conv", "dense", "average")
EDGE_KINDS = ("dense", "conv", "average")


@dataclass(frozen=True)
class Neuron:
    """A neuron model and its fixed-point parameters as NetX stores them
    (e.g. ``type='CUBA', vThMant, iDecay, vDecay, refDelay``)."""

    type: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Layer:
    """A group of neurons.

    ``neuron`` is None for a pure source (spikes injected by the host) and for host-side
    readouts such as ``average``; such layers are not placed on neurocores.
    ``bias`` is per neuron (already broadcast) or None. ``transform`` holds a NetX input
    layer's host-side encoding (``weight`` and ``bias`` applied to data before injection).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    neuron: Neuron | None = None
    bias: np.ndarray | None = None
    transform: Mapping[str, float] | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def on_chip(self) -> bool:
        """True when the layer's neurons live on neurocores."""
        return self.neuron is not None and self.kind != "average"


@dataclass(frozen=True)
class Edge:
    """Synapses from ``src`` to ``dst`` (``src == dst`` for a recurrent dense edge).

    ``delay`` is the NetX per-synapse delay array in ``weight``'s shape, or None
    (no extra delay beyond the one step every Lava synapse adds). ``lag`` is a whole-edge
    delay in steps: every spike on the edge waits ``lag`` steps before its synapse (an
    axonal delay on a skip path, so that paths of different depth meet on the same step);
    a layer's pipeline depth counts it. The synapse's own step comes on top of both."""

    src: str
    dst: str
    kind: str
    weight: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    delay: np.ndarray | None = None
    lag: int = 0


@dataclass(frozen=True)
class NetworkGraph:
    """Layers in topological order plus the edges between them."""

    name: str
    layers: tuple[Layer, ...]
    edges: tuple[Edge, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(name)

    def in_edges(self, name: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.dst == name)

    def out_edges(self, name: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.src == name)

    @property
    def input_layer(self) -> Layer:
        return self.layers[0]

    @property
    def output_layer(self) -> Layer:
        return self.layers[-1]

    @property
    def num_neurons(self) -> int:
        return sum(lay.size for lay in self.layers if lay.on_chip)

    @property
    def num_synapses(self) -> int:
        return sum(synapse_count(self, e) for e in self.edges if e.kind != "average")


def conv_output_shape(in_shape: tuple[int, ...], edge: Edge) -> tuple[int, int, int]:
    """Output (x, y, c) of a conv edge applied to an (x, y, c) input."""
    c_out, kx, ky, _ = edge.weight.shape
    out = []
    for size, k, s, p, d in zip(in_shape[:2], (kx, ky), edge.stride, edge.padding, edge.dilation):
        out.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
    return (out[0], out[1], c_out)


def synapse_count(graph: NetworkGraph, edge: Edge) -> int:
    """Structural synapses of an edge (zero weights included: Loihi stores them)."""
    if edge.kind == "dense":
        return int(edge.weight.size)
    if edge.kind == "conv":
        dst = graph.layer(edge.dst)
        c_out, kx, ky, cin_g = edge.weight.shape
        src = graph.layer(edge.src)
        # count only in-bounds taps: number of (post, pre) pairs actually connected
        taps = _valid_taps(src.shape, dst.shape, edge)
        return int(taps * cin_g)
    return 0


def _valid_taps(src_shape: tuple[int, ...], dst_shape: tuple[int, ...], edge: Edge) -> int:
    """Sum over output channels and positions of in-bounds kernel taps."""
    _, kx, ky, _ = edge.weight.shape
    total_x = _axis_taps(src_shape[0], dst_shape[0], kx, edge.stride[0], edge.padding[0],
                         edge.dilation[0])
    total_y = _axis_taps(src_shape[1], dst_shape[1], ky, edge.stride[1], edge.padding[1],
                         edge.dilation[1])
    return total_x * total_y * dst_shape[2]


def _axis_taps(n_in: int, n_out: int, k: int, s: int, p: int, d: int) -> int:
    o = np.arange(n_out)[:, None]
    i = o * s - p + np.arange(k)[None, :] * d
    return int(((i >= 0) & (i < n_in)).sum())
