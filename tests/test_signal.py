"""Signal propagation report (neuromap.models.signal): exact separability values, latency, layer rows."""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

import neuromap.train as train
from neuromap.data.digits import DigitsSplit, load_digits_split
from neuromap.data.encode import rate_encode
from neuromap.errors import run_cli
from neuromap.models import create_model
from neuromap.models.calibrate import balance_surrogate, calibrate_snn, set_surrogate_scales, surrogate_scales
from neuromap.models.signal import (chance_separability, class_separability, first_spike_step, gradient_report,
                                   linear_probe_accuracy, signal_report)


def test_class_separability_by_hand() -> None:
    x = torch.tensor([[0.0], [2.0], [4.0], [6.0]])
    # mean 3, total SS 9+1+1+9 = 20; class means 1 and 5, between SS 2*4 + 2*4 = 16
    assert class_separability(x, torch.tensor([0, 0, 1, 1]), 2) == pytest.approx(0.8, abs=1e-12)
    assert class_separability(x, torch.tensor([0, 1, 0, 1]), 2) == pytest.approx(0.2, abs=1e-12)
    # two features add their sums of squares; a constant response scores 0, not NaN
    x2 = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 3.0], [6.0, 3.0]])  # 2nd: total 4, between 4
    assert class_separability(x2, torch.tensor([0, 0, 1, 1]), 2) == pytest.approx(20 / 24, abs=1e-12)
    assert class_separability(torch.ones(5, 3), torch.tensor([0, 1, 2, 0, 1]), 3) == 0.0


def test_chance_is_the_mean_over_every_labelling() -> None:
    x = torch.tensor([[0.0, 5.0], [2.0, 1.0], [4.0, -3.0], [7.0, 2.0], [1.0, 1.0], [3.0, 0.5]])
    base = [0, 0, 1, 1, 2, 2]
    perms = {p for p in itertools.permutations(base)}
    mean = sum(class_separability(x, torch.tensor(p), 3) for p in perms) / len(perms)
    assert mean == pytest.approx(chance_separability(6, 3), abs=1e-12) == pytest.approx(2 / 5)


def test_first_spike_step() -> None:
    s = torch.zeros(3, 2, 6)
    s[0, 1, 2] = 1  # sample 0 first spikes at 2
    s[1, 0, 4] = 1
    s[1, 1, 5] = 1  # sample 1 at 4
    s[2, 0, 1] = 1  # sample 2 at 1
    assert first_spike_step(s) == 2  # median of 2, 4, 1
    assert first_spike_step(torch.zeros(3, 2, 6)) is None
    s2 = torch.zeros(3, 1, 4)
    s2[0, 0, 3] = 1  # two silent samples of three: the median is silence
    assert first_spike_step(s2) is None


def test_linear_probe_accuracy() -> None:
    # class k lights feature k of 3 (plus noise features that mean nothing): a linear probe gets all
    g = torch.Generator().manual_seed(0)
    y = torch.arange(30) % 3
    x = torch.nn.functional.one_hot(y, 3).float() * 5 + torch.rand(30, 3, generator=g)
    x = torch.cat([x, torch.rand(30, 4, generator=g)], 1)
    assert linear_probe_accuracy(x[:15], y[:15], x[15:], y[15:]) == 1.0
    # the same features with the labels rotated on the held-out half: every test prediction is wrong
    assert linear_probe_accuracy(x[:15], y[:15], x[15:], (y[15:] + 1) % 3) == 0.0
    # a response that never varies: the most common training label (1, three times of five) is the
    # guess, right on 2 of the 4 held-out samples
    ones = torch.ones(9, 2)
    assert linear_probe_accuracy(ones[:5], torch.tensor([1, 0, 1, 2, 1]), ones[5:],
                                 torch.tensor([1, 1, 0, 2])) == 0.5


@pytest.mark.parametrize("kind", ["snn", "cnn"])
def test_signal_report_rows_follow_the_layers(kind: str) -> None:
    torch.manual_seed(0)
    d = load_digits_split(0, 0.25)
    model = create_model("squeezenet_p", kind=kind, num_classes=10, input_shape=(1, 8, 8))
    if kind == "snn":
        x = torch.from_numpy(rate_encode(d.x_train[:64], d.max_level, model.depth + 12).astype(np.float32))
    else:
        x = torch.from_numpy(d.x_train[:64].astype(np.float32) / d.max_level)
    was = model.training
    rep = signal_report(model, x, torch.from_numpy(d.y_train[:64]), 10, kind)
    assert model.training == was
    assert all("probe_accuracy" not in r for r in rep["layers"])  # only with held-out inputs
    names = [r["name"] for r in rep["layers"]]
    if kind == "snn":  # the 11 spiking layers in data-flow order, each with its rate and latency
        assert names[0] == "units.0.block" and names[-1] == "units.6.dense" and len(names) == 11
        assert all(0.0 <= r["rate"] <= 1.0 and 0.0 <= r["class_separability"] <= 1.0 for r in rep["layers"])
        firsts = [r["first_spike_step"] for r in rep["layers"] if r["first_spike_step"] is not None]
        assert firsts == sorted(firsts)  # a spike cannot reach a layer before the layer feeding it
    else:  # conv units and the pooling head
        assert names[0] == "units.0" and names[-1] == "units.6" and len(names) == 11
    # the input layer of random weights still tells digits apart far better than chance
    assert rep["layers"][0]["class_separability"] > 2 * rep["chance"]
    assert rep["chance"] == pytest.approx(9 / 63)


@pytest.fixture(scope="module")
def calibrated_sqp() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """squeezenet_p's SNN (a chain of 11 spiking layers) calibrated on 32 digits, in training mode."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    d = load_digits_split(0, 0.25)
    model = create_model("squeezenet_p", kind="snn", num_classes=10, input_shape=(1, 8, 8))
    x = torch.from_numpy(rate_encode(d.x_train[:32], d.max_level, model.depth + 12).astype(np.float32))
    calibrate_snn(model, x, target_rate=0.1)
    model.train()
    return model, x, torch.from_numpy(d.y_train[:32])


@pytest.fixture()
def sqp_grad(calibrated_sqp: tuple) -> Iterator[tuple]:
    """(model, x, labels, SpikeRate loss, built surrogate scales); the scales are put back afterwards."""
    from neuromap.models.digitnet import import_slayer

    model, x, y = calibrated_sqp
    saved = surrogate_scales(model)
    try:
        yield model, x, y, import_slayer().loss.SpikeRate(true_rate=0.5, false_rate=0.05, reduction="sum"), saved
    finally:
        set_surrogate_scales(model, saved)


def test_gradient_report_scales_with_each_layers_surrogate(sqp_grad: tuple) -> None:
    model, x, y, loss, saved = sqp_grad
    before = [r["grad_rms"] for r in gradient_report(model, x, y, loss)]
    assert len(before) == 11 and all(r > 0 for r in before)
    assert all(p.grad is None for p in model.parameters())  # the report leaves no gradients behind
    k = 5
    set_surrogate_scales(model, [s * (4.0 if i == k else 1.0) for i, s in enumerate(saved)])
    after = [r["grad_rms"] for r in gradient_report(model, x, y, loss)]
    # the backward pass is linear in a layer's surrogate scale: every layer upstream of layer k gets
    # 4x the gradient, layer k and the layers after it are untouched
    assert after[:k] == pytest.approx([4.0 * r for r in before[:k]], rel=1e-4)
    assert after[k:] == pytest.approx(before[k:], rel=1e-6)


def test_balance_surrogate_equalises_a_chain_in_one_round(sqp_grad: tuple) -> None:
    model, x, y, loss, saved = sqp_grad
    rms = [r["grad_rms"] for r in gradient_report(model, x, y, loss)]
    assert max(rms) / min(rms) > 100  # the problem: at one scale for all, RMS spans decades
    history = balance_surrogate(model, x, y, loss, iters=1)
    assert len(history) == 2 and history[0]["grad_rms"] == pytest.approx(rms, rel=1e-6)
    balanced = [r["grad_rms"] for r in gradient_report(model, x, y, loss)]
    assert history[1]["grad_rms"] == pytest.approx(balanced, rel=1e-6)
    assert surrogate_scales(model)[0] == saved[0] and surrogate_scales(model) != saved
    assert balanced == pytest.approx([rms[-1]] * len(rms), rel=1e-3)  # every layer at the readout's RMS
    with pytest.raises(ValueError, match="2 surrogate scales for 11 spiking layers"):
        set_surrogate_scales(model, [1.0, 2.0])


def test_signal_report_probe_on_held_out_inputs() -> None:
    torch.manual_seed(0)
    d = load_digits_split(0, 0.25)
    model = create_model("squeezenet_p", kind="snn", num_classes=10, input_shape=(1, 8, 8))
    t = model.depth + 12

    def spikes(levels: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(rate_encode(levels, d.max_level, t).astype(np.float32))

    held = (spikes(d.x_test[:60]), torch.from_numpy(d.y_test[:60]))
    rep = signal_report(model, spikes(d.x_train[:120]), torch.from_numpy(d.y_train[:120]), 10, "snn", held_out=held)
    rows = rep["layers"] + [rep["output"]]
    assert len(rows) == 12 and all(0.0 <= r["probe_accuracy"] <= 1.0 for r in rows)
    # the first layer's spike counts of a random net keep most of a digit: far above the 0.1 of chance
    assert rep["layers"][0]["probe_accuracy"] > 0.6
    # exactly what the probe gives on that layer's counts, computed directly
    first = model.units[0].block.neuron  # the report hooks the neuron (before the synaptic delay)
    got: list[torch.Tensor] = []
    h = first.register_forward_hook(lambda m, i, o: got.append(o.sum(-1).reshape(o.shape[0], -1)))
    model.eval()
    with torch.no_grad():
        model(spikes(d.x_train[:120]))
        model(held[0])
    h.remove()
    assert rep["layers"][0]["probe_accuracy"] == linear_probe_accuracy(got[0], torch.from_numpy(d.y_train[:120]),
                                                                       got[1], held[1])


def test_train_cli_records_the_signal_report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    def tiny(seed: int = 0, test_fraction: float = 0.25) -> DigitsSplit:
        full = load_digits_split(seed, test_fraction)
        return DigitsSplit(full.x_train[:40], full.y_train[:40], full.x_test[:10], full.y_test[:10])

    monkeypatch.setattr(train, "load_digits_split", tiny)
    assert run_cli(train.main, ["--model", "squeezenet_p", "--epochs", "1", "--no-progress", "--name", "s",
                                "--out", str(tmp_path / "runs"), "--export", str(tmp_path / "m.net")]) == 0
    metrics = json.loads((tmp_path / "runs" / "s" / "metrics.json").read_text())
    for kind in ("snn", "cnn"):
        for key in ("signal_init", "signal"):
            rep = metrics[kind][key]
            assert rep["samples"] == 40 and rep["chance"] == pytest.approx(9 / 39, abs=1e-5)
            assert len(rep["layers"]) == 11
    out = capsys.readouterr().out
    assert "snn: class separability" in out and "of 36" in out and "cnn: class separability" in out
