"""Hardware profiles and the layer-wise mapper's per-core limit."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neuromap.errors import NeuromapError
from neuromap.hw.profile import load_profile
from neuromap.mapper import map_layerwise, validate
from neuromap.netx.load import load_netx

from conftest import lava_dl_net


def test_profiles_load_with_cited_numbers():
    l2 = load_profile("loihi2")
    assert l2.neuron_limit("CUBA") == 4096 and l2.energy_pj["synop"] == 23.6
    assert load_profile("loihi1").neuron_limit("CUBA") == 1024
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
    prof = replace(load_profile("loihi2"), max_neurons={"default": limit})
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
    prof = replace(load_profile("loihi2"), max_neurons={"default": 512})
    m = map_layerwise(g, prof)
    tight = replace(prof, max_neurons={"default": 400})
    with pytest.raises(NeuromapError, match=r"over the loihi2 limit of 400 per core"):
        validate(g, m, tight)


def test_cores_fill_chips_in_order():
    g = load_netx(lava_dl_net("mnist.net"))
    prof = replace(load_profile("loihi2"), max_neurons={"default": 4}, cores_per_chip=120)
    m = map_layerwise(g, prof)
    assert m.num_cores == 196 + 128 + 128 + 3
    assert m.num_chips == 4
    assert m.cores[120].chip == 1 and (m.cores[120].tile_x, m.cores[120].tile_y) == (0, 0)
    # snake order: the 9th tile sits above the 8th
    assert (m.cores[32].tile_x, m.cores[32].tile_y) == (7, 1)
