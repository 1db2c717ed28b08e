"""The Mapping type (neuron -> core, core -> chip and mesh position) and its validator."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping as TMapping

import numpy as np

from ..errors import NeuromapError
from ..graph import NetworkGraph
from ..hw.profile import HardwareProfile


@dataclass(frozen=True)
class Core:
    """One neurocore: where it sits and which layer's neurons it holds."""

    index: int
    chip: int
    tile_x: int
    tile_y: int
    layer: str
    neurons: int


@dataclass(frozen=True)
class Mapping:
    """``assignment[layer][i]`` is the core index of neuron ``i`` (IR neuron order)
    for every on-chip layer."""

    profile: str
    strategy: str
    cores: tuple[Core, ...]
    assignment: TMapping[str, np.ndarray]

    @property
    def num_cores(self) -> int:
        return len(self.cores)

    @property
    def num_chips(self) -> int:
        return 1 + max((c.chip for c in self.cores), default=0)

    def layer_cores(self, layer: str) -> list[Core]:
        return [c for c in self.cores if c.layer == layer]


def place_linear(index: int, profile: HardwareProfile) -> tuple[int, int, int]:
    """(chip, tile_x, tile_y) of the index-th core, filling tiles along a snake path
    so that consecutive cores stay on the same or a neighbouring tile."""
    chip, local = divmod(index, profile.cores_per_chip)
    tile = local // profile.cores_per_tile
    nx = profile.mesh_tiles[0]
    ty, tx = divmod(tile, nx)
    if ty % 2:
        tx = nx - 1 - tx
    return chip, tx, ty


def validate(graph: NetworkGraph, mapping: Mapping, profile: HardwareProfile) -> None:
    """Check a Mapping against every limit the profile states; raise naming the first violation."""
    counts = np.zeros(mapping.num_cores, dtype=np.int64)
    for lay in graph.layers:
        if not lay.on_chip:
            continue
        assign = mapping.assignment.get(lay.name)
        if assign is None or assign.shape != (lay.size,):
            raise NeuromapError(f"mapping has no core for every neuron of layer {lay.name}")
        if assign.min() < 0 or assign.max() >= mapping.num_cores:
            raise NeuromapError(f"mapping puts layer {lay.name} on a core that does not exist")
        per_core = np.bincount(assign, minlength=mapping.num_cores)
        counts += per_core
        limit = profile.neuron_limit(lay.neuron.type)
        worst = int(per_core.argmax())
        if per_core[worst] > limit:
            raise NeuromapError(
                f"layer {lay.name}: core {worst} holds {per_core[worst]} {lay.neuron.type} neurons, "
                f"over the {profile.name} limit of {limit} per core; use more cores for this layer")
    for core in mapping.cores:
        if counts[core.index] != core.neurons:
            raise NeuromapError(f"mapping is inconsistent: core {core.index} lists {core.neurons} "
                                f"neurons but {counts[core.index]} are assigned to it")
