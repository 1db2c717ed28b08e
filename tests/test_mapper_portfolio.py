"""The graph strategy's final steps: the message-reducing refinement (``refine.refine_moves``)
never adds messages and keeps every core within its exact budgets, and the portfolio of
(unit factor, fill) candidates keeps the valid one with the fewest messages."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neuromap.hw.profile import load_profile
from neuromap.mapper import MapOptions, map_network
from neuromap.mapper import partition as P
from neuromap.mapper.refine import refine_moves
from neuromap.mapper.layerwise import layerwise_tilings
from neuromap.mapper.metrics import unit_traffic
from neuromap.mapper.resources import unit_core_usage
from neuromap.mapper.units import build_unit_graph
from neuromap.netx.load import load_netx

from conftest import lava_dl_net

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic import conv_stack  # noqa: E402


def _messages_and_fit(ug, cou, n, prof):
    tr = unit_traffic(ug, cou, n)
    usage = unit_core_usage(ug, cou, n, prof, tr.routes)          # exact axons
    return tr.messages, usage.violations(prof)


@pytest.mark.parametrize("profile", ["loihi2", "loihi1"])
def test_refine_moves_never_adds_messages_and_stays_within_budgets(profile):
    prof = load_profile(profile)
    g = conv_stack(3e4)
    lw = layerwise_tilings(g, prof)
    lw_cores = sum(t.n_units for t in lw.values())
    ug = build_unit_graph(g, P.refine_tilings(g, lw, 8))
    starts = {"partition": P.partition_units(ug, lw, prof, max_cores=lw_cores,
                                             options=MapOptions(refine=False))[:2]}
    # a poor start: each layer-wise tile's units together on one core (the layer-wise mapping)
    lw_ug = build_unit_graph(g, lw)
    starts["layerwise"] = (np.arange(lw_ug.n_units), lw_ug.n_units)
    for name, (cou, n) in starts.items():
        u = ug if name == "partition" else lw_ug
        before, bad = _messages_and_fit(u, cou, n, prof)
        assert not bad
        stats: dict[str, int] = {}
        cou2, n2 = refine_moves(u, cou, n, prof, stats=stats)
        after, bad2 = _messages_and_fit(u, cou2, n2, prof)
        assert not bad2, (name, bad2[:1])
        assert after <= before and n2 <= n
        assert np.array_equal(np.unique(cou2), np.arange(n2))      # compact core numbers
        assert stats.get("refine_moves", 0) > 0 or (after == before and n2 == n)
        if name == "layerwise":
            assert after < before                                   # it does find moves


def _check_best_of_portfolio(g, prof):
    res = map_network(g, prof, "graph")                             # runs the validator
    lw = map_network(g, prof, "layerwise", validate=False, materialize=False)
    assert len(res.portfolio) >= 2
    assert res.n_cores <= lw.n_cores
    best = min(c["messages"] for c in res.portfolio)
    assert res.traffic.messages == best
    for c in res.portfolio:                  # each candidate recomputed on its own
        alone = map_network(g, prof, "graph", MapOptions(unit_factor=int(c["unit_factor"]), fill=float(c["fill"])),
                            validate=False, materialize=False)
        assert alone.traffic.messages == c["messages"] and alone.n_cores == c["cores"]
        assert alone.n_cores <= lw.n_cores
        assert res.traffic.messages <= alone.traffic.messages
        if alone.traffic.messages == res.traffic.messages:          # ties: fewest hops
            assert res.hops.total <= alone.hops.total
    return res, lw


def test_portfolio_keeps_the_best_candidate_conv_stack():
    _check_best_of_portfolio(conv_stack(3e4), load_profile("loihi2"))


def test_portfolio_pilotnet_sdnn_meets_the_goal():
    g = load_netx(lava_dl_net("gts/pilotnet_sdnn/network.net"))
    res, lw = _check_best_of_portfolio(g, load_profile("loihi2"))
    assert res.traffic.messages <= 0.7 * lw.traffic.messages
    assert res.hops.total <= 0.7 * lw.hops.total


def test_portfolio_off_keeps_the_first_fill_that_fits():
    res = map_network(conv_stack(3e4), load_profile("loihi2"), "graph", MapOptions(portfolio=False),
                      validate=False)
    assert len(res.portfolio) == 1
