"""Synthetic conv stacks built directly as NetworkGraph objects (no synapse lists anywhere:
conv weights are one kernel per layer), for mapping-scale measurements."""
from __future__ import annotations

import math

import numpy as np

from neuromap.graph import Edge, Layer, NetworkGraph, Neuron

LIF = Neuron("CUBA", {"vThMant": 80, "iDecay": 4096, "vDecay": 0, "refDelay": 1})


def conv_stack(neurons: float, channels: int = 16, depth: int = 4, in_channels: int = 2) -> NetworkGraph:
    """A square input (side x side x in_channels) followed by ``depth`` 3x3 convolutions
    (stride 1, padding 1, ``channels`` each), sized so the on-chip neurons total ``neurons``."""
    per_pos = in_channels + depth * channels
    side = max(4, int(round(math.sqrt(neurons / per_pos))))
    layers = [Layer("input0", "input", (side, side, in_channels), LIF)]
    edges = []
    c_prev = in_channels
    for i in range(1, depth + 1):
        layers.append(Layer(f"conv{i}", "conv", (side, side, channels), LIF))
        edges.append(Edge(layers[-2].name, layers[-1].name, "conv", np.ones((channels, 3, 3, c_prev)),
                          stride=(1, 1), padding=(1, 1)))
        c_prev = channels
    return NetworkGraph(f"convstack_{side}x{side}", tuple(layers), tuple(edges))
