"""Shared block vocabulary of the model zoo: each unit builds its CNN or its SNN twin from one description.

A family file (squeezenet.py, shufflenet.py, mnasnet.py, mixnet.py) describes its topology with the
units below and wraps them in `TwinNet`; `kind` picks the lowering:

* "cnn": conv (+bias where the reference has it) + BatchNorm2d + ReLU on NCHW floats.
* "snn": SLAYER CUBA blocks (`slayer.block.cuba.Conv/Dense`, 8-bit weight quantisation through the
  block's own `quantize_8bit` pre-hook, `delay_shift=True` like Lava's one-step synapses) on spike
  tensors NCHWT.

Graph parts are built so that they export exactly (neuromap.netx.lower): a residual add is a *sum of synaptic
currents into one neuron layer* (`Residual`: the last body conv's current plus the identity current
of the shortcut, delayed by the body's extra depth so both arrive on the same step), and concat,
split and channel shuffle are pure channel routing of spikes (`ShuffleUnit`). Layers whose output
channels use different kernel sizes (a Fire module's expand 1x1 || expand 3x3, MixNet's mixed
depthwise kernels) are ONE convolution with the smaller kernels zero-padded to the kernel centre
and masked, so they stay one layer (`ConvUnit(kernels=...)`).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from neuromap.errors import NeuromapError
# digitnet's CUBA-LIF parameters in SLAYER units, the zoo neuron's starting point
from neuromap.models.digitnet import DEFAULT_NEURON_PARAMS, import_slayer
from neuromap.passes import eval_pass

#: Neuron parameters of the zoo's ConvUnit and GlobalPoolHead: digitnet's threshold and voltage decay
#: with full current decay (Lava's CUBA neuron with iDecay 4096, a LIF neuron: the input of a step
#: drives the voltage in that step; a synaptic current filter made converted rates settle about three
#: times slower, docs/models.md) and a 10x taller surrogate gradient (`scale_grad`, training only).
ZOO_NEURON_PARAMS: dict[str, Any] = {**DEFAULT_NEURON_PARAMS, "current_decay": 1.0, "scale_grad": 10}

KINDS = ("snn", "cnn")


def delay_steps(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Shift a spike tensor (..., T) later in time by `steps` (zeros enter at the start)."""
    if steps <= 0:
        return x
    if steps >= x.shape[-1]:
        return torch.zeros_like(x)
    return F.pad(x[..., : x.shape[-1] - steps], (steps, 0))


def _as_splits(cout: int, kernels: Sequence[tuple[int, int]] | int) -> list[tuple[int, int]]:
    if isinstance(kernels, int):
        return [(int(cout), int(kernels))]
    splits = [(int(n), int(k)) for n, k in kernels]
    if sum(n for n, _ in splits) != cout:
        raise ValueError(f"kernel splits {splits} do not add up to {cout} output channels")
    if any(k % 2 == 0 for _, k in splits):
        raise ValueError(f"mixed kernels must be odd, got {splits}")
    return splits


def kernel_mask(cout: int, cin_per_group: int, splits: Sequence[tuple[int, int]]) -> torch.Tensor:
    """(cout, cin/groups, K, K) 0/1 mask: each output-channel group keeps a centred k x k window."""
    kmax = max(k for _, k in splits)
    mask = torch.zeros(cout, cin_per_group, kmax, kmax)
    start = 0
    for n, k in splits:
        off = (kmax - k) // 2
        mask[start:start + n, :, off:off + k, off:off + k] = 1.0
        start += n
    return mask


class MultiKernelConv2d(torch.nn.Module):
    """One conv2d whose output-channel groups have their own (odd) kernel sizes.

    Each group's weight is stored at its true size (so parameter counts are exact) and zero-padded
    to the largest kernel's centre at forward time: a single F.conv2d, i.e. one layer.
    """

    def __init__(self, cin: int, splits: Sequence[tuple[int, int]], stride: int = 1, groups: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        self.splits = [(int(n), int(k)) for n, k in splits]
        self.kmax = max(k for _, k in self.splits)
        self.stride, self.groups = int(stride), int(groups)
        self.in_channels, self.out_channels = int(cin), sum(n for n, _ in self.splits)
        self.weights = torch.nn.ParameterList()
        for n, k in self.splits:
            w = torch.empty(n, cin // groups, k, k)
            torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))
            self.weights.append(torch.nn.Parameter(w))
        self.bias = torch.nn.Parameter(torch.zeros(self.out_channels)) if bias else None

    def full_weight(self) -> torch.Tensor:
        """The (cout, cin/groups, K, K) kernel with every group centred and zero-padded."""
        parts = []
        for w, (_, k) in zip(self.weights, self.splits):
            p = (self.kmax - k) // 2
            parts.append(F.pad(w, (p, p, p, p)))
        return torch.cat(parts, dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.full_weight(), self.bias, self.stride, self.kmax // 2, 1, self.groups)


class ConvUnit(torch.nn.Module):
    """conv -> norm -> activation (CNN) or one SLAYER CUBA conv block (SNN).

    `kernels` is an int or a list of (channels, kernel) groups (Fire expand, MixNet mixed kernels);
    padding is kernel//2 ("same" for stride 1). `act=False` makes the CNN layer linear (a bottleneck
    projection); in the SNN every layer is spiking, the neuron is the nonlinearity.
    """

    def __init__(self, kind: str, cin: int, cout: int, kernels: Sequence[tuple[int, int]] | int = 3,
                 stride: int = 1, groups: int = 1, act: bool = True, bias: bool = False, norm: bool = True,
                 neuron_params: Mapping[str, Any] | None = None, weight_scale: float = 2.0) -> None:
        super().__init__()
        self.kind, self.cin, self.cout, self.stride, self.groups = kind, int(cin), int(cout), int(stride), int(groups)
        self.splits = _as_splits(cout, kernels)
        self.kernel = max(k for _, k in self.splits)
        self.act = bool(act)
        mixed = len({k for _, k in self.splits}) > 1
        if kind == "cnn":
            if mixed:
                self.conv: torch.nn.Module = MultiKernelConv2d(cin, self.splits, stride, groups, bias)
            else:
                self.conv = torch.nn.Conv2d(cin, cout, self.kernel, stride, self.kernel // 2, groups=groups, bias=bias)
            self.bn = torch.nn.BatchNorm2d(cout) if norm else torch.nn.Identity()
        elif kind == "snn":
            slayer = import_slayer()
            params = dict(ZOO_NEURON_PARAMS if neuron_params is None else neuron_params)
            self.block = slayer.block.cuba.Conv(params, cin, cout, self.kernel, stride=stride,
                                                padding=self.kernel // 2, groups=groups,
                                                weight_scale=weight_scale, weight_norm=False, delay_shift=True)
            if groups > 1 and groups == cin:
                # Depthwise: each output sees ONE input channel, so a negative kernel would silence its
                # channel for good (with 1x1 to 2x2 maps deep in the net, half the channels per layer).
                # Start as positive spatial filters; training may change the signs.
                with torch.no_grad():
                    self.block.synapse.weight.abs_()
            if mixed:
                mask = kernel_mask(cout, cin // groups, self.splits)
                self.register_buffer("mask", mask.unsqueeze(-1))  # synapse weight is (out, in, kh, kw, 1)
                base_hook = self.block.synapse.pre_hook_fx
                unit = self

                def masked_hook(weight: torch.Tensor, descale: bool = False) -> torch.Tensor:
                    return base_hook(weight * unit.mask, descale=descale)

                self.block.synapse.pre_hook_fx = masked_hook
                with torch.no_grad():
                    self.block.synapse.weight.mul_(self.mask)
            else:
                self.mask = None
        else:
            raise NeuromapError(f"unknown model kind {kind!r}; use one of: {', '.join(KINDS)}")

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        p = self.kernel // 2
        return ((h + 2 * p - self.kernel) // self.stride + 1, (w + 2 * p - self.kernel) // self.stride + 1)

    # SNN halves, so a Residual can add currents before the neuron.
    def current(self, x: torch.Tensor) -> torch.Tensor:
        return self.block.synapse(x)

    def spike(self, z: torch.Tensor) -> torch.Tensor:
        from lava.lib.dl.slayer.block.base import step_delay

        return step_delay(self.block, self.block.neuron(z))

    def cnn_linear(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "snn":
            return self.block(x)
        y = self.bn(self.conv(x))
        return F.relu(y) if self.act else y

    def effective_parameters(self) -> int:
        """Trainable weights that can be non-zero (masked kernel positions excluded)."""
        n = sum(p.numel() for p in self.parameters())
        if self.kind == "snn" and self.mask is not None:
            n -= int((self.mask == 0).sum())
        return n

    def describe(self) -> dict[str, Any]:
        return {"type": "conv", "in": self.cin, "out": self.cout, "kernels": self.splits,
                "stride": self.stride, "groups": self.groups, "act": self.act}


class PoolUnit(torch.nn.Module):
    """2x2 stride-2 max pool (CNN) / SLAYER CUBA sum-pool block (SNN; not NetX-exportable)."""

    def __init__(self, kind: str, channels: int, neuron_params: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.kind, self.cout, self.stride = kind, int(channels), 2
        if kind == "snn":
            slayer = import_slayer()
            params = dict(DEFAULT_NEURON_PARAMS if neuron_params is None else neuron_params)
            self.block = slayer.block.cuba.Pool(params, 2, stride=2, delay_shift=True)

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        return h // 2, w // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x) if self.kind == "snn" else F.max_pool2d(x, 2)

    def describe(self) -> dict[str, Any]:
        return {"type": "maxpool" if self.kind == "cnn" else "sumpool", "kernel": 2, "stride": 2}


class GlobalPoolHead(torch.nn.Module):
    """Global average pool of a (classes, H, W) map -> (classes,).

    CNN: AdaptiveAvgPool2d. SNN: NetX cannot build pooling, so a flatten and one CUBA dense layer
    (classes*H*W -> classes), initialised to the per-class spatial average (scaled by `gain`) and
    then trained; it costs classes*classes*H*W weights (see docs/models.md).
    """

    def __init__(self, kind: str, channels: int, hw: tuple[int, int], neuron_params: Mapping[str, Any] | None = None,
                 gain: float = 4.0) -> None:
        super().__init__()
        self.kind, self.cout, self.hw = kind, int(channels), (int(hw[0]), int(hw[1]))
        if kind == "snn":
            slayer = import_slayer()
            params = dict(ZOO_NEURON_PARAMS if neuron_params is None else neuron_params)
            n_in = channels * hw[0] * hw[1]
            self.flatten = slayer.block.cuba.Flatten()
            self.dense = slayer.block.cuba.Dense(params, n_in, channels, weight_scale=1, weight_norm=False,
                                                 delay_shift=True)
            with torch.no_grad():
                w = torch.zeros(channels, channels, hw[0] * hw[1])
                for c in range(channels):
                    w[c, c, :] = gain / (hw[0] * hw[1])
                self.dense.synapse.weight.copy_(w.reshape(self.dense.synapse.weight.shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "snn":
            return self.dense(self.flatten(x))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def describe(self) -> dict[str, Any]:
        return {"type": "global_avg_pool" if self.kind == "cnn" else "dense_readout",
                "channels": self.cout, "hw": list(self.hw)}


class Residual(torch.nn.Module):
    """body(x) + x. CNN: add after the last body layer's BN (ReLU after the add if `post_act`, and the
    last body layer keeps its own ReLU if `last_act`). SNN: the last body conv's synaptic current plus
    the shortcut spikes (identity synapse, weight `skip_weight`, delayed by len(body)-1 steps so both
    arrive together) drive ONE neuron layer."""

    def __init__(self, body: Sequence[ConvUnit], post_act: bool = False, last_act: bool = False,
                 skip_weight: float = 1.0, name: str = "") -> None:
        super().__init__()
        self.unit_name = name
        self.body = torch.nn.ModuleList(body)
        self.kind = self.body[0].kind
        self.cout, self.post_act, self.last_act, self.skip_weight = self.body[-1].cout, post_act, last_act, float(skip_weight)
        if self.body[0].cin != self.cout or any(u.stride != 1 for u in self.body):
            raise ValueError("an identity residual needs equal in/out channels and stride 1")

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        return h, w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for unit in self.body[:-1]:
            h = unit(h)
        last = self.body[-1]
        if self.kind == "snn":
            skip = delay_steps(x, len(self.body) - 1)
            gain = getattr(self, "skip_gain", None)  # per channel once a normalisation is folded in
            skip = self.skip_weight * skip if gain is None else gain.reshape((1, -1) + (1,) * (x.dim() - 2)) * skip
            z = last.current(h) + skip
            return last.spike(z)
        y = last.cnn_linear(h)
        if self.last_act:
            y = F.relu(y)
        y = y + x
        return F.relu(y) if self.post_act else y

    def describe(self) -> dict[str, Any]:
        return {"type": "residual", "body": [u.describe() for u in self.body], "skip": "identity",
                "skip_delay": len(self.body) - 1, "name": self.unit_name}


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Channel shuffle on dim 1 for NCHW or NCHWT (a fixed permutation of channels)."""
    n, c = x.shape[:2]
    rest = x.shape[2:]
    return x.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


class ShuffleUnit(torch.nn.Module):
    """ShuffleNetV2 unit. stride 1: split channels in half, branch(x2) = pw -> dw3 -> pw, concat with
    x1, shuffle. stride 2: branch1 = dw3/s2 -> pw on x, branch2 = pw -> dw3/s2 -> pw on x, concat,
    shuffle. SNN: concat/split/shuffle are channel routing; the shorter path is delayed to match."""

    def __init__(self, kind: str, cin: int, cout: int, stride: int, **kw: Any) -> None:
        super().__init__()
        self.kind, self.cin, self.cout, self.stride = kind, int(cin), int(cout), int(stride)
        half = cout // 2
        if stride == 1:
            if cin != cout:
                raise ValueError("a stride-1 shuffle unit keeps its channel count")
            b_in = cin // 2
            self.branch1 = None
        else:
            b_in = cin
            self.branch1 = torch.nn.ModuleList([
                ConvUnit(kind, cin, cin, 3, stride=2, groups=cin, act=False, **kw),
                ConvUnit(kind, cin, half, 1, **kw),
            ])
        self.branch2 = torch.nn.ModuleList([
            ConvUnit(kind, b_in, half, 1, **kw),
            ConvUnit(kind, half, half, 3, stride=stride, groups=half, act=False, **kw),
            ConvUnit(kind, half, half, 1, **kw),
        ])

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        return self.branch2[1].out_hw(h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch1 is None:
            x1, x2 = x.chunk(2, dim=1)
            a = x1 if self.kind == "cnn" else delay_steps(x1, len(self.branch2))
        else:
            x2 = x
            a = x
            for unit in self.branch1:
                a = unit(a)
            if self.kind == "snn":
                a = delay_steps(a, len(self.branch2) - len(self.branch1))
        b = x2
        for unit in self.branch2:
            b = unit(b)
        return channel_shuffle(torch.cat([a, b], dim=1), 2)

    def describe(self) -> dict[str, Any]:
        return {"type": "shuffle", "in": self.cin, "out": self.cout, "stride": self.stride}


def mbconv(kind: str, cin: int, cout: int, expand: int, kernels: Sequence[tuple[int, int]] | int, stride: int,
           **kw: Any) -> torch.nn.Module:
    """Inverted residual (MobileNetV2/MnasNet/MixNet): pw expand -> depthwise (mixed) kernels -> linear pw
    projection; identity residual when stride 1 and cin == cout. Returns a Residual or a Chain."""
    mid = cin * expand
    units: list[ConvUnit] = []
    if expand != 1:
        units.append(ConvUnit(kind, cin, mid, 1, **kw))
    if isinstance(kernels, int):
        dw_kernels: Sequence[tuple[int, int]] | int = kernels
    else:  # split the expanded channels evenly between the kernel sizes
        ks = [k for _, k in kernels]
        base, extra = divmod(mid, len(ks))
        dw_kernels = [(base + (1 if i < extra else 0), k) for i, k in enumerate(ks)]
    units.append(ConvUnit(kind, mid, mid, dw_kernels, stride=stride, groups=mid, **kw))
    units.append(ConvUnit(kind, mid, cout, 1, act=False, **kw))
    if stride == 1 and cin == cout:
        return Residual(units)
    return Chain(units)


class Chain(torch.nn.Module):
    """A plain sequence of units (sequential; flattened into the parent for export)."""

    def __init__(self, units: Sequence[torch.nn.Module], name: str = "") -> None:
        super().__init__()
        self.units = torch.nn.ModuleList(units)
        self.cout = units[-1].cout
        self.unit_name = name

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        for u in self.units:
            h, w = u.out_hw(h, w)
        return h, w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for u in self.units:
            x = u(x)
        return x

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "chain", "units": [u.describe() for u in self.units]}
        if self.unit_name:
            d["name"] = self.unit_name
        return d


def _flat_units(units: Sequence[torch.nn.Module]) -> list[torch.nn.Module]:
    out: list[torch.nn.Module] = []
    for u in units:
        out.extend(_flat_units(list(u.units)) if isinstance(u, Chain) else [u])
    return out


def spiking_depth(unit: torch.nn.Module) -> int:
    """Neuron layers a spike crosses along the longest path of `unit` (one time step each)."""
    if isinstance(unit, Chain):
        return sum(spiking_depth(u) for u in unit.units)
    if isinstance(unit, Residual):
        return len(unit.body)
    if isinstance(unit, ShuffleUnit):
        return len(unit.branch2)
    return 1


def unit_kwargs(neuron_params: Mapping[str, Any] | None, weight_scale: float) -> dict[str, Any]:
    """The keyword arguments a family passes to every unit: the SNN weight scale, and the neuron
    parameters only when the caller overrides them (units default to ZOO_NEURON_PARAMS)."""
    kw: dict[str, Any] = {"weight_scale": weight_scale}
    if neuron_params is not None:
        kw["neuron_params"] = neuron_params
    return kw


class UnitStack:
    """A family builder's units in order with the running spatial size (h, w); refuses an input
    that a stride would shrink to nothing."""

    def __init__(self, name: str, input_shape: Sequence[int]) -> None:
        self.name, self.input_shape = name, tuple(int(d) for d in input_shape)
        self.h, self.w = self.input_shape[1], self.input_shape[2]
        self.units: list[torch.nn.Module] = []

    def add(self, unit: torch.nn.Module) -> None:
        self.units.append(unit)
        self.h, self.w = unit.out_hw(self.h, self.w)
        if self.h < 1 or self.w < 1:
            raise NeuromapError(f"input {self.input_shape} is too small for {self.name}")

    def classify(self, kind: str, cin: int, num_classes: int, kw: Mapping[str, Any]) -> None:
        """The zoo's head: 1x1 conv classifier (bias, no BN / ReLU) and a global average pool."""
        self.add(ConvUnit(kind, cin, num_classes, 1, bias=True, norm=False, act=False, **kw))
        self.units.append(GlobalPoolHead(kind, num_classes, (self.h, self.w), kw.get("neuron_params")))


class TwinNet(torch.nn.Module):
    """A zoo network: units in order. CNN: (N, C, H, W) -> logits (N, classes). SNN: spikes
    (N, C, H, W, T) -> output spikes (N, classes, T)."""

    def __init__(self, name: str, kind: str, units: Sequence[torch.nn.Module], input_shape: Sequence[int],
                 num_classes: int, description: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.name, self.kind = name, kind
        self.units = torch.nn.ModuleList(units)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.description = dict(description or {})
        flat = _flat_units(list(self.units))
        self.sequential = all(isinstance(u, (ConvUnit, GlobalPoolHead)) for u in flat)
        # neuron layers on the longest path of the SNN twin (the same number for both twins)
        self.depth = sum(spiking_depth(u) for u in self.units)
        self.topology = [u.describe() for u in self.units]
        if kind == "snn":  # one dummy step fixes SLAYER's lazily-built shapes (export needs them)
            eval_pass(self, torch.zeros(1, *self.input_shape, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for u in self.units:
            x = u(x)
        if self.kind == "snn":
            return x.reshape(x.shape[0], -1, x.shape[-1])
        return x.flatten(1)


def count_parameters(model: torch.nn.Module) -> int:
    """Trainable parameters that can be non-zero: masked kernel positions of SNN mixed-kernel convs are
    excluded (the CNN stores mixed kernels at their true sizes, so there it is plain numel)."""
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    for m in model.modules():
        if isinstance(m, ConvUnit) and m.kind == "snn" and m.mask is not None:
            total -= int((m.mask == 0).sum())
    return total


def conv_macs(model: torch.nn.Module, input_shape: Sequence[int]) -> int:
    """CNN multiply-accumulates per sample (conv and linear layers; mixed kernels counted at their true
    sizes), with forward hooks. A documentation helper; neuromap.metrics has the official counter."""
    total = 0

    def conv_hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        hw = out.shape[2] * out.shape[3]
        if isinstance(mod, MultiKernelConv2d):
            total += hw * sum(w.numel() for w in mod.weights)
        else:
            total += hw * mod.weight.numel()

    def lin_hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        total += mod.weight.numel()

    hooks = []
    for m in model.modules():
        if isinstance(m, MultiKernelConv2d) or (isinstance(m, torch.nn.Conv2d)):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    eval_pass(model, torch.zeros(1, *input_shape), hooks)
    return int(total)

