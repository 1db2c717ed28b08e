"""The cost model's optional terms (per-kind synop prices, spike at the soma, message receipt,
host injection) by hand, and the known model error in every report."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neuromap.cost import account, estimate_cost
from neuromap.hw.profile import load_profile
from neuromap.mapper import map_layerwise
from neuromap.report import build_report, render_markdown
from neuromap.sim.activity import Activity

from helpers import dense_graph


def _events(prof):
    g = dense_graph(np.arange(12.0).reshape(3, 4))
    m = map_layerwise(g, prof)             # dense neurons 0,1 -> core 0 ; 2 -> core 1
    inp = np.zeros((1, 2, 4), np.int32)
    inp[0, 0, [0, 3]] = 1
    inp[0, 1, 1] = 1
    out = np.zeros((1, 2, 3), np.int32)
    out[0, 1, 2] = 1
    return g, m, account(g, m, Activity({"input0": inp, "dense1": out}, steps=2))


def test_sanafe_terms_by_hand():
    prof = replace(load_profile("loihi1-sanafe"), max_neurons={"default": 2})
    g, m, ev = _events(prof)               # synops [6, 3], 6 active updates, 1 spike, 6 host messages
    cost = estimate_cost(ev, m, prof, g)
    assert cost.energy_pj["synops"] == pytest.approx(9 * 35.5)        # dense edge: synop_dense
    assert estimate_cost(ev, m, prof).energy_pj["synops"] == pytest.approx(9 * 33.6)  # no graph: synop
    assert cost.energy_pj["neuron_updates"] == pytest.approx(6 * 72.8)
    assert cost.energy_pj["spike_out"] == pytest.approx(69.3)
    assert cost.energy_pj["spikes"] == pytest.approx(6 * 111.0)       # host messages, one per core reached
    # core 0: 6 synops x 3.8 + 4 active x 9.7 + 3 messages in x 16 ns over 2 steps; 1 tile barrier
    busy0 = (6 * 3.8 + 4 * 9.7 + 3 * 16.0) / 2
    assert cost.step_terms["busiest_core"] == 0 and cost.step_terms["bound"] == "core"
    assert cost.step_ns == pytest.approx(busy0 + 600.0)
    assert cost.core_busy_ns.tolist() == pytest.approx([busy0, (3 * 3.8 + 2 * 9.7 + 30.0 + 3 * 16.0) / 2])


def test_host_injection_can_bound_a_step():
    prof = load_profile("loihi1-sanafe")
    prof = replace(prof, max_neurons={"default": 2}, time_ns={**prof.time_ns, "host_message": 50.0})
    g, m, ev = _events(prof)
    cost = estimate_cost(ev, m, prof, g)
    assert cost.step_terms["bound"] == "host"
    assert cost.step_terms["host_injection_ns"] == pytest.approx(6 * 50.0 / 2)
    assert cost.step_ns == pytest.approx(150.0 + 600.0)
    assert cost.latency_us == pytest.approx(2 * 750.0 / 1000)


def test_reports_state_the_known_error_from_the_profile():
    prof = replace(load_profile("loihi2"), max_neurons={"default": 2})
    g, m, ev = _events(prof)
    cost = estimate_cost(ev, m, prof, g)
    report = build_report(g, m, ev, cost, {})
    assert report["known_error"] == [dict(k) for k in prof.known_error]
    assert report["known_error"][0]["energy_pct"] == 0.0 and report["known_error"][1]["energy_pct"] == 11.7
    md = render_markdown(report)
    line = next(x for x in md.splitlines() if x.startswith("| known model error |"))
    assert "energy 0.0 %, latency 0.0 %: calibration residual on Intel's PilotNet LIF run" in line
    assert "energy 11.7 %, latency 24.3 %" in line
    assert "busiest core 0" in md
    bare = replace(prof, known_error=())
    assert "not stated by the profile" in render_markdown(
        build_report(g, m, ev, estimate_cost(ev, m, bare, g), {}))


@pytest.mark.parametrize("edit,problem", [
    (lambda raw: raw["energy_pj"].update(synop=-1.0), "must be a finite number >= 0"),
    (lambda raw: raw["time_ns"].update(host_message=float("nan")), "must be a finite number >= 0"),
    (lambda raw: raw.update(known_error="small"), "known_error must be a list"),
    (lambda raw: raw.update(known_error=["small"]), "known_error entry must be a mapping"),
])
def test_bad_profile_numbers_are_refused(tmp_path, edit, problem):
    import yaml

    from neuromap.errors import NeuromapError
    from neuromap.hw.profile import PROFILE_DIR
    raw = yaml.safe_load((PROFILE_DIR / "loihi2.yaml").read_text())
    edit(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(NeuromapError, match=problem):
        load_profile(path)
