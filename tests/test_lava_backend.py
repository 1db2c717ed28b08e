"""The IR -> Lava backend against Intel's ground truth for PilotNet LIF (shipped in lava-dl):
every layer's spikes must be identical, step for step, once aligned by the layer's depth."""
from __future__ import annotations

import numpy as np

from neuromap.netx.load import load_netx
from neuromap.sim.lava import simulate_lava

from conftest import lava_dl_net

GT = ["input-s"] + [f"conv-{i}" for i in range(5)] + [f"fc-{i}" for i in range(3)]


def test_pilotnet_lif_spike_exact_against_ground_truth():
    net = lava_dl_net("gts/pilotnet_lif/network.net")
    gts = net.parent
    graph = load_netx(net)
    image = np.load(gts / "image.npy")
    steps = 10
    act = simulate_lava(graph, image[None], steps=steps)
    for depth, (layer, gt_name) in enumerate(zip(graph.layers, GT)):
        gt = np.load(gts / f"{gt_name}.npy").astype(int).reshape(layer.size, -1)
        ours = act.events[layer.name][0].T                 # (neurons, steps), window of sample 0
        assert ours.shape == (layer.size, steps)
        np.testing.assert_array_equal(ours, gt[:, depth:depth + steps], err_msg=layer.name)
    assert act.events["dense9"].sum() > 0 or act.events["dense8"].sum() > 0


def test_lava_runs_weights_beyond_lava_dls_range_with_the_weight_exponent():
    """Dense weights that are 8-bit mantissas times 2**e beyond what lava-dl's encoding keeps
    (mixed signs beyond -256..254, which it clips; one sign beyond 255, which it zeroes) run in
    Lava with Loihi's weight exponent, equal to the fast engine spike for spike: a NetX Dense
    block, a recurrent pair encoded together, and a standalone extra input synapse."""
    from neuromap.graph import Edge, Layer, NetworkGraph, Neuron
    from neuromap.sim.fast import simulate_fast
    from neuromap.sim.weights import encode_dense, lava_clips

    rng = np.random.default_rng(3)

    def cuba(vth: int) -> Neuron:
        return Neuron("CUBA", {"vThMant": vth, "iDecay": 1024, "vDecay": 256, "refDelay": 1})

    wa = rng.integers(-128, 128, (6, 8)) * 4.0
    wa[0, 0] = 508
    wr = rng.integers(-128, 128, (6, 6)) * 4.0
    wb = rng.integers(0, 128, (4, 6)) * 8.0
    wb[0, 0] = 1016
    wx = rng.integers(-128, 128, (4, 8)) * 8.0
    wx[0, 0] = -1024
    layers = (Layer("in", "input", (8,)), Layer("a", "dense", (6,), cuba(900)),
              Layer("b", "dense", (4,), cuba(3000)))
    edges = (Edge("in", "a", "dense", wa), Edge("a", "a", "dense", wr), Edge("a", "b", "dense", wb),
             Edge("in", "b", "dense", wx))
    graph = NetworkGraph("exponent", layers, edges)
    assert [lava_clips(e.weight) for e in edges] == [True, True, False, True] and wb.max() > 255
    assert encode_dense(np.hstack((wa, wr)))[1:] == (8, 1) and encode_dense(wx)[1:] == (8, 2)
    x = (rng.random((2, 8, 16)) < 0.3).astype(np.int32)
    lava, fast = simulate_lava(graph, x), simulate_fast(graph, x)
    for name in ("a", "b"):
        np.testing.assert_array_equal(lava.events[name], fast.events[name], err_msg=name)
    assert {k: int(v.sum()) for k, v in lava.events.items()} == {"in": 67, "a": 35, "b": 58}


def test_snntorch_recurrent_nir_file_runs_in_lava_as_snntorch_does():
    """snnTorch's RSynaptic file (tests/fixtures/nir): imported at the scale 4 that makes its
    thresholds 160.25 and 120.25 whole, its mixed-sign weights (up to 508) on the weight exponent;
    Lava and the fast engine both give snnTorch's own per-layer spike counts."""
    import json
    from pathlib import Path

    from neuromap.interop.nir import read_nir
    from neuromap.sim.fast import simulate_fast

    fixtures = Path(__file__).resolve().parent / "fixtures" / "nir"
    meta = json.loads((fixtures / "snntorch_rnn.json").read_text())
    graph = read_nir(fixtures / "snntorch_rnn.nir")
    assert [lay.neuron.params["vThMant"] for lay in graph.layers if lay.neuron] == [641, 481]
    assert max(float(np.abs(e.weight).max()) for e in graph.edges) == 508
    x = np.moveaxis(np.asarray(meta["input"], dtype=np.int32), 0, -1)[None]
    lava, fast = simulate_lava(graph, x), simulate_fast(graph, x)
    for name, events in lava.events.items():
        np.testing.assert_array_equal(fast.events[name], events, err_msg=name)
    assert {"rlif": int(lava.events["rlif.lif"].sum()), "lif2": int(lava.events["lif2"].sum())} \
        == meta["counts"] == {"rlif": 66, "lif2": 25}
