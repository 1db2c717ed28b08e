"""The mapper is a pure function: its knobs are a frozen MapOptions, its result a frozen MapResult
with the partitioner's call counts in it, and one call leaves nothing behind for the next."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuromap.errors import NeuromapError
from neuromap.hw.profile import load_profile
from neuromap.mapper import MapOptions, map_network
from neuromap.netx.load import load_netx

from conftest import lava_dl_net


def test_options_are_frozen_and_checked() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MapOptions().portfolio = False  # type: ignore[misc]
    for bad in ({"fill": 0.0}, {"fills": (0.9, 1.5)}, {"fills": ()}, {"unit_factor": 0}, {"fast_units": -1}):
        with pytest.raises(NeuromapError):
            MapOptions(**bad)


def test_result_is_frozen_counts_calls_and_no_state_leaks() -> None:
    g = load_netx(lava_dl_net("gts/pilotnet_sdnn/square_network.net"))
    prof = load_profile("loihi2")
    first = map_network(g, prof, "graph")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.seconds = 0.0  # type: ignore[misc]
    # every (unit factor, fill) candidate made at least one Mt-KaHyPar call, counted in the result
    assert first.timings["mtkahypar_calls"] >= 1 and first.timings["candidates"] == len(first.portfolio)
    only = map_network(g, prof, "graph", MapOptions(portfolio=False, fast_units=0, geometric_units=None))
    assert len(only.portfolio) == 1 and only.timings["mtkahypar_calls"] == 0 and only.timings["greedy_calls"] >= 1
    again = map_network(g, prof, "graph")
    assert np.array_equal(again.core_of_unit, first.core_of_unit) and again.portfolio == first.portfolio
    assert {k: again.timings[k] for k in ("mtkahypar_calls", "greedy_calls", "refine_moves")} == \
        {k: first.timings[k] for k in ("mtkahypar_calls", "greedy_calls", "refine_moves")}
