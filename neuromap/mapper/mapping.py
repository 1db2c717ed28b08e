"""The Mapping type (neuron -> core, core -> chip and mesh position), its validator, and its JSON
form (``mapping_to_dict`` / ``mapping_from_dict``: what ``map --out`` writes and ``deploy --mapping``
reads back, validated against the graph and the profile before use)."""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any, Mapping as TMapping

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


#: the ``schema`` of a mapping written by ``mapping_to_dict``
MAPPING_SCHEMA = "neuromap.mapping/1"
CORE_FIELDS = ("core", "chip", "tile", "layers", "neurons")


def mapping_to_dict(mapping: Mapping, model: str) -> dict[str, Any]:
    """The JSON form of ``mapping`` for the graph named ``model``: schema, model, profile, strategy,
    one entry per core (index, chip, tile, layers, neurons) and each layer's neuron -> core list."""
    return {"schema": MAPPING_SCHEMA, "model": model, "profile": mapping.profile, "strategy": mapping.strategy,
            "cores": [{"core": c.index, "chip": c.chip, "tile": [c.tile_x, c.tile_y], "layers": list(c.layers),
                       "neurons": c.neurons} for c in mapping.cores],
            "assignment": {k: np.asarray(v).tolist() for k, v in mapping.assignment.items()}}


def _whole(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def mapping_from_dict(data: Any, graph: NetworkGraph, profile: HardwareProfile) -> Mapping:
    """The Mapping a ``mapping_to_dict`` dict describes, after checking that it is one, that it was
    made for ``graph`` (its name and on-chip layers) and ``profile`` (its name), and that it passes
    ``validate`` (every neuron on a core, every per-core budget). Raises one NeuromapError."""
    fix = "map the model again with python -m neuromap.map --out"
    if not isinstance(data, dict) or data.get("schema") != MAPPING_SCHEMA:
        raise NeuromapError(f"not a neuromap mapping (schema {MAPPING_SCHEMA} expected); {fix}")
    if data.get("model") != graph.name:
        raise NeuromapError(f"the mapping is of model {str(data.get('model'))[:60]!r}, not {graph.name!r}; "
                            f"pass the model it was made for, or {fix}")
    if data.get("profile") != profile.name:
        raise NeuromapError(f"the mapping is for profile {str(data.get('profile'))[:60]!r}, not "
                            f"{profile.name!r}; pass --profile {str(data.get('profile'))[:60]}, or {fix}")
    strategy, cores, assignment = data.get("strategy"), data.get("cores"), data.get("assignment")
    if not isinstance(strategy, str) or not isinstance(cores, list) or not isinstance(assignment, dict):
        raise NeuromapError(f"the mapping lacks its strategy, cores or assignment; {fix}")
    parsed = []
    for i, c in enumerate(cores):
        if not isinstance(c, dict) or any(k not in c for k in CORE_FIELDS) or c["core"] != i or \
                not all(_whole(c[k]) for k in ("chip", "neurons")) or c["chip"] < 0 or \
                not isinstance(c["tile"], list) or len(c["tile"]) != 2 or not all(_whole(v) for v in c["tile"]) or \
                not isinstance(c["layers"], list) or not all(isinstance(s, str) for s in c["layers"]):
            raise NeuromapError(f"core entry {i} of the mapping is malformed (core {i} with chip, tile [x, y], "
                                f"layers and neurons expected); {fix}")
        parsed.append(Core(i, c["chip"], c["tile"][0], c["tile"][1], "+".join(c["layers"]), c["neurons"]))
    on_chip = {lay.name for lay in graph.layers if lay.on_chip}
    if set(assignment) != on_chip:
        raise NeuromapError(f"the mapping places layers {sorted(assignment)[:8]} but the model's on-chip "
                            f"layers are {sorted(on_chip)[:8]}; {fix}")
    arrays = {}
    for name, cores_of in assignment.items():
        if not isinstance(cores_of, list) or not all(_whole(v) for v in cores_of):
            raise NeuromapError(f"the mapping's assignment of layer {name} is not a list of core numbers; {fix}")
        arrays[name] = np.asarray(cores_of, np.int64).reshape(-1)
    mapping = Mapping(profile.name, strategy, tuple(parsed), arrays)
    try:
        validate(graph, mapping, profile)
    except NeuromapError as exc:
        raise NeuromapError(f"the mapping does not fit: {exc}") from None
    return mapping


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
