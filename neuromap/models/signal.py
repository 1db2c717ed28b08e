"""Signal propagation report: how much class information each layer of a twin still carries.

Calibration (neuromap.models.calibrate) makes every layer of a deep SNN fire; firing is not
information. This report measures, layer by layer in data-flow order, on a batch of labelled inputs:

* ``class_separability``: the between-class share of the variance of the layer's per-sample
  response vector (SNN: spike counts per neuron over the window; CNN: activations), eta^2 =
  sum_k n_k |mu_k - mu|^2 / sum_i |x_i - mu|^2, in [0, 1]. A response that does not depend on the
  class scores ``chance_separability(n, k)`` = (k - 1) / (n - 1), the exact expectation of eta^2
  when the labels are shuffled; a layer at that value has lost the class, whatever it fires.
* SNN only: ``rate`` (spikes per neuron per step), ``active_fraction`` (neurons that spike at least
  once) and ``first_spike_step`` (median over samples of the first step at which any neuron of the
  layer spikes; None when a sample's layer stays silent for most samples). Every spiking layer adds
  at least one step of latency (Lava's synaptic delay), plus the time it takes to integrate to
  threshold; when the output's first spike comes at the end of the window, the readout has almost
  nothing to count.

The model is left as it was (eval-mode pass, hooks removed).
"""
from __future__ import annotations

from typing import Any

import torch

from neuromap.models.calibrate import hook_spiking_layers
from neuromap.passes import eval_pass


def class_separability(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """eta^2 of the (N, F) responses `features` for class `labels` (N,): between-class over total sum
    of squares, summed over the F features; 0.0 when the responses do not vary at all."""
    x = features.reshape(features.shape[0], -1).double()
    mu = x.mean(0)
    total = float(((x - mu) ** 2).sum())
    if total == 0.0:
        return 0.0
    between = 0.0
    for k in range(int(num_classes)):
        sel = labels == k
        n_k = int(sel.sum())
        if n_k:
            between += n_k * float(((x[sel].mean(0) - mu) ** 2).sum())
    return between / total


def chance_separability(n: int, num_classes: int) -> float:
    """Expected eta^2 of a response independent of the class: (k - 1) / (n - 1) for n samples."""
    return (int(num_classes) - 1) / max(int(n) - 1, 1)


def first_spike_step(spikes: torch.Tensor) -> int | None:
    """Median over samples of the first step (0-based) with any spike in the layer; `spikes` is
    (N, ..., T). None when most samples have no spike at all."""
    per_step = spikes.reshape(spikes.shape[0], -1, spikes.shape[-1]).sum(1) > 0  # (N, T)
    t = spikes.shape[-1]
    first = torch.where(per_step, torch.arange(t), torch.full((t,), t)).min(-1).values
    med = int(first.median())
    return None if med >= t else med


def _cnn_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    from neuromap.models.blocks import ConvUnit, GlobalPoolHead, Residual

    # A residual's last body unit runs through cnn_linear (its forward hook never fires): the
    # Residual's own output (after the add) is that layer's row.
    zoo = [(n, m) for n, m in model.named_modules() if isinstance(m, (ConvUnit, Residual, GlobalPoolHead))]
    if zoo:
        return zoo
    return [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.ReLU)]


def signal_report(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, num_classes: int,
                  kind: str) -> dict[str, Any]:
    """Per-layer class separability (and SNN rates and latency) of `model` on inputs `x` (SNN: spikes
    (N, C, H, W, T); CNN: (N, C, H, W)) with `labels` (N,). Returns {"samples", "chance", "layers":
    [{"name", "class_separability", ...}], "output": {...}}; the output row is the model's own output
    (SNN: output spike counts; CNN: logits)."""
    labels = labels.reshape(-1)
    rows: list[dict[str, Any]] = []
    handles = []

    def row(name: str, out: torch.Tensor) -> dict[str, Any]:
        if kind == "snn":
            counts = out.float().sum(-1).reshape(out.shape[0], -1)
            return {"name": name, "class_separability": class_separability(counts, labels, num_classes),
                    "rate": float(out.float().mean()),
                    "active_fraction": float((counts > 0).float().mean()),
                    "first_spike_step": first_spike_step(out)}
        return {"name": name, "class_separability": class_separability(out.float(), labels, num_classes)}

    if kind == "snn":
        handles.extend(hook_spiking_layers(model, lambda name, out: rows.append(row(name, out))))
    else:
        for name, m in _cnn_layers(model):
            def hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor, name: str = name) -> None:
                rows.append(row(name, out))
            handles.append(m.register_forward_hook(hook))
    final: list[torch.Tensor] = []
    handles.append(model.register_forward_hook(lambda mod, inp, out: final.append(out)))
    eval_pass(model, x, handles)
    return {"samples": int(labels.numel()), "chance": chance_separability(int(labels.numel()), num_classes),
            "layers": rows, "output": row("output", final[0])}
