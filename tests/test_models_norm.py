"""The SNN twins' per-channel normalisation (neuromap.models.norm): batch statistics shared over
time, the exact fold into 8-bit weights, a NetX bias and the threshold, and Lava == SLAYER after it."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neuromap.models.norm import BIAS_SCALE, W_MAX, ChannelNorm, attach_norm, fold_norm, has_norm
from neuromap.netx.export import export_netx
from neuromap.netx.load import load_netx

sys.path.insert(0, str(Path(__file__).parent))
from helpers import assert_lava_equals_slayer  # noqa: E402
from test_graph_netx import small  # noqa: E402


def _spikes(seed: int, n: int = 4, T: int = 32, p: float = 0.3) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy((rng.random((n, 1, 8, 8, T)) < p).astype(np.float32))


def _normalised(family: str, seed: int = 1) -> torch.nn.Module:
    """A small model with the norm attached, a few training passes for statistics (and a random
    shift so that biases are non-trivial), then folded."""
    model = small(family, seed=seed)
    assert attach_norm(model) > 0 and has_norm(model)
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, ChannelNorm):
            with torch.no_grad():
                m.shift.uniform_(-0.5, 0.5)
                m.weight.mul_(40.0)  # large scales: the fold must rescale weights and threshold
    model.train()
    with torch.no_grad():
        for k in range(3):
            model(_spikes(10 + k, n=8))
    fold_norm(model)
    return model


def test_batch_mode_normalises_each_channel_over_valid_steps() -> None:
    norm = ChannelNorm(3, threshold=1.25, start=2)
    norm.train()
    z = torch.randn(5, 3, 4, 4, 10) * torch.tensor([1.0, 3.0, 0.2]).reshape(1, 3, 1, 1, 1) + 2.0
    z[..., :2] = 0.0  # before the layer's first input
    out = norm(z)
    valid = out[..., 2:]
    assert torch.all(out[..., :2] == 0)
    mean = valid.mean(dim=(0, 2, 3, 4))
    std = valid.std(dim=(0, 2, 3, 4), unbiased=False)
    assert torch.allclose(mean, torch.zeros(3), atol=1e-5)
    assert torch.allclose(std, torch.full((3,), 1.25), atol=1e-3)  # the scale starts at the threshold


def test_fold_is_exact_in_slayer_up_to_quantisation() -> None:
    model = small("mnasnet", seed=2)
    attach_norm(model)
    model.train()
    with torch.no_grad():
        model(_spikes(3, n=8))
    folded = [m for m in model.modules() if isinstance(m, ChannelNorm)]
    report = fold_norm(model)
    assert len(report) == len(folded) and all(m.is_folded for m in folded)
    assert all(r["clipped_weights"] == 0 for r in report)
    for m in model.modules():
        if isinstance(m, ChannelNorm):
            mant = m.bias
            assert torch.equal(mant, torch.round(mant)) and float(mant.abs().max()) <= 4095
    for _, u in [(n, u) for n, u in model.named_modules() if hasattr(u, "block") and hasattr(u.block, "neuron")]:
        w = u.block.synapse.pre_hook_fx(u.block.synapse.weight)
        assert float(w.abs().max()) <= W_MAX
        assert float(u.block.neuron.threshold) * BIAS_SCALE == int(u.block.neuron.norm.threshold_mant)


# residual shortcuts with per-channel gains (mnasnet), masked mixed kernels (mixnet), routed concat and
# shuffle (shufflenetv2); tests/test_graph_netx.py covers every family without normalisation
@pytest.mark.parametrize("family", ["mnasnet", "mixnet", "shufflenetv2"])
def test_folded_twin_runs_in_lava_spike_for_spike(tmp_path: Path, family: str) -> None:
    model = _normalised(family)
    graph = load_netx(export_netx(model, tmp_path / "m.net"))
    assert any(lay.bias is not None and np.any(lay.bias != 0) for lay in graph.layers)
    assert any(float(lay.neuron.params["vThMant"]) != 80 for lay in graph.layers[1:] if lay.neuron)
    assert_lava_equals_slayer(model, graph, _spikes(1, n=1).numpy())


def test_normalised_training_folds_resumes_exactly_and_reloads(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    """`--norm tdbn`: one epoch with batch statistics, then folded; 1 epoch + --resume to 2 equals 2
    straight (the fold lands in the checkpoint), and the run folder reloads the folded twin."""
    import json

    import neuromap.train as train
    from neuromap.data.digits import DigitsSplit, load_digits_split
    from neuromap.data.encode import rate_encode
    from neuromap.errors import run_cli
    from neuromap.models.checkpoint import load_snn_from_run, safe_torch_load, snn_output_counts

    def tiny(seed: int = 0, test_fraction: float = 0.25) -> DigitsSplit:
        full = load_digits_split(seed, test_fraction)
        return DigitsSplit(full.x_train[:48], full.y_train[:48], full.x_test[:16], full.y_test[:16])

    monkeypatch.setattr(train, "load_digits_split", tiny)
    base = ["--model", "squeezenet_p", "--kind", "snn", "--no-progress", "--timesteps", "16", "--norm", "tdbn",
            "--recipe", "convert=null", "--recipe", "calibration=null", "--recipe", "surrogate_balance=null",
            "--out", str(tmp_path / "runs"), "--export", str(tmp_path / "m.net")]
    assert run_cli(train.main, base + ["--name", "straight", "--epochs", "2"]) == 0
    assert run_cli(train.main, base + ["--name", "resumed", "--epochs", "1"]) == 0
    one = safe_torch_load(tmp_path / "runs" / "resumed" / "snn.pt")
    assert all(int(v) == 1 for k, v in one.items() if k.endswith("norm.folded"))
    assert run_cli(train.main, base + ["--name", "resumed", "--epochs", "2", "--resume"]) == 0
    a = safe_torch_load(tmp_path / "runs" / "straight" / "snn.pt")
    b = safe_torch_load(tmp_path / "runs" / "resumed" / "snn.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(k.endswith("norm.shift") for k in a)
    model, cfg = load_snn_from_run(tmp_path / "runs" / "straight")
    assert has_norm(model) and all(m.is_folded for m in model.modules() if isinstance(m, ChannelNorm))
    split = tiny()
    counts = snn_output_counts(model, rate_encode(split.x_test, 16, cfg["timesteps"]))
    metrics = json.loads((tmp_path / "runs" / "straight" / "metrics.json").read_text())["snn"]
    assert float((counts.argmax(1) == split.y_test).mean()) == pytest.approx(metrics["test_accuracy"])
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
