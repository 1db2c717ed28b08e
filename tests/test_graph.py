"""The IR checks its own structure when it is built, with one error naming the layer or edge."""
from __future__ import annotations

import numpy as np
import pytest

from neuromap.errors import NeuromapError
from neuromap.graph import Edge, Layer, NetworkGraph, Neuron

CUBA = Neuron("CUBA", {"vThMant": 80, "iDecay": 0, "vDecay": 0})
INP = Layer("in", "input", (6, 6, 2))
CONV = Layer("c1", "conv", (6, 6, 4), CUBA)
DENSE = Layer("d2", "dense", (5,), CUBA)


def _conv_edge(**kw) -> Edge:
    return Edge("in", "c1", "conv", np.ones((4, 3, 3, 2)), padding=(1, 1), **kw)


def _graph(layers=(INP, CONV, DENSE), edges=None) -> NetworkGraph:
    if edges is None:
        edges = (_conv_edge(), Edge("c1", "d2", "dense", np.ones((5, 144))))
    return NetworkGraph("g", tuple(layers), tuple(edges))


def test_a_consistent_graph_is_indexed_by_name() -> None:
    g = _graph()
    assert g.layer("c1") is CONV and g.layer("d2") is DENSE
    assert [e.src for e in g.in_edges("d2")] == ["c1"] and [e.dst for e in g.out_edges("in")] == ["c1"]
    assert g.in_edges("in") == () and g.out_edges("d2") == ()
    with pytest.raises(KeyError):
        g.layer("nope")


@pytest.mark.parametrize("layers,edges,words", [
    ((INP, CONV, Layer("c1", "dense", (5,), CUBA)), None, "two layers are named 'c1'"),
    ((INP, CONV, Layer("d2", "pool", (5,), CUBA)), None, "layer d2: kind 'pool'"),
    ((INP, CONV, Layer("d2", "dense", (0,), CUBA)), None, "layer d2: shape (0,)"),
    ((INP, Layer("c1", "conv", (36, 4), CUBA), DENSE), None, "layer c1: a conv layer needs"),
    ((INP, CONV, Layer("d2", "dense", (5,), CUBA, np.zeros(4))), None, "layer d2: bias of shape (4,)"),
    (None, (_conv_edge(), Edge("c1", "d3", "dense", np.ones((5, 144)))), "edge c1 -> d3 names a layer"),
    (None, (_conv_edge(), Edge("c1", "d2", "sparse", np.ones((5, 144)))), "edge c1 -> d2: kind 'sparse'"),
    (None, (_conv_edge(), Edge("c1", "d2", "dense", np.ones((144, 5)))), "edge c1 -> d2: weight (144, 5)"),
    (None, (Edge("in", "c1", "conv", np.ones((4, 3, 3, 2))), Edge("c1", "d2", "dense", np.ones((5, 144)))),
     "edge in -> c1: the convolution gives (4, 4, 4)"),
    (None, (_conv_edge(groups=2), Edge("c1", "d2", "dense", np.ones((5, 144)))), "groups=2 does not fit"),
    (None, (_conv_edge(stride=(0, 1)), Edge("c1", "d2", "dense", np.ones((5, 144)))), "stride and dilation"),
    (None, (_conv_edge(), Edge("c1", "d2", "dense", np.ones((5, 144)), delay=np.ones((5, 2)))),
     "edge c1 -> d2: delays (5, 2)"),
])
def test_inconsistent_structure_is_refused_naming_the_layer(layers, edges, words) -> None:
    with pytest.raises(NeuromapError, match=f"^g: .*{words.replace('(', '[(]').replace(')', '[)]')}"):
        _graph(layers or (INP, CONV, DENSE), edges)
