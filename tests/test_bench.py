"""python -m neuromap.bench: trains or loads both twins, measures them, writes table.md/csv and a plot."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from neuromap import bench, train
from neuromap.errors import run_cli
from neuromap.metrics import energy_mj


def _bench(argv: list[str]) -> None:
    # A separate process: tqdm (here and in neuromap.train) fixes the multiprocessing start method,
    # after which Lava's mp.set_start_method('fork') fails in later tests of the same process.
    done = subprocess.run([sys.executable, "-m", "neuromap.bench", *argv], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_bench_digitnet_writes_table_csv_plot_and_reloads(tmp_path: Path) -> None:
    argv = ["--models", "digitnet", "--dataset", "digits", "--epochs", "1", "--test-samples", "3",
            "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "results"), "--no-progress"]
    _bench(argv)
    out = tmp_path / "results" / "digits"
    md, table, png = out / "table.md", out / "table.csv", out / "accuracy_vs_energy.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(table.open()))
    assert [(r["model"], r["twin"]) for r in rows] == [("digitnet", "SNN"), ("digitnet", "CNN")]
    snn, cnn = rows
    assert int(snn["test_samples"]) == 3 and int(snn["epochs"]) == 1 and int(snn["timesteps"]) == 16
    # CNN: conv 1->8 k3 on 8x8, conv 8->16 k3 s2 -> 4x4, dense 256->64, dense 64->10
    assert float(cnn["macs"]) == 40064 and float(cnn["acs"]) == 0 and int(cnn["params"]) == 18370
    assert float(cnn["energy_fp32_mj"]) == pytest.approx(40064 * 4.6e-9)
    # SNN: rate-coded binary input -> no MACs, measured ACs, same energy formula
    assert float(snn["macs"]) == 0 and float(snn["acs"]) > 0 and int(snn["params"]) == 18248
    assert float(snn["energy_fp32_mj"]) == pytest.approx(energy_mj(0, float(snn["acs"]), "fp32"))
    assert float(snn["energy_int8_mj"]) == pytest.approx(energy_mj(0, float(snn["acs"]), "int8"))
    # loihi2 columns for the SNN twin only, over the same test samples (fast engine)
    assert int(snn["layerwise_cores"]) >= int(snn["graph_cores"]) >= 1 and cnn["layerwise_cores"] == ""
    assert 0 < float(snn["layerwise_dynamic_uj"]) < float(snn["layerwise_total_uj"])
    assert float(snn["layerwise_inferences_per_s"]) == pytest.approx(1e6 / float(snn["layerwise_latency_us"]))
    assert float(snn["hw_counts_equal_slayer"]) == 1.0  # the fast engine reproduces SLAYER's every output count
    text = md.read_text()
    assert "| digitnet | SNN |" in text and "| digitnet | CNN |" in text
    assert "Reference: the paper's CIFAR-10 numbers (not measured here)" in text
    assert "| SqueezeNet-P | 0.82 | 0.81 | 0.81 | 11.20M | 4.23M | 599.1k | 0.168 | 0.0295 |" in text
    meta = json.loads((out / "results.json").read_text())["meta"]
    assert meta["seed"] == 0 and meta["versions"]["torch"] and meta["runs"]["digitnet"]["trained_now"]
    config = meta["runs"]["digitnet"]["train_config"]  # the training recipe is recorded with the results
    assert config["recipe"] == train.resolve_recipe("digitnet") and config["timesteps"] == 16
    layers = json.loads((out / "results.json").read_text())["rows"][0]["layers"]
    assert sum(lay["acs"] for lay in layers) == pytest.approx(float(snn["acs"]))

    # Same config again: the run is loaded, not retrained, and measures the same numbers.
    weights = tmp_path / "runs" / "bench_digitnet_digits" / "snn.pt"
    stamp = weights.stat().st_mtime_ns
    _bench(argv)
    assert weights.stat().st_mtime_ns == stamp
    assert not json.loads((out / "results.json").read_text())["meta"]["runs"]["digitnet"]["trained_now"]
    assert list(csv.DictReader(table.open()))[0]["acs"] == snn["acs"]


@pytest.mark.parametrize("argv, message", [
    (["--models", "nosuchnet"], "unknown model 'nosuchnet'"),
    (["--models", "digitnet", "--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["--epochs", "0"], "positive integer"),
])
def test_bench_bad_input_is_one_line_exit_2(argv: list[str], message: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(bench.main, argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_bench_trains_models_in_parallel_with_the_same_results(tmp_path: Path) -> None:
    # digitnet beside squeezenet_p in two spawned workers, against digitnet alone in this order of work;
    # --timesteps 16 is digitnet's default and keeps squeezenet_p's epoch short
    common = ["--dataset", "digits", "--epochs", "1", "--test-samples", "3", "--timesteps", "16", "--no-progress"]
    _bench(["--models", "digitnet,squeezenet_p", "--jobs", "2", "--runs", str(tmp_path / "par"),
            "--out", str(tmp_path / "par_out"), *common])
    _bench(["--models", "digitnet", "--jobs", "1", "--runs", str(tmp_path / "seq"), "--out", str(tmp_path / "seq_out"),
            *common])
    par = json.loads((tmp_path / "par_out" / "digits" / "results.json").read_text())
    seq = json.loads((tmp_path / "seq_out" / "digits" / "results.json").read_text())
    assert par["meta"]["jobs"] == 2 and seq["meta"]["jobs"] == 1
    assert [(r["model"], r["twin"]) for r in par["rows"]] == [("digitnet", "SNN"), ("digitnet", "CNN"),
                                                               ("squeezenet_p", "SNN"), ("squeezenet_p", "CNN")]
    drop = ("run_dir", "train_seconds")
    for a, b in zip(par["rows"][:2], seq["rows"]):
        assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    assert par["meta"]["runs"]["squeezenet_p"]["trained_now"] and par["rows"][2]["timesteps"] == 16


def test_a_run_made_with_another_recipe_is_retrained(tmp_path: Path) -> None:
    from neuromap import train

    run = tmp_path / "bench_mixnet_digits"
    run.mkdir()
    for f in ("snn.pt", "cnn.pt"):
        (run / f).write_bytes(b"")
    (run / "metrics.json").write_text(json.dumps({"snn": {}, "cnn": {}}))
    recipe = train.resolve_recipe("mixnet")
    (run / "config.json").write_text(json.dumps({"kind": "both", "model": "mixnet", "epochs": 2, "recipe": recipe}))
    assert bench._run_matches(run, {"model": "mixnet", "recipe": train.resolve_recipe("mixnet")})
    assert not bench._run_matches(run, {"model": "mixnet", "recipe": train.resolve_recipe("mixnet", {"loss_gain": 4})})
    old = json.loads((run / "config.json").read_text())
    del old["recipe"]  # a run from before recipes
    (run / "config.json").write_text(json.dumps(old))
    assert not bench._run_matches(run, {"model": "mixnet", "recipe": recipe})
    assert not bench._run_matches(run, {"model": "mixnet", "epochs": 3})
