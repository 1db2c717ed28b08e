"""End to end: train a small digits model, export it, deploy it over the whole test split with the
fast engine, and require it to equal Lava (on the checked samples, every spike and every per-core
count) and SLAYER (every output count of every test sample)."""
from __future__ import annotations

import json

import pytest

from neuromap import train
from neuromap.errors import run_cli

from helpers import run_deploy


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    net = root / "tiny.net"
    code = run_cli(train.main, ["--epochs", "1", "--name", "tiny", "--out", str(root / "runs"),
                                "--export", str(net), "--kind", "snn"])
    assert code == 0 and net.is_file()
    return root, net


def test_stock_netx_loads_our_export(trained):
    from lava.lib.dl.netx.hdf5 import Network
    _, net = trained
    lava_net = Network(net_config=str(net))
    assert len(lava_net.layers) == 4


def test_deploy_agrees_with_slayer(trained):
    root, net = trained
    code, s = run_deploy(net, root, None, "--verify", "3")
    assert code == 0
    assert s["samples"] == 450 and s["steps_per_sample"] == 16 and s["engine"] == "fast"
    # the fast engine against Lava (3 samples back to back in one runtime) and SLAYER (all 450)
    v = s["verification"]
    assert v["samples"] == 3 and v["spike_mismatches"] == 0 and v["per_core_counts_equal"] is True
    assert s["agreement_with_slayer"] == 1.0
    assert s["output_counts_equal_slayer"] == 1.0
    assert s["accuracy_samples"] == 450 and s["accuracy"] == s["accuracy_correct"] / 450
    assert s["input"].startswith("digits test split")
    report = json.loads((root / "reports" / "tiny" / "report.json").read_text())
    assert sum(c["neurons"] for c in report["per_core"]) == report["neurons"]
    assert report["energy_pj_per_inference"]["dynamic"] > 0
    assert "fast fixed-point engine over all 450 samples" in (root / "reports" / "tiny" / "report.md").read_text()


def test_deploy_with_the_lava_engine_alone(trained):
    root, net = trained
    code, s = run_deploy(net, root / "lava", 2, "--engine", "lava")
    assert code == 0
    assert s["engine"] == "lava" and s["samples"] == 2 and s["verification"] is None
    assert s["output_counts_equal_slayer"] == 1.0
