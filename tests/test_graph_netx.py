"""Non-sequential networks: lowering to the IR, the NetX graph format (write/load round trips,
stock NetX compatibility, bad files) and Lava against SLAYER layer by layer."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from neuromap.errors import NeuromapError
from neuromap.graph import NetworkGraph
from neuromap.models import create_model
from neuromap.models.calibrate import calibrate_snn
from neuromap.netx.lower import lava_mismatches, lower_snn
from neuromap.models.squeezenet import _build as build_squeezenet
from neuromap.netx.export import export_netx
from neuromap.netx.load import load_netx
from neuromap.netx.write import write_netx

from conftest import SHIPPED, lava_dl_net


def small(family: str, seed: int = 0) -> torch.nn.Module:
    """A small instance of each family on 8 x 8 digits input (same block vocabulary as the zoo)."""
    torch.manual_seed(seed)
    shape = (1, 8, 8)
    if family == "squeezenet":  # F2, F3 (bypass), F4, F5: one bypass survives the stride plan
        return build_squeezenet("squeezenet", "snn", 10, shape, ("F2", "F3", "F4", "F5"), True, "stride",
                                None, 2.0)
    if family == "squeezenet_p":
        return create_model("squeezenet_p", kind="snn", input_shape=shape, keep=("F2", "F4"))
    if family == "shufflenetv2":  # stride-2 units on a plain and on a shuffled input, stride-1 splits
        return create_model("shufflenetv2", kind="snn", input_shape=shape, stages=((8, 2), (16, 2)), stem=8,
                            head=16)
    if family == "mnasnet":
        return create_model("mnasnet", kind="snn", input_shape=shape, stages=((8, 2, 2, 2, 3), (16, 2, 1, 2, 5)),
                            stem=8, head=16)
    return create_model("mixnet", kind="snn", input_shape=shape, stages=((8, 2, 2, 2, (3, 5)), (16, 2, 1, 2, (3, 5, 7))),
                        stem=8, head=16)


FAMILIES = ["squeezenet", "squeezenet_p", "shufflenetv2", "mnasnet", "mixnet"]


def same_graph(a: NetworkGraph, b: NetworkGraph) -> None:
    assert [(x.name, x.kind, x.shape) for x in a.layers] == [(x.name, x.kind, x.shape) for x in b.layers]
    for x, y in zip(a.layers, b.layers):
        assert x.neuron == y.neuron or (x.neuron.type == y.neuron.type and
                                        {k: float(v) for k, v in x.neuron.params.items()} ==
                                        {k: float(v) for k, v in y.neuron.params.items()})
        assert (x.bias is None) == (y.bias is None) and (x.bias is None or np.array_equal(x.bias, y.bias))
    key = lambda e: (e.dst, e.src, e.lag)  # noqa: E731
    ea, eb = sorted(a.edges, key=key), sorted(b.edges, key=key)
    assert [key(e) for e in ea] == [key(e) for e in eb]
    for x, y in zip(ea, eb):
        assert x.kind == y.kind and np.array_equal(x.weight, y.weight)
        assert (x.stride, x.padding, x.dilation, x.groups) == (y.stride, y.padding, y.dilation, y.groups)
        assert (x.delay is None) == (y.delay is None)
        if x.delay is not None:
            assert np.array_equal(x.delay, y.delay)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_exports_and_loads_back_identically(tmp_path: Path, family: str) -> None:
    model = small(family)
    graph = lower_snn(model)
    path = export_netx(model, tmp_path / f"{family}.net")
    loaded = load_netx(path)
    assert loaded.layers[0].name == "input"
    same_graph(graph, loaded)
    joins = [lay.name for lay in graph.layers if len(graph.in_edges(lay.name)) > 1]
    assert bool(joins) == (family != "squeezenet_p")


def test_shufflenet_routing_folds_split_concat_shuffle() -> None:
    g = lower_snn(small("shufflenetv2"))
    # stride-1 unit of stage 1: branch2's first 1x1 conv reads the second half of the shuffled concat,
    # i.e. odd channels of the concat = branch-2 channels of the unit before (shuffle interleaves)
    first_pw = g.layer("2.branch2.0")
    ins = g.in_edges(first_pw.name)
    assert {e.src for e in ins} == {"1.branch1.1", "1.branch2.2"} and all(e.lag in (0, 1) for e in ins)
    # the x1 half is carried with a lag of len(branch2) = 3 steps to the next consumer
    assert any(e.lag >= 3 for e in g.edges)
    # a depthwise conv on a shuffled concat becomes a plain conv with zeros off the diagonal
    dw = [e for e in g.in_edges("3.branch1.0")]
    assert len(dw) >= 2 and all(e.groups == 1 for e in dw)
    assert sum(np.count_nonzero(e.weight[:, 1, 1, :]) for e in dw) <= g.layer("3.branch1.0").shape[2]


def test_residual_is_a_lagged_identity_edge() -> None:
    g = lower_snn(small("mnasnet"))
    skips = [e for e in g.edges if e.lag]
    assert skips and all(e.kind == "conv" and e.weight.shape[1:3] == (1, 1) for e in skips)
    for e in skips:  # identity depthwise 1x1 with weight 1.0 * 64, lag = body length - 1
        assert e.groups == e.weight.shape[0] and np.all(e.weight == 64) and e.lag == 2


def test_stock_netx_refuses_a_graph_file_loudly(tmp_path: Path) -> None:
    from lava.lib.dl.netx.hdf5 import Network

    path = export_netx(small("mnasnet"), tmp_path / "m.net")
    with pytest.raises(NotImplementedError, match="concat"), contextlib.redirect_stdout(io.StringIO()):
        Network(net_config=str(path))


@pytest.mark.parametrize("rel", SHIPPED)
def test_shipped_networks_round_trip_and_stay_stock_loadable(tmp_path: Path, rel: str) -> None:
    original = load_netx(lava_dl_net(rel))
    path = write_netx(original, tmp_path / "copy.net")
    again = load_netx(path)
    renamed = NetworkGraph(again.name, tuple(again.layers), tuple(again.edges), again.meta)
    assert len(renamed.layers) == len(original.layers)
    for x, y in zip(original.layers, again.layers):
        assert (x.kind, x.shape, x.neuron, x.transform) == (y.kind, y.shape, y.neuron, y.transform)
        assert (x.bias is None) == (y.bias is None) and (x.bias is None or np.array_equal(x.bias, y.bias))
    for x, y in zip(original.edges, again.edges):
        assert x.kind == y.kind and np.array_equal(x.weight, y.weight) and x.lag == y.lag == 0
        assert (x.delay is None and y.delay is None) or np.array_equal(x.delay, y.delay)
    assert again.meta.get("simulation") == original.meta.get("simulation")
    from lava.lib.dl.netx.hdf5 import Network

    def stock(p: Path):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return [tuple(blk.shape) for blk in Network(net_config=str(p)).layers]
        except NotImplementedError as exc:  # e.g. NTIDIGITS' average readout: stock NetX has none
            return str(exc)
    assert stock(path) == stock(lava_dl_net(rel))


# ------------------------------------------------------------------ bad graph files
@pytest.fixture()
def graph_file(tmp_path: Path) -> Path:
    return export_netx(small("mnasnet"), tmp_path / "g.net")


def _first_join(f: h5py.File) -> str:
    return next(k for k in sorted(f["layer"], key=int) if "inputs" in f["layer"][k])


def _edit(path: Path, fn) -> None:
    with h5py.File(path, "r+") as f:
        fn(f, _first_join(f))


def test_forward_reference_is_refused_naming_the_layers(graph_file: Path) -> None:
    def later(f, k):
        del f["layer"][k]["inputs"]["1"]["source"]
        f["layer"][k]["inputs"]["1"].create_dataset("source", data=np.int64(int(k) + 1))
    _edit(graph_file, later)
    with pytest.raises(NeuromapError, match=r"reads layer \d+, which comes after it"):
        load_netx(graph_file)


def test_missing_source_is_refused(graph_file: Path) -> None:
    def gone(f, k):
        src = int(f["layer"][k]["inputs"]["1"]["source"][()])
        del f["layer"][k]["inputs"]["1"]["source"]
        f["layer"][k]["inputs"]["1"].create_dataset("source", data=np.int64(-5 if src else -1))
    _edit(graph_file, gone)
    with pytest.raises(NeuromapError, match="does not exist"):
        load_netx(graph_file)


def test_join_shape_mismatch_names_both_inputs(graph_file: Path) -> None:
    def stride(f, k):
        g = f["layer"][k]["inputs"]["1"]
        del g["stride"]
        g.create_dataset("stride", data=np.array([2, 2]))
    _edit(graph_file, stride)
    with pytest.raises(NeuromapError, match="shape mismatch at the join: input from .* gives"):
        load_netx(graph_file)


def test_self_loop_on_a_conv_layer_is_refused(graph_file: Path) -> None:
    def loop(f, k):
        del f["layer"][k]["inputs"]["1"]["source"]
        f["layer"][k]["inputs"]["1"].create_dataset("source", data=np.int64(int(k)))
    _edit(graph_file, loop)
    with pytest.raises(NeuromapError, match="reads itself"):
        load_netx(graph_file)


def test_unknown_graph_version_is_refused(graph_file: Path) -> None:
    with h5py.File(graph_file, "r+") as f:
        f.attrs["netx_graph_version"] = 99
    with pytest.raises(NeuromapError, match="version 99 is not supported"):
        load_netx(graph_file)


def test_writer_refuses_a_graph_out_of_order() -> None:
    g = lower_snn(small("mnasnet"))
    shuffled = NetworkGraph(g.name, (g.layers[0], g.layers[2], g.layers[1]) + g.layers[3:], g.edges)
    with pytest.raises(NeuromapError, match="not an earlier layer"):
        write_netx(shuffled, Path("/tmp/never-written.net"))
    assert not Path("/tmp/never-written.net").exists()


# ------------------------------------------------------------------ Lava == SLAYER, every layer
@pytest.mark.parametrize("family", FAMILIES)
def test_lava_equals_slayer_at_every_layer(tmp_path: Path, family: str) -> None:
    from neuromap.sim.fast import simulate_fast
    from neuromap.sim.lava import simulate_lava

    model = small(family, seed=1)
    rng = np.random.default_rng(1)
    # the zoo neuron has no current filter: at SLAYER's init its deep layers fall silent, so every
    # layer is first calibrated to fire (neuromap.models.calibrate) for the comparison to mean something
    calibrate_snn(model, torch.from_numpy((rng.random((4, 1, 8, 8, 32)) < 0.3).astype(np.float32)), target_rate=0.1)
    graph = load_netx(export_netx(model, tmp_path / "m.net"))
    x = (rng.random((1, 1, 8, 8, 32)) < 0.3).astype(np.float32)
    act = simulate_lava(graph, x.transpose(0, 3, 2, 1, 4))
    fast = simulate_fast(graph, x.transpose(0, 3, 2, 1, 4))
    for name, events in act.events.items():  # the fast engine equals Lava at every layer and step
        np.testing.assert_array_equal(fast.events[name], events, err_msg=name)
    checks = lava_mismatches(model, graph, x, act)
    assert list(checks) == [lay.name for lay in graph.layers[1:]]
    for name, (mismatches, _) in checks.items():
        assert mismatches == 0, f"{name}: {mismatches} spikes differ between Lava and SLAYER"
    silent = [name for name, (_, spikes) in checks.items() if spikes == 0]
    assert len(silent) <= 2, f"too many silent layers for a meaningful check: {silent}"


@pytest.mark.parametrize("family", FAMILIES)
def test_zoo_graphs_round_trip_through_nir_and_the_export_cli(tmp_path: Path, family: str) -> None:
    from neuromap import export
    from neuromap.errors import run_cli

    model = small(family)
    net = export_netx(model, tmp_path / "m.net")
    assert run_cli(export.main, ["--model", str(net), "--to", "nir", "--out", str(tmp_path / "m.nir")]) == 0
    assert run_cli(export.main, ["--model", str(tmp_path / "m.nir"), "--to", "netx",
                                 "--out", str(tmp_path / "back.net")]) == 0
    same_graph(load_netx(net), load_netx(tmp_path / "back.net"))


def test_deploy_runs_a_graph_model_and_agrees_with_its_slayer_twin(tmp_path: Path) -> None:
    """train-side files (config + checkpoint + export) of a small ShuffleNetV2, then the deploy CLI."""
    import json

    from neuromap.models.checkpoint import save_checkpoint

    from helpers import run_deploy

    kwargs = {"stages": [[8, 2], [16, 2]], "stem": 8, "head": 16}
    model = create_model("shufflenetv2", kind="snn", input_shape=(1, 8, 8), **kwargs)
    run = tmp_path / "run"
    save_checkpoint(run, model, {"model": "shufflenetv2", "kind": "snn", "num_classes": 10,
                                 "input_shape": [1, 8, 8], "model_kwargs": kwargs})
    net = export_netx(model, tmp_path / "shuffle.net", {"dataset": "digits", "timesteps": 16, "max_level": 16,
                                                        "seed": 0, "run_dir": str(run)})
    code, s = run_deploy(net, tmp_path, 2)
    assert code == 0
    assert s["samples"] == 2 and s["output_counts_equal_slayer"] == 1.0
    report = json.loads((tmp_path / "reports" / "shuffle" / "report.json").read_text())
    assert report["synops_per_inference"] > 0
    # every layer of the graph is mapped and accounted for, joins included
    assert sum(c["neurons"] for c in report["per_core"]) == report["neurons"] == load_netx(net).num_neurons


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_lava_sums_extra_input_edges_and_lags_them(kind: str) -> None:
    """Two edges from one source with weights W1, W2 must act as one edge W1 + W2 (Lava in-ports
    add); with a lag on both, the spikes come exactly `lag` steps later."""
    from neuromap.graph import Edge, Layer
    from neuromap.sim.lava import simulate_lava

    from helpers import CUBA

    rng = np.random.default_rng(3)
    if kind == "dense":
        shape_in, shape_out = (12,), (6,)
        w1, w2 = rng.integers(-40, 90, (6, 12)).astype(float), rng.integers(-40, 90, (6, 12)).astype(float)
        mk = lambda w, lag: Edge("input", "out", "dense", w, lag=lag)  # noqa: E731
    else:
        shape_in, shape_out = (5, 4, 3), (5, 4, 2)
        w1, w2 = rng.integers(-40, 90, (2, 3, 3, 3)).astype(float), rng.integers(-40, 90, (2, 3, 3, 3)).astype(float)
        mk = lambda w, lag: Edge("input", "out", "conv", w, padding=(1, 1), lag=lag)  # noqa: E731
    layers = (Layer("input", "input", shape_in), Layer("out", kind, shape_out, CUBA))
    x = (rng.random((1,) + shape_in + (20,)) < 0.4).astype(np.int32)
    one = simulate_lava(NetworkGraph("one", layers, (mk(w1 + w2, 0),)), x).events["out"]
    two = simulate_lava(NetworkGraph("two", layers, (mk(w1, 0), mk(w2, 0))), x).events["out"]
    lagged = simulate_lava(NetworkGraph("lag", layers, (mk(w1, 3), mk(w2, 3))), x).events["out"]
    assert one.any() and np.array_equal(one, two)
    # Activity windows follow each layer's depth (lags included), so the lagged run's window
    # holds the same spikes; its depth is 3 steps more
    assert np.array_equal(one, lagged)


def test_dense_join_reading_spatial_layers_round_trips(tmp_path: Path) -> None:
    """A dense layer fed by two conv layers (one lagged): graph inputs store NetX's (c, y, x) flatten
    order in the file and come back in the IR's own column order."""
    from neuromap.graph import Edge, Layer

    from helpers import CUBA

    rng = np.random.default_rng(0)
    layers = (Layer("input", "input", (4, 3, 2)), Layer("a", "conv", (4, 3, 5), CUBA),
              Layer("b", "conv", (4, 3, 5), CUBA), Layer("d", "dense", (7,), CUBA))
    w = lambda *s: rng.integers(-9, 9, s).astype(float)  # noqa: E731
    edges = (Edge("input", "a", "conv", w(5, 3, 3, 2), padding=(1, 1)), Edge("a", "b", "conv", w(5, 1, 1, 5)),
             Edge("a", "d", "dense", w(7, 60), lag=1), Edge("b", "d", "dense", w(7, 60)))
    graph = NetworkGraph("t", layers, edges)
    same_graph(graph, load_netx(write_netx(graph, tmp_path / "t.net")))
