"""NIR interchange: IR <-> NIR round trips, kernel orientation, foreign graphs, errors, CLI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuromap.errors import NeuromapError, run_cli
from neuromap.export import main as export_main
from neuromap.graph import Edge, Layer, NetworkGraph, Neuron
from neuromap.interop.nir import graph_to_nir, nir_to_graph, read_nir, write_nir
from neuromap.interop.nir.scale import choose_scale, representable, rounding_error
from neuromap.netx.load import load_netx

from conftest import SHIPPED, lava_dl_net

ROOT = Path(__file__).resolve().parents[1]


def assert_same(a: NetworkGraph, b: NetworkGraph) -> None:
    assert a.name == b.name
    assert [lay.name for lay in a.layers] == [lay.name for lay in b.layers]
    for x, y in zip(a.layers, b.layers):
        assert (x.kind, x.shape, x.neuron, x.transform) == \
            (y.kind, y.shape, y.neuron, y.transform), x.name
        assert (x.bias is None) == (y.bias is None), x.name
        if x.bias is not None:
            assert np.array_equal(x.bias, y.bias), x.name
    assert len(a.edges) == len(b.edges)
    for x, y in zip(a.edges, b.edges):
        for f in ("src", "dst", "kind", "stride", "padding", "dilation", "groups", "lag"):
            assert getattr(x, f) == getattr(y, f), (x.src, x.dst, f)
        assert x.weight.shape == y.weight.shape and np.array_equal(x.weight, y.weight), (x.src, x.dst)
        assert (x.delay is None) == (y.delay is None), (x.src, x.dst)
        if x.delay is not None:
            assert np.array_equal(x.delay, y.delay), (x.src, x.dst)
    assert dict(a.meta) == dict(b.meta)


def cuba(i_decay: int = 1024, v_decay: int = 123, vth: int = 80) -> Neuron:
    return Neuron("CUBA", {"iDecay": i_decay, "vDecay": v_decay, "vThMant": vth, "refDelay": 1,
                           "gradedSpike": False})


def strip_metadata(g: nir.NIRGraph) -> nir.NIRGraph:
    """The same graph as another tool would write it: no neuromap metadata anywhere."""
    for node in g.nodes.values():
        if isinstance(getattr(node, "metadata", None), dict):
            node.metadata = {}
    g.metadata = {}
    return g


# ------------------------------------------------------------------ (a) zoo SNN + orientation

@pytest.fixture(scope="module")
def digitnet(tmp_path_factory):
    from neuromap.models import create_model
    from neuromap.netx.export import export_netx
    torch.manual_seed(0)
    model = create_model("digitnet", kind="snn", num_classes=10, input_shape=(1, 10, 8))  # H != W
    path = export_netx(model, tmp_path_factory.mktemp("dn") / "digitnet.net", {})
    return model, load_netx(path)


def test_zoo_snn_round_trip_and_kernel_orientation(digitnet, tmp_path):
    model, graph = digitnet
    g = graph_to_nir(graph)
    syn = [v for v in g.nodes.values() if isinstance(v, (nir.Conv2d, nir.Affine))]
    blocks = [b for b in model.blocks if hasattr(b, "synapse")]
    assert [type(s).__name__ for s in syn] == ["Conv2d", "Conv2d", "Affine", "Affine"]
    syn_edges = [e for e in graph.edges if e.kind in ("conv", "dense")]
    for block, node, edge in zip(blocks, syn, syn_edges):
        q = block.synapse.pre_hook_fx(block.synapse.weight, descale=True).detach().cpu().numpy()
        q = q.reshape(node.weight.shape)  # drop SLAYER's trailing time axis
        # the NIR kernel is SLAYER's own torch cross-correlation kernel, element for element;
        # the Affine after Flatten reads (C, H, W) exactly as SLAYER's Dense does
        assert np.array_equal(node.weight, q)
        if isinstance(node, nir.Conv2d):
            assert tuple(node.stride) == tuple(block.synapse.stride[:2])
            assert tuple(node.padding) == tuple(block.synapse.padding[:2])
            x, y, _ = graph.layer(edge.src).shape
            assert tuple(node.input_shape) == (y, x)  # torch (H, W)
    assert tuple(syn[0].input_shape) == (10, 8)
    assert_same(graph, nir_to_graph(g))
    assert_same(graph, read_nir(write_nir(graph, tmp_path / "dn.nir")))


# ------------------------------------------------------------------ (b) lava-dl's shipped nets

@pytest.mark.parametrize("rel", SHIPPED)
def test_shipped_nets_round_trip_or_clear_error(rel, tmp_path):
    graph = load_netx(lava_dl_net(rel))
    if "sdnn" in rel:
        with pytest.raises(NeuromapError, match=r"layer \S+ uses SDNN neurons"):
            graph_to_nir(graph)
        return
    g = graph_to_nir(graph)
    assert sum(isinstance(v, (nir.CubaLIF, nir.LIF, nir.IF)) for v in g.nodes.values()) == \
        sum(lay.neuron is not None for lay in graph.layers)
    assert_same(graph, nir_to_graph(g))
    assert_same(graph, read_nir(write_nir(graph, tmp_path / "net.nir")))


def test_ntidigits_delays_and_average_readout():
    graph = load_netx(lava_dl_net("gts/ntidigits/ntidigits.net"))
    g = graph_to_nir(graph)
    # per-output-neuron NetX delays become a Delay after the Affine; the average readout is an
    # Affine straight into an Output
    delays = [k for k, v in g.nodes.items() if isinstance(v, nir.Delay)]
    assert delays and all(k.endswith(".delay") for k in delays)
    avg = graph.layers[-1]
    assert avg.kind == "average" and isinstance(g.nodes[avg.name], nir.Output)
    (src,) = [a for a, b in g.edges if b == avg.name]
    assert isinstance(g.nodes[src], nir.Affine)


def test_per_synapse_delays_do_not_translate():
    d = np.arange(6, dtype=float).reshape(2, 3)  # varies with both pre and post
    graph = NetworkGraph("d", (Layer("in", "input", (3,)), Layer("out", "dense", (2,), cuba())),
                         (Edge("in", "out", "dense", np.ones((2, 3)), delay=d),))
    with pytest.raises(NeuromapError, match="edge in -> out.*both the pre and the post"):
        graph_to_nir(graph)


# ------------------------------------------------------------------ units and orientation

def test_cuba_parameters_follow_lava_fixed_point_dynamics():
    """Forward Euler (dt = 1) of NIR's CubaLIF with the exported parameters is Lava's CUBA update
    (without the fixed-point rounding): u = u (1 - iDecay/4096) + a; v = v (1 - vDecay/4096) + u + b."""
    bias = np.array([3.0, -2.0, 0.0])
    lay = Layer("l", "dense", (3,), cuba(1024, 123, 80), bias)
    graph = NetworkGraph("u", (Layer("in", "input", (2,)), lay),
                         (Edge("in", "l", "dense", np.array([[5.0, -3.0], [2.0, 7.0], [1.0, 1.0]])),))
    g = graph_to_nir(graph)
    node, aff = g.nodes["l"], g.nodes["in->l.syn"]
    rng = np.random.default_rng(0)
    u = v = i_cur = v_nir = np.zeros(3)
    for _ in range(30):
        x = rng.integers(0, 2, 2).astype(float)
        u = u * (1 - 1024 / 4096) + graph.edges[0].weight @ x
        v = v * (1 - 123 / 4096) + u + bias
        i_cur = i_cur + (-i_cur + node.w_in * (aff.weight @ x + aff.bias)) / node.tau_syn
        v_nir = v_nir + (node.v_leak - v_nir + node.r * i_cur) / node.tau_mem
        np.testing.assert_allclose(v_nir, v, rtol=1e-9, atol=1e-9)
    assert np.all(node.v_threshold == 80)


def test_conv_orientation_matches_lava_conv():
    """The NIR Conv2d (torch cross-correlation on (C, H, W)) computes what Lava's Conv computes on
    (x, y, c) with the IR kernel, for a non-square, strided, dilated, grouped convolution."""
    from lava.proc.conv.utils import conv_scipy
    rng = np.random.default_rng(1)
    src = Layer("in", "input", (9, 7, 4))
    w = rng.integers(-8, 8, (6, 3, 2, 2)).astype(float)  # (c_out, kx, ky, c_in / groups)
    edge = Edge("in", "c", "conv", w, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    from neuromap.graph import conv_output_shape
    dst = Layer("c", "conv", conv_output_shape(src.shape, edge), cuba())
    g = graph_to_nir(NetworkGraph("o", (src, dst), (edge,)))
    node = g.nodes["in->c.syn"]
    x = rng.integers(0, 2, src.shape).astype(float)
    lava = conv_scipy(x, w, w.shape[1:3], edge.stride, edge.padding, edge.dilation, edge.groups)
    torch_out = F.conv2d(torch.tensor(x.transpose(2, 1, 0))[None], torch.tensor(node.weight),
                         stride=tuple(node.stride), padding=tuple(node.padding),
                         dilation=tuple(node.dilation), groups=node.groups)[0].numpy()
    assert torch_out.shape == tuple(np.array(dst.shape)[::-1])
    np.testing.assert_array_equal(torch_out.transpose(2, 1, 0), lava)


# ------------------------------------------------------------------ (c) multi-input graph

def multi_input_graph() -> NetworkGraph:
    rng = np.random.default_rng(2)
    w = lambda *s: rng.integers(-20, 21, s).astype(float)  # noqa: E731
    layers = (Layer("in", "input", (6, 5, 2)),
              Layer("a", "conv", (6, 5, 4), cuba()),
              Layer("join", "conv", (6, 5, 4), cuba(0, 0, 100), bias=w(6, 5, 4)),
              Layer("fc", "dense", (4,), cuba(4096, 1024, 30), bias=w(4)),
              Layer("avg", "average", (2,)))
    edges = (Edge("in", "a", "conv", w(4, 3, 3, 2), padding=(1, 1)),
             Edge("a", "join", "conv", w(4, 1, 1, 2), groups=2),
             Edge("in", "join", "conv", w(4, 3, 1, 2), padding=(1, 0), lag=2),
             Edge("join", "fc", "dense", w(4, 120),
                  delay=np.repeat([[1.0], [0.0], [3.0], [2.0]], 120, axis=1)),
             Edge("fc", "fc", "dense", w(4, 4)),
             Edge("fc", "avg", "average", np.kron(np.eye(2), np.full((1, 2), 0.5))))
    return NetworkGraph("multi", layers, edges, {"note": "hand-built"})


def test_multi_input_graph_round_trip(tmp_path):
    graph = multi_input_graph()
    g = graph_to_nir(graph)
    preds = [a for a, b in g.edges if b == "join"]
    assert len(preds) == 2 and all(isinstance(g.nodes[p], nir.Conv2d) for p in preds)
    lag = g.nodes["in->join.lag"]
    assert isinstance(lag, nir.Delay) and np.all(lag.delay == 2) and lag.delay.shape == (2, 5, 6)
    assert ("in->join.lag", "in->join.syn") in g.edges
    assert isinstance(g.nodes["join->fc.flatten"], nir.Flatten)
    assert ("fc", "fc->fc.syn") in g.edges and ("fc->fc.syn", "fc") in g.edges
    assert np.all(np.isinf(g.nodes["join"].tau_syn))
    # full current decay: a plain LIF, r = tau (unit input gain under forward Euler)
    assert isinstance(g.nodes["fc"], nir.LIF) and np.all(g.nodes["fc"].tau == 4)
    assert np.all(g.nodes["fc"].r == 4)
    assert_same(graph, nir_to_graph(g))
    assert_same(graph, read_nir(write_nir(graph, tmp_path / "m.nir")))


def test_import_without_metadata_uses_the_float_parameters():
    """Stripped of neuromap metadata, the exported floats still give the same network up to one
    scale per layer (threshold and bias with the weights): integer weights and thresholds come
    back exactly, at a power-of-two scale whose weights NetX still carries."""
    graph = multi_input_graph()
    # join never leaks (vDecay = 0): its bias has no finite v_leak, only the metadata keeps it
    with pytest.raises(NeuromapError, match="node join: v_leak and tau are both infinite"):
        nir_to_graph(strip_metadata(graph_to_nir(graph)))
    layers = tuple(Layer(lay.name, lay.kind, lay.shape, lay.neuron, None, lay.transform)
                   if lay.name == "join" else lay for lay in graph.layers)
    graph = NetworkGraph(graph.name, layers, graph.edges, graph.meta)
    back = nir_to_graph(strip_metadata(graph_to_nir(graph)), "foreign")
    assert [(lay.name, lay.kind, lay.shape) for lay in back.layers] == \
        [(lay.name, lay.kind, lay.shape) for lay in graph.layers]
    for old, new in zip(graph.layers[1:4], back.layers[1:4]):
        p, q = old.neuron.params, new.neuron.params
        assert (q["iDecay"], q["vDecay"]) == (p["iDecay"], p["vDecay"]), old.name
        scale = q["vThMant"] / p["vThMant"]
        assert scale == 2.0 ** round(np.log2(scale)) and scale >= 1, (old.name, scale)
        for e_old, e_new in zip(graph.in_edges(old.name), back.in_edges(old.name)):
            np.testing.assert_array_equal(e_new.weight, e_old.weight * scale)
            assert representable(e_new.weight)
            assert (e_new.lag, e_new.stride, e_new.padding, e_new.groups) == \
                (e_old.lag, e_old.stride, e_old.padding, e_old.groups)
        if old.bias is not None:
            np.testing.assert_array_equal(new.bias, old.bias * scale)
    fc_in = back.in_edges("fc")[0]
    np.testing.assert_array_equal(fc_in.delay, graph.in_edges("fc")[0].delay)


# ------------------------------------------------------------------ (d) foreign NIR graph

def foreign_graph() -> nir.NIRGraph:
    rng = np.random.default_rng(3)
    conv_w = rng.normal(size=(4, 2, 3, 3))
    aff_w = rng.normal(size=(5, 4 * 4 * 3))
    ones = lambda s: np.ones(s)  # noqa: E731
    nodes = {
        "x": nir.Input(input_type={"input": np.array([2, 9, 7])}),
        "conv": nir.Conv2d(input_shape=(9, 7), weight=conv_w, stride=1, padding=1, dilation=1,
                           groups=1, bias=np.zeros(4)),
        "lif1": nir.CubaLIF(tau_syn=ones((4, 9, 7)) * 4, tau_mem=ones((4, 9, 7)) * 8,
                            r=ones((4, 9, 7)) * 8, v_leak=np.zeros((4, 9, 7)),
                            v_threshold=ones((4, 9, 7)) * 1.5, w_in=ones((4, 9, 7)) * 4),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 4, 3])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=aff_w, bias=np.full(5, 0.25)),
        "lif2": nir.LIF(tau=ones(5) * 2, r=ones(5) * 2, v_leak=np.zeros(5), v_threshold=ones(5)),
        "y": nir.Output(output_type={"output": np.array([5])}),
    }
    edges = [("x", "conv"), ("conv", "lif1"), ("lif1", "pool"), ("pool", "flat"), ("flat", "fc"),
             ("fc", "lif2"), ("lif2", "y")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def test_foreign_graph_imports_with_expected_shapes(tmp_path):
    g = foreign_graph()
    graph = nir_to_graph(g, "foreign")
    assert [(lay.name, lay.kind, lay.shape) for lay in graph.layers] == \
        [("x", "input", (7, 9, 2)), ("lif1", "conv", (7, 9, 4)), ("lif2", "dense", (5,))]
    conv, dense = graph.edges
    assert conv.kind == "conv" and conv.weight.shape == (4, 3, 3, 2) and conv.padding == (1, 1)
    assert np.abs(conv.weight).max() == 127 and np.all(conv.weight == np.round(conv.weight))
    p1, p2 = graph.layers[1].neuron.params, graph.layers[2].neuron.params
    assert (p1["iDecay"], p1["vDecay"]) == (1024, 512)
    assert (p2["iDecay"], p2["vDecay"]) == (4096, 2048)  # LIF = CUBA with full current decay
    scale1 = 127 / np.abs(g.nodes["conv"].weight).max()
    assert p1["vThMant"] == round(1.5 * scale1)
    # pool + flatten + affine compose into one dense edge over lif1's 252 neurons
    assert dense.kind == "dense" and dense.weight.shape == (5, 252)
    a_w = g.nodes["fc"].weight

    def pool(x):  # 2x2 sum pooling of (4, 9, 7), the last row and column fall off
        return x[:, :8, :6].reshape(4, 4, 2, 3, 2).sum(axis=(2, 4)).reshape(-1)

    ap = np.stack([a_w @ pool(e.reshape(4, 9, 7)) for e in np.eye(252)], axis=1)
    expected = ap.reshape(5, 4, 9, 7).transpose(0, 3, 2, 1).reshape(5, 252)  # IR (x, y, c) order
    # float weights with threshold 1: the scale that puts the largest weight at 127 leaves the
    # threshold fractional; a scale just below it rounds weights, threshold and bias less in all
    scale2 = 127 / np.abs(ap).max()
    s = graph.layers[2].neuron.params["vThMant"]  # the threshold 1 is exact at the chosen scale
    assert s <= scale2 and s == choose_scale([expected], 1.0, np.full(5, 0.25))
    np.testing.assert_array_equal(dense.weight, np.round(expected * s))
    assert rounding_error(s, [expected], 1.0, np.full(5, 0.25)) < \
        rounding_error(scale2, [expected], 1.0, np.full(5, 0.25))
    # the Affine bias (0.25 a step, full current decay) becomes the LIF's voltage bias r/tau * b
    assert np.all(graph.layers[2].bias == np.round(0.25 * s))
    # the imported IR is one the rest of neuromap takes: the mapper places it, and through a
    # file the CLI turns it into a NetX network with the same layers and integer weights
    from neuromap.hw.profile import load_profile
    from neuromap.mapper import map_network
    assert map_network(graph, load_profile("loihi2"), "layerwise").summary()["cores"] >= 2
    nir.write(tmp_path / "f.nir", foreign_graph())
    assert export_main(["--model", str(tmp_path / "f.nir"), "--to", "netx",
                        "--out", str(tmp_path / "f.net")]) == 0
    netx = load_netx(tmp_path / "f.net")
    assert [lay.shape for lay in netx.layers] == [lay.shape for lay in graph.layers]
    assert all(np.array_equal(a.weight, b.weight) for a, b in zip(netx.edges, graph.edges))


def test_foreign_pool_then_conv_composes_exactly():
    from lava.proc.conv.utils import conv_scipy
    rng = np.random.default_rng(5)
    w2 = rng.integers(-1, 2, (3, 2, 2, 2)).astype(float)  # max |w| = 1: the scale is exactly 127
    w2[0, 0, 0, 0] = 1.0
    nodes = {
        "x": nir.Input(input_type={"input": np.array([2, 10, 8])}),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "conv": nir.Conv2d(input_shape=None, weight=w2, stride=(1, 2), padding=0, dilation=1,
                           groups=1, bias=np.zeros(3)),
        "n": nir.IF(r=np.ones((3, 4, 2)), v_threshold=np.ones((3, 4, 2))),
        "y": nir.Output(output_type={"output": np.array([3, 4, 2])}),
    }
    g = nir.NIRGraph(nodes=nodes, edges=[("x", "pool"), ("pool", "conv"), ("conv", "n"), ("n", "y")],
                     type_check=False)
    graph = nir_to_graph(g)
    (edge,) = graph.edges
    assert graph.layer("n").shape == (2, 4, 3)
    x = rng.integers(0, 2, (2, 10, 8)).astype(float)
    want = F.conv2d(F.avg_pool2d(torch.tensor(x)[None], 2, divisor_override=1), torch.tensor(w2),
                    stride=(1, 2))[0].numpy()
    got = conv_scipy(x.transpose(2, 1, 0), edge.weight, edge.weight.shape[1:3], edge.stride,
                     edge.padding, edge.dilation, edge.groups)
    np.testing.assert_array_equal(got.transpose(2, 1, 0), want * 127)


# ------------------------------------------------------------------ (e) bad inputs

def _chain(extra_edges=(), extra_nodes=None, sizes=(3, 4, 4)):
    lif = lambda n: nir.LIF(tau=np.full(n, 2.0), r=np.full(n, 2.0), v_leak=np.zeros(n),  # noqa: E731
                            v_threshold=np.ones(n))
    nodes = {"x": nir.Input(input_type={"input": np.array([sizes[0]])}),
             "a": nir.Affine(weight=np.ones((sizes[1], sizes[0])), bias=np.zeros(sizes[1])),
             "n1": lif(sizes[1]),
             "b": nir.Linear(weight=np.ones((sizes[2], sizes[1]))),
             "n2": lif(sizes[2])}
    nodes.update(extra_nodes or {})
    edges = [("x", "a"), ("a", "n1"), ("n1", "b"), ("b", "n2"), *extra_edges]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def test_bad_graphs_name_the_nodes():
    with pytest.raises(NeuromapError, match="node ghost"):
        nir_to_graph(_chain([("n2", "ghost")]))
    cyc = _chain([("n2", "c"), ("c", "n1")], {"c": nir.Linear(weight=np.ones((4, 4)))})
    with pytest.raises(NeuromapError, match=r"cycle through n1 -> b -> n2 -> c -> n1"):
        nir_to_graph(cyc)
    bad_join = _chain([("x", "d"), ("d", "n2")], {"d": nir.Linear(weight=np.ones((5, 3)))})
    with pytest.raises(NeuromapError, match=r"node n2 joins inputs of different shapes: b gives "
                                            r"\(4,\) but d gives \(5,\)"):
        nir_to_graph(bad_join)
    two_syn = _chain([("n2", "e"), ("e", "f"), ("f", "n3")],
                     {"e": nir.Linear(weight=np.ones((4, 4))), "f": nir.Linear(weight=np.ones((4, 4))),
                      "n3": nir.LIF(tau=np.ones(4), r=np.ones(4), v_leak=np.zeros(4),
                                    v_threshold=np.ones(4))})
    with pytest.raises(NeuromapError, match=r"two synapses \(e, f\)"):
        nir_to_graph(two_syn)
    readout = _chain([("n2", "z"), ("z", "y")], {"z": nir.Affine(weight=np.eye(4)[:2] * 3.0,
                                                                bias=np.zeros(2)),
                                                  "y": nir.Output(output_type={"output": np.array([2])})})
    with pytest.raises(NeuromapError, match=r"path n2 -> z -> y feeds the Output through a synapse"):
        nir_to_graph(readout)
    # a neuron's own recurrent Linear is a recurrent edge, not a rejected cycle
    rec = nir_to_graph(_chain([("n2", "r"), ("r", "n2")], {"r": nir.Linear(weight=np.eye(4))}))
    assert [(e.src, e.dst) for e in rec.edges] == [("x", "n1"), ("n1", "n2"), ("n2", "n2")]


def test_bad_files(tmp_path):
    with pytest.raises(NeuromapError, match="does not exist"):
        read_nir(tmp_path / "missing.nir")
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(NeuromapError, match="not an HDF5 file"):
        read_nir(junk)
    net = lava_dl_net("tiny.net")
    with pytest.raises(NeuromapError, match="no 'node' group"):
        read_nir(net)


# ------------------------------------------------------------------ (f) CLI

def test_cli_exit_codes(tmp_path, capsys):
    net = lava_dl_net("mnist.net")
    out = tmp_path / "mnist.nir"
    assert run_cli(export_main, ["--model", str(net), "--to", "nir", "--out", str(out)]) == 0
    assert_same(load_netx(net), read_nir(out))
    again = tmp_path / "again.nir"
    assert run_cli(export_main, ["--model", str(out), "--to", "nir", "--out", str(again)]) == 0
    assert run_cli(export_main, ["--model", str(tmp_path / "nope.net"), "--to", "nir",
                                 "--out", str(tmp_path / "x.nir")]) == 2
    sdnn = lava_dl_net("gts/pilotnet_sdnn/network.net")
    assert run_cli(export_main, ["--model", str(sdnn), "--to", "nir",
                                 "--out", str(tmp_path / "s.nir")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "does not exist" in err[0] and "SDNN" in err[1]
    assert not (tmp_path / "x.nir").exists() and not (tmp_path / "s.nir").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.nir", "mnist.nir"]


def test_cli_to_netx_round_trip(tmp_path):
    net = lava_dl_net("tiny.net")
    nir_path = tmp_path / "tiny.nir"
    assert export_main(["--model", str(net), "--to", "nir", "--out", str(nir_path)]) == 0
    back = tmp_path / "tiny.net"
    assert export_main(["--model", str(nir_path), "--to", "netx", "--out", str(back)]) == 0
    a, b = load_netx(net), load_netx(back)
    for x, y in zip(a.edges, b.edges):
        assert np.array_equal(x.weight, y.weight)
    assert [lay.neuron for lay in a.layers] == [lay.neuron for lay in b.layers]


def test_cli_process_exit_status(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "neuromap.export", "--model", str(tmp_path / "no.nir"),
                           "--to", "nir", "--out", str(tmp_path / "o.nir")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr


# ------------------------------------------------------------------ (g) peers' conventions

def test_pool_then_padded_conv_composes_exactly_or_is_refused():
    """The NIR paper's Sinabs CNN pools before a padded convolution: with windows that do not
    overlap and cover the input, the conv's zero padding is the pool stride times as wide."""
    from lava.proc.conv.utils import conv_scipy
    rng = np.random.default_rng(6)
    w2 = rng.integers(-127, 128, (3, 2, 3, 3)).astype(float)
    w2[0, 0, 0, 0] = 127.0  # max |w| = 127: the layer's scale is exactly 1

    def graph(h, w, kernel, stride):
        nodes = {
            "x": nir.Input(input_type={"input": np.array([2, h, w])}),
            "pool": nir.SumPool2d(kernel_size=np.array(kernel), stride=np.array(stride),
                                  padding=np.array([0, 0])),
            "conv": nir.Conv2d(input_shape=None, weight=w2, stride=1, padding=1, dilation=1,
                               groups=1, bias=np.zeros(3)),
            "n": nir.IF(r=np.ones((3, h // 2, w // 2)), v_threshold=np.ones((3, h // 2, w // 2))),
            "y": nir.Output(output_type={"output": np.array([3, h // 2, w // 2])}),
        }
        return nir.NIRGraph(nodes=nodes, edges=[("x", "pool"), ("pool", "conv"), ("conv", "n"),
                                                ("n", "y")], type_check=False)

    (edge,) = nir_to_graph(graph(8, 6, [2, 2], [2, 2])).edges
    assert edge.padding == (2, 2) and edge.stride == (2, 2)
    x = rng.integers(0, 2, (2, 8, 6)).astype(float)
    want = F.conv2d(F.avg_pool2d(torch.tensor(x)[None], 2, divisor_override=1), torch.tensor(w2),
                    padding=1)[0].numpy()
    got = conv_scipy(x.transpose(2, 1, 0), edge.weight, edge.weight.shape[1:3], edge.stride,
                     edge.padding, edge.dilation, edge.groups)
    np.testing.assert_array_equal(got.transpose(2, 1, 0), want)
    # an odd input leaves a row no window covers, which the composed padding would read
    with pytest.raises(NeuromapError, match=r"SumPool2d pool .* before the padded Conv2d conv "
                                            r"does not compose.*put a neuron node between them"):
        nir_to_graph(graph(9, 6, [2, 2], [2, 2]))


def test_dt_scales_time_constants_and_gains():
    """A peer's LIF in seconds (tau = 1 ms, dt = 0.125 ms: 8 steps) with r = 1: decay 512/4096
    and an Euler input gain r dt / tau = 1/8 (so the threshold is 8 times the weights')."""
    n = 3
    nodes = {"x": nir.Input(input_type={"input": np.array([2])}),
             "a": nir.Linear(weight=np.array([[1.0, 0.5], [0.25, 1.0], [1.0, 1.0]])),
             "lif": nir.LIF(tau=np.full(n, 1e-3), r=np.ones(n), v_leak=np.zeros(n),
                            v_threshold=np.full(n, 0.0625), v_reset=np.zeros(n)),
             "y": nir.Output(output_type={"output": np.array([n])})}
    g = nir.NIRGraph(nodes=nodes, edges=[("x", "a"), ("a", "lif"), ("lif", "y")], type_check=False)
    with pytest.raises(NeuromapError, match=r"node lif: tau = 0.001 is below one time step .*"
                                            r"give --dt SECONDS"):
        nir_to_graph(g)
    graph = nir_to_graph(g, dt=1.25e-4)
    p = graph.layer("lif").neuron.params
    # weights 1/8, 1/16, 1/32 and threshold 1/16 are exact at the scale 1024 (weights up to 128,
    # one sign: an 8-bit mantissa); the scale that makes the largest weight 127 would round them
    assert (p["iDecay"], p["vDecay"], p["vThMant"]) == (4096, 512, 64)
    np.testing.assert_array_equal(graph.edges[0].weight, [[128, 64], [32, 128], [128, 128]])
    assert graph.meta["nir_import"] == {"dt": 1.25e-4, "dt_from": "given"}
    with pytest.raises(NeuromapError, match="--dt must be a positive number"):
        nir_to_graph(g, dt=0.0)
    nodes["lif"] = nir.LIF(tau=np.full(n, 1e-3), r=np.ones(n), v_leak=np.zeros(n),
                           v_threshold=np.full(n, 0.0625), v_reset=np.full(n, -0.5))
    g = nir.NIRGraph(nodes=nodes, edges=[("x", "a"), ("a", "lif"), ("lif", "y")], type_check=False)
    with pytest.raises(NeuromapError, match=r"node lif: v_reset = -0.5; .* reset to 0"):
        nir_to_graph(g, dt=1.25e-4)


def test_export_for_a_peer_dt_and_back():
    """--out-dt writes time constants in the reader's unit with unit Euler gains (snnTorch's
    convention); stripped of metadata the file comes back with dt inferred and the same decays."""
    graph = multi_input_graph()
    layers = tuple(Layer(lay.name, lay.kind, lay.shape, lay.neuron, None, lay.transform)
                   if lay.name == "join" else lay for lay in graph.layers)
    graph = NetworkGraph(graph.name, layers, graph.edges, graph.meta)
    g = graph_to_nir(graph, dt=1e-4)
    a, fc = g.nodes["a"], g.nodes["fc"]
    assert isinstance(a, nir.CubaLIF) and isinstance(fc, nir.LIF)
    np.testing.assert_allclose(a.tau_syn, 4e-4)  # iDecay 1024: 4 steps
    np.testing.assert_allclose(a.w_in * 1e-4 / a.tau_syn, 1)
    np.testing.assert_allclose(a.r * 1e-4 / a.tau_mem, 1)
    np.testing.assert_allclose(fc.r * 1e-4 / fc.tau, 1)
    assert np.all(a.v_reset == 0) and np.all(fc.v_reset == 0)
    back = nir_to_graph(strip_metadata(g))
    assert back.meta["nir_import"]["dt"] == pytest.approx(1e-4, rel=1e-9)
    for old in graph.layers[1:4]:
        p, q = old.neuron.params, back.layer(old.name).neuron.params
        assert (q["iDecay"], q["vDecay"]) == (p["iDecay"], p["vDecay"]), old.name
    cuba_only = graph_to_nir(graph, plain=False)
    assert all(isinstance(cuba_only.nodes[n], nir.CubaLIF) for n in ("a", "join", "fc"))
    assert_same(graph, nir_to_graph(cuba_only))


def test_nested_subgraph_is_inlined():
    """snnTorch writes a recurrent layer as a subgraph Input -> lif <-> w_rec -> Output."""
    lif = lambda n: nir.LIF(tau=np.full(n, 2.0), r=np.full(n, 2.0), v_leak=np.zeros(n),  # noqa: E731
                            v_threshold=np.ones(n))
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([4])}), "lif": lif(4),
                              "w_rec": nir.Linear(weight=np.eye(4) * 0.5),
                              "output": nir.Output(output_type={"output": np.array([4])})},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                              ("lif", "output")], type_check=False)
    nodes = {"x": nir.Input(input_type={"input": np.array([3])}),
             "a": nir.Linear(weight=np.ones((4, 3))), "rnn": sub,
             "b": nir.Linear(weight=np.ones((2, 4))), "n2": lif(2),
             "y": nir.Output(output_type={"output": np.array([2])})}
    g = nir.NIRGraph(nodes=nodes, edges=[("x", "a"), ("a", "rnn"), ("rnn", "b"), ("b", "n2"),
                                         ("n2", "y")], type_check=False)
    graph = nir_to_graph(g)
    assert [(e.src, e.dst) for e in graph.edges] == [("x", "rnn.lif"), ("rnn.lif", "rnn.lif"),
                                                     ("rnn.lif", "n2")]


def test_cli_dt_options(tmp_path, capsys):
    """--dt is a NIR writer's time step (refused for NetX), --out-dt the reader's."""
    net = lava_dl_net("tiny.net")
    assert run_cli(export_main, ["--model", str(net), "--dt", "1e-4", "--to", "nir",
                                 "--out", str(tmp_path / "t.nir")]) == 2
    assert "is a NetX network, whose time is in steps; --dt is for NIR files" in capsys.readouterr().err
    for bad in ("0", "-1", "nan", "inf"):
        assert run_cli(export_main, ["--model", str(net), "--to", "nir", "--out-dt", bad,
                                     "--out", str(tmp_path / "t.nir")]) == 2
    assert run_cli(export_main, ["--model", str(net), "--to", "nir", "--out-dt", "1e-3",
                                 "--out", str(tmp_path / "t.nir")]) == 0
    g = nir.read(tmp_path / "t.nir", type_check=False)
    taus = [np.asarray(v.tau if isinstance(v, nir.LIF) else v.tau_mem) for v in g.nodes.values()
            if isinstance(v, (nir.LIF, nir.CubaLIF))]
    assert taus and all(np.all(t < 1) for t in taus)  # steps * 1e-3 s
    assert_same(load_netx(net), read_nir(tmp_path / "t.nir"))  # the metadata keeps it exact
    capsys.readouterr()
    with pytest.raises(NeuromapError, match=r"is a NIR graph, not a NetX network; convert it with "
                                            r"`python -m neuromap.export"):
        load_netx(tmp_path / "t.nir")


# ------------------------------------------------------------------ one scale per imported layer

def test_representable_weights_pass_lavas_encoding_unchanged():
    """``representable`` is what the engines' weight encoding and Lava's 8-bit synapse keep
    exactly: an 8-bit mantissa times 2**e; mixed signs within lava-dl's -256..254 as lava-dl
    encodes them, beyond it a signed mantissa times Loihi's weight exponent."""
    from neuromap.sim.weights import encode_dense, lava_dense_weights

    def through_lava(w):
        enc, bits, exp = encode_dense(w)
        return lava_dense_weights(enc, bits) * 2.0 ** exp

    # a one-sign mantissa of 256 is clipped to 255; mixed signs beyond -256..254 are exact when
    # every weight is a multiple of the 2**e that brings them into -128..127 (e at most 8)
    cases = {((127, -128), (3, 0)): True, ((254, -256), (2, 0)): True, ((508, -4),): True,
             ((509, -4),): False, ((258, -2),): False, ((256, -2),): False, ((-1024, 8),): True,
             ((127 << 8, -256),): True, ((128 << 8, -256),): False, ((-1028, 4),): False,
             ((508, 4),): True, ((300, 0),): True, ((301, 2),): False, ((510, 2),): True,
             ((-510, -2),): True, ((-256, -2),): False, ((1016, 8),): True,
             ((-128, -1),): False, ((-5, 0),): False, ((129, -1),): False}
    for rows, want in cases.items():
        w = np.array(rows, dtype=float)
        assert representable(w) == want, rows
        if want:
            np.testing.assert_array_equal(through_lava(w), w)
    rng = np.random.default_rng(0)
    seen = {True: 0, False: 0}
    for i in range(3000):
        lo, hi = [(-300, 300), (0, 600), (-600, 0), (-130, 130)][i % 4]
        w = (rng.integers(lo, hi + 1, (3, 4)) * 2 ** int(rng.integers(0, 4))).astype(float)
        try:
            exact = bool(np.array_equal(through_lava(w), w))
        except (NeuromapError, ZeroDivisionError):  # the fast engine cannot encode it at all
            exact = False
        if exact:  # at most 8 bits too (Lava's model keeps 9-bit mixed-sign weights exactly)
            exact = encode_dense(w)[1] <= 8
        assert representable(w) == exact, w
        seen[exact] += 1
    assert min(seen.values()) > 300


def test_scale_makes_weights_and_threshold_exact_where_netx_can():
    # integer weights up to 60, threshold 100.25: at 4 both are integers (weights up to 240 are
    # 8-bit mantissas times 2), where the 127 scale would round every one of them
    w = np.array([[60.0, -13.0, 7.0], [-41.0, 22.0, 1.0]])
    s = choose_scale([w], 100.25, np.zeros(2))
    assert s == 4 and rounding_error(s, [w], 100.25, np.zeros(2)) == 0
    # the same with the largest weight 127 (mixed signs, 14 inputs a neuron, as in snntorch_rnn):
    # at 4 the weights reach 508, beyond lava-dl's -256..254, but they are mantissas times 2**2,
    # which the engines' encoding gives Loihi's weight exponent: exact
    w = np.random.default_rng(0).integers(-60, 91, (6, 14)).astype(float)
    w[0, 0] = 127.0
    s = choose_scale([w], 160.25, np.zeros(6))
    assert s == 4 and rounding_error(s, [w], 160.25, np.zeros(6)) == 0
    # a recurrent layer's input and recurrent weights are one NetX matrix: each alone takes the
    # scale 4 (one sign each); together they are mixed, 800 and -4 at 4 need the exponent 3,
    # of which -4 is no multiple, and 2 and 1 fail likewise: the 127 scale
    pos, neg = np.array([[60.0, 2.0]]), np.array([[-60.0, -1.0]])
    assert choose_scale([pos, neg], 100.25, np.zeros(1)) == 4
    assert choose_scale([pos, neg], 100.25, np.zeros(1), np.hstack((pos, neg))) == 4
    big = np.array([[200.0, 2.0]]), np.array([[-200.0, -1.0]])
    assert choose_scale(list(big), 100.25, np.zeros(1)) == 4
    assert not any(representable(np.round(np.hstack(big) * c)) for c in (4, 2, 1))
    assert choose_scale(list(big), 100.25, np.zeros(1), np.hstack(big)) == 127 / 200
