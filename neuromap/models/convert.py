"""ANN-to-SNN conversion of a zoo twin, as the SNN's initialisation before SLAYER fine-tuning.

The CNN twin of a zoo family is not the function its SNN twin can compute: bottleneck projections
and ShuffleNet's depthwise convs are linear in the CNN, and every SNN layer spikes. `relu_twin`
builds the CNN lowering of the same description with the SNN's shape instead: ReLU after every
conv (the classifier included), and ReLU after each residual add (the SNN's residual neuron fires
on the summed current). Trained, it converts layer by layer into the SNN twin (rate coding, data-
based normalisation per channel, Rueckauer et al., Front. Neurosci. 2017; Kim et al., AAAI 2020
for the channel-wise form):

* a spike rate r stands for the activation a = lambda r, with lambda the `percentile` of the
  channel's activation over training data (the input's lambda is 1: a level's rate is its value);
* SLAYER's CUBA current keeps 1 - d of itself per step (current decay d; the zoo neuron's is
  full, d = 1), so at a steady rate the current is W r / d (`current_gain`: 1 / d); the neuron
  fires about once per threshold of voltage gained, so the layer's drive per step must be
  threshold x p / lambda_out for ANN pre-activation p: W' = threshold x W_bn lambda_in d /
  lambda_out, bias = threshold x b_bn / lambda_out, and the shortcut's per-channel gain
  threshold x lambda_x d / lambda_out;
* BatchNorm folds into W_bn and b_bn; the bias is the folded per-channel bias of
  neuromap.models.norm (attached in folded form, so the converted SNN exports and runs in Lava
  exactly like any folded one); each layer's weights, bias, gains and threshold are multiplied by
  one factor that puts the largest weight at WEIGHT_FILL of SLAYER's 8-bit range, the threshold
  staying at least MIN_THRESHOLD (the spikes do not change in float; the quantised weights keep
  their resolution);
* `balance_rates` then matches each layer's spike rate to the ReLU twin's by its threshold.

The readout (one dense CUBA layer averaging each class map) keeps its threshold; its weights are
set the same way against the ANN's average-pooled logits.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from neuromap.errors import NeuromapError
from neuromap.models.blocks import ConvUnit, GlobalPoolHead, MultiKernelConv2d, PoolUnit, Residual
from neuromap.passes import eval_pass
from neuromap.models.norm import (BIAS_MANT_MAX, BIAS_SCALE, W_MAX, apply_thresholds, attach_norm, has_norm,
                                  skip_gain_grid)

#: Largest converted weight as a fraction of SLAYER's 8-bit range.
WEIGHT_FILL = 0.9
#: Lowest converted threshold (SLAYER units; Lava's mantissa 64).
MIN_THRESHOLD = 1.0
#: A channel's lambda is floored at this fraction of the layer's median (a channel that is silent on
#: the calibration data would otherwise get an unbounded gain).
LAMBDA_FLOOR_REL = 0.1


def relu_twin(model: torch.nn.Module) -> torch.nn.Module:
    """Make a zoo CNN twin (in place) compute what its SNN twin can: ReLU after every conv unit and
    after every residual add. Returns the model."""
    if getattr(model, "kind", None) != "cnn" or not hasattr(model, "units"):
        raise NeuromapError("relu_twin needs a zoo CNN twin (neuromap.models.create_model(..., kind='cnn'))")
    classifier = _last_conv(model)
    for m in model.modules():
        if isinstance(m, PoolUnit):
            raise NeuromapError(f"{model.name}: max pooling has no spiking twin to convert to; build it with "
                                f"downsample='stride'")
        if isinstance(m, ConvUnit) and m is not classifier:
            m.act = True
        if isinstance(m, Residual):
            m.post_act, m.last_act = True, False
    return model


def current_gain(neuron: torch.nn.Module) -> float:
    """Steady-state current of a SLAYER CUBA neuron per unit input rate: 1 / current decay."""
    decay = float(neuron.current_decay) / float(neuron.p_scale)
    return 1.0 / decay if decay > 0 else 1.0


def _channel_percentile(x: torch.Tensor, q: float) -> torch.Tensor:
    """Per-channel q-th percentile of a (N, C, ...) tensor over everything but C."""
    c = x.shape[1]
    flat = x.transpose(0, 1).reshape(c, -1).double()
    k = max(1, int(math.ceil(q / 100.0 * flat.shape[1])))
    return flat.kthvalue(k, dim=1).values.float()


def _floored(lam: torch.Tensor) -> torch.Tensor:
    med = float(lam.median())
    floor = LAMBDA_FLOOR_REL * med if med > 0 else 1.0
    return lam.clamp_min(max(floor, 1e-6))


@torch.no_grad()
def activation_scales(ann: torch.nn.Module, x: torch.Tensor, percentile: float = 99.9) -> dict[str, Any]:
    """Run the ReLU twin on rates `x` (N, C, H, W) and return per conv unit (by module name) the
    per-channel scale of its input ("in") and of its output after the ReLU ("out"; a residual's last
    unit: after the add), and per conv unit and the readout the mean normalised activation ("rate")."""
    names = {id(m): n for n, m in ann.named_modules()}
    residual_last = {id(m.body[-1]): m for m in ann.modules() if isinstance(m, Residual)}
    stats: dict[str, dict[str, torch.Tensor]] = {}
    hooks = []

    def conv_pre(unit: ConvUnit):
        def hook(mod: torch.nn.Module, inp: tuple[torch.Tensor, ...]) -> None:
            stats.setdefault(names[id(unit)], {})["in"] = _channel_percentile(inp[0], percentile)
        return hook

    def unit_out(unit: torch.nn.Module, key: str):
        def hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor) -> None:
            a = F.relu(out)
            lam = _channel_percentile(a, percentile)
            st = stats.setdefault(key, {})
            st["out"] = lam
            r = (a / _floored(lam).reshape((1, -1) + (1,) * (a.dim() - 2))).clamp(max=1)
            st["rate"] = float(r.mean())
        return hook

    for m in ann.modules():
        if isinstance(m, ConvUnit):
            hooks.append(m.conv.register_forward_pre_hook(conv_pre(m)))
            if id(m) in residual_last:
                res = residual_last[id(m)]
                hooks.append(res.register_forward_hook(unit_out(res, names[id(m)])))
            else:
                hooks.append(m.register_forward_hook(unit_out(m, names[id(m)])))
        elif isinstance(m, GlobalPoolHead):
            hooks.append(m.register_forward_hook(unit_out(m, names[id(m)])))
    eval_pass(ann, x, hooks)
    return stats


def _bn_folded(unit: ConvUnit) -> tuple[torch.Tensor, torch.Tensor]:
    """The CNN unit's conv weight (out, in/groups, K, K) and bias with its BatchNorm folded in."""
    conv = unit.conv
    w = conv.full_weight() if isinstance(conv, MultiKernelConv2d) else conv.weight
    b = conv.bias if conv.bias is not None else torch.zeros(w.shape[0])
    bn = unit.bn
    if isinstance(bn, torch.nn.BatchNorm2d):
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return w * s.reshape(-1, 1, 1, 1), (b - bn.running_mean) * s + bn.bias
    return w.clone(), b.clone()


@torch.no_grad()
def convert_into(snn: torch.nn.Module, ann: torch.nn.Module, stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Set the SNN twin `snn` (same family and shapes as the trained ReLU twin `ann`) to the converted
    weights, per-channel biases, shortcut gains and thresholds, from the ANN's activation scales
    (`stats`, as `activation_scales` gives them). The SNN gets folded ChannelNorms (its biases
    and thresholds). Returns per layer: name, threshold, the largest |bias| mantissa, how many biases
    clipped to Lava's range, the weights clipped to SLAYER's 8-bit range."""
    if not has_norm(snn):
        attach_norm(snn, folded=True)
    ann_mods = dict(ann.named_modules())
    names = {id(m): n for n, m in snn.named_modules()}
    convs = [m for m in snn.modules() if isinstance(m, ConvUnit)]
    first, classifier = names[id(convs[0])], names[id(convs[-1])]
    residual_of = {id(m.body[-1]): m for m in snn.modules() if isinstance(m, Residual) and m.kind == "snn"}
    report = []
    for name, unit in snn.named_modules():
        if isinstance(unit, ConvUnit) and unit.kind == "snn":
            a_unit = ann_mods[name]
            w, b = _bn_folded(a_unit)
            neuron = unit.block.neuron
            th = float(neuron.threshold)
            gain_i = current_gain(neuron)
            lam_in = stats[name]["in"]
            lam_out = _floored(stats[name]["out"])
            if name == first:
                lam_in = torch.ones_like(lam_in)  # the input's rate is its value
            else:
                lam_in = _floored(lam_in)
            groups = unit.groups
            cin_g = w.shape[1]
            # input channel of weight (o, j): o's group x cin_g + j
            in_idx = (torch.arange(w.shape[0]) // (w.shape[0] // groups)).reshape(-1, 1) * cin_g + torch.arange(cin_g)
            lam_in_w = lam_in[in_idx]  # (out, cin_g)
            w_new = th * w * lam_in_w[:, :, None, None] / (gain_i * lam_out.reshape(-1, 1, 1, 1))
            bias = th * b / lam_out
            res = residual_of.get(id(unit))
            gain = None
            if res is not None:
                lam_x = _floored(stats[names[id(res.body[0])]]["in"])
                gain = th * lam_x / (gain_i * lam_out)
            peak = float(w_new.abs().max())
            if gain is not None:
                peak = max(peak, float(gain.abs().max()))
            k = WEIGHT_FILL * W_MAX / peak if peak > 0 else 1.0
            # the threshold stays >= MIN_THRESHOLD, so that it and the bias keep a fine 1/64 grid;
            # the few weights an outlier would push past the 8-bit range then clip
            th_mant = max(int(MIN_THRESHOLD * BIAS_SCALE), int(round(th * k * BIAS_SCALE)))
            k = th_mant / (th * BIAS_SCALE)
            syn_w = unit.block.synapse.weight
            w_k = (w_new * k).reshape(syn_w.shape)
            if unit.mask is not None:
                w_k = w_k * unit.mask
            w_clipped = int((w_k.abs() > W_MAX).sum())
            syn_w.copy_(w_k.clamp(-W_MAX, W_MAX))
            norm = neuron.norm
            mant = torch.round(bias * k * BIAS_SCALE)
            clipped = int((mant.abs() > BIAS_MANT_MAX).sum())
            norm.shift.copy_(mant.clamp(-BIAS_MANT_MAX, BIAS_MANT_MAX) / BIAS_SCALE)
            norm.threshold_mant.fill_(th_mant)
            norm.folded.fill_(1)
            if gain is not None:
                res.skip_gain.copy_(skip_gain_grid(gain * k))
            report.append({"name": name, "threshold": th_mant / BIAS_SCALE, "weights_clipped": w_clipped,
                           "bias_mant_max": int(mant.abs().max()), "bias_clipped": clipped})
        elif isinstance(unit, GlobalPoolHead) and unit.kind == "snn":
            lam_cls = _floored(stats[classifier]["out"])
            lam_head = _floored(stats[name]["out"])
            neuron = unit.dense.neuron
            th = float(neuron.threshold)
            hw = unit.hw[0] * unit.hw[1]
            per_class = th * lam_cls / (current_gain(neuron) * lam_head * hw)  # class o's map -> class o
            w = (torch.diag(per_class)[:, :, None].expand(-1, -1, hw)).clamp(-W_MAX, W_MAX)
            unit.dense.synapse.weight.copy_(w.reshape(unit.dense.synapse.weight.shape))
            report.append({"name": name, "threshold": th, "weights_clipped": 0, "bias_mant_max": 0,
                           "bias_clipped": 0})
    apply_thresholds(snn)
    return report


def _last_conv(model: torch.nn.Module) -> ConvUnit:
    last = None
    for m in model.modules():
        if isinstance(m, ConvUnit):
            last = m
    if last is None:
        raise NeuromapError("the model has no conv unit")
    return last


@torch.no_grad()
def balance_rates(snn: torch.nn.Module, spikes: torch.Tensor, targets: dict[str, float], iters: int = 14,
                  ) -> list[dict[str, Any]]:
    """Per layer in data-flow order (one forward pass, each layer driven by the already balanced ones
    before it): scale the layer's drive so that its mean spike rate over the steps it can receive
    input equals `targets[name]` (the ANN's mean normalised activation). A conv layer's threshold
    moves (on Lava's 1/64 grid, through its folded ChannelNorm); the readout's weights scale.
    Corrects what the rate approximation misses: reset to zero, leak, and the steps before a layer's
    first input. A layer whose rate cannot reach its target within a factor of 64 on the drive (a
    neuron without bias can only fire on steps where input arrives) keeps the nearest and says so.
    Returns per layer: name, target, rate before and after, the factor on the drive, the limit hit,
    the threshold."""
    names = {id(m): n for n, m in snn.named_modules()}
    report: list[dict[str, Any]] = []
    hooks = []

    def active_rate(neuron: torch.nn.Module, z: torch.Tensor, start: int) -> float:
        return float(neuron.forward(z)[..., start:].mean())

    def make_hook(owner: torch.nn.Module):
        name = names[id(owner)]

        def hook(neuron: torch.nn.Module, inp: tuple[torch.Tensor, ...]) -> Any:
            z = inp[0]
            active = (z.abs().reshape(-1, z.shape[-1]).sum(0) > 0).nonzero()
            if name not in targets or len(active) == 0:
                return None
            start = int(active[0])
            target = float(targets[name])
            before = active_rate(neuron, z, start)
            bound = None
            if isinstance(owner, ConvUnit):
                # the threshold mantissa (1/64 steps) from 1 to 64 x today's: rates are steps in it
                th0 = float(neuron.threshold)
                m0 = int(round(th0 * BIAS_SCALE))

                def rate_m(m: int) -> float:
                    neuron._threshold = m / BIAS_SCALE
                    return active_rate(neuron, z, start)
                lo, hi = 1, 64 * m0  # rate falls as the mantissa grows
                if rate_m(lo) < target:
                    m, bound = lo, "rate too low at the lowest threshold"
                elif rate_m(hi) > target:
                    m, bound = hi, "rate too high at 64 x the threshold"
                else:
                    while hi - lo > 1:  # invariant: rate(lo) >= target >= rate(hi)
                        mid = (lo + hi) // 2
                        if rate_m(mid) >= target:
                            lo = mid
                        else:
                            hi = mid
                    m = lo if abs(rate_m(lo) - target) <= abs(rate_m(hi) - target) else hi
                f = m0 / m
                neuron.norm.threshold_mant.fill_(m)
                neuron._threshold = th0  # apply_thresholds moves it (and the surrogate width) from th0
                apply_thresholds(owner)
            else:
                def rate_at(f: float) -> float:
                    return active_rate(neuron, f * z, start)
                lo_f, hi_f = 1.0 / 64, 64.0
                if rate_at(hi_f) <= target:
                    f, bound = hi_f, "rate too low at 64 x the drive"
                elif rate_at(lo_f) >= target:
                    f, bound = lo_f, "rate too high at 1/64 of the drive"
                else:
                    for _ in range(iters):
                        mid = (lo_f * hi_f) ** 0.5
                        if rate_at(mid) < target:
                            lo_f = mid
                        else:
                            hi_f = mid
                    f = (lo_f * hi_f) ** 0.5
                w = owner.dense.synapse.weight
                w.copy_((w * f).clamp(-W_MAX, W_MAX))
            z_now = z if isinstance(owner, ConvUnit) else f * z
            report.append({"name": name, "target": round(target, 4), "before": round(before, 4),
                           "after": round(active_rate(neuron, z_now, start), 4), "factor": round(f, 4),
                           "limit": bound, "threshold": float(neuron.threshold)})
            return (z_now,)
        return hook

    for m in snn.modules():
        if isinstance(m, ConvUnit) and m.kind == "snn":
            hooks.append(m.block.neuron.register_forward_pre_hook(make_hook(m)))
        elif isinstance(m, GlobalPoolHead) and m.kind == "snn":
            hooks.append(m.dense.neuron.register_forward_pre_hook(make_hook(m)))
    eval_pass(snn, spikes, hooks)
    return report


def convert(snn: torch.nn.Module, ann: torch.nn.Module, rates: torch.Tensor, spikes: torch.Tensor,
            percentile: float = 99.9, balance: bool = True) -> dict[str, Any]:
    """Convert the trained ReLU twin `ann` into `snn`: scales from the ANN on `rates` (N, C, H, W),
    then (with `balance`) each layer's rate matched to the ANN's on the same samples as `spikes`
    (N, C, H, W, T). Returns {"layers": convert_into's report, "balance": balance_rates' report}."""
    stats = activation_scales(ann, rates, percentile)
    out: dict[str, Any] = {"layers": convert_into(snn, ann, stats)}
    if balance:
        out["balance"] = balance_rates(snn, spikes, {n: st["rate"] for n, st in stats.items() if "rate" in st})
    return out
