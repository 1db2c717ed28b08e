"""The SLAYER neuron layers of a model and forward hooks on them, shared by the calibration
(neuromap.models.calibrate) and the signal diagnostics (neuromap.models.signal)."""
from __future__ import annotations

from typing import Any, Callable

import torch


def spiking_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """SLAYER blocks with a trainable synapse weight and a spiking neuron, in module order."""
    out = []
    for m in model.modules():
        syn, neu = getattr(m, "synapse", None), getattr(m, "neuron", None)
        if syn is None or neu is None or not isinstance(getattr(syn, "weight", None), torch.nn.Parameter):
            continue
        if not hasattr(neu, "threshold"):
            continue
        out.append(m)
    return out


def hook_spiking_layers(model: torch.nn.Module, visit: Callable[[str, torch.Tensor], None]) -> list[Any]:
    """Forward hooks that call visit(block name, output spikes) for every SLAYER neuron layer of
    `model`; they fire in data-flow order. Returns the handles (for `passes.eval_pass`)."""
    names = {id(m): n for n, m in model.named_modules()}
    handles = []
    for b in spiking_blocks(model):
        def hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor, name: str = names.get(id(b), "?")) -> None:
            visit(name, out)
        handles.append(b.neuron.register_forward_hook(hook))
    return handles
