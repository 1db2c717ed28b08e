"""ANN-to-SNN conversion (neuromap.models.convert): the ReLU twin's shape, the conversion's
arithmetic, rate balancing, and Lava == SLAYER on converted nets (biases, thresholds, shortcut gains)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neuromap.errors import NeuromapError
from neuromap.models import create_model
from neuromap.models.blocks import ConvUnit, Residual
from neuromap.models.convert import activation_scales, balance_rates, convert, convert_into, relu_twin
from neuromap.models.norm import BIAS_SCALE, W_MAX
from neuromap.netx.export import export_netx
from neuromap.netx.load import load_netx

sys.path.insert(0, str(Path(__file__).parent))
from helpers import assert_lava_equals_slayer  # noqa: E402
from test_graph_netx import small  # noqa: E402

SMALL_KW = {
    "mnasnet": {"stages": ((8, 2, 2, 2, 3), (16, 2, 1, 2, 5)), "stem": 8, "head": 16},
    "shufflenetv2": {"stages": ((8, 2), (16, 2)), "stem": 8, "head": 16},
}


def _rates(seed: int, n: int = 16) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 17, size=(n, 1, 8, 8)).astype(np.float32) / 16.0)


def _spikes(rates: torch.Tensor, T: int) -> torch.Tensor:
    from neuromap.data.encode import rate_encode

    levels = (rates.numpy() * 16).round().astype(np.int64)
    return torch.from_numpy(rate_encode(levels, 16, T).astype(np.float32))


def _ann(family: str, seed: int = 3) -> torch.nn.Module:
    """A small ReLU twin with non-trivial BatchNorm statistics (a few train-mode passes)."""
    torch.manual_seed(seed)
    ann = relu_twin(create_model(family, kind="cnn", input_shape=(1, 8, 8), **SMALL_KW[family]))
    ann.train()
    with torch.no_grad():
        for k in range(3):
            ann(_rates(20 + k, 32))
    return ann.eval()


def test_relu_twin_makes_every_layer_but_the_classifier_rectify() -> None:
    ann = relu_twin(create_model("mnasnet", kind="cnn", input_shape=(1, 8, 8), **SMALL_KW["mnasnet"]))
    convs = [m for m in ann.modules() if isinstance(m, ConvUnit)]
    assert all(u.act for u in convs[:-1]) and not convs[-1].act
    res = [m for m in ann.modules() if isinstance(m, Residual)]
    assert res and all(r.post_act and not r.last_act for r in res)
    snn = small("mnasnet")
    assert [n for n, m in ann.named_modules() if isinstance(m, ConvUnit)] == \
        [n for n, m in snn.named_modules() if isinstance(m, ConvUnit)]
    with pytest.raises(NeuromapError, match="zoo CNN twin"):
        relu_twin(snn)


def test_conversion_arithmetic_of_the_first_layer() -> None:
    """W' = threshold W_bn lambda_in / (gain lambda_out), bias = threshold b_bn / lambda_out, times one
    factor k that also multiplies the threshold; the input's lambda is 1."""
    ann = _ann("mnasnet")
    snn = small("mnasnet")
    stats = activation_scales(ann, _rates(1, 32))
    convert_into(snn, ann, stats)
    a0, s0 = ann.units[0], snn.units[0]
    bn = a0.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w_bn = a0.conv.weight * scale.reshape(-1, 1, 1, 1)
    b_bn = bn.bias - bn.running_mean * scale
    lam = stats["units.0"]["out"].clamp_min(0.1 * float(stats["units.0"]["out"].median()))
    neuron = s0.block.neuron
    th = float(neuron.threshold)  # th0 x k, on the 1/64 grid
    k = th / 1.25
    want_w = 1.25 * k * w_bn / lam.reshape(-1, 1, 1, 1)  # current decay 1: gain 1
    got_w = s0.block.synapse.weight.detach().reshape(want_w.shape)
    torch.testing.assert_close(got_w, want_w, rtol=1e-5, atol=1e-6)
    assert float(got_w.abs().max()) <= W_MAX
    want_b = torch.round(1.25 * k * b_bn / lam * BIAS_SCALE) / BIAS_SCALE
    torch.testing.assert_close(neuron.norm.shift.detach(), want_b)
    assert int(neuron.norm.threshold_mant) == round(th * BIAS_SCALE)


def test_balancing_matches_each_layer_rate_to_the_ann() -> None:
    ann = _ann("mnasnet")
    snn = small("mnasnet")
    x = _rates(2, 32)
    stats = activation_scales(ann, x)
    convert_into(snn, ann, stats)
    report = balance_rates(snn, _spikes(x, 40), {n: st["rate"] for n, st in stats.items()})
    assert [r["name"] for r in report][:2] == ["units.0", "units.1"]
    matched = [r for r in report if r["limit"] is None]
    assert len(matched) >= len(report) // 2, report
    assert all(abs(r["after"] - r["target"]) < 0.01 for r in matched), report
    # a layer that cannot reach its target got the whole range's nearest end, never a worse rate
    assert all(abs(r["after"] - r["target"]) <= abs(r["before"] - r["target"]) + 1e-4 for r in report), report


@pytest.mark.parametrize("family", ["mnasnet", "shufflenetv2"])
def test_converted_twin_runs_in_lava_spike_for_spike(tmp_path: Path, family: str) -> None:
    ann = _ann(family)
    snn = small(family)
    x = _rates(4, 32)
    convert(snn, ann, x, _spikes(x[:16], 40))
    graph = load_netx(export_netx(snn, tmp_path / "m.net"))
    assert any(lay.bias is not None and np.any(lay.bias != 0) for lay in graph.layers)
    assert_lava_equals_slayer(snn, graph, _spikes(_rates(5, 1), 32).numpy())
