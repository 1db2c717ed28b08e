"""NIR files written by snnTorch, Sinabs, Norse and Rockpool themselves (tests/fixtures/nir/,
made by make_peer_files.py there): neuromap imports each, maps it, runs it in the fast engine and
gets the peer's own per-layer spike counts on the same input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neuromap.errors import NeuromapError, run_cli
from neuromap.hw.profile import load_profile
from neuromap.interop.nir import read_nir
from neuromap.mapper import map_network
from neuromap.sim.fast import simulate_fast

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "nir"

#: fixture -> the --dt to give (None: inferred); every case's counts equal the peer's
CASES = {
    # snnTorch writes r = tau / dt: dt is inferred. Integer weights, decays of whole 1/4096ths:
    # its float arithmetic and Lava's fixed point agree spike for spike
    "snntorch_dense": None,
    "snntorch_conv": None,
    # a recurrent RSynaptic: the threshold 160.25 is whole at the scale 4, where the mixed-sign
    # weights (up to 127) reach 508 and run as 8-bit mantissas times Loihi's weight exponent
    "snntorch_rnn": None,
    # integrate-and-fire with sum pooling before a padded convolution: integer arithmetic, exact
    "sinabs_cnn": None,
    # Norse writes tau = dt / tau_mem_inv (seconds squared): read with --dt = dt^2
    "norse_dense": "dt^2",
    # Rockpool's exponential LIF, recognised and read in its own convention (dt from its r): equal
    # to Rockpool run with Loihi's reset (v = 0 after a spike, applied by hand); Rockpool's own
    # subtracting reset is compared in test_rockpool_subtracting_reset_is_the_difference
    "rockpool_dense": None,
}
#: the peer's counts each case compares with (default "counts")
COUNTS = {"rockpool_dense": "counts_loihi_reset"}


def meta(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def run(name: str, dt: float | None) -> tuple[dict, dict[str, int]]:
    m = meta(name)
    graph = read_nir(FIXTURES / f"{name}.nir", dt)
    assert map_network(graph, load_profile("loihi2"), "layerwise").summary()["cores"] >= 2
    x = np.moveaxis(np.asarray(m["input"], dtype=np.int32), 0, -1)  # (*peer shape, T)
    if x.ndim == 4:  # peer (C, H, W) -> IR (x, y, c)
        x = x.transpose(2, 1, 0, 3)
    act = simulate_fast(graph, x[None])
    return m, {k: int(np.sum(v)) for k, v in act.events.items()}


def node_of(layer: str, graph_layers: dict[str, int]) -> int:
    """The neuromap count of a peer layer (snnTorch counts a recurrent layer under its module's
    name, its file names the neuron node ``<layer>.lif``)."""
    return graph_layers[layer] if layer in graph_layers else graph_layers[f"{layer}.lif"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_peer_file_imports_maps_runs_and_agrees(name):
    m = meta(name)
    dt = None if CASES[name] is None else m["dt"] ** 2
    m, got = run(name, dt)
    counts = m[COUNTS.get(name, "counts")]
    assert counts and all(v > 0 for v in counts.values())
    assert {layer: node_of(layer, got) for layer in counts} == counts


def test_snntorch_dt_is_inferred_and_recorded():
    graph = read_nir(FIXTURES / "snntorch_dense.nir")
    info = graph.meta["nir_import"]
    assert info["dt"] == pytest.approx(1e-4, rel=1e-6) and info["dt_from"].startswith("inferred")
    assert [(lay.neuron.params["iDecay"], lay.neuron.params["vDecay"])
            for lay in graph.layers[1:]] == [(4096, 512), (1024, 512)]


def test_a_file_without_its_dt_asks_for_it():
    # Norse's time constants are below one step at dt = 1 and r = 1 states no dt; so are
    # Rockpool's when its file is read in NIR's convention
    with pytest.raises(NeuromapError, match=r"below one time step .* give --dt SECONDS"):
        read_nir(FIXTURES / "norse_dense.nir")
    with pytest.raises(NeuromapError, match=r"below one time step .* give --dt SECONDS"):
        read_nir(FIXTURES / "rockpool_dense.nir", convention="nir")


def test_rockpool_convention_is_recognised_and_read_exactly():
    """Rockpool's LIFTorch (I = (I + input) beta, v = v alpha + I) is Lava's CUBA with the
    weights times beta; its dt is read from r = tau exp(-dt / tau) / dt."""
    graph = read_nir(FIXTURES / "rockpool_dense.nir")
    info = graph.meta["nir_import"]
    assert info["convention"] == "rockpool" and info["dt_from"].startswith("inferred")
    assert info["dt"] == pytest.approx(1e-3, rel=1e-6)
    # decays 512 and 1024 of 4096; weights (multiples of 4) times beta = 3/4 and thresholds
    # k + 0.5 are whole numbers at the scale 2
    assert [lay.neuron.params for lay in graph.layers[1:]] == [
        {"iDecay": 1024, "vDecay": 512, "vThMant": 301, "refDelay": 1, "gradedSpike": False},
        {"iDecay": 1024, "vDecay": 512, "vThMant": 401, "refDelay": 1, "gradedSpike": False}]
    assert np.abs(graph.edges[0].weight).max() == 186  # 124 * 3/4 * 2
    assert read_nir(FIXTURES / "rockpool_dense.nir", 1e-3, "rockpool").meta["nir_import"] == \
        {"dt": 1e-3, "dt_from": "given", "convention": "rockpool"}
    with pytest.raises(NeuromapError, match=r"node 1_LIFTorch: its r states dt = 0.001 in "
                                            r"Rockpool's convention .* not the given 0.002"):
        read_nir(FIXTURES / "rockpool_dense.nir", 2e-3, "rockpool")
    # another peer's file is not taken for Rockpool's
    for name in ("snntorch_dense", "sinabs_cnn"):
        assert "convention" not in read_nir(FIXTURES / f"{name}.nir").meta["nir_import"]


def test_rockpool_subtracting_reset_is_the_difference():
    """Rockpool subtracts the threshold after a spike; Lava's CUBA sets v to 0. With Rockpool's
    own reset the first layer spikes 197 times against neuromap's 174 (the residue above the
    threshold carries over in Rockpool), the second 89 in both (docs/nir.md)."""
    m, got = run("rockpool_dense", None)
    assert m["counts"] == {"1_LIFTorch": 197, "3_LIFTorch": 89}
    assert {k: got[k] for k in m["counts"]} == {"1_LIFTorch": 174, "3_LIFTorch": 89}


def test_deploy_and_map_take_a_peer_nir_file(tmp_path, capsys):
    from neuromap import deploy, map as map_cli

    rnn = FIXTURES / "snntorch_rnn.nir"
    assert run_cli(map_cli.main, ["--model", str(rnn)]) == 0
    assert run_cli(deploy.main, ["--model", str(rnn), "--samples", "2", "--quiet",
                                 "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "snntorch_rnn" / "report.json").read_text())
    assert report["verification"]["spike_mismatches"] == 0  # the recurrent layer ran in Lava too
    capsys.readouterr()
    assert run_cli(map_cli.main, ["--model", str(FIXTURES / "norse_dense.nir")]) == 2
    assert run_cli(map_cli.main, ["--model", str(FIXTURES / "norse_dense.nir"), "--dt", "1e-6"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--dt SECONDS" in err[0]


def test_export_takes_from_rockpool(tmp_path, capsys):
    from neuromap import export

    rock = str(FIXTURES / "rockpool_dense.nir")
    assert run_cli(export.main, ["--model", rock, "--from", "rockpool", "--to", "netx",
                                 "--out", str(tmp_path / "r.net")]) == 0
    capsys.readouterr()
    assert run_cli(export.main, ["--model", rock, "--from", "nir", "--to", "netx",
                                 "--out", str(tmp_path / "n.net")]) == 2
    assert run_cli(export.main, ["--model", str(tmp_path / "r.net"), "--from", "rockpool",
                                 "--to", "nir", "--out", str(tmp_path / "x.nir")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--dt SECONDS" in err[0] and "--from is for NIR files" in err[1]
    assert not (tmp_path / "n.net").exists() and not (tmp_path / "x.nir").exists()


def rockpool_like(dt2: float = 1e-3) -> object:
    """Two layers as Rockpool's to_nir writes them: a LIFTorch (CubaLIF) at dt = 1e-3 and a
    LIFNeuronTorch (LIF) whose r states ``dt2``."""
    import nir

    def r(tau, dt):
        return np.full(3, tau * np.exp(-dt / tau) / dt)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2])}),
        "0_LinearTorch": nir.Linear(weight=np.array([[2.0, -1.0], [1.0, 1.0], [0.5, 2.0]])),
        "1_LIFTorch": nir.CubaLIF(tau_syn=np.full(3, 4e-3), tau_mem=np.full(3, 8e-3),
                                  r=r(8e-3, 1e-3), v_leak=np.zeros(3), v_threshold=np.full(3, 1.0),
                                  w_in=np.ones(3)),
        "2_LinearTorch": nir.Linear(weight=np.eye(3)),
        "3_LIFNeuronTorch": nir.LIF(tau=np.full(3, 8e-3), r=r(8e-3, dt2), v_leak=np.full(3, 0.5),
                                    v_threshold=np.full(3, 4.0)),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])), type_check=False)


def test_rockpool_lif_and_inconsistent_files():
    from neuromap.interop.nir import nir_to_graph

    graph = nir_to_graph(rockpool_like())
    assert graph.meta["nir_import"]["convention"] == "rockpool"
    cuba, lif = (graph.layer(n).neuron.params for n in ("1_LIFTorch", "3_LIFNeuronTorch"))
    # 4096 (1 - exp(-1/4)) = 905.9, 4096 (1 - exp(-1/8)) = 480.7; the LIF has no current
    assert (cuba["iDecay"], cuba["vDecay"], lif["iDecay"], lif["vDecay"]) == (906, 481, 4096, 481)
    # v_leak 0.5 is the bias per step, threshold 4: both whole at the chosen scale
    assert graph.layer("3_LIFNeuronTorch").bias.tolist() == [lif["vThMant"] / 8] * 3
    # the two nodes' r state different dts: not taken for Rockpool's, and refused when told
    with pytest.raises(NeuromapError, match="below one time step"):
        nir_to_graph(rockpool_like(2e-3))
    with pytest.raises(NeuromapError, match=r"states no single dt: node 1_LIFTorch's r states dt "
                                            r"= 0.001, node 3_LIFNeuronTorch's 0.002; give --dt"):
        nir_to_graph(rockpool_like(2e-3), convention="rockpool")
    with pytest.raises(NeuromapError, match="--from 'norse' is not a NIR convention"):
        nir_to_graph(rockpool_like(), convention="norse")


def test_rockpool_import_warns_that_its_reset_becomes_loihis(capsys):
    """Rockpool's subtracting reset is simulated as Loihi's reset to 0: one warning line on stderr,
    the file imported all the same; other peers' files and a failed import print no warning."""
    from neuromap.interop.nir.importer import ROCKPOOL_RESET_WARNING

    assert read_nir(FIXTURES / "rockpool_dense.nir").meta["nir_import"]["convention"] == "rockpool"
    assert capsys.readouterr().err.splitlines() == [ROCKPOOL_RESET_WARNING]
    assert "subtract the threshold" in ROCKPOOL_RESET_WARNING and "reset to 0" in ROCKPOOL_RESET_WARNING
    read_nir(FIXTURES / "snntorch_rnn.nir")
    with pytest.raises(NeuromapError, match="not the given 0.002"):
        read_nir(FIXTURES / "rockpool_dense.nir", 2e-3, "rockpool")
    assert capsys.readouterr().err == ""


def test_map_takes_from_and_dt(tmp_path, capsys):
    """map's --from and --dt are export's (one helper defines them for map, deploy and export)."""
    from neuromap import map as map_cli

    rock = str(FIXTURES / "rockpool_dense.nir")
    summary = tmp_path / "s.json"
    assert run_cli(map_cli.main, ["--model", rock, "--from", "rockpool", "--dt", "1e-3",
                                  "--summary-json", str(summary)]) == 0
    assert json.loads(summary.read_text())["model"] == rock
    assert capsys.readouterr().err.splitlines()[-1].startswith("warning: Rockpool's neurons")
    bad = [(["--from", "norse"], "argument --from: invalid choice: 'norse'"),
           (["--from", "nir"], "--dt SECONDS"),  # NIR's convention: tau below one step at dt 1
           (["--from", "rockpool", "--dt", "2e-3"], "not the given 0.002"),
           (["--dt", "0"], "argument --dt")]
    for extra, message in bad:
        assert run_cli(map_cli.main, ["--model", rock, *extra, "--out", str(tmp_path / "m.json")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], (extra, err)
        assert not (tmp_path / "m.json").exists()


def test_deploy_takes_from_and_dt(tmp_path, capsys):
    """deploy's --from and --dt, as map's: the report records them in its command line."""
    from neuromap import deploy

    rock = str(FIXTURES / "rockpool_dense.nir")
    common = ["--model", rock, "--samples", "2", "--verify", "0", "--quiet"]
    ok = ["--from", "rockpool", "--dt", "1e-3", "--out", str(tmp_path / "ok")]
    assert run_cli(deploy.main, [*common, *ok]) == 0
    report = json.loads((tmp_path / "ok" / "rockpool_dense" / "report.json").read_text())
    assert report["provenance"]["command"] == ["python", "-m", "neuromap.deploy", *common, *ok]
    capsys.readouterr()
    for extra, message in [(["--from", "bogus"], "argument --from: invalid choice: 'bogus'"),
                           (["--from", "nir"], "--dt SECONDS"),
                           (["--from", "rockpool", "--dt", "2e-3"], "not the given 0.002")]:
        assert run_cli(deploy.main, [*common, *extra, "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], (extra, err)
        assert not (tmp_path / "bad" / "rockpool_dense").exists()
