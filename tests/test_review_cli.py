"""python -m neuromap.review: the comparison of deployments, and bad input (missing, malformed or
older reports): one line naming the file, exit status 2, nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from neuromap.deploy import deploy
from neuromap.errors import run_cli
from neuromap.report.writer import write_report
from neuromap.review import main

from helpers import small_conv_net
from test_report_html import check_numbers


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("rev")
    net = small_conv_net(tmp / "s.net")
    for folder, kw in (("a", {}), ("b", {"strategy": "graph", "profile": "loihi1"})):
        write_report(deploy(net, samples=2, seed=1, verify=0, **kw), tmp / "reports" / folder)
    return tmp / "reports"


def test_a_folder_of_reports_is_compared(reports, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert run_cli(main, [str(reports), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["comparison.html", "comparison.json", "comparison.md"]
    c = json.loads((out / "comparison.json").read_text())
    a, b = (json.loads((reports / x / "report.json").read_text()) for x in "ab")
    assert [r["label"] for r in c["runs"]] == ["s (loihi2, layerwise)", "s (loihi1, graph)"]
    assert c["differs"]["profile"] == ["loihi2", "loihi1"] and c["differs"]["strategy"] == ["layerwise", "graph"]
    assert "time steps T" in c["same"] and "model" in c["same"]
    assert c["runs"][1]["energy_uj_per_inference"] == b["energy_uj_per_inference"]
    assert c["runs"][0]["cores"] == a["cores"]
    assert c["runs"][0]["pareto"] is False            # no labels: no accuracy, not on the front
    page = (out / "comparison.html").read_text()
    check_numbers(page, c)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    md = (out / "comparison.md").read_text()
    assert "| s (loihi1, graph) | n/a |" in md
    assert "comparison.html" in capsys.readouterr().out


def test_pareto_front():
    from neuromap.report.compare import pareto_front
    rows = [{"accuracy": 0.9, "energy_uj_per_inference": 10.0}, {"accuracy": 0.95, "energy_uj_per_inference": 20.0},
            {"accuracy": 0.9, "energy_uj_per_inference": 15.0}, {"accuracy": None, "energy_uj_per_inference": 1.0},
            {"accuracy": 0.85, "energy_uj_per_inference": 10.0}]
    assert pareto_front(rows) == [True, True, False, False, False]


def _fails(capsys, out: Path, *argv: str) -> str:
    code = run_cli(main, [*argv, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert not out.exists()
    return err[0]


def test_bad_reports_are_named_and_nothing_is_written(reports, tmp_path, capsys):
    good = str(reports / "a" / "report.json")
    out = tmp_path / "out"
    missing = tmp_path / "nope.json"
    assert f"{missing}: no such report file" in _fails(capsys, out, good, str(missing))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert f"{bad}: not valid JSON" in _fails(capsys, out, good, str(bad))
    nan = tmp_path / "nan.json"
    nan.write_text('{"schema": NaN}')
    assert f"{nan}: not valid JSON" in _fails(capsys, out, good, str(nan))
    old = tmp_path / "old.json"
    data = json.loads(Path(good).read_text())
    old.write_text(json.dumps({k: v for k, v in data.items() if k != "schema"}))
    assert "before neuromap.report/2" in _fails(capsys, out, good, str(old))
    other = tmp_path / "v9.json"
    other.write_text(json.dumps({**data, "schema": "neuromap.report/9"}))
    assert "'neuromap.report/9' is not neuromap.report/2" in _fails(capsys, out, str(other))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**data, "per_core": "many"}))
    assert f"{broken}: not a readable neuromap.report/2 report: per_core: expected an array" in \
        _fails(capsys, out, good, str(broken))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no report.json" in _fails(capsys, out, str(empty))
    assert "required" in _fails(capsys, out)          # no report at all: argparse's one line


def test_out_may_not_overwrite_an_input(reports, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "comparison.json").write_text((reports / "a" / "report.json").read_text())
    code = run_cli(main, [str(src / "comparison.json"), "--out", str(src)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "also an input file" in err[0]
    assert sorted(p.name for p in src.iterdir()) == ["comparison.json"]
