"""Data-driven initialisation of SLAYER SNNs ("LSUV for spikes").

Deep SNNs without neuron normalisation lose their activity with depth: at SLAYER's default init
each layer fires less than the one before, and after 10 to 20 layers the classifier receives no
spikes, so no gradient reaches the network. `calibrate_snn(model, x)` fixes this before training,
from one batch of real inputs, in ONE forward pass: a pre-hook on every CUBA neuron layer sees that
layer's synaptic input current (computed from the already calibrated layers before it), searches
the factor by which the layer's own weights must be scaled for the layer to fire at `target_rate`
spikes per neuron per step, and applies it before the layer runs. Layers are thus calibrated in
data-flow order, from the input to the readout, graph models (residual current sums, concat,
shuffle) included.

Only the weights change (thresholds and decays stay as built), so a calibrated model exports to
NetX and runs in Lava exactly like an uncalibrated one: 8-bit integer weights, per-layer neuron
parameters, nothing else. In a residual layer (current of the last body conv + identity shortcut
current) only the body conv's weights are scaled; the shortcut weight is fixed by the architecture.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

from neuromap.models.hooks import hook_spiking_layers, spiking_blocks as _calibratable_blocks
from neuromap.models.signal import gradient_report
from neuromap.passes import eval_pass


def _rate(neuron: torch.nn.Module, z: torch.Tensor) -> float:
    """Mean spikes per neuron per step of `neuron` driven by current z (N, ..., T); no hooks run."""
    return float(neuron.forward(z).mean())


def _search_scale(neuron: torch.nn.Module, own: torch.Tensor, target: float, lo: float, hi: float,
                  iters: int) -> float:
    """Factor s (geometric bisection in [lo, hi]) with rate(s * own) closest to `target`."""
    if _rate(neuron, hi * own) <= target:
        return hi
    if _rate(neuron, lo * own) >= target:
        return lo
    a, b = lo, hi
    for _ in range(iters):
        mid = (a * b) ** 0.5
        if _rate(neuron, mid * own) < target:
            a = mid
        else:
            b = mid
    return (a * b) ** 0.5


@torch.no_grad()
def calibrate_snn(model: torch.nn.Module, x: torch.Tensor, target_rate: float = 0.1, iters: int = 12,
                  only: Iterable[torch.nn.Module] | None = None) -> list[dict[str, Any]]:
    """Scale each SLAYER layer's weights so it fires at about `target_rate` on batch `x`.

    `x`: a batch of real, encoded inputs (N, C, H, W, T) spikes. For each layer, in data-flow order,
    the factor s on its own synaptic current that gives `target_rate` spikes per neuron per step
    (over the whole window, so a layer that fires late, starving the layers after it, counts as
    quiet) is found by bisection, and the layer's weights are multiplied by s, at most up to the end of
    SLAYER's 8-bit range (254/64; deep layers of small fan-in can stay below the target there). A
    residual layer's neuron also receives the shortcut current: only its body weights are scaled,
    against its own current. Thresholds and decays stay as built.

    `only`: calibrate just the layers inside these modules (e.g. the re-initialised layers of a pruned
    net whose other layers carry trained weights); the others run unchanged.

    Returns one dict per layer in data-flow order: name, weight scale, firing rate before (at the
    built weights, with the layers before it already calibrated) and after. The model is left in
    the mode it was in.
    """
    blocks = _calibratable_blocks(model)
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no SLAYER blocks to calibrate (calibrate the SNN twin)")
    names = {id(m): n for n, m in model.named_modules()}
    if only is not None:
        chosen = {id(sub) for mod in only for sub in mod.modules()}
        blocks = [b for b in blocks if id(b) in chosen]
    report: list[dict[str, Any]] = []
    handles = []
    cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    w_max = 254.0 / 64.0  # SLAYER's quantize_8bit clamps here

    def synapse_hook(block: torch.nn.Module):
        def hook(mod: torch.nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            cache[id(block)] = (inp[0], out)
        return hook

    def neuron_pre_hook(block: torch.nn.Module):
        def hook(mod: torch.nn.Module, inp: tuple[torch.Tensor, ...]) -> Any:
            z = inp[0]
            if id(block) not in cache:  # neuron driven by something else: leave it
                return None
            syn_in, own = cache.pop(id(block))
            rest = z - own  # the identity shortcut current of a residual layer, else exactly 0
            before = _rate(mod, z)
            entry = {"name": names.get(id(block), "?"), "weight_scale": 1.0, "rate_before": before,
                     "rate_after": before}
            report.append(entry)
            if float(own.abs().max()) == 0.0:  # no input spikes reach it: nothing to calibrate
                return None
            weight = block.synapse.weight
            s = _search_scale(mod, own, target_rate, 1.0 / 64, 64.0, iters)
            s = min(s, w_max / max(float(weight.abs().max()), 1e-12)) if s > 1.0 else s
            weight.mul_(s)
            z_new = block.synapse(syn_in) + rest  # exact current with the re-quantised weights
            entry.update(weight_scale=float(s), rate_after=_rate(mod, z_new))
            return (z_new,)
        return hook

    for b in blocks:
        handles.append(b.synapse.register_forward_hook(synapse_hook(b)))
        handles.append(b.neuron.register_forward_pre_hook(neuron_pre_hook(b)))
    eval_pass(model, x, handles)
    return report


@torch.no_grad()
def layer_rates(model: torch.nn.Module, x: torch.Tensor) -> list[dict[str, Any]]:
    """Firing rate (spikes per neuron per step) of every SLAYER neuron layer on batch `x`, in order."""
    rates: list[dict[str, Any]] = []

    def visit(name: str, out: torch.Tensor) -> None:
        rates.append({"name": name, "rate": float(out.float().mean()),
                      "active_fraction": float((out.sum(-1) > 0).float().mean())})

    eval_pass(model, x, hook_spiking_layers(model, visit))
    return rates


def surrogate_scales(model: torch.nn.Module) -> list[float]:
    """Every SLAYER neuron layer's surrogate-gradient scale (`neuron.scale_rho`), in module order."""
    return [float(b.neuron.scale_rho) for b in _calibratable_blocks(model)]


def set_surrogate_scales(model: torch.nn.Module, scales: list[float]) -> None:
    """Restore scales from `surrogate_scales` (e.g. when resuming a balanced run)."""
    blocks = _calibratable_blocks(model)
    if len(scales) != len(blocks):
        raise ValueError(f"{len(scales)} surrogate scales for {len(blocks)} spiking layers")
    for b, s in zip(blocks, scales):
        b.neuron.scale_rho = float(s)


def set_surrogate_width(model: torch.nn.Module, tau_grad: float) -> None:
    """Set every SLAYER neuron layer's surrogate-gradient width to `tau_grad` (SLAYER's neuron parameter:
    the surrogate is proportional to exp(-|v - threshold| / (100 x tau_grad x threshold)), as SLAYER sets
    it at construction). Training only: the forward pass, the weights and the export do not change, and
    it is not in the state dict."""
    if not tau_grad > 0:
        raise ValueError(f"the surrogate width must be positive, got {tau_grad}")
    for b in _calibratable_blocks(model):
        b.neuron.tau_rho = float(tau_grad) * float(b.neuron.threshold)


def surrogate_width(model: torch.nn.Module) -> list[float]:
    """Every SLAYER neuron layer's `tau_grad` (its `tau_rho` / threshold), in module order."""
    return [float(b.neuron.tau_rho) / float(b.neuron.threshold) for b in _calibratable_blocks(model)]


def balance_surrogate(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor,
                      loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], iters: int = 3,
                      max_factor: float = 1e3) -> list[dict[str, Any]]:
    """Rescale each layer's surrogate gradient so the backward signal neither explodes nor vanishes.

    SLAYER's surrogate multiplies the gradient that crosses a neuron layer by its `scale_rho`
    (training only: the forward pass, the weights and the export do not change). With one scale for
    all layers the per-layer gain compounds through depth (benchmarks/surrogate_gain.py). Here, in
    module order (a data-flow order in the zoo), layer k's scale is multiplied by rms_k / rms_{k-1},
    the RMS of d loss / d spikes at its own output over that at the layer before it
    (neuromap.models.signal.gradient_report), clipped to [1/max_factor, max_factor]. The backward
    pass is linear in these scales, so in a chain one round makes every layer's output-gradient RMS
    equal to the readout's; `iters` rounds settle graph nets (shortcuts, concat, parallel branches),
    where a layer's gradient arrives along several paths and the layer before it in module order
    may sit on another branch. Returns one entry per round (the RMS it measured, the
    scales it set) and a last one with the RMS measured at the final scales.
    """
    blocks = _calibratable_blocks(model)
    history: list[dict[str, Any]] = []
    for _ in range(iters):
        rms = [r["grad_rms"] for r in gradient_report(model, x, labels, loss_fn)]
        for k in range(len(blocks) - 1, 0, -1):
            if rms[k] > 0 and rms[k - 1] > 0:
                f = min(max(rms[k] / rms[k - 1], 1.0 / max_factor), max_factor)
                blocks[k].neuron.scale_rho = float(blocks[k].neuron.scale_rho) * f
        history.append({"grad_rms": rms, "scales": surrogate_scales(model)})
    history.append({"grad_rms": [r["grad_rms"] for r in gradient_report(model, x, labels, loss_fn)],
                    "scales": surrogate_scales(model)})
    return history
