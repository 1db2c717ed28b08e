"""Data-driven SNN init (neuromap.models.calibrate): every layer fires after calibration, on real digits."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import neuromap.train as train
from neuromap.data.digits import DigitsSplit, load_digits_split
from neuromap.data.encode import rate_encode
from neuromap.errors import run_cli
from neuromap.models import create_model
from neuromap.models.calibrate import calibrate_snn, layer_rates
from neuromap.models.checkpoint import safe_torch_load
from neuromap.netx.export import export_netx


def _digits(n: int, timesteps: int) -> torch.Tensor:
    d = load_digits_split(0, 0.25)
    return torch.from_numpy(rate_encode(d.x_train[:n], d.max_level, timesteps).astype(np.float32))


@pytest.fixture(scope="module")
def sqp() -> tuple[torch.nn.Module, torch.Tensor]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    snn = create_model("squeezenet_p", kind="snn", num_classes=10, input_shape=(1, 8, 8))
    return snn, _digits(16, snn.depth + 12)


def test_calibration_wakes_every_layer_of_a_deep_snn(sqp: tuple[torch.nn.Module, torch.Tensor]) -> None:
    snn, x = sqp
    before = layer_rates(snn, x)
    assert len(before) == 11  # stem, 4 x (squeeze, expand), classifier, readout
    # the problem being fixed: at SLAYER's default init activity dies out with depth
    assert before[-1]["rate"] == 0.0 and before[-2]["rate"] == 0.0
    report = calibrate_snn(snn, x, target_rate=0.1)
    after = layer_rates(snn, x)
    assert [r["name"] for r in report] == [r["name"] for r in after]
    rates = np.array([r["rate"] for r in after])
    assert np.all(rates > 0.03), rates  # every layer, the readout included, fires
    assert np.all(np.abs(rates[:-1] - 0.1) < 0.03), rates  # hidden layers near the target
    assert [r["rate_after"] for r in report] == pytest.approx(list(rates), abs=1e-6)
    # the model's outputs now differ between digits (a gradient can reach every layer)
    counts = snn(x).sum(-1)
    assert counts.sum() > 0 and len({tuple(c.tolist()) for c in counts}) > 1


def test_calibration_keeps_the_lava_neuron_and_8bit_weights(sqp: tuple[torch.nn.Module, torch.Tensor],
                                                            tmp_path: Path) -> None:
    import h5py

    snn, x = sqp
    calibrate_snn(snn, x, target_rate=0.1)
    path = export_netx(snn, tmp_path / "cal.net")
    fresh = create_model("squeezenet_p", kind="snn", num_classes=10, input_shape=(1, 8, 8))
    ref = export_netx(fresh, tmp_path / "ref.net")
    with h5py.File(path, "r") as fh, h5py.File(ref, "r") as fr:
        layers = sorted(k for k in fh["layer"] if "weight" in fh["layer"][k])
        assert len(layers) == 11  # stem, 8 Fire convs, classifier, dense readout
        for k in layers:
            w = fh[f"layer/{k}/weight"][()]
            assert np.all(w == np.round(w)) and -256 <= w.min() and w.max() <= 254
            # neuron parameters (threshold, decays) are the built ones: only the weights moved
            for p in ("vThMant", "iDecay", "vDecay"):
                assert fh[f"layer/{k}/neuron/{p}"][()] == fr[f"layer/{k}/neuron/{p}"][()]


def test_calibration_handles_residual_layers() -> None:
    torch.manual_seed(0)
    snn = create_model("mnasnet", kind="snn", num_classes=10, input_shape=(1, 8, 8))
    x = _digits(8, snn.depth + 12)
    assert layer_rates(snn, x)[-1]["rate"] == 0.0  # 27 layers: silent readout at the built weights
    # the deep-SNN default of neuromap.train (0.1 leaves the last MBConv layers silent)
    report = calibrate_snn(snn, x, target_rate=0.2)
    residual = [r for r in report if ".body." in r["name"]]
    assert residual and all(r["weight_scale"] > 0 for r in residual)
    after = layer_rates(snn, x)
    assert all(r["rate"] > 0 for r in after), [round(r["rate"], 4) for r in after]


def test_calibrate_only_touches_the_named_layers(sqp: tuple[torch.nn.Module, torch.Tensor]) -> None:
    snn = create_model("squeezenet_p", kind="snn", num_classes=10, input_shape=(1, 8, 8))
    _, x = sqp
    stem = {k: v.clone() for k, v in snn.units[0].state_dict().items()}
    report = calibrate_snn(snn, x, only=[snn.units[1]])
    assert [r["name"] for r in report] == ["units.1.units.0.block", "units.1.units.1.block"]
    assert all(torch.equal(v, snn.units[0].state_dict()[k]) for k, v in stem.items())


# the zoo's recipe without conversion, with calibration, balancing and SpikeRate
CALIBRATED = ["--norm", "none", "--loss", "spike_rate", "--recipe", "convert=null",
              "--recipe", 'calibration={"target_rate": 0.1, "samples": 32}',
              "--recipe", 'surrogate_balance={"samples": 64, "iters": 3}']


def test_train_cli_calibrates_zoo_snns_and_records_rates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def tiny(seed: int = 0, test_fraction: float = 0.25) -> DigitsSplit:
        full = load_digits_split(seed, test_fraction)
        return DigitsSplit(full.x_train[:64], full.y_train[:64], full.x_test[:20], full.y_test[:20])

    monkeypatch.setattr(train, "load_digits_split", tiny)
    base = ["--model", "squeezenet_p", "--kind", "snn", "--epochs", "1", "--no-progress",
            "--out", str(tmp_path / "runs"), "--export", str(tmp_path / "m.net")]
    assert run_cli(train.main, base + ["--name", "cal"] + CALIBRATED) == 0
    config = json.loads((tmp_path / "runs" / "cal" / "config.json").read_text())
    assert config["recipe"]["calibration"] == {"target_rate": 0.1, "samples": 32}
    assert config["timesteps"] == 3 * 11 + 3 == 36
    snn = json.loads((tmp_path / "runs" / "cal" / "metrics.json").read_text())["snn"]
    cal = snn["calibration"]
    assert len(cal) == 11 and all(r["rate_after"] > 0.03 and r["weight_scale"] > 0 for r in cal)
    # then the surrogate balancing: the first layer keeps the built scale, the others are rescaled,
    # and the checkpoint keeps the scales (they are not in the state dict) for --resume
    assert config["recipe"]["surrogate_balance"] == {"samples": 64, "iters": 3}
    scales = snn["surrogate"]["scales"]
    assert len(scales) == 11 and scales[0] == 10 and len(set(scales)) > 1
    rms, before = snn["surrogate"]["grad_rms_after"], snn["surrogate"]["grad_rms_before"]
    assert max(rms) / min(rms) < 1.01 < 10 < max(before) / min(before)  # a chain: equal after balancing
    state = safe_torch_load(tmp_path / "runs" / "cal" / "checkpoint" / "snn.pt")
    assert [float(f"{v:.4g}") for v in state["surrogate_scales"]] == scales
    assert config["recipe"] == train.resolve_recipe("squeezenet_p", {
        "loss": "spike_rate", "convert": None, "calibration": {"target_rate": 0.1, "samples": 32},
        "surrogate_balance": {"samples": 64, "iters": 3}})
    assert run_cli(train.main, base + ["--name", "raw", "--recipe", "convert=null"]) == 0
    raw = json.loads((tmp_path / "runs" / "raw" / "metrics.json").read_text())["snn"]
    assert "calibration" not in raw and "surrogate" not in raw and "convert" not in raw
    raw_config = json.loads((tmp_path / "runs" / "raw" / "config.json").read_text())
    assert raw_config["recipe"]["calibration"] is None and raw_config["recipe"]["surrogate_balance"] is None
    assert raw_config["recipe"]["norm"] == "none" and raw_config["recipe"]["loss"] == "tet"
    assert run_cli(train.main, base + ["--name", "lr", "--lr", "0.01", "--kind", "cnn"]) == 0
    assert json.loads((tmp_path / "runs" / "lr" / "config.json").read_text())["lr"] == {"snn": 0.01, "cnn": 0.01}


def test_prune_calibrates_only_the_reinitialised_squeeze(sqp: tuple[torch.nn.Module, torch.Tensor]) -> None:
    from neuromap.models.squeezenet import FIRE_NAMES
    from neuromap.prune import _named_layers, fire_units, transfer_weights

    _, x = sqp
    base = create_model("squeezenet_p", kind="snn", num_classes=10, input_shape=(1, 8, 8), keep=list(FIRE_NAMES))
    net = create_model("squeezenet_p", kind="snn", num_classes=10, input_shape=(1, 8, 8))  # F4 F6 F8 F9
    fresh = transfer_weights(base, net)
    assert fresh == ["F4.squeeze"]
    layers = _named_layers(net, fresh)
    assert layers == [fire_units(net)["F4"].units[0]]
    kept = {k: v.clone() for k, v in net.state_dict().items() if not k.startswith("units.1.units.0.")}
    report = calibrate_snn(net, x, only=layers)
    assert [r["name"] for r in report] == ["units.1.units.0.block"]
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in kept.items())


def test_resume_restores_the_balanced_surrogate_scales(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The per-layer surrogate scales are not in the state dict: 1 epoch + --resume to 2 must train
    exactly like 2 epochs straight, which it only does if the checkpoint's scales are put back."""
    def tiny(seed: int = 0, test_fraction: float = 0.25) -> DigitsSplit:
        full = load_digits_split(seed, test_fraction)
        return DigitsSplit(full.x_train[:64], full.y_train[:64], full.x_test[:10], full.y_test[:10])

    monkeypatch.setattr(train, "load_digits_split", tiny)
    base = ["--model", "squeezenet_p", "--kind", "snn", "--no-progress", "--out", str(tmp_path / "runs"),
            "--export", str(tmp_path / "m.net")]
    base += CALIBRATED + ["--recipe", "surrogate_width=0.3"]  # not in the state dict either
    assert run_cli(train.main, base + ["--name", "straight", "--epochs", "2"]) == 0
    assert run_cli(train.main, base + ["--name", "resumed", "--epochs", "1"]) == 0
    assert run_cli(train.main, base + ["--name", "resumed", "--epochs", "2", "--resume"]) == 0
    assert json.loads((tmp_path / "runs" / "resumed" / "config.json").read_text())["recipe"]["surrogate_width"] == 0.3
    a = safe_torch_load(tmp_path / "runs" / "straight" / "snn.pt")
    b = safe_torch_load(tmp_path / "runs" / "resumed" / "snn.pt")
    a, b = a.get("model", a), b.get("model", b)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_surrogate_width_changes_the_gradient_not_the_spikes(sqp: tuple[torch.nn.Module, torch.Tensor]) -> None:
    from neuromap.models.calibrate import set_surrogate_width, surrogate_width

    net, x = sqp
    built = surrogate_width(net)
    assert len(built) == 11 and all(abs(w - 0.03) < 1e-12 for w in built)  # SLAYER's tau_grad as built

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        net.zero_grad()
        xs = x[:4].clone().requires_grad_(True)
        out = net(xs)
        out.sum().backward()
        return out.detach(), xs.grad.detach().clone()

    try:
        out0, g0 = run()
        set_surrogate_width(net, 0.3)
        assert all(abs(w - 0.3) < 1e-12 for w in surrogate_width(net))
        out1, g1 = run()
    finally:
        set_surrogate_width(net, 0.03)
    assert torch.equal(out0, out1)  # the same spikes
    assert not torch.allclose(g0, g1)  # another gradient
    with pytest.raises(ValueError, match="positive"):
        set_surrogate_width(net, 0.0)
