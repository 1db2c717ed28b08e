"""Activity: what a simulator returns and what the accounting reads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import NeuromapError
from ..graph import NetworkGraph

#: Neuron types with Lava's windowed reset (LIFReset); only they take a static drive as their bias.
RESETTABLE = ("CUBA", "LOIHI")


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


def is_binary(a: np.ndarray) -> bool:
    """True for 0/1 spikes (Lava sends them as unary messages), False for graded values."""
    return bool(np.isin(np.unique(a), (0, 1)).all())


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, show: bool, desc: str) -> Any:
    """A tqdm bar counting samples (it shows samples per second), or a silent stand-in."""
    if not show:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="sample")


def prepare_inputs(graph: NetworkGraph, inputs: np.ndarray, steps: int | None) -> tuple[np.ndarray, bool, int]:
    """Check ``inputs`` against the input layer: ``(S, *shape, T)`` per-step input, or ``(S, *shape)``
    a static drive held for ``steps`` steps. Returns (inputs, static, steps per sample); a static drive
    for an input layer without a bias (sigma-delta) comes back repeated over the steps, as both
    simulators feed it."""
    inp = graph.input_layer
    inputs = np.asarray(inputs)
    if not np.issubdtype(inputs.dtype, np.number):
        raise NeuromapError("the input must be a numeric array")
    static = inputs.ndim == len(inp.shape) + 1
    if static:
        if inp.neuron is None:
            raise NeuromapError(f"input of shape {inputs.shape[1:]} has no time axis, but {graph.name}'s "
                                f"input layer has no neurons to hold a static drive; give spikes of shape "
                                f"(N, {', '.join(map(str, inp.shape))}, T)")
        if not steps:
            raise NeuromapError("a static input needs the number of steps per sample")
        if tuple(inputs.shape[1:]) != tuple(inp.shape):
            raise NeuromapError(f"input of shape {inputs.shape[1:]} does not fit {graph.name}'s input layer "
                                f"{inp.shape}")
    elif tuple(inputs.shape[1:-1]) != tuple(inp.shape):
        raise NeuromapError(f"input of shape {inputs.shape[1:]} does not fit {graph.name}'s input "
                            f"layer {inp.shape}; give an array (N, {', '.join(map(str, inp.shape))}, T)")
    if not np.all(np.isfinite(inputs)):
        raise NeuromapError("the input holds NaN or infinite values; give finite numbers")
    if static and inp.neuron.type not in RESETTABLE:
        inputs = np.repeat(inputs[..., None], int(steps), axis=-1)
        static = False
    T = int(steps if static else inputs.shape[-1])
    if inputs.shape[0] < 1 or T < 1:
        raise NeuromapError("need at least one sample and one time step")
    return inputs, static, T
