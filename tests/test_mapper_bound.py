"""The lower bound on inter-core messages (``metrics.message_lower_bound``): hand-computed on tiny
networks, and never above what either strategy achieves."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neuromap.graph import Edge, Layer, NetworkGraph, Neuron
from neuromap.hw.profile import load_profile
from neuromap.mapper import map_network
from neuromap.mapper.metrics import message_lower_bound
from neuromap.netx.load import load_netx

from conftest import SHIPPED, lava_dl_net

LIF = Neuron("CUBA", {"vThMant": 80})
UNBOUNDED = dict(memory_words=1 << 40, max_input_axons=1 << 40, max_output_routes=1 << 40)


def _dense_net():
    layers = (Layer("in", "input", (10,), LIF), Layer("d", "dense", (20,), LIF))
    return NetworkGraph("dense", layers, (Edge("in", "d", "dense", np.ones((20, 10))),))


def _conv_net():
    layers = (Layer("in", "input", (4, 4, 2), LIF), Layer("c", "conv", (4, 4, 8), LIF))
    edge = Edge("in", "c", "conv", np.ones((8, 3, 3, 2)), stride=(1, 1), padding=(1, 1))
    return NetworkGraph("conv", layers, (edge,))


def test_bound_by_neuron_budget():
    # 8 neurons per core: each of the 10 inputs reaches 20 neurons -> 3 cores -> >= 2 messages
    prof = replace(load_profile("loihi2"), max_neurons={"default": 8}, neuron_state_words={"default": 0},
                   **UNBOUNDED)
    g = _dense_net()
    assert message_lower_bound(g, prof) == 10 * 2
    for s in ("layerwise", "graph"):
        assert map_network(g, prof, s).traffic.messages >= 20


def test_bound_by_shared_kernel_memory():
    # 3 x 3 x 2 = 18 kernel rows of ceil(ch x 32 / 64) words: 2 channels = 18 words, 3 = 36; with 20
    # words a core holds 2 of the 8 output channels, so every input neuron reaches >= 4 cores: >= 3 messages
    prof = replace(load_profile("loihi2"), memory_words=20, conv_weight_bits=32, neuron_state_words={"default": 0})
    g = _conv_net()
    assert message_lower_bound(g, prof) == 4 * 4 * 2 * 3
    for s in ("layerwise", "graph"):
        assert map_network(g, prof, s).traffic.messages >= 96


def test_bound_counts_neurons_that_cannot_sit_with_their_targets():
    # in (16 ch) -1x1-> a (8 ch) -1x1-> b (2 ch), 80 words, no state, one 64-bit word per weight. An a
    # channel's kernel is 16 rows = 16 words, a b channel's 8. in -> a: 8 targets, at most 5 a channels
    # per core, so >= 2 cores: 16 inputs x 1 message. a -> b: any core holding a b neuron holds at
    # most 4 of the 8 a neurons (4 x 16 + 8 <= 80), so >= 4 a neurons send >= 1 message each, although
    # each a neuron alone could share a core with both its targets (the per-neuron bound is 0).
    layers = (Layer("in", "input", (1, 1, 16), LIF), Layer("a", "conv", (1, 1, 8), LIF),
              Layer("b", "conv", (1, 1, 2), LIF))
    edges = (Edge("in", "a", "conv", np.ones((8, 1, 1, 16))), Edge("a", "b", "conv", np.ones((2, 1, 1, 8))))
    g = NetworkGraph("split", layers, edges)
    prof = replace(load_profile("loihi2"), memory_words=80, conv_weight_bits=64, neuron_state_words={"default": 0})
    assert message_lower_bound(g, prof) == 16 + 4
    for s in ("layerwise", "graph"):
        assert map_network(g, prof, s).traffic.messages >= 20


def test_bound_dense_memory_pilotnet_shape():
    # 2,560 inputs into 100 dense neurons on loihi2: at most 16 per core by memory (2,560 lists of
    # ceil(16 x 16 / 64) = 4 words; 17 need 5: 12,800 words, Intel's log), so each input reaches >= 7
    # cores; the bound counts those 6 messages per input. (Intel's rule, and layerwise, use 12 cores:
    # 1 -> 6 -> 12 parts.)
    layers = (Layer("in", "input", (2560,), LIF), Layer("d", "dense", (100,), LIF))
    g = NetworkGraph("d", layers, (Edge("in", "d", "dense", np.ones((100, 2560))),))
    assert message_lower_bound(g, load_profile("loihi2")) == 2560 * 6
    rows = map_network(g, load_profile("loihi2"), "layerwise").summary()["per_layer"]
    assert rows[1]["cores"] == 12


@pytest.mark.parametrize("profile", ["loihi2", "loihi1"])
@pytest.mark.parametrize("net", SHIPPED)
def test_bound_below_both_strategies(net, profile):
    g = load_netx(lava_dl_net(net))
    prof = load_profile(profile)
    lb = message_lower_bound(g, prof)
    for s in ("layerwise", "graph"):
        res = map_network(g, prof, s, validate=False, materialize=False)
        assert lb <= res.traffic.messages + 1e-6, (net, profile, s, lb, res.traffic.messages)
