"""The fast engine (neuromap.sim.fast) is exact: against Intel's shipped ground truth, against Lava
on networks that exercise every arithmetic corner, and against its own chunking."""
from __future__ import annotations

import json

import numpy as np
import pytest

from neuromap.errors import NeuromapError
from neuromap.graph import Edge, Layer, NetworkGraph, Neuron
from neuromap.netx.load import load_netx
from neuromap.sim.activity import depths
from neuromap.sim.fast import run_fast, simulate_fast, trace_fast
from neuromap.sim.weights import encode_dense, lava_dense_weights, optimize_weight_bits

from conftest import lava_dl_net

GT = ["input-s"] + [f"conv-{i}" for i in range(5)] + [f"fc-{i}" for i in range(3)] + ["fc-3-s"]


def test_pilotnet_lif_spikes_equal_the_shipped_ground_truth_in_every_window():
    """Intel's arrays were made with a 16-step reset interval: within each layer's 16-step window
    (it starts at the layer's depth) every spike of every layer must match."""
    net = lava_dl_net("gts/pilotnet_lif/network.net")
    graph = load_netx(net)
    image = np.load(net.parent / "image.npy")
    trace = trace_fast(graph, image[None], steps=16, total=24)
    depth = depths(graph)
    checked = 0
    for layer, name in zip(graph.layers, GT):
        d = depth[layer.name]
        gt = np.load(net.parent / f"{name}.npy").astype(np.int64).reshape(layer.size, -1)[:, d:min(24, d + 16)]
        ours = trace.out[layer.name].T[:, d:d + gt.shape[1]]
        np.testing.assert_array_equal(ours, gt, err_msg=layer.name)
        checked += int(gt.sum())
    assert checked > 700_000


def test_pilotnet_sdnn_graded_output_equals_the_shipped_ground_truth():
    net = lava_dl_net("gts/pilotnet_sdnn/network.net")
    graph = load_netx(net)
    x = np.load(net.parent / "input.npy")
    gt = np.load(net.parent / "output.npy")
    trace = trace_fast(graph, x[None], steps=None, total=gt.shape[1], reset=False)
    out = trace.out[graph.output_layer.name].T
    assert np.abs(gt).max() > 100_000  # graded payloads, not spikes
    np.testing.assert_array_equal(out, gt)


def _lava_dl_kept() -> list[np.ndarray]:
    """Weight matrices lava-dl's optimize_weight_bits keeps unclipped: mixed and one-sign, common
    trailing zeros, its mixed range's ends, zeros."""
    rng = np.random.default_rng(0)
    return [m.astype(float) for m in (
        rng.integers(-128, 128, (6, 9)), rng.integers(0, 255, (6, 9)), -rng.integers(1, 256, (6, 9)),
        rng.integers(-8, 8, (4, 4)) * 16, rng.integers(-1, 2, (3, 3)) * 4, np.array([[254, -256]]),
        np.array([[3, 0], [0, 5]]), np.array([[-2, -4]]), np.array([[0, -3], [-5, 0]]))]


def _encodes_as_lava_dl(encode, w: np.ndarray) -> tuple[np.ndarray, int]:
    """Assert that ``encode(w)`` gives lava-dl's weights, bits and exponent; returns (weights, bits)."""
    from lava.lib.dl.netx.utils import optimize_weight_bits as lava_optimize

    ref_w, ref_bits, ref_exp, _ = lava_optimize(w.copy())
    enc_w, bits, exp = encode(w)
    assert (bits, exp) == (ref_bits, ref_exp)
    np.testing.assert_array_equal(enc_w, ref_w)
    return enc_w, bits


def test_weight_encoding_equals_lava_dl_and_lava():
    """optimize_weight_bits and the dense model's clip / truncate, against lava-dl's and Lava's own."""
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    clipped = np.random.default_rng(1).integers(-300, 300, (5, 5)).astype(float)  # lava-dl clips it
    for w in [*_lava_dl_kept(), clipped]:
        ours_w, bits = _encodes_as_lava_dl(optimize_weight_bits, w)
        mode = determine_sign_mode(ours_w)
        lava = truncate_weights(clip_weights(ours_w, mode, num_bits=8), mode, bits)
        np.testing.assert_array_equal(lava_dense_weights(ours_w, bits), lava)


CUBA = Neuron("CUBA", {"vThMant": 60, "iDecay": 1024, "vDecay": 128, "refDelay": 1})
SDNN = Neuron("SDNN", {"vThMant": 3})


def _corners() -> list[tuple[NetworkGraph, np.ndarray, int | None]]:
    """Tiny networks that each reach an arithmetic corner of Lava's fixed-point models."""
    rng = np.random.default_rng(7)
    w = lambda lo, hi, *s: rng.integers(lo, hi, s).astype(float)  # noqa: E731
    nets = []
    # 1. huge weights and a graded (non-binary) source: 24-bit current wrap, voltage saturation,
    #    per-synapse delays, a lag, a bias stored in 16 bits
    layers = (Layer("in", "input", (6,)), Layer("a", "dense", (5,), CUBA, bias=np.array([40000., -70000., 5., 0., 9.])),
              Layer("b", "dense", (4,), Neuron("CUBA", {"vThMant": 3000, "iDecay": 0, "vDecay": 0})))
    edges = (Edge("in", "a", "dense", w(-250, 250, 5, 6), delay=rng.integers(0, 4, (5, 6)).astype(float)),
             Edge("a", "b", "dense", w(100, 250, 4, 5) * 8), Edge("in", "b", "dense", w(-90, 90, 4, 6), lag=2))
    x = rng.integers(0, 40000, (3, 6, 9)).astype(np.int32)
    nets.append((NetworkGraph("wrap", layers, edges), x, None))
    # 2. a conv path and a strided, dilated, grouped conv, fed a static drive (input with neurons)
    inp = Neuron("CUBA", {"vThMant": 50, "iDecay": 4096, "vDecay": 512})
    layers = (Layer("in", "input", (7, 6, 4), inp, transform={"weight": 1.0, "bias": 0.0}),
              Layer("c", "conv", (4, 2, 6), CUBA), Layer("d", "conv", (4, 2, 6), CUBA))
    edges = (Edge("in", "c", "conv", w(-60, 120, 6, 3, 3, 2), stride=(2, 2), padding=(1, 1), dilation=(1, 2), groups=2),
             Edge("c", "d", "conv", w(-90, 127, 6, 3, 3, 6), padding=(1, 1)),
             Edge("in", "d", "conv", w(-90, 127, 6, 1, 1, 4), stride=(2, 3), lag=1))
    nets.append((NetworkGraph("conv", layers, edges), rng.integers(0, 3000, (3, 7, 6, 4)), 7))
    # 3. sigma-delta with graded messages, an unaligned path (samples leak in Lava) and a bias
    layers = (Layer("in", "input", (5,), Neuron("SDNN", {"vThMant": 1})),
              Layer("s", "dense", (6,), SDNN, bias=np.arange(6.0)), Layer("o", "dense", (3,), SDNN))
    edges = (Edge("in", "s", "dense", w(-50, 50, 6, 5)), Edge("s", "o", "dense", w(-60, 60, 3, 6)),
             Edge("in", "o", "dense", w(-20, 20, 3, 5)))
    nets.append((NetworkGraph("sdnn", layers, edges), rng.integers(-20, 60, (2, 5, 6)), None))
    # 4. a recurrent dense layer with a bias (Lava: a Dense block plus a Dense loop), samples back
    #    to back in one stream
    layers = (Layer("in", "input", (6,)), Layer("r", "dense", (5,), CUBA, bias=np.array([3., 0, -2, 1, 0])),
              Layer("o", "dense", (3,), CUBA))
    edges = (Edge("in", "r", "dense", w(-40, 90, 5, 6)), Edge("r", "r", "dense", w(-200, 200, 5, 5)),
             Edge("r", "o", "dense", w(-50, 120, 3, 5)))
    nets.append((NetworkGraph("rec", layers, edges), (rng.random((3, 6, 10)) < 0.4).astype(np.int32), None))
    return nets


@pytest.mark.parametrize("case", [0, 1, 2, 3],
                         ids=["wrap-delay-lag", "conv-static", "sdnn-unaligned", "recurrent"])
def test_fast_equals_lava_on_arithmetic_corners(case: int):
    from neuromap.sim.lava import simulate_lava

    graph, x, steps = _corners()[case]
    lava = simulate_lava(graph, x, steps=steps)
    fast = simulate_fast(graph, x, steps=steps, batch_size=2)
    assert sorted(lava.events) == sorted(fast.events)
    active = 0
    for name in lava.events:
        np.testing.assert_array_equal(fast.events[name], lava.events[name], err_msg=name)
        active += int(np.count_nonzero(lava.events[name]))
    assert active > 20


def test_chunking_does_not_change_anything():
    """Independent samples in chunks of 1, 2 or all, and Lava's back-to-back stream yielded in chunks."""
    for graph, x, steps in _corners():
        whole = simulate_fast(graph, x, steps=steps)
        for size in (1, 2):
            parts = list(run_fast(graph, x, steps=steps, batch_size=size))
            assert len(parts) == -(-x.shape[0] // size)
            for name, ev in whole.events.items():
                np.testing.assert_array_equal(np.concatenate([p.events[name] for p in parts]), ev)


def test_unsupported_neuron_names_the_layer_and_the_way_out():
    layers = (Layer("in", "input", (3,)), Layer("r", "dense", (2,), Neuron("RF_IZ", {"vThMant": 5})))
    graph = NetworkGraph("rf", layers, (Edge("in", "r", "dense", np.ones((2, 3))),))
    with pytest.raises(NeuromapError, match=r"layer r: neuron type 'RF_IZ'.*--engine lava"):
        simulate_fast(graph, np.ones((1, 3, 4)))


def test_non_finite_input_is_refused():
    graph, x, steps = _corners()[0]
    bad = x.astype(float)
    bad[0, 0, 0] = np.nan
    with pytest.raises(NeuromapError, match="NaN or infinite"):
        simulate_fast(graph, bad)


def test_recurrent_dense_runs_in_the_fast_engine_and_deploy_checks_it_against_lava(tmp_path):
    """A recurrent layer with zero recurrent weights acts as the plain dense layer; with a strong
    self-excitation a neuron that spiked once keeps spiking (its own spike arrives one step later)."""
    from neuromap import deploy
    from neuromap.errors import run_cli

    from helpers import write_net

    rng = np.random.default_rng(5)
    w = rng.integers(0, 60, (4, 6)).astype(float)
    plain = NetworkGraph("p", (Layer("in", "input", (6,)), Layer("d", "dense", (4,), CUBA)),
                         (Edge("in", "d", "dense", w),))
    rec0 = NetworkGraph("r", plain.layers, plain.edges + (Edge("d", "d", "dense", np.zeros((4, 4))),))
    x = (rng.random((2, 6, 12)) < 0.5).astype(np.int32)
    np.testing.assert_array_equal(simulate_fast(rec0, x).events["d"], simulate_fast(plain, x).events["d"])
    loud = NetworkGraph("r", plain.layers, plain.edges + (Edge("d", "d", "dense", np.eye(4) * 250),))
    spikes = simulate_fast(loud, x).events["d"][0]
    first = spikes.argmax(axis=0)
    for n in range(4):
        if spikes[:, n].any():
            assert spikes[first[n] + 1:, n].all()
    net = write_net(tmp_path / "rec.net", [
        {"type": "input", "shape": np.array([6])},
        {"type": "dense_rec", "shape": np.array([4]), "weight": w, "weight_rec": np.eye(4) * 30,
         "neuron/type": "CUBA", "neuron/vThMant": 60, "neuron/iDecay": 1024, "neuron/vDecay": 128}])
    code = run_cli(deploy.main, ["--model", str(net), "--samples", "3", "--quiet", "--out", str(tmp_path / "r")])
    assert code == 0
    report = json.loads((tmp_path / "r" / "rec" / "report.json").read_text())
    assert report["verification"]["samples"] >= 1 and report["verification"]["spike_mismatches"] == 0


def test_fast_equals_lava_on_lava_dls_shipped_mnist():
    """lava-dl's MNIST MLP (a NetX input layer with neurons, static drive): two random images."""
    from neuromap.sim.lava import simulate_lava

    graph = load_netx(lava_dl_net("mnist.net"))
    x = np.random.default_rng(2).integers(0, 140, (2,) + graph.input_layer.shape)
    lava, fast = simulate_lava(graph, x, steps=16), simulate_fast(graph, x, steps=16)
    for name, events in lava.events.items():
        np.testing.assert_array_equal(fast.events[name], events, err_msg=name)
    assert all(np.count_nonzero(lava.events[lay.name]) > 0 for lay in graph.layers[:-1])


def test_weight_exponent_where_lava_dl_would_clip():
    """A mixed-sign matrix beyond lava-dl's -256..254 runs as Loihi holds it, a signed 8-bit
    mantissa times 2**e, where lava-dl clips it; every matrix lava-dl keeps is encoded as lava-dl
    encodes it."""
    from lava.lib.dl.netx.utils import optimize_weight_bits as lava_optimize

    def effective(enc):
        stored, bits, exp = enc
        w = lava_dense_weights(stored, bits)
        return w << exp if exp >= 0 else w >> -exp

    m = np.array([[127, -38, 5], [-128, 0, 64]])
    w = (m * 4).astype(float)  # up to 508 and -512: mantissas m times 2**2
    assert encode_dense(w)[1:] == (8, 1)  # stored doubled, as lava-dl stores signed mantissas
    np.testing.assert_array_equal(encode_dense(w)[0], 2 * m)
    np.testing.assert_array_equal(effective(encode_dense(w)), w)
    ref_w, ref_bits, ref_exp, _ = lava_optimize(w.copy())
    assert effective((ref_w, ref_bits, ref_exp)).max() == 254  # lava-dl's clip: 508 -> 254
    # mantissas with common trailing zeros take fewer bits, as lava-dl counts them
    assert encode_dense(w * 2)[1:] == (8, 2)  # the next exponent
    even = np.array([[63, -19, 2], [-64, 0, 32]]) * 8.0  # mantissas 2 k times 2**2
    assert encode_dense(even)[1:] == (7, 1)
    np.testing.assert_array_equal(effective(encode_dense(even)), even)
    # not a whole mantissa: the low bits are dropped (toward minus infinity), as Lava's own
    # truncation drops them; beyond the largest exponent (7) the mantissa is clipped
    np.testing.assert_array_equal(effective(encode_dense(np.array([[509.0, -5.0]]))), [[508, -8]])
    np.testing.assert_array_equal(effective(encode_dense(np.array([[40000.0, -1.0]]))),
                                  [[127 << 8, -256]])
    # matrices lava-dl keeps: its encoding, number for number
    for c in _lava_dl_kept():
        _encodes_as_lava_dl(encode_dense, c)
    # one sign beyond 255: lava-dl shifts left by a negative count, which numpy makes 0; the
    # encoding shifts right, in both engines
    one = np.array([[1016.0, 8.0]])
    assert not lava_optimize(one.copy())[0].any()
    np.testing.assert_array_equal(effective(encode_dense(one)), one)
