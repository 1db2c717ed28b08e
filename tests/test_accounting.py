"""Event accounting and cost on tiny nets with hand-computed counts."""
from __future__ import annotations

from dataclasses import replace
from itertools import product

import numpy as np
import pytest

from neuromap.cost import account, estimate_cost
from neuromap.geometry import fanin_sum, reach_mask
from neuromap.graph import Edge, conv_output_shape
from neuromap.hw.profile import load_profile
from neuromap.mapper import map_layerwise
from neuromap.sim.activity import Activity

from helpers import conv_graph, dense_graph


def _profile(limit):
    return replace(load_profile("loihi2"), max_neurons={"default": limit})


def test_dense_counts_by_hand():
    g = dense_graph(np.arange(12.0).reshape(3, 4))
    prof = _profile(2)
    m = map_layerwise(g, prof)  # dense neurons 0,1 -> core 0 ; 2 -> core 1
    assert [c.neurons for c in m.cores] == [2, 1]
    inp = np.zeros((1, 2, 4), np.int32)   # one sample, two steps
    inp[0, 0, [0, 3]] = 1                  # step 0: inputs 0 and 3 spike
    inp[0, 1, 1] = 1                       # step 1: input 1 spikes
    out = np.zeros((1, 2, 3), np.int32)
    out[0, 1, 2] = 1                       # neuron 2 spikes once
    ev = account(g, m, Activity({"input0": inp, "dense1": out}, steps=2))
    # 3 input spikes, each drives 2 synapses on core 0 and 1 on core 1
    assert ev.synops.tolist() == [6, 3]
    assert ev.updates.tolist() == [4, 2]
    assert ev.active_updates.tolist() == [4, 2]  # every neuron got input at both steps
    assert ev.spikes.tolist() == [0, 1]
    assert ev.traffic[-1].tolist() == [3, 3]      # host sends each spike to both cores
    assert ev.inter_core_messages == 0
    cost = estimate_cost(ev, m, prof)
    e = prof.energy_pj
    assert cost.energy_pj["synops"] == pytest.approx(9 * e["synop"])
    assert cost.energy_pj["neuron_updates"] == pytest.approx(6 * e["neuron_update_active"])
    assert cost.energy_pj["spikes"] == pytest.approx(6 * e["spike_in_tile"])
    assert cost.energy_pj["hops"] == 0
    t = prof.time_ns
    busy = 6 * t["synop"] + 4 * t["neuron_update_active"]  # core 0 is the busiest
    assert cost.step_ns == pytest.approx(busy / 2 + prof.barrier_time_ns(1))


def test_conv_counts_by_hand():
    g = conv_graph((3, 3, 1), np.ones((1, 2, 2, 1)))   # 3x3 -> 2x2, 2x2 kernel
    m = map_layerwise(g, _profile(2))                  # posts (0,0),(0,1) | (1,0),(1,1)
    inp = np.zeros((1, 1, 9), np.int32)
    inp[0, 0, 0] = 1      # corner (0,0): one synapse, to post (0,0) on core 0
    inp[0, 0, 4] = 1      # centre (1,1): all four posts
    out = np.zeros((1, 1, 4), np.int32)
    ev = account(g, m, Activity({"input0": inp, "conv1": out}, steps=1))
    assert ev.synops.tolist() == [3, 2]
    assert ev.traffic[-1].tolist() == [2, 1]
    assert ev.active_updates.tolist() == [2, 2]


def test_two_layer_traffic_and_hops():
    # dense 2 -> 4 -> 2, one neuron per core: 4 + 2 cores on the snake, all on tile 0 and 1
    from neuromap.graph import Layer, NetworkGraph
    from helpers import CUBA
    g = NetworkGraph("two", (Layer("in", "input", (2,)), Layer("a", "dense", (4,), CUBA),
                             Layer("b", "dense", (2,), CUBA)),
                     (Edge("in", "a", "dense", np.ones((4, 2))), Edge("a", "b", "dense", np.ones((2, 4)))))
    m = map_layerwise(g, _profile(1))
    ev = account(g, m, Activity({"in": np.zeros((1, 1, 2), np.int32),
                                 "a": np.array([[[1, 0, 0, 1]]], np.int32),
                                 "b": np.zeros((1, 1, 2), np.int32)}, steps=1))
    # a0 (core 0) and a3 (core 3) each reach cores 4 and 5 (layer b)
    assert ev.traffic[0, 4] == 1 and ev.traffic[3, 5] == 1 and ev.traffic[:-1].sum() == 4
    assert ev.inter_core_messages == 4
    cost = estimate_cost(ev, m, _profile(1))
    # cores 0-3 on tile (0,0), cores 4-5 on tile (1,0): each message makes one east-west hop
    assert cost.hops_east_west == 4 and cost.hops_north_south == 0


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    ((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 1), 1), ((1, 2), (1, 1), (2, 1), 2),
    ((2, 2), (0, 1), (1, 2), 4)])
def test_fanin_and_reach_match_brute_force(stride, padding, dilation, groups):
    rng = np.random.default_rng(1)
    src = (7, 6, 4)
    w = np.ones((8, 3, 2, 4 // groups))
    edge = Edge("a", "b", "conv", w, stride, padding, dilation, groups)
    dst = conv_output_shape(src, edge)
    pre = rng.integers(0, 3, src).astype(float)
    conn = np.zeros((int(np.prod(dst)), int(np.prod(src))), bool)  # explicit synapse list
    cin_g, cout_g = src[2] // groups, dst[2] // groups
    for xo, yo, co in product(*map(range, dst)):
        g = co // cout_g
        for i, j, ci in product(range(3), range(2), range(cin_g)):
            x = xo * stride[0] - padding[0] + i * dilation[0]
            y = yo * stride[1] - padding[1] + j * dilation[1]
            if 0 <= x < src[0] and 0 <= y < src[1]:
                conn[np.ravel_multi_index((xo, yo, co), dst),
                     np.ravel_multi_index((x, y, g * cin_g + ci), src)] = True
    assert np.array_equal(fanin_sum(pre, edge, src, dst), conn @ pre.reshape(-1))
    post = rng.random(int(np.prod(dst))) < 0.2
    assert np.array_equal(reach_mask(post, edge, src, dst), conn[post].any(axis=0))


def test_recurrent_edge_counts_synops_and_input_a_step_later():
    """A recurrent dense edge carries the layer's own spikes back to it one step later: every
    spike makes one synaptic event per neuron, and the neurons count as receiving input on the
    next step (a spike on the last step of the window delivers after it)."""
    g = dense_graph(np.ones((3, 4)))
    g = replace(g, edges=g.edges + (Edge("dense1", "dense1", "dense", np.ones((3, 3))),))
    prof = _profile(8)
    m = map_layerwise(g, prof)
    inp = np.zeros((1, 3, 4), np.int32)            # no input spikes at all
    out = np.zeros((1, 3, 3), np.int32)
    out[0, 0, 1] = 1                               # step 0: neuron 1 spikes -> input at step 1
    out[0, 2, 0] = 1                               # step 2 (last): delivers after the window
    ev = account(g, m, Activity({"input0": inp, "dense1": out}, steps=3))
    assert ev.synops.tolist() == [6]               # 2 spikes x 3 recurrent synapses
    assert ev.active_updates.tolist() == [3]       # only step 1, all 3 neurons
