"""``python -m neuromap.map``: the per-layer table, the summary JSON, the mapping JSON, activity
input, and one-line errors with exit status 2."""
from __future__ import annotations

import json

import numpy as np

from neuromap.errors import run_cli
from neuromap.map import main

from conftest import lava_dl_net
from helpers import small_conv_net, write_net

KEYS = {"cores", "chips", "per_layer", "inter_core_messages", "hop_weighted_traffic", "mapping_seconds",
        "hops_east_west", "hops_north_south", "chip_crossings", "strategy", "profile"}


def _fails(capsys, *argv):
    code = run_cli(main, list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_pilotnet_table_and_summary(capsys, tmp_path):
    net = lava_dl_net("gts/pilotnet_lif/network.net")
    s = tmp_path / "s.json"
    assert run_cli(main, ["--model", str(net), "--strategy", "layerwise", "--summary-json", str(s)]) == 0
    out = capsys.readouterr().out
    assert "conv1        99 x 32 x 24     4,32,24               3,072     25" in out
    assert "total" in out and out.count("\n") >= 13
    summary = json.loads(s.read_text())
    assert KEYS <= set(summary)
    assert summary["cores"] == 74 and summary["chips"] == 1 and summary["inter_core_messages"] == 200041
    dense7 = summary["per_layer"][6]
    assert (dense7["name"], dense7["cores"], dense7["neurons_per_core"]) == ("dense7", 12, 9)


def test_graph_with_activity_and_mapping_json(capsys, tmp_path):
    net = small_conv_net(tmp_path / "s.net")
    act = tmp_path / "a.npz"
    rng = np.random.default_rng(0)
    np.savez(act, input0=rng.integers(0, 3, 72), conv1=rng.integers(0, 3, 144), dense3=np.zeros(5))
    out, s = tmp_path / "m.json", tmp_path / "s.json"
    assert run_cli(main, ["--model", str(net), "--strategy", "graph", "--activity", str(act),
                          "--out", str(out), "--summary-json", str(s)]) == 0
    assert "measured activity" in capsys.readouterr().out
    m = json.loads(out.read_text())
    summary = json.loads(s.read_text())
    assert summary["strategy"] == "graph" and "activity_inter_core_messages" in summary
    assert sum(c["neurons"] for c in m["cores"]) == 144 + 5      # the input comes from the host
    assert set(m["assignment"]) == {"conv1", "dense3"}


def test_errors_are_one_line(capsys, tmp_path):
    assert "does not exist" in _fails(capsys, "--model", str(tmp_path / "x.net"))
    net = small_conv_net(tmp_path / "s.net")
    bad = tmp_path / "a.npz"
    bad.write_bytes(b"nope")
    assert "not a plain .npz" in _fails(capsys, "--model", str(net), "--activity", str(bad))
    wrong = tmp_path / "w.npz"
    np.savez(wrong, conv1=np.zeros(7))
    assert "activity for layer conv1 has 7 neurons, the layer has 144" in _fails(
        capsys, "--model", str(net), "--activity", str(wrong))
    assert "not found" in _fails(capsys, "--model", str(net), "--profile", "loihi9")


def test_infeasible_network_names_layer_limit_and_remedy(capsys, tmp_path):
    neuron = {"neuron/type": "CUBA", "neuron/vThMant": 40, "neuron/iDecay": 1024, "neuron/vDecay": 256,
              "neuron/refDelay": 1, "neuron/gradedSpike": False}
    net = write_net(tmp_path / "wide.net", [
        {"type": "input", "shape": np.array([15000, 1, 1])},
        {"type": "dense", "shape": np.array([2]), "weight": np.ones((2, 15000)), "inFeatures": 15000,
         "outFeatures": 2, **neuron}])
    msg = _fails(capsys, "--model", str(net))
    # one 1-word synapse list per input (a 16-bit entry), over the 12,000-word SynMem by 3,000
    assert "layer dense1: a single neuron needs 15,000 words of synaptic memory" in msg
    assert "12,000 words per core (3,000 over, 125%)" in msg and "reduce the fan-in of dense1" in msg
