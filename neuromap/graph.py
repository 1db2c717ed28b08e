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

A NetworkGraph checks its structure when it is built (names unique, kinds from ``LAYER_KINDS`` and
``EDGE_KINDS``, shapes, edges between existing layers, weight shapes consistent with the layers they
join) and raises one NeuromapError naming the layer; ``neuromap.validate`` adds the value checks
(numbers, neuron parameters, size limits) a file from outside needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral
from typing import Any, Mapping

import numpy as np

from .errors import NeuromapError

#: The closed sets of layer and edge kinds: every stage handles exactly these.
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
    """Layers in topological order plus the edges between them; the structure is checked on
    construction (``check_structure``), and layers and edges are indexed by layer name."""

    name: str
    layers: tuple[Layer, ...]
    edges: tuple[Edge, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    _index: Mapping[str, Layer] = field(init=False, repr=False, compare=False)
    _in: Mapping[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)
    _out: Mapping[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "edges", tuple(self.edges))
        index = check_structure(self.name, self.layers, self.edges)
        ins: dict[str, list[Edge]] = {n: [] for n in index}
        outs: dict[str, list[Edge]] = {n: [] for n in index}
        for e in self.edges:
            ins[e.dst].append(e)
            outs[e.src].append(e)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_in", {n: tuple(v) for n, v in ins.items()})
        object.__setattr__(self, "_out", {n: tuple(v) for n, v in outs.items()})

    def layer(self, name: str) -> Layer:
        """The layer called ``name`` (KeyError when there is none)."""
        return self._index[name]

    def in_edges(self, name: str) -> tuple[Edge, ...]:
        return self._in.get(name, ())

    def out_edges(self, name: str) -> tuple[Edge, ...]:
        return self._out.get(name, ())

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


def check_structure(graph: str, layers: tuple[Layer, ...], edges: tuple[Edge, ...]) -> dict[str, Layer]:
    """The IR's invariants: unique layer names, kinds from ``LAYER_KINDS`` / ``EDGE_KINDS``, shapes of
    1 to 3 positive whole numbers ((x, y, c) for conv layers), biases in the layer's shape, edges
    between existing layers, dense and average weights ``(dst neurons, src neurons)``, conv weights
    that fit the source's channels and give the destination's shape, delays in the weight's shape.
    Returns the layers by name; raises one NeuromapError naming the layer or edge."""
    index: dict[str, Layer] = {}
    for i, lay in enumerate(layers):
        if not isinstance(lay, Layer):
            raise NeuromapError(f"{graph}: layer {i} is a {type(lay).__name__}, not a Layer")
        where = f"{graph}: layer {lay.name}"
        if not isinstance(lay.name, str) or not lay.name:
            raise NeuromapError(f"{graph}: layer {i} needs a name (a non-empty string)")
        if lay.name in index:
            raise NeuromapError(f"{graph}: two layers are named {lay.name!r}; layer names must be unique")
        if lay.kind not in LAYER_KINDS:
            raise NeuromapError(f"{where}: kind {lay.kind!r} is not one of {', '.join(LAYER_KINDS)}")
        shape = lay.shape
        if not isinstance(shape, tuple) or not 1 <= len(shape) <= 3 or \
                not all(isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in shape):
            raise NeuromapError(f"{where}: shape {shape!r} must be 1 to 3 positive whole numbers")
        if lay.kind == "conv" and len(shape) != 3:
            raise NeuromapError(f"{where}: a conv layer needs an (x, y, c) shape, got {shape}")
        if lay.bias is not None and np.shape(lay.bias) != tuple(shape):
            raise NeuromapError(f"{where}: bias of shape {np.shape(lay.bias)} does not fit the layer {shape}")
        index[lay.name] = lay
    for e in edges:
        if not isinstance(e, Edge):
            raise NeuromapError(f"{graph}: an edge is a {type(e).__name__}, not an Edge")
        where = f"{graph}: edge {e.src} -> {e.dst}"
        if e.src not in index or e.dst not in index:
            raise NeuromapError(f"{where} names a layer that does not exist")
        if e.kind not in EDGE_KINDS:
            raise NeuromapError(f"{where}: kind {e.kind!r} is not one of {', '.join(EDGE_KINDS)}")
        src, dst = index[e.src], index[e.dst]
        w = np.shape(e.weight)
        if e.kind in ("dense", "average"):
            if w != (dst.size, src.size):
                raise NeuromapError(f"{where}: weight {w} must be ({dst.size}, {src.size})")
        else:
            geometry = (e.stride, e.padding, e.dilation)
            if not all(isinstance(p, tuple) and len(p) == 2 and all(isinstance(v, Integral) for v in p)
                       for p in geometry) or not isinstance(e.groups, Integral) or \
                    min(e.stride) < 1 or min(e.dilation) < 1 or min(e.padding) < 0 or e.groups < 1:
                raise NeuromapError(f"{where}: stride and dilation must be pairs of whole numbers >= 1, "
                                    f"padding >= 0, groups >= 1")
            if len(src.shape) != 3 or len(dst.shape) != 3 or len(w) != 4:
                raise NeuromapError(f"{where}: a conv edge joins (x, y, c) layers with a 4-D weight")
            if w[3] * e.groups != src.shape[2] or w[0] % e.groups:
                raise NeuromapError(f"{where}: weight {w} with groups={e.groups} does not fit "
                                    f"{src.shape[2]} input channels")
            if conv_output_shape(src.shape, e) != tuple(dst.shape):
                raise NeuromapError(f"{where}: the convolution gives {conv_output_shape(src.shape, e)} "
                                    f"but {dst.name} is {dst.shape}")
        if e.delay is not None and np.shape(e.delay) != w:
            raise NeuromapError(f"{where}: delays {np.shape(e.delay)} must have the weight's shape {w}")
    return index


def conv_output_shape(in_shape: tuple[int, ...], edge: Edge) -> tuple[int, int, int]:
    """Output (x, y, c) of a conv edge applied to an (x, y, c) input."""
    c_out, kx, ky, _ = np.shape(edge.weight)
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
