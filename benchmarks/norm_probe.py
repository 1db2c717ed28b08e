"""Does a per-channel normalisation with batch statistics train a calibrated SNN twin?

    nice -n 19 .venv/bin/python benchmarks/norm_probe.py [MODEL]       # default squeezenet_p

Builds MODEL's SNN twin with its registered recipe minus the normalisation (calibrated, surrogate
balanced), then, per variant, attaches a `neuromap.models.norm.ChannelNorm` to every zoo conv layer
initialised to the identity (scale = sigma, shift = mean of the layer's current, measured layer by
layer on 64 training samples with the layers before it passing their current through), so every
variant starts from the same forward pass as the calibrated net. Then 14 steps of Adam (batch 32,
the recipe's loss, the first 256 digits training samples in order) and prints the training loss per
sample at steps 1 and 14 (and its maximum) and the readout's spike rate at step 14.
Seed 0, one thread; the table is in docs/models.md ("Normalised SNN twins").
"""
from __future__ import annotations

import copy
import sys

import torch

import neuromap.models.norm as nm
import neuromap.train as train
from neuromap.data.digits import DigitsSplit, load_digits_split
from neuromap.models import create_model

STEPS, BATCH, STRIDE, MEASURE = 14, 32, 16, 64


class ProbeNorm(nm.ChannelNorm):
    """ChannelNorm with the statistics handled as the variant says; `measure` records them instead."""

    def __init__(self, channels: int, start: int, center: bool, detach: bool) -> None:
        super().__init__(channels, 1.25, start)
        self.center, self.detach, self.measure = center, detach, False

    def _stats(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        valid = z[..., int(self.start):]
        if self.detach or self.measure:
            valid = valid.detach()
        dims = [0] + list(range(2, valid.dim()))
        if self.center:
            return valid.mean(dim=dims), valid.var(dim=dims, unbiased=False)
        return torch.zeros(valid.shape[1]), valid.pow(2).mean(dim=dims)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        mean, var = self._stats(z)
        if self.measure:
            with torch.no_grad():
                self.running_mean.copy_(mean)
                self.running_var.copy_(var)
            return z
        a = self.weight / self.sigma(var)
        return self._view(a, z) * z + self._view(self.shift - a * mean, z) * self._mask(z)


def attach_identity(model: torch.nn.Module, x: torch.Tensor, center: bool, detach: bool, skip_last: bool) -> None:
    starts = nm.layer_starts(model)
    units = list(nm._conv_units(model))
    norms = []
    for name, unit in units[:-1] if skip_last else units:
        norm = ProbeNorm(unit.cout, starts[nm._layer_name(name)], center, detach)
        norm.measure = True
        unit.block.neuron.norm = norm
        norms.append(norm)
    model.train()
    with torch.no_grad():
        model(x)
        for norm in norms:
            norm.measure = False
            norm.weight.copy_(norm.sigma(norm.running_var))
            norm.shift.copy_(norm.running_mean)


def main(argv: list[str]) -> int:
    name = argv[0] if argv else "squeezenet_p"
    torch.set_num_threads(1)
    full = load_digits_split(0, train.TEST_FRACTION)
    data = DigitsSplit(full.x_train[:256], full.y_train[:256], full.x_test[:200], full.y_test[:200])
    recipe = train.resolve_recipe(name, {"norm": "none"})
    depth = train.network_depth(create_model(name, kind="cnn", num_classes=10, input_shape=(1, 8, 8)))
    config = {"model": name, "seed": 0, "num_classes": 10, "input_shape": [1, 8, 8], "model_kwargs": {},
              "recipe": recipe, "timesteps": train.window(recipe, depth), "depth": depth}
    twin = train._Twin("snn", config, data)
    calibrated, _ = train.initial_model("snn", config, twin)
    variants = [  # name, normalised, center, detach, skip_last, freeze, lr
        ("none (the calibrated net)", False, True, False, False, False, 1e-3),
        ("batch mean and variance, gradient through them (tdBN)", True, True, False, False, False, 1e-3),
        ("the same, scale and shift frozen", True, True, False, False, True, 1e-3),
        ("the same, no normalisation on the classifier conv", True, True, False, True, False, 1e-3),
        ("batch mean and variance detached from the gradient", True, True, True, False, False, 1e-3),
        ("the same with Adam 1e-4", True, True, True, False, False, 1e-4),
        ("no mean subtraction, scale by the batch RMS", True, False, False, False, False, 1e-3),
    ]
    print(f"{name}: T {config['timesteps']}, depth {depth}")
    print("| normalisation during training | loss, step 1 -> 14 (max) | readout rate |\n|---|---|---|")
    for label, normed, center, detach, skip_last, freeze, lr in variants:
        model = copy.deepcopy(calibrated)
        if normed:
            attach_identity(model, twin.batch(torch.arange(MEASURE)), center, detach, skip_last)
        params = [p for n, p in model.named_parameters() if not (freeze and ".norm." in n)]
        opt = torch.optim.Adam(params, lr=lr)
        model.train()
        losses, rate = [], 0.0
        for step in range(STEPS):
            idx = torch.arange(step * STRIDE, step * STRIDE + BATCH)
            out = model(twin.batch(idx))
            loss = twin.loss(out, twin.y_train[idx], depth)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss) / BATCH)
            rate = float(out.detach().mean())
        print(f"| {label} | {losses[0]:.2f} -> {losses[-1]:.2f} ({max(losses):.2f}) | {rate:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
