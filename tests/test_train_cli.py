"""`python -m neuromap.train`: option errors, outputs, export, and exact --resume (on a tiny split)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import neuromap.train as train
from neuromap.data.digits import DigitsSplit, load_digits_split
from neuromap.errors import run_cli
from neuromap.models.checkpoint import load_snn_from_run, snn_output_counts
from neuromap.netx.export import read_metadata

REPO = Path(__file__).resolve().parents[1]


def _tiny_split(seed: int = 0, test_fraction: float = 0.25) -> DigitsSplit:
    full = load_digits_split(seed, test_fraction)
    return DigitsSplit(full.x_train[:96], full.y_train[:96], full.x_test[:40], full.y_test[:40])


@pytest.fixture()
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train, "load_digits_split", _tiny_split)


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--out", str(tmp_path / "runs"), "--export", str(tmp_path / "models" / "t.net"), "--name", "t",
            "--epochs", "1", "--timesteps", "8", "--no-progress", *extra]


@pytest.mark.parametrize("argv,needle", [
    (["--dataset", "nmnist"], "not available yet"),
    (["--dataset", "foo"], "available datasets: digits"),
    (["--model", "nope"], "known models: digitnet"),
    (["--epochs", "0"], "--epochs must be a positive int"),
    (["--epochs", "many"], "--epochs must be a positive int"),
    (["--lr", "-1"], "--lr must be a positive float"),
    (["--lr", "nan"], "--lr must be a positive float"),
    (["--batch-size"], "expected one argument"),
    (["--kind", "rnn"], "invalid choice"),
    (["--seed", "-3"], "seed must be"),
    (["--name", "../escape"], "--name"),
    (["--bogus"], "unrecognized arguments"),
    (["--timesteps", "4"], "too short"),
    (["--recipe", "surrogate_width=0"], "recipe key 'surrogate_width' must be a number > 0"),
    (["--recipe", "window.min=-4"], "recipe key 'window.min' must be an integer > 0"),
    (["--recipe", "window.extra=-1"], "recipe key 'window.extra' must be an integer >= 0"),
    (["--recipe", "loss=mse"], "recipe key 'loss' must be one of tet, spike_rate, got 'mse'"),
    (["--recipe", "norm=layer"], "recipe key 'norm' must be one of tdbn, none, got 'layer'"),
    (["--recipe", "norm=tdbn"], "recipe key 'norm' must be 'none' for digitnet"),
    (["--recipe", "momentum=0.9"], "recipe key 'momentum' is unknown; allowed keys: window, lr"),
    (["--recipe", "window.steps=3"], "recipe key 'window.steps' is unknown"),
    (["--recipe", "fold_epochs"], "--recipe takes KEY=VALUE"),
    (["--model", "squeezenet_p", "--norm", "tdbn"], "recipe key 'norm' must be 'none' with 'convert'"),
    (["--model", "squeezenet_p", "--norm", "tdbn", "--recipe", "convert=null", "--recipe",
      'calibration={"target_rate": 0.1, "samples": 32}'], "recipe key 'calibration' must be null with norm 'tdbn'"),
    (["--model", "mnasnet", "--recipe", "convert.percentile=101"], "recipe key 'convert.percentile' must be in (0, 100]"),
    (["--model", "mnasnet", "--recipe", "convert.ann_epochs=0"], "recipe key 'convert.ann_epochs' must be an integer > 0"),
    (["--model", "mnasnet", "--recipe", 'calibration={"target_rate": 0.1, "samples": 32}'],
     "recipe key 'calibration' must be null with 'convert'"),
    (["--loss", "mse"], "invalid choice"),
])
def test_bad_options_exit_2_with_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    assert run_cli(train.main, ["--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not (tmp_path / "digitnet_digits").exists()


def test_module_entry_point_reports_errors_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "neuromap.train", "--dataset", "shd"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: dataset 'shd' is not available yet")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_train_both_writes_run_and_netx(tiny: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train.main(_args(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "snn: test accuracy" in out and "cnn: test accuracy" in out and "macro-F1" in out
    run = tmp_path / "runs" / "t"
    config = json.loads((run / "config.json").read_text())
    for key in ("epochs", "timesteps", "seed", "lr", "batch_size", "model", "dataset", "versions"):
        assert key in config
    assert config["lr"] == {"snn": 3e-3, "cnn": 3e-3}  # digitnet's recipe
    assert config["recipe"] == train.resolve_recipe("digitnet")
    assert set(config["versions"]) >= {"python", "torch", "lava-dl", "lava-nc", "numpy", "neuromap"}
    metrics = json.loads((run / "metrics.json").read_text())
    for kind in ("snn", "cnn"):
        assert (run / f"{kind}.pt").is_file() and (run / "checkpoint" / f"{kind}.pt").is_file()
    assert not list(run.glob(".*tmp")) and not list((tmp_path / "models").glob(".*tmp"))

    net = tmp_path / "models" / "t.net"
    meta = read_metadata(net)
    assert meta["timesteps"] == 8 and meta["encoding"] == "rate" and meta["max_level"] == 16
    assert meta["run_dir"] == str(run.resolve()) and meta["dataset"] == "digits" and meta["seed"] == 0

    model, cfg = load_snn_from_run(run)
    split = _tiny_split()
    from neuromap.data.encode import rate_encode

    counts = snn_output_counts(model, rate_encode(split.x_test, 16, cfg["timesteps"]))
    acc = float((counts.argmax(1) == split.y_test).mean())
    assert acc == pytest.approx(metrics["snn"]["test_accuracy"])


def test_resume_continues_exactly(tiny: None, tmp_path: Path) -> None:
    straight, resumed = tmp_path / "a", tmp_path / "b"
    assert train.main(_args(straight, "--epochs", "2")) == 0
    assert train.main(_args(resumed, "--epochs", "1")) == 0
    assert train.main(_args(resumed, "--epochs", "2", "--resume")) == 0
    for kind in ("snn", "cnn"):
        a = torch.load(straight / "runs" / "t" / f"{kind}.pt", weights_only=True)
        b = torch.load(resumed / "runs" / "t" / f"{kind}.pt", weights_only=True)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key
    ma = json.loads((straight / "runs" / "t" / "metrics.json").read_text())
    mb = json.loads((resumed / "runs" / "t" / "metrics.json").read_text())
    assert ma["snn"]["test_accuracy"] == mb["snn"]["test_accuracy"]
    for kind in ("snn", "cnn"):  # the learning curve survives the resume too
        assert ma[kind]["history"] == mb[kind]["history"] and [h["epoch"] for h in ma[kind]["history"]] == [1, 2]
        assert ma[kind]["history"][-1]["test_accuracy"] == round(ma[kind]["test_accuracy"], 5)
        assert all(h["train_loss"] > 0 for h in ma[kind]["history"])


def test_resume_refuses_a_different_config(tiny: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train.main(_args(tmp_path, "--kind", "cnn")) == 0
    assert run_cli(train.main, _args(tmp_path, "--kind", "cnn", "--lr", "0.01", "--resume")) == 2
    err = capsys.readouterr().err
    assert "different config" in err and "lr" in err
    assert run_cli(train.main, _args(tmp_path, "--kind", "cnn", "--resume", "--epochs", "1")) == 0
    assert "resuming after epoch 1/1" in capsys.readouterr().err
    # a recipe change is a different config too
    assert run_cli(train.main, _args(tmp_path, "--kind", "cnn", "--resume", "--recipe", "surrogate_width=0.3")) == 2
    assert "recipe" in capsys.readouterr().err


def test_unwritable_export_path_is_a_clean_error(tiny: None, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = _args(tmp_path, "--kind", "snn")
    argv[argv.index("--export") + 1] = str(blocker / "sub" / "t.net")
    assert run_cli(train.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # refused before training: one line, and no run folder made
    assert len(err) == 1 and "is not a folder" in err[0] and "pass a path" in err[0]
    assert not (tmp_path / "runs").exists()


def test_cnn_only_run_has_no_snn(tiny: None, tmp_path: Path) -> None:
    assert train.main(_args(tmp_path, "--kind", "cnn")) == 0
    run = tmp_path / "runs" / "t"
    assert (run / "cnn.pt").is_file() and not (run / "snn.pt").exists()
    assert not (tmp_path / "models" / "t.net").exists()
    np.testing.assert_equal(json.loads((run / "config.json").read_text())["kind"], "cnn")
