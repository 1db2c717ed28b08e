"""Lower a SLAYER SNN (a zoo TwinNet or a sequential SpikingNet) to the NetworkGraph IR.

Every SLAYER block becomes one IR layer, with the integer weights and neuron parameters its own
``export_hdf5`` writes (read back through the NetX loader, so the translation is the one stock
NetX uses). What has no neurons is folded into edges:

* concat, split and channel shuffle are channel routing: a tensor is tracked as a list of
  (source layer, channel, lag) per channel, and a consumer conv gets one edge per
  (source layer, lag) with its weight columns gathered for that source;
* a residual add is a second edge into the same neuron layer (identity 1x1 conv with the skip
  weight), and the shortcut's delay becomes the edge's ``lag``;
* Fire's expand 1x1 || 3x3 and MixNet's mixed kernels are already one conv.

A grouped conv (depthwise) stays grouped when it reads one source layer in channel order; on a
routed tensor (a shuffled concat) it is expanded to a plain conv with zero weights off the group
diagonal, which is exact but stores more synapses (docs/netx-graph-format.md).
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import h5py
import numpy as np
import torch

from neuromap.errors import NeuromapError
from neuromap.graph import Edge, Layer, NetworkGraph, conv_output_shape
from neuromap.models import blocks as zoo
from neuromap.netx.load import conv_layer, dense_layer
from neuromap.passes import eval_mode, eval_pass
from neuromap.sim.activity import depths

#: SLAYER's weight scale (1 << 6): a float weight w is the integer mantissa w * 64 in NetX.
WEIGHT_SCALE = 64
_COUNTER = itertools.count()


@dataclass(frozen=True)
class Routed:
    """A spike tensor as the IR sees it: spatial size and, per channel, where it comes from."""

    hw: tuple[int, ...]  # (x, y) of a spatial tensor, () for a flat one
    channels: tuple[tuple[str, int, int], ...]  # (layer, channel, lag)

    @staticmethod
    def of(layer: Layer) -> "Routed":
        if len(layer.shape) == 3:
            return Routed(layer.shape[:2], tuple((layer.name, c, 0) for c in range(layer.shape[2])))
        return Routed((), tuple((layer.name, c, 0) for c in range(layer.shape[0])))

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.hw, len(self.channels))

    def by_source(self) -> dict[tuple[str, int], list[tuple[int, int]]]:
        """Channels grouped per (source layer, lag): [(channel here, channel in the source), ...]."""
        groups: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for ch, (src, sc, lag) in enumerate(self.channels):
            groups.setdefault((src, lag), []).append((ch, sc))
        return groups

    def delayed(self, steps: int) -> "Routed":
        return Routed(self.hw, tuple((s, c, lag + steps) for s, c, lag in self.channels))

    def select(self, index: Iterable[int]) -> "Routed":
        return Routed(self.hw, tuple(self.channels[i] for i in index))


class _Builder:
    def __init__(self, name: str, input_shape: tuple[int, ...]) -> None:
        # (C, H, W) as torch has it is (x, y, c) = (W, H, C) in the IR
        shape = tuple(int(d) for d in input_shape[::-1]) if len(input_shape) == 3 else \
            (int(np.prod(input_shape)),)
        self.name = name
        self.layers: list[Layer] = [Layer("input", "input", shape)]
        self.edges: list[Edge] = []

    def layer(self, name: str) -> Layer:
        return next(lay for lay in self.layers if lay.name == name)

    # ---------------------------------------------------------------- blocks
    def conv_block(self, block: Any, name: str, x: Routed,
                   extra: list[tuple[Routed, np.ndarray, int]] = ()) -> Routed:
        """A SLAYER conv block reading `x`, plus `extra` (tensor, (c, 1, 1, 1) depthwise identity
        weight, groups) inputs summed into the same neurons (residual shortcuts)."""
        with _exported(block) as cfg:
            lay, edge = conv_layer(cfg, Layer("probe", "input", x.shape), name, f"layer {name}")
        self.layers.append(lay)
        self._route(x, lay, edge)
        for src, weight, groups in extra:
            skip = Edge("probe", name, "conv", weight, groups=groups)
            if conv_output_shape(src.shape, skip) != lay.shape:
                raise NeuromapError(f"layer {name}: the shortcut {src.shape} does not fit {lay.shape}")
            self._route(src, lay, skip)
        return Routed.of(lay)

    def dense_block(self, block: Any, name: str, x: Routed) -> Routed:
        with _exported(block) as cfg:
            lay, edges = dense_layer(cfg, Layer("probe", "input", x.shape), name, f"layer {name}",
                                flatten=len(x.shape) == 3, recurrent=False)
        self.layers.append(lay)
        edge = edges[0]
        # columns are in the probe's C order over (x, y, c): group them by routed source
        cols = np.arange(edge.weight.shape[1]).reshape(x.shape)
        for (src, lag), pairs in x.by_source().items():
            src_lay = self.layer(src)
            w = np.zeros((edge.weight.shape[0], src_lay.size))
            tgt = np.arange(src_lay.size).reshape(src_lay.shape)
            for ch, sc in pairs:
                w[:, tgt[..., sc].reshape(-1)] += edge.weight[:, cols[..., ch].reshape(-1)]
            self.edges.append(Edge(src, name, "dense", w, lag=int(lag)))
        return Routed.of(lay)

    def _route(self, x: Routed, lay: Layer, edge: Edge) -> None:
        """Edges into `lay` equal to `edge` applied to the routed tensor `x`."""
        weight, groups = edge.weight, edge.groups
        by_src = x.by_source()
        if groups > 1:
            (src, lag), pairs = next(iter(by_src.items()))
            if len(by_src) == 1 and [sc for _, sc in pairs] == list(range(self.layer(src).shape[2])):
                self.edges.append(Edge(src, lay.name, "conv", weight, edge.stride, edge.padding,
                                       edge.dilation, groups, lag=int(lag)))
                return
            weight = _ungroup(weight, groups)
        for (src, lag), pairs in by_src.items():
            n_src = self.layer(src).shape[2]
            if [sc for _, sc in pairs] == list(range(n_src)):
                w = weight[..., [ch for ch, _ in pairs]]
            else:
                w = np.zeros(weight.shape[:3] + (n_src,))
                for ch, sc in pairs:
                    w[..., sc] += weight[..., ch]
            self.edges.append(Edge(src, lay.name, "conv", w, edge.stride, edge.padding,
                                   edge.dilation, 1, lag=int(lag)))

    def graph(self, meta: dict[str, Any]) -> NetworkGraph:
        return NetworkGraph(self.name, tuple(self.layers), tuple(self.edges), meta)


def lower_snn(model: torch.nn.Module) -> NetworkGraph:
    """The IR of a SLAYER SNN: a zoo TwinNet (graphs included) or a model with `.blocks`."""
    input_shape = getattr(model, "input_shape", None)
    kind = getattr(model, "kind", None)
    if input_shape is None or not (kind == "snn" or (kind is None and hasattr(model, "blocks"))):
        raise NeuromapError(f"cannot export {type(model).__name__}: it is not a SLAYER SNN; build it "
                            f"with create_model(..., kind='snn')")
    b = _Builder(getattr(model, "name", type(model).__name__), tuple(int(d) for d in input_shape))
    names = {m: n for n, m in model.named_modules()}
    with eval_mode(model):
        x = Routed.of(b.layers[0])
        if isinstance(model, zoo.TwinNet):
            for unit in model.units:
                x = _lower_unit(b, unit, x, names, zoo)
        else:
            for block in model.blocks:
                x = _lower_block(b, block, x, names)
    if any(lag for _, _, lag in x.channels) or len({s for s, _, _ in x.channels}) != 1:
        raise NeuromapError(f"{b.name}: the output is not one neuron layer; end the network in a "
                            f"conv or dense layer")
    return b.graph({"model": b.name})


def _lower_block(b: _Builder, block: Any, x: Routed, names: dict) -> Routed:
    kind = type(block).__name__
    name = _short(names.get(block, f"block{next(_COUNTER)}"))
    if kind == "Flatten":
        return x  # folded into the next dense layer's weights
    if kind == "Dense":
        return b.dense_block(block, name, x)
    if kind == "Conv":
        return b.conv_block(block, name, x)
    raise NeuromapError(f"layer {name}: SLAYER {kind} blocks do not export to NetX (conv and dense "
                        f"only); build the model with downsample='stride' instead of pooling")


def _lower_unit(b: _Builder, unit: torch.nn.Module, x: Routed, names: dict, zoo: Any) -> Routed:
    if isinstance(unit, zoo.ConvUnit):
        return b.conv_block(unit.block, _short(names[unit]), x)
    if isinstance(unit, zoo.GlobalPoolHead):
        return b.dense_block(unit.dense, _short(names[unit]), x)
    if isinstance(unit, zoo.Chain):
        for u in unit.units:
            x = _lower_unit(b, u, x, names, zoo)
        return x
    if isinstance(unit, zoo.Residual):
        h = x
        for u in unit.body[:-1]:
            h = _lower_unit(b, u, h, names, zoo)
        c = len(x.channels)
        gain = getattr(unit, "skip_gain", None)  # per channel once a normalisation is folded in
        mant = (np.full(c, unit.skip_weight) if gain is None else gain.detach().cpu().numpy()) * WEIGHT_SCALE
        if np.any(mant != np.round(mant)) or np.any(np.abs(mant) > 255):
            raise NeuromapError(f"{_short(names[unit])}: skip weight {unit.skip_weight} is not a multiple "
                                f"of 1/{WEIGHT_SCALE} within 8 bits; use such a skip weight")
        skip = np.round(mant).astype(float).reshape(c, 1, 1, 1)
        return b.conv_block(unit.body[-1].block, _short(names[unit.body[-1]]), h,
                            [(x.delayed(len(unit.body) - 1), skip, c)])
    if isinstance(unit, zoo.ShuffleUnit):
        if unit.branch1 is None:
            half = len(x.channels) // 2
            a = x.select(range(half)).delayed(len(unit.branch2))
            x2 = x.select(range(half, len(x.channels)))
        else:
            a = x
            for u in unit.branch1:
                a = _lower_unit(b, u, a, names, zoo)
            a = a.delayed(len(unit.branch2) - len(unit.branch1))
            x2 = x
        for u in unit.branch2:
            x2 = _lower_unit(b, u, x2, names, zoo)
        cat = Routed(x2.hw, a.channels + x2.channels)
        order = zoo.channel_shuffle(torch.arange(len(cat.channels)).reshape(1, -1), 2).reshape(-1)
        return cat.select(order.tolist())
    raise NeuromapError(f"unit {type(unit).__name__} ({_short(names.get(unit, '?'))}) does not export "
                        f"to NetX; build the model with downsample='stride' (no pooling blocks)")


def _ungroup(weight: np.ndarray, groups: int) -> np.ndarray:
    """A grouped conv weight (out, kx, ky, in/g) as the equivalent plain one (out, kx, ky, in)."""
    c_out, kx, ky, cin_g = weight.shape
    out_g = c_out // groups
    full = np.zeros((c_out, kx, ky, cin_g * groups))
    for o in range(c_out):
        g = o // out_g
        full[o, :, :, g * cin_g:(g + 1) * cin_g] = weight[o]
    return full


@contextmanager
def _exported(block: Any) -> Iterator[h5py.Group]:
    """The block's own NetX export, in an in-memory HDF5 file closed on leaving."""
    with h5py.File(f"lower-{next(_COUNTER)}.h5", "w", driver="core", backing_store=False) as f:
        group = f.create_group("layer")
        block.export_hdf5(group)
        yield group


def _short(name: str) -> str:
    return name[len("units."):] if name.startswith("units.") else name


def slayer_layer_spikes(model: torch.nn.Module, spikes: np.ndarray) -> dict[str, np.ndarray]:
    """Each IR layer's spikes in SLAYER on `spikes` (N, C, H, W, T): ``{layer: (N, T, n)}`` in IR
    neuron order, taken at the neuron (before SLAYER's one-step ``delay_shift``), so a layer at
    Lava depth ``d`` agrees with Lava's window of it from step ``d - 1`` on. Used to check Lava
    against SLAYER layer by layer."""
    names = {m: n for n, m in model.named_modules()}
    seen: dict[str, np.ndarray] = {}
    hooks = []
    for mod in model.modules():
        if hasattr(mod, "neuron") and hasattr(mod, "synapse") and mod in names:
            key = _short(names[mod]).rsplit(".", 1)
            name = key[0] if len(key) == 2 and key[1] in ("block", "dense") else _short(names[mod])

            def keep(_m: Any, _i: Any, out: torch.Tensor, name: str = name) -> None:
                seen[name] = out.detach().cpu().numpy()
            hooks.append(mod.neuron.register_forward_hook(keep))
    device = next(model.parameters()).device
    eval_pass(model, torch.as_tensor(spikes, dtype=torch.float32, device=device), hooks)
    out = {}
    for name, s in seen.items():
        if s.ndim == 5:  # (N, C, H, W, T) -> (N, T, x, y, c) flattened in IR order
            s = s.transpose(0, 4, 3, 2, 1)
        else:
            s = s.reshape(s.shape[0], -1, s.shape[-1]).transpose(0, 2, 1)
        out[name] = s.reshape(s.shape[0], s.shape[1], -1)
    return out


def lava_mismatches(model: torch.nn.Module, graph: NetworkGraph, spikes: np.ndarray,
                    activity: Any) -> dict[str, tuple[int, int]]:
    """Layer by layer, ``{layer: (spikes that differ, Lava spikes)}`` between `activity` (Lava's
    Activity of `graph` on `spikes` (N, C, H, W, T)) and the SLAYER `model` on the same spikes.

    Lava's window of a layer at depth ``d`` is SLAYER's neuron output from step ``d - 1`` on, so
    SLAYER runs with a zero tail of the network's depth to produce the whole window."""
    depth = depths(graph)
    T = spikes.shape[-1]
    tail = np.zeros(spikes.shape[:-1] + (max(depth.values()) + 1,), np.float32)
    ref = slayer_layer_spikes(model, np.concatenate([spikes.astype(np.float32), tail], -1))
    out = {}
    for lay in graph.layers[1:]:
        d = depth[lay.name]
        want, got = ref[lay.name][:, d - 1:d - 1 + T], activity.events[lay.name]
        if got.shape != want.shape:
            raise NeuromapError(f"layer {lay.name}: Lava gives {got.shape}, SLAYER {want.shape}; "
                                f"the file does not come from this model")
        out[lay.name] = (int((got != want).sum()), int(got.sum()))
    return out
