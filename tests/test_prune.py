"""Fire-module pruning: channel rewiring, weight transfer, stride placement, importance schedule."""
from __future__ import annotations

import pytest
import torch

from neuromap.errors import NeuromapError
from neuromap.models import create_model
from neuromap.models.blocks import count_parameters
from neuromap.models.squeezenet import FIRE_NAMES, stride_plan
from neuromap.prune import PAPER_SCHEDULES, fire_units, importance_schedule, main, transfer_weights


def _fire_params(cin: int, out: int, s: int) -> int:  # squeeze conv+bias+BN, expand 1x1||3x3 +bias+BN
    e = out // 2
    return cin * s + s + 2 * s + s * e + e + s * e * 9 + e + 2 * out


def test_dropping_modules_rewires_channels() -> None:
    model = create_model("squeezenet_p", kind="cnn", input_shape=(3, 32, 32))  # keeps F4 F6 F8 F9
    fires = fire_units(model)
    assert list(fires) == ["F4", "F6", "F8", "F9"]
    ins = {k: u.units[0].cin for k, u in fires.items()}
    assert ins == {"F4": 96, "F6": 256, "F8": 384, "F9": 512}
    want = 3 * 96 * 9 + 96 + 192 + _fire_params(96, 256, 32) + _fire_params(256, 384, 48) \
        + _fire_params(384, 512, 64) + _fire_params(512, 512, 64) + 512 * 10 + 10
    assert count_parameters(model) == want == 547_130
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    alt2 = create_model("squeezenet_p", kind="cnn", input_shape=(1, 8, 8), keep=PAPER_SCHEDULES["Alt-2"])
    assert {k: u.units[0].cin for k, u in fire_units(alt2).items()} == {"F3": 96, "F5": 128, "F7": 256, "F9": 384}
    assert alt2(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_stride_plan_moves_pools_to_kept_layers() -> None:
    assert stride_plan(FIRE_NAMES) == {"stem": 2, "F4": 2, "F8": 2}
    assert stride_plan(("F3", "F5", "F7", "F9")) == {"stem": 2, "F3": 2, "F7": 2}
    with pytest.raises(NeuromapError, match="keep more"):
        stride_plan(("F9",))  # three pools but only two kept layers
    with pytest.raises(NeuromapError):
        create_model("squeezenet_p", kind="cnn", keep=["F10"])


def test_transfer_keeps_weights_and_reinitialises_rewired_squeeze() -> None:
    torch.manual_seed(0)
    full = create_model("squeezenet_p", kind="cnn", input_shape=(1, 8, 8), keep=FIRE_NAMES)
    pruned = create_model("squeezenet_p", kind="cnn", input_shape=(1, 8, 8))
    before = {k: v.clone() for k, v in fire_units(pruned)["F4"].units[0].state_dict().items()}
    fresh = transfer_weights(full, pruned)
    assert fresh == ["F4.squeeze"]  # its input was F3 (128 ch), now the stem (96 ch)
    a, b = fire_units(full), fire_units(pruned)
    for name, i in (("F6", 0), ("F6", 1), ("F4", 1), ("F9", 0)):
        sa, sb = a[name].units[i].state_dict(), b[name].units[i].state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert all(torch.equal(v, fire_units(pruned)["F4"].units[0].state_dict()[k]) for k, v in before.items())
    assert torch.equal(full.units[0].conv.weight, pruned.units[0].conv.weight)
    assert torch.equal(full.units[-2].conv.weight, pruned.units[-2].conv.weight)


def test_importance_schedule_drops_cheap_unimportant_modules() -> None:
    drops = {m: 0.05 for m in FIRE_NAMES}
    drops.update({"F2": 0.0, "F5": -0.01, "F7": 0.001})
    shares = {m: 0.1 for m in FIRE_NAMES}
    shares["F3"] = 0.5  # costly: 0.05 / 0.5 = 0.1 < 0.5 for the others
    keep = importance_schedule(drops, shares, 4)
    assert keep == ("F4", "F6", "F8", "F9")
    assert "F9" in importance_schedule({m: 0.0 for m in FIRE_NAMES}, shares, 7)


def test_prune_cli_rejects_unknown_schedule() -> None:
    with pytest.raises(NeuromapError, match="unknown schedule"):
        main(["--schedules", "Nope"])


def test_prune_cli_writes_tables_on_a_tiny_cnn_run(tmp_path) -> None:
    import csv

    out = tmp_path / "p"
    assert main(["--kind", "cnn", "--epochs", "1", "--finetune-epochs", "1", "--train-limit", "48",
                 "--test-limit", "20", "--schedules", "baseline", "Ref-1", "Importance", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "table.csv")))
    assert [r["schedule"] for r in rows] == ["baseline", "Ref-1", "Importance"]
    assert int(rows[1]["cnn_params"]) == 545_402 and int(rows[1]["cnn_macs"]) == 1_108_480
    assert len(rows[2]["kept"].split()) == 4 and "F9" in rows[2]["kept"]
    assert "| Ref-1 | F4 F6 F8 F9 |" in (out / "table.md").read_text()


def test_probe_gains_chain_module_outputs_into_the_next_module() -> None:
    from neuromap.prune import module_probe_gains

    torch.manual_seed(0)
    net = create_model("squeezenet_p", kind="cnn", num_classes=3, input_shape=(1, 8, 8), keep=list(FIRE_NAMES))
    x, y = torch.rand(24, 1, 8, 8), torch.arange(24) % 3
    x[y == 1, :, :4] += 1.0  # a class signal for the probes to find
    gains = module_probe_gains(net, "cnn", x[:12], y[:12], x[12:], y[12:], 3)
    assert list(gains) == list(FIRE_NAMES)
    for a, b in zip(FIRE_NAMES, FIRE_NAMES[1:]):  # a sequential net: one module's output is the next one's input
        assert gains[a]["out"] == gains[b]["in"]
    for g in gains.values():
        assert 0.0 <= g["in"] <= 1.0 and 0.0 <= g["out"] <= 1.0 and g["gain"] == g["out"] - g["in"]
