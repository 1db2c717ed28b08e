"""`map --out M.json` writes a mapping that `deploy --mapping M.json` reads back, checked against the
model and the profile first: one line and exit 2 on a mismatch or a corrupt file."""
from __future__ import annotations

import json

import numpy as np
import pytest

from neuromap import deploy, map as map_cli
from neuromap.errors import NeuromapError, run_cli
from neuromap.hw.profile import load_profile
from neuromap.mapper import map_network
from neuromap.mapper.mapping import mapping_from_dict, mapping_to_dict
from neuromap.netx.load import load_netx

from helpers import small_conv_net


@pytest.fixture()
def mapped(tmp_path):
    net = small_conv_net(tmp_path / "s.net")
    out = tmp_path / "m.json"
    assert run_cli(map_cli.main, ["--model", str(net), "--strategy", "graph", "--out", str(out)]) == 0
    return net, out


def _deploy(net, tmp_path, *argv):
    tmp_path.mkdir(parents=True, exist_ok=True)
    x = tmp_path / "x.npy"
    np.save(x, (np.random.default_rng(3).random((2, 6, 6, 2, 8)) < 0.3).astype(np.int8))
    summary = tmp_path / "summary.json"
    code = run_cli(deploy.main, ["--model", str(net), "--input", str(x), "--verify", "0", "--quiet",
                                 "--out", str(tmp_path / "rep"), "--summary-json", str(summary), *argv])
    return code, summary


def test_the_mapping_round_trips_exactly(tmp_path):
    g = load_netx(small_conv_net(tmp_path / "s.net"))
    prof = load_profile("loihi2")
    m = map_network(g, prof, "graph").mapping
    back = mapping_from_dict(json.loads(json.dumps(mapping_to_dict(m, g.name))), g, prof)
    assert back.cores == m.cores and back.strategy == "graph" and back.profile == "loihi2"
    assert set(back.assignment) == set(m.assignment)
    assert all(np.array_equal(back.assignment[k], m.assignment[k]) for k in m.assignment)


def test_deploy_uses_the_mapping_file(capsys, tmp_path, mapped):
    net, out = mapped
    written = json.loads(out.read_text())
    code, summary = _deploy(net, tmp_path, "--mapping", str(out))
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "rep" / "s" / "report.json").read_text())
    assert [("+".join(c["layers"]), c["chip"], c["tile"], c["neurons"], c["memory_words"], c["input_axons"])
            for c in written["cores"]] == \
        [(c["layer"], c["chip"], c["tile"], c["neurons"], c["memory_words"], c["input_axons"])
         for c in report["per_core"]]
    # the same numbers as mapping again with the strategy the file was made with
    code, again = _deploy(net, tmp_path / "again", "--strategy", "graph")
    assert code == 0
    a, b = json.loads(summary.read_text()), json.loads(again.read_text())
    assert a["strategy"] == b["strategy"] == "graph"
    for key in ("cores", "synops_per_inference", "energy_pj_per_inference"):
        assert a[key] == b[key], key


def _one_line(capsys, code):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_mismatches_and_corrupt_files_are_refused(capsys, tmp_path, mapped):
    net, out = mapped
    good = json.loads(out.read_text())
    cases = {
        "not valid JSON": b"{nope",
        "not a neuromap mapping": b"{}",
        "not 'loihi1'": None,                                           # deploy --profile loihi1
        "is of model 'other'": {**good, "model": "other"},
        "on-chip layers": {**good, "assignment": {"conv1": good["assignment"]["conv1"]}},
        "does not fit": {**good, "assignment": {**good["assignment"],
                                                "dense3": [len(good["cores"])] * 5}},   # no such core
        "core entry 0": {**good, "cores": [{"core": 0}] + good["cores"][1:]},
    }
    for i, (word, content) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.json"
        extra = []
        if content is None:
            path = out
            extra = ["--profile", "loihi1"]
        else:
            path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
        code, _ = _deploy(net, tmp_path / f"run{i}", "--mapping", str(path), *extra)
        line = _one_line(capsys, code)
        assert word in line and str(path) in line, (word, line)
        assert not (tmp_path / f"run{i}" / "rep").exists()


def test_moving_a_neuron_breaks_the_core_counts(tmp_path):
    g = load_netx(small_conv_net(tmp_path / "s.net"))
    prof = load_profile("loihi2")
    d = mapping_to_dict(map_network(g, prof, "layerwise").mapping, g.name)
    d["assignment"]["conv1"][0] = (d["assignment"]["conv1"][0] + 1) % len(d["cores"])
    with pytest.raises(NeuromapError, match="inconsistent"):
        mapping_from_dict(d, g, prof)
