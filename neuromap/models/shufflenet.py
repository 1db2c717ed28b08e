"""ShuffleNetV2, compact CIFAR variant: channel split, two branches, concat, channel shuffle.

stem 3x3 conv 3->24 (stride 1 for 32 x 32 and smaller inputs, 2 for 64 x 64), three stages of
ShuffleUnits (out 48 / 96 / 192, 2 / 4 / 2 units, the first of each with stride 2), a 1x1 conv to
256, a 1x1 conv classifier and a global average pool (the SNN's is a dense readout, see
blocks.GlobalPoolHead). Concat, split and shuffle are channel routing (a graph: trains now, NetX
export is issue #4).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from neuromap.models.registry import register_model
from neuromap.models.recipe import ZOO_RECIPE
from neuromap.models.blocks import ConvUnit, ShuffleUnit, TwinNet, UnitStack, unit_kwargs

STAGES: tuple[tuple[int, int], ...] = ((48, 2), (96, 4), (192, 2))
STEM, HEAD = 24, 256


def _stem_stride(input_shape: Sequence[int]) -> int:
    return 2 if min(input_shape[1:]) >= 64 else 1


@register_model("shufflenetv2", recipe=ZOO_RECIPE)
def shufflenetv2(kind: str = "snn", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32),
                 stages: Sequence[Sequence[int]] = STAGES, stem: int = STEM, head: int = HEAD,
                 neuron_params: Mapping[str, Any] | None = None, weight_scale: float = 2.0) -> TwinNet:
    """Build the ShuffleNetV2 `kind` twin."""
    kw = unit_kwargs(neuron_params, weight_scale)
    stack = UnitStack("shufflenetv2", input_shape)
    add = stack.add
    add(ConvUnit(kind, int(input_shape[0]), stem, 3, stride=_stem_stride(input_shape), **kw))
    c = stem
    for out, reps in stages:
        for i in range(int(reps)):
            add(ShuffleUnit(kind, c, int(out), 2 if i == 0 else 1, **kw))
            c = int(out)
    add(ConvUnit(kind, c, head, 1, **kw))
    stack.classify(kind, head, num_classes, kw)
    return TwinNet("shufflenetv2", kind, stack.units, input_shape, num_classes,
                   {"stages": [list(s) for s in stages], "stem": stem, "head": head,
                    "final_hw": [stack.h, stack.w]})
