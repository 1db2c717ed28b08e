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
    # loihi2: no state words in SynMem; 4 input axons x ceil(3 x 16 bits / 64) = 1 word, no header
    assert u.memory.tolist() == [4 * 1]
    assert u.axons.tolist() == [4] and u.routes.tolist() == [0] and u.neurons.tolist() == [3]
    assert u.groups.tolist() == [1] and u.axon_map.tolist() == [3]    # output layer: one per neuron
    # 5 neurons per list: 80 bits -> 2 words per axon
    g5 = dense_graph(np.ones((5, 4)))
    assert neuron_core_usage(g5, {"dense1": np.zeros(5, np.int64)}, 1,
                             load_profile("loihi2")).memory.tolist() == [4 * 2]
    # the plain model (Loihi 1 style): 3 state words, 20-bit entries, a header word per list
    plain = _l2(neuron_state_words={"default": 3}, dense_entry_bits=20, list_header_words=1)
    assert neuron_core_usage(g, {"dense1": np.zeros(3, np.int64)}, 1, plain).memory.tolist() == [3 * 3 + 4 * 2]


def test_shared_and_unshared_conv_by_hand():
    g = conv_graph((3, 3, 1), np.ones((2, 2, 2, 1)))      # 3x3x1 -> 2x2x2, 2x2 kernel
    one = {"conv1": np.zeros(8, np.int64)}
    u = neuron_core_usage(g, one, 1, load_profile("loihi2"))
    # kernel: 2 x 2 x 1 rows of 2 channels x 5 bits, one word each; one convolution axon
    assert u.memory.tolist() == [4] and u.axons.tolist() == [1]
    assert neuron_core_usage(g, one, 1, _l2(conv_input_axons="per_neuron")).axons.tolist() == [9]
    # Loihi 1: no sharing, 18-bit entries (8-bit weight + 10-bit index), no state words.
    # corner inputs reach 1 position x 2 ch = 2 synapses (1 + 1 words), edge inputs 4 (1 + 2),
    # the centre 8 (1 + 3): 4 x 2 + 4 x 3 + 4 = 24
    assert neuron_core_usage(g, one, 1, load_profile("loihi1")).memory.tolist() == [24]
    # two x-slabs: each reads 2 of the 3 input columns
    slabs = {"conv1": np.repeat([0, 1], 4)}
    u2 = neuron_core_usage(g, slabs, 2, _l2(conv_input_axons="per_neuron"))
    assert u2.axons.tolist() == [6, 6] and u2.memory.tolist() == [4, 4]
    # one output channel per core: each core stores its channel's rows (5 bits -> 1 word each)
    chans = {"conv1": np.tile([0, 1], 4)}
    assert neuron_core_usage(g, chans, 2, load_profile("loihi2")).memory.tolist() == [4, 4]
    # 13 channels x 5 bits = 65 bits: two words per row
    g13 = conv_graph((3, 3, 1), np.ones((13, 2, 2, 1)))
    assert neuron_core_usage(g13, {"conv1": np.zeros(52, np.int64)}, 1,
                             load_profile("loihi2")).memory.tolist() == [4 * 2]


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
    assert u.axon_map.tolist() == [2, 2, 1, 1] and u.groups.tolist() == [1, 1, 1, 1]


def test_axon_map_counts_conv_positions_once():
    """A neuron feeding a convolution is mapped once per spatial position (all its channels),
    one feeding a dense layer once per neuron; a core with two layers has two neuron groups."""
    g = NetworkGraph("cd", (Layer("in", "input", (4, 4, 1)), Layer("a", "conv", (4, 4, 3), CUBA),
                            Layer("b", "conv", (4, 4, 2), CUBA), Layer("d", "dense", (2,), CUBA)),
                     (Edge("in", "a", "conv", np.ones((3, 1, 1, 1))), Edge("a", "b", "conv", np.ones((2, 1, 1, 3))),
                      Edge("b", "d", "dense", np.ones((2, 32)))))
    asg = {"a": np.zeros(48, np.int64), "b": np.zeros(32, np.int64), "d": np.zeros(2, np.int64)}
    u = neuron_core_usage(g, asg, 1, load_profile("loihi2"))
    assert u.axon_map.tolist() == [16 + 32 + 2] and u.groups.tolist() == [3]


def test_validator_rejects_each_violation():
    g = conv_graph((3, 3, 1), np.ones((2, 2, 2, 1)))
    one = _mapping(g, {"conv1": np.zeros(8, np.int64)})
    with pytest.raises(NeuromapError, match=r"core 0 \(layer x\) needs 4 words of memory, over the "
                                            r"loihi2 limit of 3 per core"):
        validate(g, one, _l2(memory_words=3))
    slabs = _mapping(g, {"conv1": np.repeat([0, 1], 4)})
    with pytest.raises(NeuromapError, match="6 input axons, over the loihi2 limit of 5"):
        validate(g, slabs, _l2(max_input_axons=5, conv_input_axons="per_neuron"))
    with pytest.raises(NeuromapError, match="8 axon map entries, over the loihi2 limit of 7"):
        validate(g, one, _l2(max_axon_map=7))
    with pytest.raises(NeuromapError, match=r"holds 8 CUBA neurons, over the loihi2 limit of 7"):
        validate(g, one, _l2(max_neurons={"default": 7}))
    chain = _chain()
    asg = _mapping(chain, {"a": np.array([0, 0, 1, 1]), "b": np.array([2, 3])})
    with pytest.raises(NeuromapError, match="4 output routes, over the loihi2 limit of 3"):
        validate(chain, asg, _l2(max_output_routes=3))
    validate(chain, asg, load_profile("loihi2"))
    both = _mapping(chain, {"a": np.zeros(4, np.int64), "b": np.zeros(2, np.int64)})
    with pytest.raises(NeuromapError, match="2 neuron groups, over the loihi2 limit of 1"):
        validate(chain, both, _l2(max_neuron_groups=1))
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
    g = conv_graph((4, 4, 8), np.ones((64, 3, 3, 8)))      # -> 2 x 2 x 64
    # the kernel does not shrink with x or y: channels are halved first. 72 rows x ceil(ch x 5 / 64)
    # words: 64 ch 360, 32 ch 216, 16 ch 144 <= 200
    res = map_network(g, _l2(memory_words=200))
    assert res.summary()["per_layer"][0]["tile"] == [2, 2, 16] and res.n_cores == 4
    g = conv_graph((9, 4, 2), np.ones((4, 3, 3, 2)))      # -> 7 x 2 x 4 = 56 neurons, a wide layer
    prof = _l2(max_input_axons=30, conv_input_axons="per_neuron")
    res = map_network(g, prof)    # x tiles are powers of two: 4 wide reads 6x4x2 = 48, 2 wide 32, 1 wide 24
    assert res.summary()["per_layer"][0]["tile"] == [1, 2, 4] and res.n_cores == 7
    res = map_network(g, _l2(max_neurons={"default": 20}))   # 4 x 2 x 4 = 32 > 20, 2 x 2 x 4 = 16
    assert res.summary()["per_layer"][0]["tile"] == [2, 2, 4] and res.n_cores == 4


def test_infeasible_neuron_names_layer_limit_value_and_remedy():
    g = dense_graph(np.ones((2, 13000)))
    with pytest.raises(NeuromapError) as err:
        map_network(g, load_profile("loihi2"))
    msg = str(err.value)
    assert "layer dense1: a single neuron needs 13,000 words" in msg      # 13,000 lists of 1 word
    assert "limit of 12,000 words per core" in msg and "reduce the fan-in of dense1" in msg
    assert "(1,000 over, 108%)" in msg
    with pytest.raises(NeuromapError, match=r"dense1: a single neuron receives from 13,000 presynaptic "
                                            r"neurons, over the loihi2 limit of 4,096 input axons per core "
                                            r"\(8,904 over, 317%\)"):
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
    res = map_network(g, prof, strategy, activity=act)
    exact = neuron_core_usage(g, res.mapping.assignment, res.n_cores, prof)
    assert np.array_equal(exact.memory, res.usage.memory) or not prof.conv_weight_sharing
    assert np.array_equal(exact.axons, res.usage.axons)
    assert np.array_equal(exact.routes, res.usage.routes)
    assert np.array_equal(exact.groups, res.usage.groups) and np.array_equal(exact.axon_map, res.usage.axon_map)
    assert (exact.memory <= res.usage.memory).all()     # Loihi 1 conv lists: per-unit upper bound
    ones = Activity({lay.name: np.ones((1, 1, lay.size), np.int32) for lay in g.layers}, 1)
    assert account(g, res.mapping, ones).inter_core_messages == res.traffic.messages
    assert account(g, res.mapping, act).inter_core_messages == res.spike_traffic.messages
