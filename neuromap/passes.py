"""Eval-mode forward passes that leave a model as they found it (train/eval mode restored, hooks
removed), for every place that runs a model only to look at it: shape-settling dummy steps,
calibration, spike and operation counting, MAC counting, lowering to the IR."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import torch


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """`model` in eval mode without gradients inside the block; its mode is restored afterwards."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was)


def eval_pass(model: torch.nn.Module, x: torch.Tensor, handles: Iterable[Any] = ()) -> None:
    """One forward pass of `model` on `x` in eval mode without gradients; the hook `handles` are
    removed afterwards, whatever happens."""
    try:
        with eval_mode(model):
            model(x)
    finally:
        for h in handles:
            h.remove()
