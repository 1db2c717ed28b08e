"""MixNet, compact CIFAR variant (MixNet-S-like, down-scaled): inverted residuals whose depthwise
conv mixes kernel sizes across channel groups (MixConv). The mixed kernels are ONE depthwise conv,
smaller kernels zero-padded to the centre of the largest (blocks.MultiKernelConv2d for the CNN, a
masked SLAYER conv for the SNN). No squeeze-excite (see mnasnet.py).

stem 3x3 conv 3->16, MBConv stages (out, repeats, stride, expansion, kernels):
(24,2,2,3,[3]) (40,2,2,4,[3,5,7]) (80,2,2,4,[3,5]) (96,1,1,3,[3,5,7]), 1x1 conv to 192, 1x1 conv
classifier, global average pool (SNN: dense readout). Residual adds make it a graph (export: #4).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from neuromap.models.registry import register_model
from neuromap.models.recipe import DEEP_ZOO_RECIPE
from neuromap.models.blocks import TwinNet, unit_kwargs
from neuromap.models.mnasnet import build_mbconv_net

STAGES: tuple[tuple[Any, ...], ...] = ((24, 2, 2, 3, (3,)), (40, 2, 2, 4, (3, 5, 7)), (80, 2, 2, 4, (3, 5)),
                                       (96, 1, 1, 3, (3, 5, 7)))
STEM, HEAD = 16, 192


@register_model("mixnet", recipe=DEEP_ZOO_RECIPE)
def mixnet(kind: str = "snn", num_classes: int = 10, input_shape: tuple[int, ...] = (3, 32, 32),
           stages: Sequence[Sequence[Any]] = STAGES, stem: int = STEM, head: int = HEAD,
           neuron_params: Mapping[str, Any] | None = None, weight_scale: float = 2.0) -> TwinNet:
    """Build the MixNet `kind` twin."""
    kw = unit_kwargs(neuron_params, weight_scale)
    return build_mbconv_net("mixnet", kind, num_classes, input_shape, stem, stages, head, kw)
