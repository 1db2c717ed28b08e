"""python -m neuromap.calibrate: rows generated from a known profile are fitted back to it, the
tool says what the rows identify, and bad input fails with one line and no profile."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import neuromap.sim.lava as lava_backend
from neuromap import calibrate
from neuromap.cost import account, estimate_cost
from neuromap.errors import run_cli
from neuromap.hw.profile import PROFILE_DIR, load_profile
from neuromap.mapper import map_network
from neuromap.netx.load import load_netx
from neuromap.sim.activity import Activity

from helpers import small_conv_net, write_net

RATES = np.linspace(0.05, 0.6, 5)   # one row per input rate and network
STEPS = 10
TRUE_ENERGY = {"synop": 1.3, "neuron_update_active": 0.7, "neuron_update_inactive": 1.1,
               "spike_out": 0.5, "spike_in_tile": 2.0, "hop_east_west": 0.8, "hop_north_south": 1.5}


def _profile_yaml(path: Path, energy_scale: dict[str, float], time_scale: float, static: float) -> Path:
    """loihi1-sanafe with 3 neurons per core (so the small net spreads over tiles both ways) and
    its per-event numbers scaled."""
    raw = yaml.safe_load((PROFILE_DIR / "loihi1-sanafe.yaml").read_text())
    raw["name"] = path.stem
    raw["core"]["max_neurons"] = {"default": 3}
    for term, keys in calibrate.ENERGY_TERMS.items():
        for key in keys:
            raw["energy_pj"][key] = raw["energy_pj"][key] * energy_scale.get(term, 1.0)
    raw["time_ns"] = {k: v * time_scale for k, v in raw["time_ns"].items()}
    raw["static_power_w_per_chip"] = static
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def strided_net(path: Path, seed: int = 1) -> Path:
    """input (c=1, 7 x 7) -> conv 3x3 stride 2, no padding (3 ch) -> flatten -> dense 4: a second
    structure, so that synops, messages and spikes are not tied by one network's wiring."""
    rng = np.random.default_rng(seed)
    neuron = {"neuron/type": "CUBA", "neuron/vThMant": 30, "neuron/iDecay": 1024,
              "neuron/vDecay": 256, "neuron/refDelay": 1, "neuron/gradedSpike": False}
    return write_net(path, [
        {"type": "input", "shape": np.array([1, 7, 7])},
        {"type": "conv", "shape": np.array([3, 3, 3]), "weight": rng.integers(0, 60, (3, 1, 3, 3)).astype(float),
         "stride": np.array([2, 2]), "padding": np.array([0, 0]), "dilation": np.array([1, 1]),
         "groups": 1, "inChannels": 1, "outChannels": 3, "kernelSize": np.array([3, 3]), **neuron},
        {"type": "flatten", "shape": np.array([27, 1, 1])},
        {"type": "dense", "shape": np.array([4]), "weight": rng.integers(-10, 60, (4, 27)).astype(float),
         "inFeatures": 27, "outFeatures": 4, **neuron},
    ])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Two small nets, one Lava run each over its rows' inputs, and the rows' input files:
    {net path: (graph, inputs (rows, ...), activity, [input files])}."""
    tmp = tmp_path_factory.mktemp("cal")
    rng = np.random.default_rng(0)
    out = {}
    for net in (small_conv_net(tmp / "small.net"), strided_net(tmp / "strided.net")):
        graph = load_netx(net)
        shape = tuple(graph.input_layer.shape)
        x = (rng.random((len(RATES),) + shape + (STEPS,)) < RATES[:, None, None, None, None]).astype(np.int32)
        files = []
        for i in range(len(RATES)):
            files.append(tmp / f"{net.stem}{i}.npy")
            np.save(files[-1], x[i:i + 1])
        out[net] = (graph, x, lava_backend.simulate_lava(graph, x), files)
    return tmp, out


@pytest.fixture
def cached_lava(lab, monkeypatch):
    """simulate_lava answered from the module's Lava runs (the same samples, same result)."""
    def simulate(graph, data, steps=None, progress=False):
        for g, x, activity, _ in lab[1].values():
            if g.name == graph.name and x.shape[1:] == data.shape[1:]:
                i = next(i for i in range(len(x)) if np.array_equal(x[i], data[0]))
                return Activity({k: v[i:i + 1] for k, v in activity.events.items()}, activity.steps)
        raise AssertionError("input not among the cached runs")

    monkeypatch.setattr(lava_backend, "simulate_lava", simulate)


def _rows(lab, truth_path: Path, which: list[tuple[int, int]]) -> Path:
    """A measurements CSV whose values are what the `truth` profile predicts from neuromap's
    own activity of each (network, input) row."""
    tmp, nets = lab
    truth = load_profile(truth_path)
    lines = ["network,input,dynamic_energy_uj,energy_uj,time_us"]
    for n, i in which:
        net = list(nets)[n]
        graph, _, activity, files = nets[net]
        mapping = map_network(graph, truth, "layerwise").mapping
        act = Activity({k: v[i:i + 1] for k, v in activity.events.items()}, activity.steps)
        cost = estimate_cost(account(graph, mapping, act), mapping, truth, graph)
        lines.append(f"{net.name},{files[i].name},{cost.energy_pj['dynamic'] / 1e6!r},"
                     f"{cost.energy_pj['total'] / 1e6!r},{cost.latency_us!r}")
    csv = tmp / f"rows_{truth_path.stem}_{len(which)}.csv"
    csv.write_text("\n".join(lines) + "\n")
    return csv


def test_fit_recovers_a_known_profile(lab, cached_lava, tmp_path, capsys):
    base = _profile_yaml(tmp_path / "base.yaml", {}, 1.0, 0.104)
    truth = _profile_yaml(tmp_path / "truth.yaml", TRUE_ENERGY, 0.5, 0.2)
    csv = _rows(lab, truth, [(n, i) for n in range(2) for i in range(len(RATES))])
    out = tmp_path / "fitted.yaml"
    assert run_cli(calibrate.main, [str(csv), "--base", str(base), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    fitted, want, start = load_profile(out), load_profile(truth), load_profile(base)
    # ten rows of two networks at different spike rates identify every energy term one by one
    assert "energy: identified one by one: synop, neuron_update_active, neuron_update_inactive, " \
           "spike_out, spike_in_tile, hop_east_west, hop_north_south" in text
    for key in ("synop", "synop_conv", "synop_dense", "neuron_update_active", "neuron_update_inactive",
                "spike_out", "spike_in_tile", "hop_east_west", "hop_north_south"):
        assert fitted.energy_pj[key] == pytest.approx(want.energy_pj[key], rel=2e-3), key
        assert start.energy_pj[key] != pytest.approx(want.energy_pj[key], rel=0.05) or \
            TRUE_ENERGY.get(key, 1.0) == 1.0
    assert fitted.static_power_w_per_chip == pytest.approx(0.2, rel=1e-4)
    # the time of a step: every term the busiest core sees, at the true (halved) numbers
    ident = fitted.calibration["identified"]["time"] + fitted.calibration["only_in_combination"]["time"]
    assert "synop" in ident
    for term in ident:
        for key in calibrate.TIME_TERMS[term]:
            assert fitted.time_ns[key] == pytest.approx(want.time_ns[key], rel=2e-3), key
    rows = fitted.calibration["rows"]
    assert len(rows) == 2 * len(RATES)
    worst = max(abs(v) for r in rows for v in r["residual_pct"].values())
    assert worst < 0.05
    assert fitted.known_error[0]["energy_pct"] < 0.05
    assert rows[0]["events_per_inference"]["synops"] > 0


def test_one_row_identifies_one_scale(lab, cached_lava, tmp_path, capsys):
    base = _profile_yaml(tmp_path / "base.yaml", {}, 1.0, 0.104)
    truth = _profile_yaml(tmp_path / "truth.yaml", TRUE_ENERGY, 0.5, 0.2)
    csv = _rows(lab, truth, [(0, 3)])
    out = tmp_path / "one.yaml"
    assert run_cli(calibrate.main, [str(csv), "--base", str(base), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "energy: identified one by one: none" in text
    assert "energy: only in combination (their base ratios kept): synop," in text
    fitted, start = load_profile(out), load_profile(base)
    scale = fitted.energy_pj["synop"] / start.energy_pj["synop"]
    for key, value in start.energy_pj.items():   # one common scale: the base's ratios kept
        assert fitted.energy_pj[key] == pytest.approx(value * scale, rel=1e-4), key  # 5 digits kept
    res = fitted.calibration["rows"][0]["residual_pct"]
    assert max(abs(v) for v in res.values()) < 1e-6   # ... and the one row is met exactly
    # --check prices the rows with a profile as it is: the truth meets them, the base does not
    assert run_cli(calibrate.main, [str(csv), "--base", str(truth), "--check"]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.count("(+0.00 %)") + line.count("(-0.00 %)") == 3, line
    assert run_cli(calibrate.main, [str(csv), "--base", str(base), "--check"]) == 0
    assert "(+0.00 %)" not in capsys.readouterr().out


def test_shipped_loihi2_calibration_is_consistent():
    """loihi2's recorded activity priced with its own numbers gives Intel's measurement."""
    prof = load_profile("loihi2")
    row = prof.calibration["rows"][0]
    assert row["network"] == "lava-dl:gts/pilotnet_lif/network.net" and row["steps"] == 16
    ev, e, t = row["events_per_inference"], prof.energy_pj, prof.time_ns
    dynamic = (ev["synops"] * e["synop"] + ev["active_updates"] * e["neuron_update_active"]
               + ev["inactive_updates"] * e["neuron_update_inactive"] + ev["spikes"] * e["spike_out"]
               + ev["messages"] * e["spike_in_tile"] + ev["hops_east_west"] * e["hop_east_west"]
               + ev["hops_north_south"] * e["hop_north_south"]) / 1e6
    core = ev["busiest_core"]
    step = (core["synops_per_step"] * t["synop"] + core["active_updates_per_step"] * t["neuron_update_active"]
            + (core["neuron_updates_per_step"] - core["active_updates_per_step"]) * t["neuron_update_inactive"]
            + core["messages_sent_per_step"] * t["spike_in_tile"] + prof.barrier_time_ns(ev["tiles"]))
    latency = step * 16 / 1000
    total = dynamic + prof.static_power_w_per_chip * latency
    assert dynamic == pytest.approx(1094, rel=0.05) and dynamic == pytest.approx(row["measured"]["dynamic_energy_uj"], rel=1e-3)
    assert total == pytest.approx(1661, rel=0.05)
    assert 1e6 / latency == pytest.approx(408.91, rel=0.10)
    assert prof.known_error and prof.known_error[0]["energy_pct"] is not None


def test_loihi1_sanafe_matches_sanafes_arch_file():
    sanafe = pytest.importorskip("sanafe")   # benchmark dependency (benchmarks/requirements.txt)
    from importlib.resources import files
    arch = yaml.safe_load((files("sanafe.examples") / "loihi.yaml").read_text())["architecture"]
    core = arch["tile"][0]["core"][0]
    unit = {u["name"]: u["attributes"] for part in ("soma", "synapse", "axon_out") for u in core[part]}
    prof = load_profile("loihi1-sanafe")
    pj = lambda j: pytest.approx(j * 1e12)   # noqa: E731
    assert prof.energy_pj["synop_conv"] == pj(unit["loihi_conv_synapse"]["energy_process_spike"])
    assert prof.energy_pj["synop_dense"] == pj(unit["loihi_dense_synapse"]["energy_process_spike"])
    lif = unit["loihi_lif"]
    assert prof.energy_pj["neuron_update_inactive"] == pj(lif["energy_access_neuron"])
    assert prof.energy_pj["neuron_update_active"] == pj(lif["energy_access_neuron"] + lif["energy_update_neuron"])
    assert prof.energy_pj["spike_out"] == pj(lif["energy_spike_out"])
    assert prof.energy_pj["spike_in_tile"] == pj(unit["loihi_out"]["energy_message_out"])
    assert prof.barrier_ns == {int(k): v * 1e9 for k, v in arch["attributes"]["latency_sync"].items()}
    assert sanafe is not None


@pytest.mark.parametrize("csv,problem", [
    ("network,energy_uj\nx.net,1\n", "no input column"),
    ("network,input,energy_uj\nmissing.net,in.npy,1\n", "network missing.net not found"),
    ("network,input,steps\nsmall.net,in.npy,16\n", "measures nothing"),
    ("network,input,dynamic_energy_uj\nsmall.net,in.npy,lots\n", "is not a number"),
    ("network,input,dynamic_energy_uj\nsmall.net,in.npy,-3\n", "finite positive"),
    ("network,input,dynamic_energy_uj,power\nsmall.net,in.npy,3,1\n", "unknown column"),
    ("network,input,dynamic_energy_uj\nsmall.net,in.npy,3,4\n", "columns expected"),
    ("network,input,dynamic_energy_uj\n", "has no rows"),
])
def test_bad_measurements_fail_with_one_line(tmp_path, capsys, csv, problem):
    small_conv_net(tmp_path / "small.net")
    np.save(tmp_path / "in.npy", np.zeros((1, 6, 6, 2, 4), np.int32))
    (tmp_path / "m.csv").write_text(csv)
    out = tmp_path / "p.yaml"
    assert run_cli(calibrate.main, [str(tmp_path / "m.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0], err
    assert not out.exists()


def test_missing_file_and_no_output(tmp_path, capsys):
    assert run_cli(calibrate.main, [str(tmp_path / "none.csv"), "--out", str(tmp_path / "p.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "m.csv").write_text("network,input,time_us\nx.net,y.npy,3\n")
    assert run_cli(calibrate.main, [str(tmp_path / "m.csv")]) == 2
    assert "--out" in capsys.readouterr().err


def test_profiler_counts_replace_neuromaps_own():
    from dataclasses import replace as dc_replace

    from neuromap.errors import NeuromapError
    from neuromap.mapper import map_layerwise
    from helpers import dense_graph
    g = dense_graph(np.arange(12.0).reshape(3, 4))
    m = map_layerwise(g, dc_replace(load_profile("loihi2"), max_neurons={"default": 2}))
    inp = np.zeros((2, 2, 4), np.int32)      # two samples
    inp[:, 0, [0, 3]] = 1
    inp[:, 1, 1] = 1
    out = np.zeros((2, 2, 3), np.int32)
    out[:, 1, 2] = 1
    ev = account(g, m, Activity({"input0": inp, "dense1": out}, steps=2))   # synops [12, 6]
    row = calibrate.Row(Path("x"), Path("y"), None, 2, {"time_us": 1.0},
                        {"syn_ops": np.array([30.0]), "dendrite_updates": np.array([1.0, 2.0]),
                         "axon_out": np.array([0.0, 4.0]), "spikes_in": np.array([3.0, 7.0])}, 2)
    got = calibrate.apply_counts(ev, row)
    assert got.synops.tolist() == pytest.approx([40.0, 20.0])          # 30 per inference, spread 2:1
    assert got.active_updates.tolist() == pytest.approx([2.0, 4.0])    # per core, x 2 samples
    # messages sent and received per inference as given (received includes the host's 3 per core;
    # core 1 has no known destination, so its 4 go to itself)
    assert (got.traffic[:-1].sum(axis=1) / 2).tolist() == pytest.approx([0.0, 4.0], abs=1e-6)
    assert (got.traffic.sum(axis=0) / 2).tolist() == pytest.approx([3.0, 7.0], abs=1e-6)
    assert (got.traffic[-1] / 2).tolist() == pytest.approx([3.0, 3.0])   # the host sends as it did
    bad = dc_replace(row, counts={"syn_ops": np.array([1.0, 2.0, 3.0])})
    with pytest.raises(NeuromapError, match="syn_ops has 3 values but the mapping has 2 cores"):
        calibrate.apply_counts(ev, bad)
