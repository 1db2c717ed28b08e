"""Activity: what a simulator returns and what the accounting reads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..graph import NetworkGraph


@dataclass(frozen=True)
class Activity:
    """``events[layer]`` is ``(samples, steps, neurons)``: per step, each neuron's output
    (1 for a binary spike, the payload for a graded spike, 0 for none), in IR neuron
    order and aligned per sample (a layer's window starts when the sample reaches it)."""

    events: Mapping[str, np.ndarray]
    steps: int

    @property
    def samples(self) -> int:
        return next(iter(self.events.values())).shape[0]

    def spike_counts(self, layer: str) -> np.ndarray:
        """Spikes per sample and neuron, ``(samples, neurons)``."""
        return (self.events[layer] != 0).sum(axis=1)


def depths(graph: NetworkGraph) -> dict[str, int]:
    """Steps from the input layer to each layer along the longest path: one per synapse
    (Lava's synapses each add one step) plus each edge's ``lag``. The pipeline lag of that
    layer in Lava."""
    depth = {graph.input_layer.name: 0}
    for lay in graph.layers[1:]:
        step = 0 if lay.kind == "average" else 1
        depth[lay.name] = max(depth[e.src] + e.lag + step
                              for e in graph.in_edges(lay.name) if e.src != lay.name)
    return depth
