"""Per-core event accounting: (graph, mapping, activity) -> CoreEvents.

* synaptic operations: each spike times the synapses it drives on that core (structural
  synapses, zero weights included, as Loihi stores and processes them);
* neuron updates: every on-chip neuron every step; *active* when it received at least one
  synaptic event that step, the rest inactive;
* spikes: spikes emitted by the neurons of the core;
* traffic: messages from core i to core j. A spike is multicast once per destination core
  it has synapses on (its own core included); the host (input data) is the last row.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry import fanin_sum, reach_mask
from ..graph import Edge, NetworkGraph
from ..mapper.mapping import Mapping
from ..sim.activity import Activity


@dataclass(frozen=True)
class CoreEvents:
    """Event totals over all samples (divide by ``samples`` for one inference)."""

    samples: int
    steps: int
    synops: np.ndarray          # (cores,)
    updates: np.ndarray         # (cores,)
    active_updates: np.ndarray  # (cores,)
    spikes: np.ndarray          # (cores,)
    traffic: np.ndarray         # (cores + 1, cores): row = source core (last = host), col = destination
    layer_synops: dict[str, int]
    layer_spikes: dict[str, int]
    # spikes of each layer per step of its window, summed over the samples, ``(steps,)``
    layer_step_spikes: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def messages(self) -> np.ndarray:
        """Messages each core sends (own core included), ``(cores,)``."""
        return self.traffic[:-1].sum(axis=1)

    @property
    def inter_core_messages(self) -> int:
        on_chip = self.traffic[:-1]
        return int(on_chip.sum() - np.trace(on_chip))


class EventAccumulator:
    """Per-core event totals built up chunk by chunk, so that a whole test set never has to be
    held as one (samples x steps x neurons) Activity. Synaptic operations and traffic are linear
    in the spike counts, so they need only each neuron's total; active updates need each step,
    and are reduced as every chunk arrives."""

    def __init__(self, graph: NetworkGraph, mapping: Mapping) -> None:
        self.graph, self.mapping = graph, mapping
        self.samples = 0
        self.steps: int | None = None
        self.counts: dict[str, np.ndarray] = {}   # spikes per neuron over everything added
        self.active: dict[str, np.ndarray] = {}   # active neuron-steps per neuron
        self.per_step: dict[str, np.ndarray] = {}  # spikes per step of the layer's window

    def add(self, activity: Activity) -> None:
        S, T = activity.samples, activity.steps
        if self.steps is not None and T != self.steps:
            raise ValueError(f"chunks of {T} and {self.steps} steps cannot be accounted together")
        self.steps = T
        self.samples += S
        for name, ev in activity.events.items():
            fired = ev != 0
            self.counts[name] = self.counts.get(name, 0) + fired.sum(axis=(0, 1))
            self.per_step[name] = self.per_step.get(name, 0) + fired.sum(axis=(0, 2))
        for lay in self.graph.layers:
            if not lay.on_chip:
                continue
            edges = self.graph.in_edges(lay.name)
            active = self.active.setdefault(lay.name, np.zeros(lay.size))
            if not edges:  # an input layer with neurons is driven by the host every step
                active += T * S
                continue
            got_input = np.zeros((S * T, lay.size), dtype=bool)  # input on any edge counts once
            for edge in edges:
                src = self.graph.layer(edge.src)
                fired = activity.events[edge.src] != 0
                if edge.src == edge.dst:  # a recurrent edge delivers a step's spikes one step later
                    fired = np.concatenate([np.zeros_like(fired[:, :1]), fired[:, :-1]], axis=1)
                pre = fired.reshape((S * T,) + tuple(src.shape))
                if edge.kind == "dense":  # every pre neuron reaches every post neuron
                    got_input |= pre.reshape(S * T, -1).any(axis=1)[:, None]
                else:
                    got_input |= fanin_sum(pre.astype(np.float32), edge, src.shape, lay.shape) > 0
            active += got_input.sum(axis=0)

    def result(self) -> CoreEvents:
        graph, mapping = self.graph, self.mapping
        n = mapping.num_cores
        S, T = self.samples, int(self.steps or 0)
        synops, active, updates, spikes = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        traffic = np.zeros((n + 1, n))
        layer_synops: dict[str, int] = {}
        layer_spikes = {name: int(np.sum(c)) for name, c in self.counts.items()}
        for lay in graph.layers:
            if not lay.on_chip:
                continue
            assign = mapping.assignment[lay.name]
            updates += np.bincount(assign, minlength=n) * S * T
            spikes += np.bincount(assign, weights=self.counts[lay.name], minlength=n)
            post_synops = np.zeros(lay.size)
            for edge in graph.in_edges(lay.name):
                src = graph.layer(edge.src)
                pre = np.asarray(self.counts[edge.src], dtype=np.float64).reshape(src.shape)
                post_synops += fanin_sum(pre, edge, src.shape, lay.shape)
                _add_traffic(traffic, graph, mapping, edge, np.asarray(self.counts[edge.src], dtype=np.float64))
            synops += np.bincount(assign, weights=post_synops, minlength=n)
            active += np.bincount(assign, weights=self.active[lay.name], minlength=n)
            layer_synops[lay.name] = int(post_synops.sum())
        per_step = {name: np.asarray(v, dtype=np.int64) for name, v in self.per_step.items()}
        return CoreEvents(S, T, synops, updates, active, spikes, traffic, layer_synops, layer_spikes, per_step)


def account(graph: NetworkGraph, mapping: Mapping, activity: Activity) -> CoreEvents:
    """Per-core events of one Activity (an EventAccumulator fed once)."""
    acc = EventAccumulator(graph, mapping)
    acc.add(activity)
    return acc.result()


def _add_traffic(traffic: np.ndarray, graph: NetworkGraph, mapping: Mapping, edge: Edge,
                 src_counts: np.ndarray) -> None:
    src, dst = graph.layer(edge.src), graph.layer(edge.dst)
    n = mapping.num_cores
    src_assign = mapping.assignment.get(src.name)
    dst_assign = mapping.assignment[dst.name]
    for core in np.unique(dst_assign):
        mask = reach_mask(dst_assign == core, edge, src.shape, dst.shape)
        if src_assign is None:
            traffic[n, core] += src_counts[mask].sum()
        else:
            traffic[:n, core] += np.bincount(src_assign[mask], weights=src_counts[mask], minlength=n)
