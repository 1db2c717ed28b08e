"""Per-channel normalisation of a SLAYER SNN's integrated current, and its exact fold.

`ChannelNorm` sits in a CUBA neuron's `norm` hook, where SLAYER applies it to the integrated
synaptic current, just before the voltage integrates it. It has two modes:

* "batch": threshold-dependent batch normalisation (Zheng et al., AAAI 2021, "Going deeper with
  directly-trained larger spiking neural networks"): per channel, (z - mean) / sigma with statistics
  over batch, space and time steps (one set shared over time), then a learnable scale (initialised
  to the neuron threshold) and shift. Training uses batch statistics, evaluation the running ones.
* "folded": the frozen normalisation is a fixed affine map a * z + c per channel. The scale a is
  folded into the layer's 8-bit weights (current integration is linear), the offset c becomes a
  per-neuron bias added to the voltage every step, which is what Lava's CUBA neuron does with its
  bias. The bias is trained on a 1/64 grid (the NetX `bias` mantissa with Lava's exponent 6) with a
  straight-through rounding, so what trains is what exports.

Timing. In Lava a layer at pipeline depth d is reset when its window starts (neuromap.sim.lava), so
it never integrates its bias before its first input can arrive. In SLAYER the same layer sees
zeros for its first d - 1 steps; the bias is therefore switched on from step d - 1 (`start`), and
the statistics are taken over those steps only. With this the folded SNN equals Lava spike for
spike (tests/test_models_norm.py).

`fold_norm` turns "batch" into "folded": W' = Q8(a W), bias = Q(c), with sigma floored, and where
a W would clip SLAYER's 8-bit range the layer's weights, bias, shortcut gains and threshold are
divided together by one factor (the spikes do not change: the neuron is linear below threshold).
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import torch

from neuromap.errors import NeuromapError
from neuromap.models.blocks import ConvUnit, Residual
from neuromap.netx.lower import lower_snn
from neuromap.sim.activity import depths

#: NetX stores a bias mantissa that Lava shifts by 6 bits: the bias grid is 1/64 in SLAYER units,
#: and Lava's bias mantissa is a signed 13-bit integer.
BIAS_SCALE = 64
BIAS_MANT_MAX = 4095
#: SLAYER's 8-bit weight range (quantize_8bit clamps to [-256, 254] / 64 in steps of 2 / 64).
W_MAX = 254.0 / 64.0


def skip_gain_grid(gain: torch.Tensor) -> torch.Tensor:
    """A residual shortcut's per-channel gain on the grid Lava runs it at: an 8-bit weight mantissa
    (-256..254) in 1/64 steps of SLAYER's units."""
    return torch.round(gain * BIAS_SCALE).clamp(-256, 254) / BIAS_SCALE


#: sigma is floored at SIGMA_FLOOR_REL x the layer's median sigma (and at 1/64): a channel that
#: (almost) never receives input would otherwise get a huge scale and force the whole layer's
#: threshold down when folded.
SIGMA_FLOOR_REL = 0.1
EPS = 1e-5
#: Batch-statistics training starts with each layer's largest weight at this fraction of the 8-bit
#: range (attach_norm), so quantisation keeps the weights' resolution.
WEIGHT_SPREAD = 0.5
MOMENTUM = 0.1
NORM_KINDS = ("tdbn", "none")


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


class ChannelNorm(torch.nn.Module):
    """SLAYER neuron `norm` hook: per-channel normalisation of the integrated current (N, C, ..., T)."""

    def __init__(self, channels: int, threshold: float, start: int = 0, folded: bool = False) -> None:
        super().__init__()
        self.channels = int(channels)
        # the scale trains with batch statistics only; once folded it lives in the weights
        self.weight = torch.nn.Parameter(torch.full((self.channels,), float(threshold)), requires_grad=not folded)
        self.shift = torch.nn.Parameter(torch.zeros(self.channels))
        self.register_buffer("running_mean", torch.zeros(self.channels))
        self.register_buffer("running_var", torch.ones(self.channels))
        # the step from which the layer can receive input in SLAYER (its Lava depth - 1)
        self.register_buffer("start", torch.tensor(int(start)))
        # 0: batch statistics; 1: folded into the weights and the bias
        self.register_buffer("folded", torch.tensor(int(bool(folded))))
        # the neuron threshold mantissa (x 64) the layer runs with (folding may lower it)
        self.register_buffer("threshold_mant", torch.tensor(int(round(float(threshold) * BIAS_SCALE))))

    @property
    def is_folded(self) -> bool:
        return bool(int(self.folded))

    def _view(self, v: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return v.reshape((1, -1) + (1,) * (z.dim() - 2))

    def _mask(self, z: torch.Tensor) -> torch.Tensor:
        t = torch.arange(z.shape[-1], device=z.device)
        return (t >= int(self.start)).to(z.dtype)

    def quantised_shift(self) -> torch.Tensor:
        """The folded bias on its 1/64 grid, within Lava's 13-bit mantissa (straight-through rounding)."""
        mant = _RoundSTE.apply(self.shift * BIAS_SCALE).clamp(-BIAS_MANT_MAX, BIAS_MANT_MAX)
        return mant / BIAS_SCALE

    @property
    def bias(self) -> torch.Tensor:
        """The NetX bias mantissa per channel (SLAYER's block export writes this as the layer's `bias`)."""
        if not self.is_folded:
            raise NeuromapError("the SNN's normalisation is not folded yet; fold it (neuromap.models.norm.fold_norm) "
                                "before exporting")
        return (self.quantised_shift() * BIAS_SCALE).detach()

    def sigma(self, var: torch.Tensor) -> torch.Tensor:
        s = torch.sqrt(var + EPS)
        floor = max(1.0 / BIAS_SCALE, SIGMA_FLOOR_REL * float(s.detach().median()))
        return s.clamp_min(floor)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        mask = self._mask(z)
        if self.is_folded:
            return z + self._view(self.quantised_shift(), z) * mask
        start = int(self.start)
        if self.training:
            valid = z[..., start:] if start < z.shape[-1] else z
            dims = [0] + list(range(2, valid.dim()))
            mean = valid.mean(dim=dims)
            var = valid.var(dim=dims, unbiased=False)
            with torch.no_grad():
                self.running_mean.mul_(1 - MOMENTUM).add_(MOMENTUM * mean.detach())
                self.running_var.mul_(1 - MOMENTUM).add_(MOMENTUM * var.detach())
        else:
            mean, var = self.running_mean, self.running_var
        a = self.weight / self.sigma(var)
        c = self.shift - a * mean
        return self._view(a, z) * z + self._view(c, z) * mask

    def extra_repr(self) -> str:
        return f"{self.channels}, start={int(self.start)}, folded={self.is_folded}"


def _conv_units(model: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
    for name, m in model.named_modules():
        if isinstance(m, ConvUnit) and m.kind == "snn":
            yield name, m


def layer_starts(model: torch.nn.Module) -> dict[str, int]:
    """Each IR layer's first SLAYER step with input: its Lava pipeline depth - 1."""
    return {name: d - 1 for name, d in depths(lower_snn(model)).items() if d > 0}


def _layer_name(name: str) -> str:
    return name[len("units."):] if name.startswith("units.") else name


def attach_norm(model: torch.nn.Module, folded: bool = False) -> int:
    """Put a ChannelNorm into the neuron of every SNN ConvUnit of a zoo TwinNet (the dense readout
    keeps none), and per-channel shortcut gains into its residual units. Returns the number attached.
    `folded=True` builds the folded form (to load a folded checkpoint into)."""
    starts = layer_starts(model)
    residual_of = {}
    for m in model.modules():
        if isinstance(m, Residual) and m.kind == "snn" and not hasattr(m, "skip_gain"):
            m.register_buffer("skip_gain", torch.full((m.cout,), float(m.skip_weight)))
            residual_of[id(m.body[-1])] = m
    n = 0
    for name, unit in _conv_units(model):
        neuron = unit.block.neuron
        neuron.norm = ChannelNorm(unit.cout, float(neuron.threshold), starts[_layer_name(name)], folded)
        n += 1
        if not folded:
            _spread_weights(unit, residual_of.get(id(unit)))
    return n


@torch.no_grad()
def _spread_weights(unit: torch.nn.Module, residual: torch.nn.Module | None) -> None:
    """Scale a layer's weights (and its shortcut gain) so the largest is WEIGHT_SPREAD x SLAYER's 8-bit
    maximum. The normalisation makes the layer's output independent of this scale, but SLAYER
    quantises weights on a 2/64 grid in every forward pass: at the built scale (mean |w| of 0.02 to
    0.1 in the zoo) most weights would round to 0 or one step."""
    w = unit.block.synapse.weight
    peak = float(w.abs().max())
    if peak == 0.0:
        return
    s = WEIGHT_SPREAD * W_MAX / peak
    w.mul_(s)
    if residual is not None:
        residual.skip_gain.mul_(s)


def has_norm(model: torch.nn.Module) -> bool:
    return any(isinstance(getattr(u.block.neuron, "norm", None), ChannelNorm) for _, u in _conv_units(model))


def apply_thresholds(model: torch.nn.Module) -> None:
    """Set every normalised neuron's threshold from its norm's `threshold_mant` (after loading a
    folded state dict), keeping the surrogate width relative to the threshold; a folded norm's scale
    stops being a trainable parameter."""
    for _, unit in _conv_units(model):
        neuron = unit.block.neuron
        norm = getattr(neuron, "norm", None)
        if isinstance(norm, ChannelNorm):
            norm.weight.requires_grad_(not norm.is_folded)  # a folded norm's scale is no parameter
            new = int(norm.threshold_mant) / BIAS_SCALE
            old = float(neuron.threshold)
            if new != old:
                neuron.tau_rho = float(neuron.tau_rho) * new / old
                neuron._threshold = new


@torch.no_grad()
def fold_norm(model: torch.nn.Module) -> list[dict[str, Any]]:
    """Fold every batch-mode ChannelNorm (running statistics) into its layer: weights W' = a W, bias
    c = shift - a mean, shortcut gains a g, then the layer's threshold, weights, bias and gains divided
    by one factor where a W would leave SLAYER's 8-bit range. Returns per layer: name, the rescale
    factor, weights that still clip (after rescaling: none unless the threshold hit 1/64)."""
    residual_of = {}
    for m in model.modules():
        if isinstance(m, Residual) and m.kind == "snn":
            residual_of[id(m.body[-1])] = m
    report = []
    for name, unit in _conv_units(model):
        neuron = unit.block.neuron
        norm = neuron.norm
        if not isinstance(norm, ChannelNorm) or norm.is_folded:
            continue
        a = norm.weight / norm.sigma(norm.running_var)
        c = norm.shift - a * norm.running_mean
        w = unit.block.synapse.weight
        shape = (-1,) + (1,) * (w.dim() - 1)
        w_new = w * a.reshape(shape)
        if unit.mask is not None:
            w_new = w_new * unit.mask
        res = residual_of.get(id(unit))
        gain = res.skip_gain * a if res is not None else None
        peak = float(w_new.abs().max())
        if gain is not None:
            peak = max(peak, float(gain.abs().max()))
        th = float(neuron.threshold)
        th_mant = int(round(th * BIAS_SCALE))
        if peak > W_MAX:
            th_mant = max(1, int(math.floor(th * BIAS_SCALE * W_MAX / peak)))
        k = th / (th_mant / BIAS_SCALE)
        w.copy_(w_new / k)
        if gain is not None:
            res.skip_gain.copy_(skip_gain_grid(gain / k))
        norm.shift.copy_(c / k)
        norm.threshold_mant.fill_(th_mant)
        norm.folded.fill_(1)
        apply_thresholds(model)
        report.append({"name": _layer_name(name), "rescale": round(k, 6),
                       "clipped_weights": int((w.abs() > W_MAX + 1e-9).sum())})
    return report
