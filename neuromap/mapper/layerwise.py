"""Layer-wise mapper: each layer gets its own cores, split into equal contiguous slabs
(along x for spatial layers, given the IR's neuron order) until the per-core neuron
budget of the profile holds. This is the baseline Intel's compiler follows."""
from __future__ import annotations

import math

import numpy as np

from ..graph import NetworkGraph
from ..hw.profile import HardwareProfile
from .mapping import Core, Mapping, place_linear, validate


def map_layerwise(graph: NetworkGraph, profile: HardwareProfile) -> Mapping:
    cores: list[Core] = []
    assignment: dict[str, np.ndarray] = {}
    for lay in graph.layers:
        if not lay.on_chip:
            continue
        limit = profile.neuron_limit(lay.neuron.type)
        n_cores = math.ceil(lay.size / limit)
        # balanced split: core k holds neurons [bounds[k], bounds[k+1])
        bounds = np.linspace(0, lay.size, n_cores + 1).round().astype(np.int64)
        first = len(cores)
        assign = np.empty(lay.size, dtype=np.int64)
        for k in range(n_cores):
            idx = first + k
            assign[bounds[k]:bounds[k + 1]] = idx
            chip, tx, ty = place_linear(idx, profile)
            cores.append(Core(idx, chip, tx, ty, lay.name, int(bounds[k + 1] - bounds[k])))
        assignment[lay.name] = assign
    mapping = Mapping(profile.name, "layerwise", tuple(cores), assignment)
    validate(graph, mapping, profile)
    return mapping
