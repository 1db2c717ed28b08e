"""The per-core resource model on tiny nets with hand-computed counts, the validator rejecting
each kind of violation, and the three ways of counting (per tile, per unit, per neuron) agreeing."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neuromap.cost import account
from neuromap.errors import NeuromapError
from neuromap.graph import Edge, Layer, NetworkGraph
from neuromap.hw.profile import load_profile
from neuromap.mapper import Core, Mapping, map_network, validate
from neuromap.mapper.resources import neuron_core_usage
from neuromap.netx.load import load_netx
from neuromap.sim.activity import Activity

from conftest import lava_dl_net
from helpers import CUBA, conv_graph, dense_graph

BIG = 1 << 40


def _l2(**kw):
    return replace(load_profile("loihi2"), **kw)


def _mapping(graph, assignment, positions=None):
    n = 1 + max(int(a.max()) for a in assignment.values())
    counts = sum(np.bincount(a, minlength=n) for a in assignment.values())
    positions = positions or [(0, i // 4, 0) for i in range(n)]
    cores = tuple(Core(i, *positions[i], "x", int(counts[i])) for i in range(n))
    return Mapping("loihi2", "hand", cores, {k: np.asarray(v) for k, v in assignment.items()})


def test_dense_by_hand():
    g = dense_graph(np.arange(12.0).reshape(3, 4))       # host 4 -> 3 CUBA
    u = neuron_core_usage(g, {"dense1": np.zeros(3, np.int64)}, 1, load_profile("loihi2"))
    # 3 neurons x 3 state words + 4 input axons x (1 header + ceil(3 x 20 bits / 64) = 1 word)
    assert u.memory.tolist() == [3 * 3 + 4 * (1 + 1)]
    assert u.axons.tolist() == [4] and u.routes.tolist() == [0] and u.neurons.tolist() == [3]
    # 4 neurons per list: 80 bits -> 2 words per axon
    g4 = dense_graph(np.ones((4, 4)))
    assert neuron_core_usage(g4, {"dense1": np.zeros(4, np.int64)}, 1,
                             load_profile("loihi2")).memory.tolist() == [4 * 3 + 4 * (1 + 2)]


def test_shared_and_unshared_conv_by_hand():
    g = conv_graph((3, 3, 1), np.ones((2, 2, 2, 1)))      # 3x3x1 -> 2x2x2, 2x2 kernel
    one = {"conv1": np.zeros(8, np.int64)}
    u = neuron_core_usage(g, one, 1, load_profile("loihi2"))
    # 8 neurons x 3 words + kernel 2 ch x 2 x 2 x 1 x 8 bits = 64 bits = 1 word; all 9 inputs
    assert u.memory.tolist() == [25] and u.axons.tolist() == [9]
    # Loihi 1: no sharing, 18-bit entries (8-bit weight + 10-bit index), no state words.
    # corner inputs reach 1 position x 2 ch = 2 synapses (1 + 1 words), edge inputs 4 (1 + 2),
    # the centre 8 (1 + 3): 4 x 2 + 4 x 3 + 4 = 24
    assert neuron_core_usage(g, one, 1, load_profile("loihi1")).memory.tolist() == [24]
    # two x-slabs: each reads 2 of the 3 input columns
    slabs = {"conv1": np.repeat([0, 1], 4)}
    u2 = neuron_core_usage(g, slabs, 2, load_profile("loihi2"))
    assert u2.axons.tolist() == [6, 6] and u2.memory.tolist() == [13, 13]
    # one output channel per core: each core stores half the kernel (32 bits -> 1 word)
    chans = {"conv1": np.tile([0, 1], 4)}
    assert neuron_core_usage(g, chans, 2, load_profile("loihi2")).memory.tolist() == [13, 13]


def _chain():
    return NetworkGraph("chain", (Layer("in", "input", (2,)), Layer("a", "dense", (4,), CUBA),
                                  Layer("b", "dense", (2,), CUBA)),
                        (Edge("in", "a", "dense", np.ones((4, 2))), Edge("a", "b", "dense", np.ones((2, 4)))))


def test_output_routes_by_hand():
    g = _chain()
    asg = {"a": np.array([0, 0, 1, 1]), "b": np.array([2, 3])}
    u = neuron_core_usage(g, asg, 4, load_profile("loihi2"))
    assert u.routes.tolist() == [4, 4, 0, 0]          # 2 neurons x 2 destination cores each
    assert u.axons.tolist() == [2, 2, 4, 4]


def test_validator_rejects_each_violation():
    g = conv_graph((3, 3, 1), np.ones((2, 2, 2, 1)))
    one = _mapping(g, {"conv1": np.zeros(8, np.int64)})
    with pytest.raises(NeuromapError, match=r"core 0 \(layer x\) needs 25 words of memory, over the "
                                            r"loihi2 limit of 20 per core"):
        validate(g, one, _l2(memory_words=20))
    slabs = _mapping(g, {"conv1": np.repeat([0, 1], 4)})
    with pytest.raises(NeuromapError, match="6 input axons, over the loihi2 limit of 5"):
        validate(g, slabs, _l2(max_input_axons=5))
    with pytest.raises(NeuromapError, match=r"holds 8 CUBA neurons, over the loihi2 limit of 7"):
        validate(g, one, _l2(max_neurons={"default": 7}))
    chain = _chain()
    asg = _mapping(chain, {"a": np.array([0, 0, 1, 1]), "b": np.array([2, 3])})
    with pytest.raises(NeuromapError, match="4 output routes, over the loihi2 limit of 3"):
        validate(chain, asg, _l2(max_output_routes=3))
    validate(chain, asg, load_profile("loihi2"))
    crowded = _mapping(chain, asg.assignment, [(0, 0, 0)] * 4)
    validate(chain, crowded, load_profile("loihi2"))                 # 4 cores share a tile: fine
    five = _mapping(chain, {"a": np.arange(4), "b": np.array([4, 4])}, [(0, 0, 0)] * 5)
    with pytest.raises(NeuromapError, match="a mesh tile holds more than 4 cores"):
        validate(chain, five, load_profile("loihi2"))
    with pytest.raises(NeuromapError, match="outside the 8x4 mesh"):
        validate(chain, _mapping(chain, asg.assignment, [(0, 8, 0)] * 4), load_profile("loihi2"))
    with pytest.raises(NeuromapError, match="chip 0 holds 4 cores, over the 3"):
        validate(chain, asg, _l2(cores_per_chip=3))
    lying = replace(asg, cores=(replace(asg.cores[0], neurons=3),) + asg.cores[1:])
    with pytest.raises(NeuromapError, match="core 0 lists 3 neurons but 2 are assigned"):
        validate(chain, lying, load_profile("loihi2"))
    missing = replace(asg, assignment={"a": asg.assignment["a"]})
    with pytest.raises(NeuromapError, match="no core for every neuron of layer b"):
        validate(chain, missing, load_profile("loihi2"))


def test_layerwise_splits_on_memory_and_axons():
    g = conv_graph((9, 4, 2), np.ones((4, 3, 3, 2)))      # -> 7 x 2 x 4 = 56 neurons
    res = map_network(g, _l2(memory_words=110))
    # whole layer: 56 x 3 + ceil(4 x 9 x 2 x 8 / 64) = 168 + 9 words > 110; 4 wide: 96 + 9 fits
    assert res.summary()["per_layer"][0]["tile"] == [4, 2, 4] and res.n_cores == 2
    res = map_network(g, _l2(max_input_axons=30))       # reads: 4 wide 6x4x2 = 48, 2 wide 32, 1 wide 24
    assert res.summary()["per_layer"][0]["tile"] == [1, 2, 4] and res.n_cores == 7


def test_infeasible_neuron_names_layer_limit_value_and_remedy():
    g = dense_graph(np.ones((2, 7000)))
    with pytest.raises(NeuromapError) as err:
        map_network(g, load_profile("loihi2"))
    msg = str(err.value)
    assert "layer dense1: a single neuron needs 14,003 words" in msg      # 3 + 7,000 x (1 + 1)
    assert "limit of 12,000 words per core" in msg and "reduce the fan-in of dense1" in msg
    with pytest.raises(NeuromapError, match=r"dense1: a single neuron receives from 7,000 presynaptic "
                                            r"neurons, over the loihi2 limit of 4,096 input axons"):
        map_network(g, _l2(memory_words=BIG, max_input_axons=4096))


@pytest.mark.parametrize("net,profile", [("gts/pilotnet_sdnn/network.net", "loihi2"),
                                         ("tiny.net", "loihi1"), ("gts/ntidigits/ntidigits.net", "loihi2")])
@pytest.mark.parametrize("strategy", ["layerwise", "graph"])
def test_unit_counts_equal_neuron_counts(net, profile, strategy):
    """Per-unit counting (used to map) equals exact per-neuron counting (used to validate), and the
    analytic traffic equals the accounting's when every neuron spikes once or spikes at random."""
    g = load_netx(lava_dl_net(net))
    prof = load_profile(profile)
    rng = np.random.default_rng(0)
    act = Activity({lay.name: (rng.random((2, 3, lay.size)) < 0.3).astype(np.int32) for lay in g.layers}, 3)
    res = map_network(g, prof, strategy, act)
    exact = neuron_core_usage(g, res.mapping.assignment, res.n_cores, prof)
    assert np.array_equal(exact.memory, res.usage.memory) or not prof.conv_weight_sharing
    assert np.array_equal(exact.axons, res.usage.axons)
    assert np.array_equal(exact.routes, res.usage.routes)
    assert (exact.memory <= res.usage.memory).all()     # Loihi 1 conv lists: per-unit upper bound
    ones = Activity({lay.name: np.ones((1, 1, lay.size), np.int32) for lay in g.layers}, 1)
    assert account(g, res.mapping, ones).inter_core_messages == res.traffic.messages
    assert account(g, res.mapping, act).inter_core_messages == res.spike_traffic.messages
