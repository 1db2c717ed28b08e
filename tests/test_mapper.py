"""Hardware profiles and the layer-wise mapper's per-core limit."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neuromap.errors import NeuromapError
from neuromap.hw.profile import load_profile
from neuromap.mapper import map_layerwise, map_network, validate
from neuromap.netx.load import load_netx

from conftest import lava_dl_net

UNBOUNDED = dict(memory_words=1 << 40, max_input_axons=1 << 40, max_output_routes=1 << 40)


def _neurons_only(limit, **kw):
    """loihi2 with only a neuron budget (memory, axons and routes unbounded)."""
    return replace(load_profile("loihi2"), max_neurons={"default": limit}, **{**UNBOUNDED, **kw})


def test_profiles_load_with_cited_numbers():
    l2 = load_profile("loihi2")
    assert l2.neuron_limit("CUBA") == l2.neuron_limit("SDNN") == 4095 and l2.energy_pj["synop"] == 19.082
    assert (l2.memory_words, l2.state_words("LOIHI"), l2.entry_bits, l2.conv_bits, l2.conv_weight_sharing) == \
        (12000, 0, 16, 5, True)
    assert (l2.max_input_axons, l2.max_axon_map, l2.max_neuron_groups, l2.layerwise_rule) == (16000, 16000, 8, "intel")
    assert l2.boards == {"oheo_gulch": 1, "kapoho_point": 8, "hala_point": 1152}
    l1 = load_profile("loihi1")
    assert l1.neuron_limit("CUBA") == 1024 and l1.energy_pj["synop"] == 23.6  # Davies 2018
    assert (l1.memory_words, l1.max_input_axons, l1.max_output_routes, l1.conv_weight_sharing) == \
        (16384, 4096, 4096, False)
    assert l2.barrier_time_ns(1) == 113 and l2.barrier_time_ns(32) == 465


def test_unknown_and_malformed_profile(tmp_path):
    with pytest.raises(NeuromapError, match="not found"):
        load_profile("loihi9")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nchip: {}\n")
    with pytest.raises(NeuromapError, match="malformed"):
        load_profile(bad)


@pytest.mark.parametrize("limit", [100, 256, 1000])
def test_layerwise_respects_neuron_limit(limit):
    g = load_netx(lava_dl_net("mnist.net"))  # 784, 512, 512, 10 CUBA neurons
    prof = _neurons_only(limit)
    m = map_layerwise(g, prof)
    expected = sum(-(-lay.size // limit) for lay in g.layers)
    assert m.num_cores == expected
    assert max(c.neurons for c in m.cores) <= limit
    for lay in g.layers:
        counts = np.bincount(m.assignment[lay.name])
        assert counts[counts > 0].max() <= limit
        assert sorted(set(m.assignment[lay.name])) == [c.index for c in m.layer_cores(lay.name)]


def test_validator_catches_overfull_core():
    g = load_netx(lava_dl_net("mnist.net"))
    prof = _neurons_only(512)
    m = map_layerwise(g, prof)
    tight = replace(prof, max_neurons={"default": 400})
    with pytest.raises(NeuromapError, match=r"over the loihi2 limit of 400 per core"):
        validate(g, m, tight)


def test_cores_fill_chips_in_order():
    g = load_netx(lava_dl_net("mnist.net"))
    prof = replace(_neurons_only(4), cores_per_chip=120)
    m = map_layerwise(g, prof)
    assert m.num_cores == 196 + 128 + 128 + 3
    assert m.num_chips == 4
    assert m.cores[120].chip == 1 and (m.cores[120].tile_x, m.cores[120].tile_y) == (0, 0)
    # snake order: the 9th tile sits above the 8th
    assert (m.cores[32].tile_x, m.cores[32].tile_y) == (7, 1)


# ------------------------------------------------------------------ PilotNet vs Intel's compiler

INTEL_PILOTNET = {  # layer: (tile width along x, cores), ../shared/reference/hardware.md
    "input0": (16, 13), "conv1": (4, 25), "conv2": (4, 13), "conv3": (8, 3), "conv4": (8, 3),
    "conv5": (16, 2), "dense7": (8, 12), "dense8": (50, 1), "dense9": (10, 1), "dense10": (1, 1)}


@pytest.fixture(scope="module")
def pilotnet():
    return load_netx(lava_dl_net("gts/pilotnet_lif/network.net"))


@pytest.fixture(scope="module")
def pilotnet_maps(pilotnet):
    prof = load_profile("loihi2")
    return {s: map_network(pilotnet, prof, s) for s in ("layerwise", "graph")}


def test_pilotnet_layerwise_reproduces_intel(pilotnet_maps):
    res = pilotnet_maps["layerwise"]
    rows = {r["name"]: r for r in res.summary()["per_layer"]}
    # Intel's table exactly, tile for tile
    assert [rows[n]["cores"] for n in INTEL_PILOTNET] == [c for _, c in INTEL_PILOTNET.values()]
    assert [rows[n]["tile"] for n in ("input0", "conv1", "conv2", "conv3", "conv4", "conv5")] == [
        [16, 66, 3], [4, 32, 24], [4, 15, 36], [8, 7, 48], [8, 4, 64], [16, 2, 64]]
    assert rows["dense7"]["neurons_per_core"] == 9 and res.n_cores == 74


def test_pilotnet_binding_budgets(pilotnet):
    """What stops each of Intel's next-larger PilotNet tiles, and the register values Intel printed."""
    from neuromap.mapper.resources import tile_usage
    from neuromap.mapper.units import Tiling
    prof = load_profile("loihi2")

    def use(layer, size, tile):
        t = Tiling.regular(layer, size, tile)
        return tile_usage(pilotnet, layer, t, prof)
    # conv4 at 16 wide: 4,096 neurons, one over the 4,095-neuron register
    conv4 = use("conv4", (22, 4, 64), (16, 4, 64))
    assert conv4["neurons"][0] == 4096 and conv4["neuron_use"][0] > 1
    # the kernel rows: 3 x 3 x 48 rows of 64 x 5 bits = 5 words: Intel printed 2,160; conv5 2,880
    assert use("conv4", (22, 4, 64), (8, 4, 64))["memory"][0] == 2160
    # conv5 whole (20 wide) fits every register: only the power-of-two width rule cuts it to 16
    conv5 = use("conv5", (20, 2, 64), (20, 2, 64))
    assert conv5["memory"][0] == 2880 and conv5["neurons"][0] == 2560 and conv5["axons"][0] == 1
    # dense7: Intel's log prints 12,800 words for 17 neurons (over 12,000); 9 fit, Intel's printed
    # average over its 12 cores (11 of 9 neurons, one of 1) is 7,253
    assert use("dense7", (1, 1, 100), (1, 1, 17))["memory"][0] == 2560 * 5 == 12800
    d9 = use("dense7", (1, 1, 100), (1, 1, 9))["memory"]
    assert len(d9) == 12 and int(d9.mean()) == 7253
    # dense8 / dense9 / dense10: 1,300 / 150 / 10 words, as printed
    assert [use(n, (1, 1, k), (1, 1, k))["memory"][0] for n, k in (("dense8", 50), ("dense9", 10), ("dense10", 1))] \
        == [1300, 150, 10]


def test_pilotnet_graph_is_valid_and_better(pilotnet, pilotnet_maps):
    lw, gr = pilotnet_maps["layerwise"], pilotnet_maps["graph"]
    validate(pilotnet, gr.mapping, load_profile("loihi2"))   # map_network validated too
    assert gr.n_cores <= lw.n_cores
    assert gr.traffic.messages <= 0.7 * lw.traffic.messages
    assert gr.hops.total <= 0.7 * lw.hops.total
    assert lw.traffic.messages == 200041                      # uniform activity, counted exactly
    assert gr.usage.fits(load_profile("loihi2")).all()


def test_mapping_is_deterministic(pilotnet, pilotnet_maps):
    again = map_network(pilotnet, load_profile("loihi2"), "graph")
    assert np.array_equal(again.core_of_unit, pilotnet_maps["graph"].core_of_unit)
    assert again.traffic.messages == pilotnet_maps["graph"].traffic.messages


def test_unknown_strategy(pilotnet):
    with pytest.raises(NeuromapError, match="unknown strategy 'metis'"):
        map_network(pilotnet, load_profile("loihi2"), "metis")



def test_gilbert_curve_walks_the_chip_mesh():
    from neuromap.mapper.placement import chip_slots, gilbert
    cells = gilbert(8, 4)
    assert sorted(cells) == [(x, y) for x in range(8) for y in range(4)]
    assert cells[0] == (0, 0) and cells[-1] == (7, 0)      # west edge to east edge: chips chain
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(cells, cells[1:]))
    slots = chip_slots(load_profile("loihi2"))
    assert len(slots) == 120 and len({tuple(s) for s in slots}) == 30   # 4 cores on each of 30 tiles


def test_traffic_placement_beats_the_snake():
    import scipy.sparse as sp
    from neuromap.mapper.metrics import hop_traffic
    from neuromap.mapper.placement import place_traffic
    prof = load_profile("loihi2")
    n = 40                                  # a chain of cores: core i talks to core i + 1
    pairs = sp.csr_matrix((np.ones(n - 1), (np.arange(n - 1), np.arange(1, n))), shape=(n, n))
    chip, tx, ty = place_traffic(pairs, prof, order=np.random.default_rng(0).permutation(n))
    # cores 4 to a tile: a chain of 40 needs at least 9 tile-to-tile hops; the curve achieves it
    assert hop_traffic(pairs, chip, tx, ty, 8).total == 9
