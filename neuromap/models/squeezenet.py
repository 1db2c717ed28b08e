"""SqueezeNet (CIFAR-style, as in the seed paper's reference) and SqueezeNet-P (whole Fire modules pruned).

Reference (../shared/reference/seed-paper.md): stem 3x3 conv 3->96 + BN + ReLU + 2x2 max-pool;
F2(96,128,16) F3(128,128,16) F4(128,256,32) max-pool F5(256,256,32) F6(256,384,48) F7(384,384,48)
F8(384,512,64) max-pool F9(512,512,64); 1x1 conv classifier 512->C; global average pool; identity
bypasses around F3, F5, F7. A Fire module is squeeze 1x1 -> expand, where expand 1x1 || expand 3x3 is
ONE 3x3 convolution whose first out/2 kernels are 1x1 at the centre (blocks.MultiKernelConv2d / a
masked SLAYER conv), so a Fire module is two layers.

`downsample="stride"` (default, both twins) replaces each 2x2 max-pool by stride 2 in the layer
just before it (the stem, and the expand conv of the module before the pool: F4, F8; in a pruned
net the nearest kept layer), so the SNN has only conv/dense layers; `downsample="maxpool"` is the
reference CNN (the SNN then uses SLAYER sum-pool blocks and is not NetX-exportable).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from neuromap.errors import NeuromapError
from neuromap.models.registry import register_model
from neuromap.models.recipe import ZOO_RECIPE
from neuromap.models.blocks import Chain, ConvUnit, PoolUnit, Residual, TwinNet, UnitStack, unit_kwargs


@dataclass(frozen=True)
class FireSpec:
    name: str
    out: int
    squeeze: int
    bypass: bool = False


FIRES: tuple[FireSpec, ...] = (
    FireSpec("F2", 128, 16), FireSpec("F3", 128, 16, bypass=True), FireSpec("F4", 256, 32),
    FireSpec("F5", 256, 32, bypass=True), FireSpec("F6", 384, 48), FireSpec("F7", 384, 48, bypass=True),
    FireSpec("F8", 512, 64), FireSpec("F9", 512, 64),
)
FIRE_NAMES: tuple[str, ...] = tuple(f.name for f in FIRES)
STEM_CHANNELS = 96
#: Max-pools of the reference sit after these units ("stem" = the first conv).
POOL_AFTER: tuple[str, ...] = ("stem", "F4", "F8")
#: The paper's SqueezeNet-P keeps these modules.
PAPER_P_KEEP: tuple[str, ...] = ("F4", "F6", "F8", "F9")


def _normalise_keep(keep: Sequence[str] | None) -> tuple[str, ...]:
    if keep is None:
        return FIRE_NAMES
    names = [str(k).upper() for k in keep]
    bad = [k for k in names if k not in FIRE_NAMES]
    if bad:
        raise NeuromapError(f"unknown Fire module(s) {bad}; SqueezeNet has {', '.join(FIRE_NAMES)}")
    if not names:
        raise NeuromapError("keep at least one Fire module")
    return tuple(n for n in FIRE_NAMES if n in names)


def stride_plan(keep: Sequence[str]) -> dict[str, int]:
    """Which kept unit ("stem" or a Fire name) takes stride 2 for each reference max-pool.

    Each pool goes to the last kept unit at or before it that has no stride yet, else to the first
    kept unit after it: the stem always takes the first pool, so a kept net halves its resolution
    the same three times as the reference."""
    order = ["stem"] + list(FIRE_NAMES)
    kept = ["stem"] + [n for n in FIRE_NAMES if n in keep]
    strided: dict[str, int] = {}
    for point in POOL_AFTER:
        pos = order.index(point)
        before = [u for u in kept if order.index(u) <= pos and u not in strided]
        after = [u for u in kept if order.index(u) > pos and u not in strided]
        target = before[-1] if before else (after[0] if after else None)
        if target is None:
            raise NeuromapError(f"cannot place the downsampling after {point}: keep more Fire modules")
        strided[target] = 2
    return strided


def squeezenet_units(kind: str, num_classes: int, input_shape: Sequence[int], keep: Sequence[str] | None,
                     bypass: bool, downsample: str, **kw: Any) -> tuple[list[torch.nn.Module], dict[str, Any]]:
    """The unit list (and a JSON description) for `keep`ed Fire modules, channels rewired."""
    if downsample not in ("stride", "maxpool"):
        raise NeuromapError(f"downsample must be 'stride' or 'maxpool', got {downsample!r}")
    kept = _normalise_keep(keep)
    strides = stride_plan(kept) if downsample == "stride" else {}
    cin = int(input_shape[0])
    stack = UnitStack("squeezenet", input_shape)
    add = stack.add
    add(ConvUnit(kind, cin, STEM_CHANNELS, 3, stride=strides.get("stem", 1), bias=True, **kw))
    if downsample == "maxpool":
        add(PoolUnit(kind, STEM_CHANNELS, kw.get("neuron_params")))
    c = STEM_CHANNELS
    used_bypass = []
    for spec in FIRES:
        if spec.name not in kept:
            continue
        stride = strides.get(spec.name, 1)
        sq = ConvUnit(kind, c, spec.squeeze, 1, bias=True, **kw)
        ex = ConvUnit(kind, spec.squeeze, spec.out, [(spec.out // 2, 1), (spec.out - spec.out // 2, 3)],
                      stride=stride, bias=True, **kw)
        if bypass and spec.bypass and c == spec.out and stride == 1:
            add(Residual([sq, ex], last_act=True, name=spec.name))
            used_bypass.append(spec.name)
        else:
            add(Chain([sq, ex], name=spec.name))
        c = spec.out
        if downsample == "maxpool" and spec.name in POOL_AFTER:
            add(PoolUnit(kind, c, kw.get("neuron_params")))
    # classifier: 1x1 conv with bias, no BN / ReLU (logits are its global average)
    stack.classify(kind, c, num_classes, kw)
    desc = {"keep": list(kept), "bypass": used_bypass, "downsample": downsample,
            "strided": sorted(strides), "final_hw": [stack.h, stack.w]}
    return stack.units, desc


def _build(name: str, kind: str, num_classes: int, input_shape: tuple[int, ...], keep: Sequence[str] | None,
           bypass: bool, downsample: str, neuron_params: Mapping[str, Any] | None,
           weight_scale: float) -> TwinNet:
    kw = unit_kwargs(neuron_params, weight_scale)
    units, desc = squeezenet_units(kind, num_classes, input_shape, keep, bypass, downsample, **kw)
    return TwinNet(name, kind, units, input_shape, num_classes, desc)


@register_model("squeezenet", recipe=ZOO_RECIPE)
def squeezenet(kind: str = "snn", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32),
               downsample: str = "stride", neuron_params: Mapping[str, Any] | None = None,
               weight_scale: float = 2.0) -> TwinNet:
    """Full SqueezeNet F2..F9 with bypasses around F3, F5, F7 (a graph: trains now, exports in #4)."""
    return _build("squeezenet", kind, num_classes, input_shape, None, True, downsample, neuron_params, weight_scale)


@register_model("squeezenet_p", recipe=ZOO_RECIPE)
def squeezenet_p(kind: str = "snn", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32),
                 keep: Sequence[str] | None = PAPER_P_KEEP, downsample: str = "stride",
                 neuron_params: Mapping[str, Any] | None = None, weight_scale: float = 2.0,
                 bypass: bool = False) -> TwinNet:
    """SqueezeNet with whole Fire modules removed (default: the paper's F4 F6 F8 F9), by default without
    bypass (sequential); `bypass=True` keeps the reference's identity bypass around F3, F5 and F7 where
    the kept module's input still has its output's channels (neuromap.prune's sub-networks of the full
    SqueezeNet)."""
    return _build("squeezenet_p", kind, num_classes, input_shape, keep, bool(bypass), downsample, neuron_params,
                  weight_scale)
