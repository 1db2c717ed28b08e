"""Energy and latency per inference from CoreEvents and a hardware profile.

Dynamic energy = synops x E_synop (per edge kind when the graph is given) + active updates x
E_active + inactive updates x E_inactive + spikes emitted x E_spike_out + messages x
E_spike_in_tile + east-west hops x E_ew + north-south hops x E_ns, with the profile's per-event
numbers. Chip-to-chip crossings are counted and priced as mesh hops across the chips laid side by
side east-west.

Latency: a time step lasts as long as the slower of its busiest core (every event the core
handles x its per-event time, averaged over the run) and the host injecting that step's input
messages, plus the barrier synchronisation of the tiles in use; an inference lasts ``steps``
time steps. Static energy = static power per chip x chips x latency. docs/cost-model.md states
each term and where its number comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..graph import NetworkGraph
from ..hw.profile import HardwareProfile
from ..mapper.mapping import Mapping
from .accounting import CoreEvents


@dataclass(frozen=True)
class CostEstimate:
    """Per-inference numbers (averaged over the samples simulated)."""

    energy_pj: dict[str, float]         # breakdown and totals
    core_dynamic_pj: np.ndarray         # (cores,)
    hops_east_west: float
    hops_north_south: float
    chip_crossings: float
    step_ns: float
    latency_us: float
    tiles_used: int
    # what bounds a time step: busiest core, host injection, barrier (ns per step)
    step_terms: dict[str, Any] = field(default_factory=dict)
    core_busy_ns: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (cores,) per step
    # the profile's known error ({what, energy_pct, latency_pct, source}), carried to reports
    known_error: tuple[dict[str, Any], ...] = ()


def hop_matrices(mapping: Mapping, profile: HardwareProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """East-west hops, north-south hops and chip crossings between every pair of cores."""
    width = profile.mesh_tiles[0]
    x = np.array([c.chip * width + c.tile_x for c in mapping.cores])
    y = np.array([c.tile_y for c in mapping.cores])
    chip = np.array([c.chip for c in mapping.cores])
    ew = np.abs(x[:, None] - x[None, :]).astype(float)
    ns = np.abs(y[:, None] - y[None, :]).astype(float)
    cross = np.abs(chip[:, None] - chip[None, :]).astype(float)
    return ew, ns, cross


def synop_price(events: CoreEvents, mapping: Mapping, table: dict[str, float],
                graph: NetworkGraph | None) -> np.ndarray:
    """Per core, the price of one synaptic op: ``synop_conv`` / ``synop_dense`` by the kind of
    the edges into the core's layers (weighted by each layer's synops when a core holds several
    layers), ``synop`` without a graph or for other edge kinds."""
    price = np.full(mapping.num_cores, table["synop"])
    if graph is None:
        return price
    names = {lay.name for lay in graph.layers}

    def layer_price(name: str) -> float:
        kinds = {e.kind for e in graph.in_edges(name)} if name in names else set()
        if len(kinds) == 1 and next(iter(kinds)) in ("conv", "dense"):
            return table[f"synop_{next(iter(kinds))}"]
        return table["synop"]

    for c in mapping.cores:
        weights = np.array([events.layer_synops.get(name, 0) for name in c.layers], float)
        prices = np.array([layer_price(name) for name in c.layers])
        price[c.index] = (weights @ prices / weights.sum()) if weights.sum() > 0 else prices[0]
    return price


def estimate_cost(events: CoreEvents, mapping: Mapping, profile: HardwareProfile,
                  graph: NetworkGraph | None = None) -> CostEstimate:
    per = 1.0 / events.samples
    e, t = profile.energy_pj, profile.time_ns
    inactive = events.updates - events.active_updates
    ew, ns, cross = hop_matrices(mapping, profile)
    core_traffic = events.traffic[:-1]
    hops_ew = float((core_traffic * ew).sum()) * per
    hops_ns = float((core_traffic * ns).sum()) * per
    crossings = float((core_traffic * cross).sum()) * per
    sent = events.messages
    received_from_host = events.traffic[-1]
    received = events.traffic.sum(axis=0)
    syn_e = synop_price(events, mapping, e, graph)
    syn_t = synop_price(events, mapping, t, graph)
    core_dyn = (events.synops * syn_e + events.active_updates * e["neuron_update_active"]
                + inactive * e["neuron_update_inactive"] + events.spikes * e["spike_out"]
                + (sent + received_from_host) * e["spike_in_tile"]) * per
    parts = {
        "synops": float((events.synops * syn_e).sum() * per),
        "neuron_updates": float((events.active_updates.sum() * e["neuron_update_active"]
                                 + inactive.sum() * e["neuron_update_inactive"]) * per),
        "spike_out": float(events.spikes.sum() * e["spike_out"] * per),
        "spikes": float((sent.sum() + received_from_host.sum()) * e["spike_in_tile"] * per),
        "hops": hops_ew * e["hop_east_west"] + hops_ns * e["hop_north_south"],
    }
    parts["dynamic"] = sum(parts.values())
    busy_ns = (events.synops * syn_t + events.active_updates * t["neuron_update_active"]
               + inactive * t["neuron_update_inactive"] + events.spikes * t["spike_out"]
               + sent * t["spike_in_tile"] + received * t["message_in"])
    steps_run = events.samples * events.steps
    tiles = len({(c.chip, c.tile_x, c.tile_y) for c in mapping.cores})
    busiest = int(np.argmax(busy_ns)) if busy_ns.size else -1
    core_ns = float(busy_ns.max(initial=0.0)) / steps_run
    host_ns = float(received_from_host.sum()) * t["host_message"] / steps_run
    barrier_ns = profile.barrier_time_ns(tiles)
    step_ns = max(core_ns, host_ns) + barrier_ns
    terms = {"busiest_core": busiest, "busiest_core_ns": core_ns, "host_injection_ns": host_ns,
             "barrier_ns": barrier_ns, "bound": "host" if host_ns > core_ns else "core"}
    latency_us = step_ns * events.steps / 1000.0
    parts["static"] = profile.static_power_w_per_chip * mapping.num_chips * latency_us * 1e6  # W*us = 1e6 pJ
    parts["total"] = parts["dynamic"] + parts["static"]
    return CostEstimate(parts, core_dyn, hops_ew, hops_ns, crossings, step_ns, latency_us, tiles, terms,
                        busy_ns / steps_run, tuple(dict(k) for k in profile.known_error))
