"""Whole test sets through the hardware model: the fast engine's chunks accounted as they come,
for one or several mappings of the same network at once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..graph import NetworkGraph
from ..hw.profile import HardwareProfile
from ..mapper import map_network
from ..mapper.mapping import Mapping
from ..sim.activity import Activity
from ..sim.fast import DEFAULT_THREADS, run_fast
from .accounting import CoreEvents, EventAccumulator
from .model import estimate_cost


@dataclass(frozen=True)
class Measured:
    events: list[CoreEvents]        # one per mapping, in the order given
    output_counts: np.ndarray       # (samples, outputs): what the output layer reports per sample
    first: Activity | None          # the first `keep` samples' Activity (to check against Lava)


def output_counts(graph: NetworkGraph, activity: Activity) -> np.ndarray:
    """Spike counts of the output layer per sample, or a host readout's summed values."""
    out = graph.output_layer
    return activity.spike_counts(out.name) if out.kind != "average" else activity.events[out.name].sum(1)


def measure_fast(graph: NetworkGraph, mappings: Sequence[Mapping], data: np.ndarray, steps: int | None,
                 batch_size: int | None = None, keep: int = 0, progress: bool = False,
                 threads: int | None = DEFAULT_THREADS) -> Measured:
    """Every sample through the fast engine once, accounted chunk by chunk for every mapping."""
    accs = [EventAccumulator(graph, m) for m in mappings]
    counts, kept = [], []
    held = 0
    for chunk in run_fast(graph, data, steps=steps, batch_size=batch_size, progress=progress, threads=threads):
        for acc in accs:
            acc.add(chunk)
        counts.append(output_counts(graph, chunk))
        if held < keep:
            take = min(keep - held, chunk.samples)
            kept.append({k: v[:take] for k, v in chunk.events.items()})
            held += take
    first = None
    if kept:
        first = Activity({k: np.concatenate([c[k] for c in kept]) for k in kept[0]}, accs[0].steps or 0)
    return Measured([a.result() for a in accs], np.concatenate(counts), first)


def hardware_summary(graph: NetworkGraph, data: np.ndarray, steps: int | None, profile: HardwareProfile,
                     strategies: Sequence[str] = ("layerwise", "graph"),
                     batch_size: int | None = None) -> dict[str, Any]:
    """Cores, energy, latency and throughput per inference over all of ``data`` for each mapping
    strategy, from one pass of the fast engine. Keys: ``<strategy>_<quantity>``, and ``output_counts``
    (samples x outputs)."""
    mappings = [map_network(graph, profile, s).mapping for s in strategies]
    measured = measure_fast(graph, mappings, data, steps, batch_size)
    out: dict[str, Any] = {"hw_profile": profile.name, "output_counts": measured.output_counts}
    for strategy, mapping, events in zip(strategies, mappings, measured.events):
        cost = estimate_cost(events, mapping, profile, graph)
        out.update({f"{strategy}_cores": mapping.num_cores,
                    f"{strategy}_dynamic_uj": cost.energy_pj["dynamic"] / 1e6,
                    f"{strategy}_total_uj": cost.energy_pj["total"] / 1e6,
                    f"{strategy}_latency_us": cost.latency_us,
                    f"{strategy}_inferences_per_s": 1e6 / cost.latency_us if cost.latency_us > 0 else None})
    return out
