"""Energy and latency per inference from CoreEvents and a hardware profile.

Dynamic energy = synops x E_synop + active updates x E_active + inactive updates x E_inactive
+ messages x E_spike_in_tile + east-west hops x E_ew + north-south hops x E_ns, with the
profile's per-event numbers (Davies et al. 2018 for Loihi). Chip-to-chip crossings are counted
and priced as mesh hops across the chips laid side by side east-west.

Latency: a time step lasts as long as its busiest core (events x per-event time, averaged
over the run) plus the barrier synchronisation of the tiles in use; an inference lasts
``steps`` time steps. Static energy = static power per chip x chips x latency.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def estimate_cost(events: CoreEvents, mapping: Mapping, profile: HardwareProfile) -> CostEstimate:
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
    core_dyn = (events.synops * e["synop"] + events.active_updates * e["neuron_update_active"]
                + inactive * e["neuron_update_inactive"]
                + (sent + received_from_host) * e["spike_in_tile"]) * per
    parts = {
        "synops": float(events.synops.sum() * e["synop"] * per),
        "neuron_updates": float((events.active_updates.sum() * e["neuron_update_active"]
                                 + inactive.sum() * e["neuron_update_inactive"]) * per),
        "spikes": float((sent.sum() + received_from_host.sum()) * e["spike_in_tile"] * per),
        "hops": hops_ew * e["hop_east_west"] + hops_ns * e["hop_north_south"],
    }
    parts["dynamic"] = sum(parts.values())
    busy_ns = (events.synops * t["synop"] + events.active_updates * t["neuron_update_active"]
               + inactive * t["neuron_update_inactive"] + sent * t["spike_in_tile"])
    tiles = len({(c.chip, c.tile_x, c.tile_y) for c in mapping.cores})
    step_ns = float(busy_ns.max(initial=0.0)) / (events.samples * events.steps) \
        + profile.barrier_time_ns(tiles)
    latency_us = step_ns * events.steps / 1000.0
    parts["static"] = profile.static_power_w_per_chip * mapping.num_chips * latency_us * 1e6  # W*us = 1e6 pJ
    parts["total"] = parts["dynamic"] + parts["static"]
    return CostEstimate(parts, core_dyn, hops_ew, hops_ns, crossings, step_ns, latency_us, tiles)
