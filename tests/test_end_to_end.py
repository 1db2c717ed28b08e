"""End to end through Lava: train a small digits model, export it, deploy it in the Lava
simulator, and require Lava and SLAYER to agree spike count for spike count."""
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
    code, s = run_deploy(net, root, 6)
    assert code == 0
    assert s["samples"] == 6 and s["steps_per_sample"] == 16
    # samples run back to back in one Lava runtime; every output count equals SLAYER's
    assert s["agreement_with_slayer"] == 1.0
    assert s["output_counts_equal_slayer"] == 1.0
    assert 0.0 <= s["accuracy"] <= 1.0
    assert s["input"].startswith("digits test split")
    report = json.loads((root / "reports" / "tiny" / "report.json").read_text())
    assert sum(c["neurons"] for c in report["per_core"]) == report["neurons"]
    assert report["energy_pj_per_inference"]["dynamic"] > 0
    assert (root / "reports" / "tiny" / "report.md").is_file()
