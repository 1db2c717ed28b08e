"""The cheap splits at the bottom (greedy) and top (geometric) of the graph mapper's recursion:
valid, deterministic, and within the capacities."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neuromap.hw.profile import load_profile
from neuromap.mapper import MapOptions, map_network
from neuromap.mapper.bisection import geometric_split
from neuromap.mapper.greedy import _km1, greedy_kway
from neuromap.mapper.metrics import message_lower_bound

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import conv_stack  # noqa: E402


def _chain(n: int):
    """A path hypergraph 0-1-2-...-(n-1) of 2-pin edges, weight 1."""
    ptr = np.arange(0, 2 * (n - 1) + 1, 2)
    idx = np.c_[np.arange(n - 1), np.arange(1, n)].reshape(-1)
    return ptr, idx, np.ones(n - 1, np.int64)


def test_greedy_kway_splits_a_chain_into_contiguous_blocks():
    ptr, idx, ew = _chain(12)
    vw = np.full(12, 10, np.int64)
    coords = np.c_[np.arange(12) / 12, np.zeros(12), np.zeros(12)]
    for c in (coords, None):
        part = greedy_kway(12, ptr, idx, ew, vw, [41, 41, 41], c)
        assert np.bincount(part, minlength=3).tolist() == [4, 4, 4]
        eid = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        assert _km1(eid, idx, ew.astype(float), part, 3) == 2      # the optimum: two cut edges
        assert np.array_equal(part, greedy_kway(12, ptr, idx, ew, vw, [41, 41, 41], c))


def test_geometric_split_follows_coordinates_and_weights():
    coords = np.c_[np.linspace(0, 1, 8), np.zeros(8), np.zeros(8)]
    part = geometric_split(coords, np.ones(8), [4, 2, 2])
    assert part.tolist() == [0, 0, 0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("fast_units,geometric", [(None, 400), (0, None), (0, 50)])
def test_graph_mapping_valid_and_deterministic(fast_units, geometric):
    opts = MapOptions(geometric_units=geometric) if fast_units is None else \
        MapOptions(fast_units=fast_units, geometric_units=geometric)   # the cheap splits on a small stack
    g = conv_stack(3e4)
    prof = load_profile("loihi2")
    a = map_network(g, prof, "graph", opts)             # runs the validator
    b = map_network(g, prof, "graph", opts, validate=False)
    assert np.array_equal(a.core_of_unit, b.core_of_unit) and a.n_cores == b.n_cores
    lw = map_network(g, prof, "layerwise", validate=False, materialize=False)
    assert a.n_cores <= lw.n_cores
    assert message_lower_bound(g, prof) <= min(a.traffic.messages, lw.traffic.messages)
