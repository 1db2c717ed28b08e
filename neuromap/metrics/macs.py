"""Parameter and multiply-accumulate counts of conventional (CNN) models."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from neuromap.passes import eval_pass


def count_params(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of parameter elements: weights, biases, norm affines (buffers such as BatchNorm running
    statistics are not parameters). By default only trainable ones, so SLAYER's fixed neuron decays
    and sum-pool weights are left out. Shared parameters count once; entries a structural `mask`
    removes (a tensor `mask` on a module, shaped like one parameter inside it, e.g. the mixed-kernel
    SNN convs of neuromap.models.blocks) do not count."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    for module in model.modules():
        mask = getattr(module, "mask", None)
        if not isinstance(mask, torch.Tensor):
            continue
        match = [p for p in module.parameters() if tuple(p.shape) == tuple(mask.shape) and id(p) in seen]
        if len(match) == 1:
            total -= int((mask == 0).sum())
    return int(total)


def _conv_macs(module: torch.nn.Conv2d, output: torch.Tensor) -> int:
    # Every output element sums (in/groups) x kh x kw products (padding taps included, as a
    # dense accelerator computes them).
    kh, kw = module.kernel_size
    per_output = (module.in_channels // module.groups) * kh * kw
    return int(output[0].numel()) * per_output


def _linear_macs(module: torch.nn.Linear, output: torch.Tensor) -> int:
    # output[0] holds (..., out_features); each element takes in_features products.
    return int(output[0].numel()) * module.in_features


def _mixed_kernel_macs(module: torch.nn.Module, output: torch.Tensor) -> int:
    # A mixed-kernel conv (neuromap.models.blocks.MultiKernelConv2d): output-channel groups
    # `splits` = [(channels, kernel), ...], each at its true kernel size.
    per_position = sum(int(n) * (int(module.in_channels) // int(module.groups)) * int(k) * int(k)
                       for n, k in module.splits)
    return int(output.shape[2] * output.shape[3]) * per_position


def _is_mixed_kernel_conv(module: torch.nn.Module) -> bool:
    return (all(hasattr(module, a) for a in ("splits", "in_channels", "groups"))
            and not any(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in module.modules()))


def count_macs(model: torch.nn.Module, input_shape: Sequence[int]) -> dict[str, Any]:
    """MACs of one inference of `model` on one input shaped `input_shape` (C, H, W) or (F,).

    Counts every torch.nn.Conv2d (groups and depthwise included: output elements x
    in_channels/groups x kh x kw), mixed-kernel convs (a module with `splits` = [(channels, kernel)],
    `in_channels`, `groups`: each channel group at its true kernel size) and torch.nn.Linear
    (in x out per output row), found with
    forward hooks so any topology (branches, residual adds, concatenation) is covered; a module
    called twice counts twice. Normalisation, activations, pooling and additions are not counted.

    Returns {"total": int, "layers": {module name: MACs}} (layers in call order).
    """
    layers: dict[str, int] = {}
    handles = []

    def hook_for(name: str, fn: Any) -> Any:
        def hook(module: torch.nn.Module, _inp: Any, output: torch.Tensor) -> None:
            layers[name] = layers.get(name, 0) + fn(module, output)
        return hook

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            handles.append(module.register_forward_hook(hook_for(name or "model", _conv_macs)))
        elif isinstance(module, torch.nn.Linear):
            handles.append(module.register_forward_hook(hook_for(name or "model", _linear_macs)))
        elif _is_mixed_kernel_conv(module):
            handles.append(module.register_forward_hook(hook_for(name or "model", _mixed_kernel_macs)))
    eval_pass(model, torch.zeros(1, *(int(d) for d in input_shape)), handles)
    return {"total": int(sum(layers.values())), "layers": layers}
