"""deploy's command line: bad input gives one line, exit status 2 and no report; an external
NetX model deploys with a documented random input and writes report and summary."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from neuromap.deploy import main
from neuromap.errors import run_cli

from helpers import small_conv_net, write_net


def _fails(capsys, tmp_path, *argv):
    out = tmp_path / "reports"
    code = run_cli(main, [*argv, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ")
    assert not out.exists() or not any(out.iterdir())
    return err[0]


def test_missing_model(capsys, tmp_path):
    assert "does not exist" in _fails(capsys, tmp_path, "--model", str(tmp_path / "x.net"))


def test_no_model_anywhere(capsys, tmp_path):
    msg = _fails(capsys, tmp_path, "--models-dir", str(tmp_path / "empty"))
    assert "neuromap.train" in msg


def test_corrupt_model(capsys, tmp_path):
    bad = tmp_path / "bad.net"
    bad.write_bytes(b"not a network")
    assert "not an HDF5 file" in _fails(capsys, tmp_path, "--model", str(bad))


def test_unsupported_layer(capsys, tmp_path):
    p = write_net(tmp_path / "pool.net", [{"type": "input", "shape": np.array([1, 4, 4])},
                                          {"type": "pool", "shape": np.array([1, 2, 2])}])
    assert "(pool) is not supported" in _fails(capsys, tmp_path, "--model", str(p))


def test_zero_samples(capsys, tmp_path):
    net = small_conv_net(tmp_path / "s.net")
    assert "--samples" in _fails(capsys, tmp_path, "--model", str(net), "--samples", "0")


def test_wrong_input_shape(capsys, tmp_path):
    net = small_conv_net(tmp_path / "s.net")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 5, 5, 2, 4)))
    assert "(N, 6, 6, 2, T)" in _fails(capsys, tmp_path, "--model", str(net), "--input", str(x))


def test_pickled_input_refused(capsys, tmp_path):
    net = small_conv_net(tmp_path / "s.net")
    x = tmp_path / "x.npy"
    np.save(x, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "not a plain .npy" in _fails(capsys, tmp_path, "--model", str(net), "--input", str(x))


def test_no_traceback_in_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "neuromap.deploy", "--model", str(tmp_path / "x.net")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("error:") == 1


def test_external_model_with_input_file(capsys, tmp_path):
    net = small_conv_net(tmp_path / "s.net")
    x = tmp_path / "x.npy"
    spikes = (np.random.default_rng(3).random((3, 6, 6, 2, 8)) < 0.3).astype(np.int8)
    np.save(x, spikes)
    summary = tmp_path / "s.json"
    code = run_cli(main, ["--model", str(net), "--input", str(x), "--samples", "2", "--quiet",
                          "--out", str(tmp_path / "rep"), "--summary-json", str(summary)])
    assert code == 0
    data = json.loads(summary.read_text())
    report = json.loads((tmp_path / "rep" / "s" / "report.json").read_text())
    assert (tmp_path / "rep" / "s" / "report.md").read_text().startswith("# Hardware-cost report: s")
    # conv1 (6 x 6 x 4) on two cores (Loihi 2 x tiles are powers of two: 4 + 2), dense3 on one
    assert data["samples"] == 2 and data["steps_per_sample"] == 8 and data["cores"] == 3
    # the input layer is a host source: its synops land on conv1; 2 samples of real spikes
    in_spikes = int(spikes[:2].sum())
    assert report["per_layer"][0]["spikes_per_inference"] == pytest.approx(in_spikes / 2)
    assert data["synops_per_inference"] > 0
    assert sum(c["synops_per_inference"] for c in report["per_core"]) == \
        pytest.approx(data["synops_per_inference"])
    assert "per_core" not in data and data["accuracy"] is None
