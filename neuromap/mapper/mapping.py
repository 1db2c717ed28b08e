"""The Mapping type (neuron -> core, core -> chip and mesh position) and its validator."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping as TMapping

import numpy as np

from ..errors import NeuromapError
from ..graph import NetworkGraph
from ..hw.profile import HardwareProfile
from .resources import describe, neuron_core_usage


@dataclass(frozen=True)
class Core:
    """One neurocore: where it sits and which layers' neurons it holds (``layer`` joins the
    names with '+' when the graph mapper puts several layers on one core)."""

    index: int
    chip: int
    tile_x: int
    tile_y: int
    layer: str
    neurons: int

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.layer.split("+"))


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
        """Cores holding at least one neuron of ``layer``."""
        assign = self.assignment.get(layer)
        if assign is None:
            return []
        return [self.cores[i] for i in np.unique(assign)]

    def layer_neurons_per_core(self, layer: str) -> np.ndarray:
        """Neurons of ``layer`` on each core that holds some (in ``layer_cores`` order)."""
        assign = self.assignment.get(layer)
        if assign is None:
            return np.zeros(0, np.int64)
        counts = np.bincount(assign, minlength=self.num_cores)
        return counts[np.unique(assign)]


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
    """Check a Mapping against every limit the profile states (neurons per type, memory words,
    input axons, output routes, mesh capacity), counted exactly per neuron and independently of
    how the mapping was made; raise naming the first violation."""
    n = mapping.num_cores
    for lay in graph.layers:
        if not lay.on_chip:
            continue
        assign = mapping.assignment.get(lay.name)
        if assign is None or assign.shape != (lay.size,):
            raise NeuromapError(f"mapping has no core for every neuron of layer {lay.name}")
        if assign.min() < 0 or assign.max() >= n:
            raise NeuromapError(f"mapping puts layer {lay.name} on a core that does not exist")
        per_core = np.bincount(assign, minlength=n)
        limit = profile.neuron_limit(lay.neuron.type)
        worst = int(per_core.argmax())
        if per_core[worst] > limit:
            raise NeuromapError(
                f"layer {lay.name}: core {worst} holds {per_core[worst]} {lay.neuron.type} neurons, "
                f"over the {profile.name} limit of {limit} per core; use more cores for this layer")
    usage = neuron_core_usage(graph, mapping.assignment, n, profile)
    for core in mapping.cores:
        if usage.neurons[core.index] != core.neurons:
            raise NeuromapError(f"mapping is inconsistent: core {core.index} lists {core.neurons} "
                                f"neurons but {int(usage.neurons[core.index])} are assigned to it")
    for what, core, value, limit in usage.violations(profile):
        layers = mapping.cores[core].layer
        raise NeuromapError(f"core {core} (layer {layers}) needs {describe(what, value, limit, profile)}; "
                            f"use more cores for {layers}")
    seen = set()
    for c in mapping.cores:
        pos = (c.chip, c.tile_x, c.tile_y)
        if not (0 <= c.tile_x < profile.mesh_tiles[0] and 0 <= c.tile_y < profile.mesh_tiles[1]):
            raise NeuromapError(f"core {c.index} sits on tile {c.tile_x},{c.tile_y}, outside the "
                                f"{profile.mesh_tiles[0]}x{profile.mesh_tiles[1]} mesh")
        seen.add(pos)
    per_chip = np.bincount([c.chip for c in mapping.cores])
    if per_chip.max(initial=0) > profile.cores_per_chip:
        raise NeuromapError(f"chip {int(per_chip.argmax())} holds {int(per_chip.max())} cores, over the "
                            f"{profile.cores_per_chip} of a {profile.name} chip")
    per_tile: dict[tuple[int, int, int], int] = {}
    for c in mapping.cores:
        key = (c.chip, c.tile_x, c.tile_y)
        per_tile[key] = per_tile.get(key, 0) + 1
    if per_tile and max(per_tile.values()) > profile.cores_per_tile:
        raise NeuromapError(f"a mesh tile holds more than {profile.cores_per_tile} cores")
