"""MnasNet, compact CIFAR variant: inverted residuals (expand 1x1 -> depthwise -> linear 1x1, identity
residual when shape allows), no squeeze-excite (a multiplicative gate has no spiking synapse form).

stem 3x3 conv 3->16, a depthwise-separable block (dw3 + pw 16), MBConv stages (out, repeats, stride,
expansion, kernel): (24,2,2,3,3) (40,2,2,3,5) (80,2,2,6,3) (96,1,1,6,3), 1x1 conv to 256, 1x1 conv
classifier, global average pool (SNN: dense readout). Residual adds are sums of synaptic currents
into one neuron layer (blocks.Residual); a graph, so NetX export is issue #4.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from neuromap.models.registry import register_model
from neuromap.models.recipe import DEEP_ZOO_RECIPE
from neuromap.models.blocks import ConvUnit, TwinNet, UnitStack, mbconv, unit_kwargs

STAGES: tuple[tuple[Any, ...], ...] = ((24, 2, 2, 3, 3), (40, 2, 2, 3, 5), (80, 2, 2, 6, 3), (96, 1, 1, 6, 3))
STEM, HEAD = 16, 256


def build_mbconv_net(name: str, kind: str, num_classes: int, input_shape: Sequence[int], stem: int,
                     stages: Sequence[Sequence[Any]], head: int, kw: dict[str, Any],
                     sep_out: int | None = None) -> TwinNet:
    """stem conv -> [dw3 + pw sep_out] -> MBConv stages -> 1x1 head conv -> 1x1 classifier -> GAP."""
    stack = UnitStack(name, input_shape)
    add = stack.add
    add(ConvUnit(kind, int(input_shape[0]), stem, 3, stride=2 if min(input_shape[1:]) >= 64 else 1, **kw))
    c = stem
    if sep_out is not None:
        add(ConvUnit(kind, c, c, 3, groups=c, **kw))
        add(ConvUnit(kind, c, sep_out, 1, act=False, **kw))
        c = sep_out
    for out, reps, stride, expand, kernels in stages:
        for i in range(int(reps)):
            k = kernels if isinstance(kernels, int) else [(0, int(x)) for x in kernels]
            add(mbconv(kind, c, int(out), int(expand), k, int(stride) if i == 0 else 1, **kw))
            c = int(out)
    add(ConvUnit(kind, c, head, 1, **kw))
    stack.classify(kind, head, num_classes, kw)
    return TwinNet(name, kind, stack.units, input_shape, num_classes,
                   {"stem": stem, "stages": [list(map(lambda v: list(v) if isinstance(v, (list, tuple)) else v, s))
                                             for s in stages], "head": head, "final_hw": [stack.h, stack.w]})


@register_model("mnasnet", recipe=DEEP_ZOO_RECIPE)
def mnasnet(kind: str = "snn", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32),
            stages: Sequence[Sequence[Any]] = STAGES, stem: int = STEM, head: int = HEAD,
            neuron_params: Mapping[str, Any] | None = None, weight_scale: float = 2.0) -> TwinNet:
    """Build the MnasNet `kind` twin."""
    kw = unit_kwargs(neuron_params, weight_scale)
    return build_mbconv_net("mnasnet", kind, num_classes, input_shape, stem, stages, head, kw, sep_out=16)
