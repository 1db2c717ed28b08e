"""The report: schema neuromap.report/2, its derived numbers, the Markdown and the
self-contained index.html (every number on the page read back against the JSON; no external
URL; user strings escaped)."""
from __future__ import annotations

import copy
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from neuromap.deploy import deploy
from neuromap.hw.profile import load_profile
from neuromap.report import units
from neuromap.report.constants import profile_constants, yaml_notes
from neuromap.report.html import lookup, render_html
from neuromap.report.schema import SCHEMA, check_report
from neuromap.report.writer import render_markdown, wilson_interval, write_report

from helpers import small_conv_net


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> tuple[dict, Path]:
    tmp = tmp_path_factory.mktemp("rep")
    net = small_conv_net(tmp / "s.net")
    report = deploy(net, samples=3, seed=1, verify=0, command=["python", "-m", "neuromap.deploy", "x"])
    folder = write_report(report, tmp / "reports" / "s")
    return json.loads((folder / "report.json").read_text()), folder


class _Spans(HTMLParser):
    """Every <span class="num"> with its attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "span" and a.get("class") == "num":
            self._open = {**a, "text": ""}

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open is not None:
            self.spans.append(self._open)
            self._open = None


#: how far a shown number may be from the JSON's: half a unit of its last shown digit
def _close(shown: float, value: float, text: str) -> bool:
    digits = text.split(".")[1] if "." in text else ""
    step = 10.0 ** -len(digits)
    return abs(shown - value) <= 0.5 * step * (1 + 1e-9) + 1e-12


_BACK = {"pj": 1.0, "uj": 1e6, "ns": 1.0, "us": 1e3, "w": 1.0, "edp": 1e9}


def check_numbers(page: str, data: dict) -> int:
    """Every number span's raw value is the JSON's at its path and its text shows that value."""
    p = _Spans()
    p.feed(page)
    assert p.spans
    for s in p.spans:
        value = lookup(data, s["data-key"])
        if value is None:
            assert s["data-value"] == "null" and s["text"] == "n/a", s
            continue
        assert s["data-value"] == repr(value), s
        text = s["text"].replace("\u2009", " ").strip()
        kind = s["data-kind"]
        if kind in _BACK:
            number, unit = text.split(" ")
            shown = units.parse(number, unit)
            scale = next(sc for table in (units.ENERGY_UNITS, units.TIME_UNITS, units.POWER_UNITS,
                                          units.EDP_UNITS) for sc, n in table if n == unit)
            assert _close(shown / scale, value * _BACK[kind] / scale, number), s
        elif kind == "frac":
            assert text.endswith("%") and _close(float(text[:-1]), 100 * value, text[:-1]), s
        elif kind == "rate":
            assert text.endswith("/s") and _close(float(text[:-2].replace(",", "")), value, text[:-2]), s
        else:
            assert _close(float(text.replace(",", "")), value, text), s
    return len(p.spans)


def test_the_report_matches_its_schema_and_every_html_number_is_the_json_s(deployed):
    data, folder = deployed
    assert data["schema"] == SCHEMA and check_report(data) is None
    page = (folder / "index.html").read_text()
    n = check_numbers(page, data)
    # one span per per-core cell at least (core, chip, neurons, 3 counts, energy, busy, 4 budgets)
    assert n >= 13 * data["cores"]
    assert page == render_html(data)            # the page is a function of the JSON alone
    assert (folder / "report.md").read_text() == render_markdown(data)


def test_with_accuracy_and_a_twin_every_number_still_matches(deployed):
    data = copy.deepcopy(deployed[0])
    data.update(accuracy=0.8, accuracy_correct=8, accuracy_samples=10,
                accuracy_interval95=list(wilson_interval(8, 10)), agreement_with_slayer=1.0,
                twin={"run_dir": "runs/x", "macs": 40064.0, "energy_fp32_uj": 0.1842944, "energy_int8_uj": 0.00921472,
                      "accuracy": 0.9, "accuracy_correct": 9, "accuracy_samples": 10, "accuracy_source": "the same samples",
                      "accuracy_interval95": list(wilson_interval(9, 10)), "snn_energy_fp32_uj": 0.01,
                      "snn_energy_int8_uj": 0.0003,
                      "presets": {"fp32": {"mac_pj": 4.6, "ac_pj": 0.9, "source": "Horowitz"},
                                  "int8": {"mac_pj": 0.23, "ac_pj": 0.03, "source": "Horowitz"}}})
    assert check_report(data) is None
    page = render_html(data)
    check_numbers(page, data)
    assert 'data-key="twin.energy_fp32_uj"' in page and 'data-key="accuracy_interval95[0]"' in page
    md = render_markdown(data)
    assert "| accuracy | 0.8000 (8 of 10 samples, 95 % CI 0.490-0.943) |" in md
    assert "| CNN twin | 0.9000 (9 of 10 samples" in md


def test_the_page_fetches_nothing(deployed):
    page = (deployed[1] / "index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", page, re.I)
    assert "@import" not in page and "<link" not in page and "<script" not in page
    assert "http://" not in page and "https://" not in page   # not even SVG namespace URLs
    assert page.count("<svg") >= 6


def test_user_strings_are_escaped(deployed):
    data = copy.deepcopy(deployed[0])
    data["name"] = data["model"] = "<script>alert(1)</script>"
    data["per_layer"][1]["name"] = "<img src=x onerror=alert(1)>"
    data["provenance"]["model_path"] = '"><iframe src="//evil">'
    page = render_html(data)
    assert "<script" not in page and "<img" not in page and "<iframe" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_derived_numbers(deployed):
    r = deployed[0]
    e = r["energy_pj_per_inference"]
    assert sum(lay["dynamic_energy_pj_per_inference"] for lay in r["per_layer"]) == pytest.approx(e["dynamic"])
    assert r["per_layer_energy"] == "exact"
    assert r["static_share"] == pytest.approx(e["static"] / e["total"])
    lat_ns = r["latency_us_per_inference"] * 1e3
    assert r["power_w"]["total"] == pytest.approx(e["total"] / lat_ns * 1e-3)
    assert r["throughput_inferences_per_s"] == pytest.approx(1e9 / lat_ns)
    assert r["energy_delay_product_uj_us"] == pytest.approx(e["total"] / 1e6 * r["latency_us_per_inference"])
    assert r["step_time_terms"]["busiest_core_layer"] == r["per_core"][r["step_time_terms"]["busiest_core"]]["layer"]
    # spikes per step add up to the layer's spikes; the traffic matrix to every message sent
    for lay in r["per_layer"]:
        assert sum(lay["spikes_per_step_per_inference"]) == pytest.approx(lay["spikes_per_inference"])
        assert len(lay["spikes_per_step_per_inference"]) == r["steps_per_sample"]
    tm = r["traffic_matrix"]
    assert tm["sources"][0] == "host" and tm["destinations"] == ["conv1", "dense3"]
    m = np.array(tm["messages_per_inference"])
    assert m[1:].sum() == pytest.approx(sum(c["messages_per_inference"] for c in r["per_core"]))
    conv1_cores = [c for c in r["per_core"] if c["layer"] == "conv1"]
    assert m[:, 0].sum() == pytest.approx(sum(c["messages_received_per_inference"] for c in conv1_cores))
    # rows host, conv1, dense3; columns conv1, dense3: the host feeds conv1, conv1 feeds dense3
    assert m[0, 0] > 0 and m[1, 1] > 0 and m[0, 1] == m[1, 0] == 0 and not m[2].any()
    # budgets: the mapper's own numbers over the profile's limits
    prof = load_profile("loihi2")
    c0 = r["per_core"][0]
    assert c0["utilisation"]["neurons"] == pytest.approx(c0["neurons"] / prof.max_neurons["default"])
    assert c0["utilisation"]["memory_words"] == pytest.approx(c0["memory_words"] / prof.memory_words)
    assert r["hardware"]["limits"]["memory_words"] == prof.memory_words == 12000
    assert "74 " not in r["static_note"] and f"{r['cores']} of the 120 cores" in r["static_note"]
    assert r["provenance"]["command"] == ["python", "-m", "neuromap.deploy", "x"]
    assert re.fullmatch(r"[0-9a-f]{64}", r["provenance"]["model_sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", r["hardware"]["profile_sha256"])
    assert r["accuracy"] is None and r["accuracy_interval95"] is None and r["twin"] is None


def test_schema_check_names_the_problem(deployed):
    r = copy.deepcopy(deployed[0])
    assert check_report(r) is None
    del r["per_core"][1]["utilisation"]
    assert check_report(r) == "per_core[1].utilisation: missing"
    r = copy.deepcopy(deployed[0])
    r["energy_pj_per_inference"]["total"] = "a lot"
    assert check_report(r).startswith("energy_pj_per_inference.total: expected a finite number")
    r["schema"] = "neuromap.report/1"
    assert "is not neuromap.report/2" in check_report(r)
    del r["schema"]
    assert "before neuromap.report/2" in check_report(r)
    assert check_report([1]) == "expected a JSON object, got list"


def test_wilson_interval_exact_values():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(3.8414588206941254 / (10 + 3.8414588206941254))
    lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(10 / (10 + 3.8414588206941254))
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)


def test_few_samples_are_warned_about_and_counted_in_words(tmp_path):
    from neuromap.cost import estimate_cost
    from neuromap.cost.measure import measure_fast
    from neuromap.mapper import map_network
    from neuromap.netx.load import load_netx
    from neuromap.report.writer import build_report
    g = load_netx(small_conv_net(tmp_path / "s.net"))
    prof = load_profile("loihi2")
    res = map_network(g, prof)
    data = (np.random.default_rng(0).random((1, 6, 6, 2, 4)) < 0.3).astype(np.int8)
    ev = measure_fast(g, [res.mapping], data, 4).events[0]
    cost = estimate_cost(ev, res.mapping, prof, g)

    def report(correct, n):
        return build_report(g, res.mapping, ev, cost, {"accuracy": correct / n, "accuracy_correct": correct,
                                                       "accuracy_samples": n}, res.usage, prof)
    few = report(1, 1)
    assert few["warnings"] == ["accuracy from only 1 labelled sample (fewer than 30): read its 95 % "
                               "interval, not the point value"]
    assert few["accuracy_interval95"] == list(wilson_interval(1, 1))
    assert report(29, 30)["warnings"] == []
    md = render_markdown({**few, "model": "m", "input": "i", "target": "sim", "engine": "fast"})
    assert "1 sample x 4 steps" in md and "1 samples" not in md
    assert "**Warning:** accuracy from only 1 labelled sample" in md
    assert "| accuracy | 1.0000 (1 of 1 sample, 95 % CI 0.207-1.000) |" in md


def test_units_read_well():
    assert units.energy(151_561_064.4) == ("151.6", "uJ")
    assert units.energy(1_660_980_300.0) == ("1.661", "mJ")
    assert units.energy(0.0) == ("0", "pJ")
    assert units.duration(2_445_450.0) == ("2.445", "ms")
    assert units.power(0.6792) == ("679.2", "mW")
    assert units.count(96_304.3) == "96,304" and units.count(0.4) == "0.4" and units.count(3.0) == "3"
    assert units.samples(1) == "1 sample" and units.samples(450) == "450 samples"
    assert units.parse("1.661", "mJ") == pytest.approx(1.661e9)


def test_profile_constants_carry_their_sources():
    rows = {r["key"]: r for r in profile_constants(load_profile("loihi2"))}
    assert rows["energy_pj.synop"]["value"] == 19.082 and rows["energy_pj.synop"]["unit"] == "pJ"
    assert "Loihi 1 pre-silicon numbers of Davies et al. 2018" in rows["energy_pj.synop"]["source"]
    assert rows["energy_pj.spike_out"]["source"] == "Davies 2018 prices a spike only per message (spike_in_tile)"
    assert rows["energy_pj.synop_conv"]["source"] == "not in the profile: the value of synop"
    assert "energy_pj.host_message" not in rows and "time_ns.host_message" in rows
    assert "core.max_output_routes" not in rows  # no route budget on Loihi 2: no constant to show
    assert rows["core.max_axon_map"]["value"] == 16000 and "AxonMap" in rows["core.max_axon_map"]["source"]
    assert rows["static_power_w_per_chip"]["source"].startswith("Static power: Intel's PilotNet LIF run")
    l1 = {r["key"]: r for r in profile_constants(load_profile("loihi1"))}
    assert l1["energy_pj.synop"]["source"].startswith("Intel Loihi (first generation, 14 nm). Source: Davies")


def test_yaml_notes_rules():
    notes = yaml_notes("# head\na:\n  # opens a\n  x: 1\n  y: 2  # own\n  # covers z and w\n  z: 3\n  w: 4\n\n  v: 5\n")
    assert notes[""] == "head" and notes["a"] == "opens a"
    assert notes["a.x"] == "" and notes["a.y"] == "own"
    assert notes["a.z"] == notes["a.w"] == "covers z and w" and notes["a.v"] == ""


def test_written_folder_has_the_three_files_and_stays_whole_on_a_bad_report(deployed, tmp_path):
    data, folder = deployed
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "report.json", "report.md"]
    bad = copy.deepcopy(data)
    del bad["per_core"]
    with pytest.raises(ValueError, match="per_core: missing"):
        write_report(bad, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert math.isfinite(data["energy_uj_per_inference"])
