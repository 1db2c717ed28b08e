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
* ``probe_accuracy`` (only when held-out inputs are given): the test accuracy of a linear probe, a
  standardised multinomial logistic regression fitted on the layer's responses to the report's
  inputs and scored on its responses to the held-out ones. eta^2 averages over every neuron, so a
  layer whose neurons each carry little class information but carry it jointly scores near chance;
  the probe measures what a linear readout of the whole layer can still get (e.g. a plain 8-layer
  SNN chain on digits: eta^2 at chance at its 8th layer, probe accuracy 0.87 there).

The model is left as it was (eval-mode pass, hooks removed).

`gradient_report` is the backward counterpart for SNNs: the RMS of the loss gradient at every
spiking layer's output spikes, from the readout back to the input. SLAYER's surrogate gradient
multiplies the backward signal by a per-layer gain that grows with the surrogate's scale
(``scale_grad``); through 11 to 34 layers that gain compounds, so a scale that suits a shallow net
makes a deep net's gradients explode or vanish by many orders of magnitude (docs/models.md).
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from neuromap.models.blocks import ConvUnit, GlobalPoolHead, Residual
from neuromap.models.hooks import hook_spiking_layers
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


def linear_probe_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor,
                          test_features: torch.Tensor, test_labels: torch.Tensor) -> float:
    """Held-out accuracy of a standardised multinomial logistic regression (scikit-learn, lbfgs,
    C = 1, deterministic) fitted on (N, ...) `train_features` and scored on `test_features`. Responses
    that never vary give the accuracy of always predicting the most common training label."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    a = train_features.reshape(train_features.shape[0], -1).double().numpy()
    b = test_features.reshape(test_features.shape[0], -1).double().numpy()
    ya, yb = train_labels.reshape(-1).numpy(), test_labels.reshape(-1).numpy()
    if not np.any(a.std(0) > 0) or len(np.unique(ya)) < 2:
        return float((yb == np.bincount(ya).argmax()).mean())
    scaler = StandardScaler().fit(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=300, C=1.0).fit(scaler.transform(a), ya)
    return float(clf.score(scaler.transform(b), yb))


def first_spike_step(spikes: torch.Tensor) -> int | None:
    """Median over samples of the first step (0-based) with any spike in the layer; `spikes` is
    (N, ..., T). None when most samples have no spike at all."""
    per_step = spikes.reshape(spikes.shape[0], -1, spikes.shape[-1]).sum(1) > 0  # (N, T)
    t = spikes.shape[-1]
    first = torch.where(per_step, torch.arange(t), torch.full((t,), t)).min(-1).values
    med = int(first.median())
    return None if med >= t else med


def gradient_report(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor,
                    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> list[dict[str, Any]]:
    """RMS of d loss / d spikes at every SLAYER neuron layer's output, in data-flow order.

    One forward and backward pass of `model` on `x` (spikes (N, C, H, W, T)) with `loss_fn(output,
    labels)`, in the model's current mode; parameter gradients are cleared before and after.
    Returns [{"name", "grad_rms"}]; a layer whose output no loss path reaches gets 0.0."""
    rows: list[dict[str, Any]] = []

    def visit(name: str, out: torch.Tensor) -> None:
        row: dict[str, Any] = {"name": name, "grad_rms": 0.0}
        rows.append(row)
        if out.requires_grad:
            out.register_hook(lambda g: row.update(grad_rms=float(g.float().pow(2).mean().sqrt())))

    handles = hook_spiking_layers(model, visit)
    model.zero_grad(set_to_none=True)
    try:
        with torch.enable_grad():
            loss_fn(model(x), labels).backward()
    finally:
        for h in handles:
            h.remove()
        model.zero_grad(set_to_none=True)
    return rows


def _cnn_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    # A residual's last body unit runs through cnn_linear (its forward hook never fires): the
    # Residual's own output (after the add) is that layer's row.
    zoo = [(n, m) for n, m in model.named_modules() if isinstance(m, (ConvUnit, Residual, GlobalPoolHead))]
    if zoo:
        return zoo
    return [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.ReLU)]


def _visit_layers(model: torch.nn.Module, x: torch.Tensor, kind: str,
                  visit: Callable[[str, torch.Tensor], None]) -> None:
    """visit(name, output) for every layer in data-flow order, then visit("output", model output)."""
    handles = []
    if kind == "snn":
        handles.extend(hook_spiking_layers(model, visit))
    else:
        for name, m in _cnn_layers(model):
            def hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor, name: str = name) -> None:
                visit(name, out)
            handles.append(m.register_forward_hook(hook))
    handles.append(model.register_forward_hook(lambda mod, inp, out: visit("output", out)))
    eval_pass(model, x, handles)


def signal_report(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, num_classes: int,
                  kind: str, held_out: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, Any]:
    """Per-layer class separability (and SNN rates and latency) of `model` on inputs `x` (SNN: spikes
    (N, C, H, W, T); CNN: (N, C, H, W)) with `labels` (N,). Returns {"samples", "chance", "layers":
    [{"name", "class_separability", ...}], "output": {...}}; the output row is the model's own output
    (SNN: output spike counts; CNN: logits). With `held_out` = (inputs, labels), every row also gets
    ``probe_accuracy`` (a linear probe fitted on the responses to `x`, scored on `held_out`)."""
    labels = labels.reshape(-1)

    def features(out: torch.Tensor) -> torch.Tensor:
        return out.float().sum(-1).reshape(out.shape[0], -1) if kind == "snn" else out.float()

    # rows are computed inside the hooks, so only per-sample counts (and only for a probe) are kept
    rows: list[dict[str, Any]] = []
    kept: list[torch.Tensor] = []

    def visit(name: str, out: torch.Tensor) -> None:
        f = features(out)
        r: dict[str, Any] = {"name": name, "class_separability": class_separability(f, labels, num_classes)}
        if kind == "snn":
            r.update(rate=float(out.float().mean()), active_fraction=float((f > 0).float().mean()),
                     first_spike_step=first_spike_step(out))
        rows.append(r)
        if held_out is not None:
            kept.append(f)

    _visit_layers(model, x, kind, visit)
    if held_out is not None:
        test: list[tuple[str, torch.Tensor]] = []
        _visit_layers(model, held_out[0], kind, lambda name, out: test.append((name, features(out))))
        if [n for n, _ in test] != [r["name"] for r in rows]:
            raise RuntimeError("the held-out pass visited different layers")  # a model with data-dependent flow
        for r, a, (_, b) in zip(rows, kept, test):
            r["probe_accuracy"] = linear_probe_accuracy(a, labels, b, held_out[1])
    out_row = rows.pop()
    return {"samples": int(labels.numel()), "chance": chance_separability(int(labels.numel()), num_classes),
            "layers": rows, "output": out_row}
