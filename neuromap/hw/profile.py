"""Load a hardware profile YAML into a typed, validated object."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import NeuromapError

PROFILE_DIR = Path(__file__).parent / "profiles"
#: Largest profile file read (the shipped ones are about 3 KiB).
MAX_BYTES = 256 * 1024
#: Largest count (cores, tiles, boards) a profile may give.
MAX_COUNT = 1 << 24
ENERGY_KEYS = ("synop", "neuron_update_active", "neuron_update_inactive", "spike_in_tile",
               "hop_east_west", "hop_north_south")
# Optional per-event keys of energy_pj / time_ns and what they default to when a profile omits them:
# a synaptic op on a conv or dense edge (default: ``synop``), a spike leaving a neuron's soma
# (default 0), a message arriving at a core's input axon (time only, default 0) and the host's
# time to inject one input message (time only, default 0).
OPTIONAL_KEYS = {"synop_conv": "synop", "synop_dense": "synop", "spike_out": 0.0,
                 "message_in": 0.0, "host_message": 0.0}


#: A budget the profile leaves unbounded (the default of every per-core limit).
UNLIMITED = 1 << 62


def bounded(limit: int) -> int | None:
    """`limit` as an int, or None where the profile sets no budget."""
    return None if int(limit) >= UNLIMITED else int(limit)


@dataclass(frozen=True)
class HardwareProfile:
    name: str
    cores_per_chip: int
    cores_per_tile: int
    mesh_tiles: tuple[int, int]
    max_neurons: Mapping[str, int]
    energy_pj: Mapping[str, float]
    time_ns: Mapping[str, float]
    barrier_ns: Mapping[int, float]
    static_power_w_per_chip: float
    source: str
    # per-core memory and routing budgets (docs/mapping.md); defaults leave them unbounded
    memory_words: int = UNLIMITED
    neuron_state_words: Mapping[str, float] = field(default_factory=lambda: {"default": 0})
    weight_bits: int = 8
    index_bits: int = 12
    list_header_words: int = 1
    conv_weight_sharing: bool = True
    max_input_axons: int = UNLIMITED
    max_output_routes: int = UNLIMITED
    # register-level refinements (Loihi 2, docs/mapping.md); the defaults keep the plain model:
    # ``conv_weight_bits`` / ``dense_entry_bits`` override ``weight_bits`` / the dense entry width;
    # ``conv_input_axons``: ``per_neuron`` (every presynaptic neuron is an input axon, Loihi 1) or
    # ``per_edge`` (one convolution axon per incoming conv connection, Loihi 2);
    # ``max_neuron_groups`` (NeuronGr: layers per core) and ``max_axon_map`` (AxonMap entries);
    # ``layerwise_rule``: ``halving`` (x, then y, then c) or ``intel`` (docs/mapping.md)
    conv_weight_bits: int | None = None
    dense_entry_bits: int | None = None
    conv_input_axons: str = "per_neuron"
    max_neuron_groups: int = UNLIMITED
    max_axon_map: int = UNLIMITED
    layerwise_rule: str = "halving"
    boards: Mapping[str, int] = field(default_factory=dict)
    # what the per-event numbers were fitted on and how far off they are (data, see
    # docs/cost-model.md): ``calibration`` as written by neuromap.calibrate, ``known_error`` a
    # list of {what, energy_pct, latency_pct, source}
    calibration: Mapping[str, Any] = field(default_factory=dict)
    known_error: tuple[Mapping[str, Any], ...] = ()

    def neuron_limit(self, neuron_type: str) -> int:
        return int(self.max_neurons.get(neuron_type, self.max_neurons["default"]))

    def state_words(self, neuron_type: str) -> float:
        """Words of the per-core memory pool one neuron of this type takes."""
        return float(self.neuron_state_words.get(neuron_type, self.neuron_state_words["default"]))

    @property
    def entry_bits(self) -> int:
        """Bits of one dense / sparse synapse entry: weight plus target neuron index, unless the
        profile gives the entry width itself (``dense_entry_bits``)."""
        if self.dense_entry_bits is not None:
            return self.dense_entry_bits
        return self.weight_bits + self.index_bits

    @property
    def conv_bits(self) -> int:
        """Bits of one stored weight of a weight-shared convolution kernel."""
        return self.weight_bits if self.conv_weight_bits is None else self.conv_weight_bits

    def barrier_time_ns(self, tiles: int) -> float:
        """Barrier sync time for ``tiles`` tiles, linear between the published points."""
        pts = sorted(self.barrier_ns.items())
        if tiles <= pts[0][0]:
            return float(pts[0][1])
        for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
            if tiles <= t1:
                return float(v0 + (v1 - v0) * (tiles - t0) / (t1 - t0))
        return float(pts[-1][1])


def _resources(core: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The optional per-core budgets of a profile (absent ones stay unbounded)."""
    out: dict[str, Any] = {}
    if "memory_words" in core:
        out["memory_words"] = int(core["memory_words"])
    if "neuron_state_words" in core:
        out["neuron_state_words"] = {str(k): float(v) for k, v in core["neuron_state_words"].items()}
    syn = core.get("synapse") or {}
    for key in ("weight_bits", "index_bits", "list_header_words", "conv_weight_bits", "dense_entry_bits"):
        if key in syn:
            out[key] = int(syn[key])
    if "conv_weight_sharing" in syn:
        out["conv_weight_sharing"] = bool(syn["conv_weight_sharing"])
    if "conv_input_axons" in syn:
        out["conv_input_axons"] = str(syn["conv_input_axons"])
    for key in ("max_input_axons", "max_output_routes", "max_neuron_groups", "max_axon_map"):
        if key in core:
            out[key] = int(core[key])
    if "layerwise_rule" in core:
        out["layerwise_rule"] = str(core["layerwise_rule"])
    if raw.get("boards"):
        out["boards"] = {str(k): int(v) for k, v in raw["boards"].items()}
    return out


def _per_event(table: Mapping[str, Any]) -> dict[str, float]:
    """energy_pj / time_ns with the optional keys filled in."""
    out = {k: float(table[k]) for k in ENERGY_KEYS}
    for key, default in OPTIONAL_KEYS.items():
        out[key] = float(table[key]) if key in table else (
            out[default] if isinstance(default, str) else float(default))
    return out


def _known_error(raw: Any) -> tuple[dict[str, Any], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TypeError("known_error must be a list of {what, energy_pct, latency_pct, source}")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise TypeError("each known_error entry must be a mapping {what, energy_pct, latency_pct, source}")
        entry = {"what": str(item["what"]), "source": str(item.get("source", ""))}
        for key in ("energy_pct", "latency_pct"):
            entry[key] = None if item.get(key) is None else float(item[key])
        out.append(entry)
    return tuple(out)


def _check_numbers(prof: HardwareProfile, path: Path) -> None:
    """Every figure finite and in range: a NaN energy would turn into NaN in every report."""
    floats = {**{f"energy_pj.{k}": v for k, v in prof.energy_pj.items()},
              **{f"time_ns.{k}": v for k, v in prof.time_ns.items()},
              **{f"barrier_ns.{k}": v for k, v in prof.barrier_ns.items()},
              **{f"core.neuron_state_words.{k}": v for k, v in prof.neuron_state_words.items()},
              "static_power_w_per_chip": prof.static_power_w_per_chip}
    for key, v in floats.items():
        if not math.isfinite(v) or v < 0:
            raise NeuromapError(f"hardware profile {path}: {key} = {v} must be a finite number >= 0")
    ints = {"chip.cores_per_chip": prof.cores_per_chip, "chip.cores_per_tile": prof.cores_per_tile,
            "chip.mesh_tiles[0]": prof.mesh_tiles[0], "chip.mesh_tiles[1]": prof.mesh_tiles[1],
            "core.synapse.index_bits": prof.index_bits + 1, "core.synapse.list_header_words":
            prof.list_header_words + 1, **{f"boards.{k}": v for k, v in prof.boards.items()},
            **{f"barrier_ns key {k}": k for k in prof.barrier_ns}}
    for key, v in ints.items():
        if not 1 <= v <= MAX_COUNT:
            raise NeuromapError(f"hardware profile {path}: {key} must be a whole number in "
                                f"1..{MAX_COUNT:,}")
    if not prof.barrier_ns:
        raise NeuromapError(f"hardware profile {path}: barrier_ns needs at least one point")


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def profile_path(name_or_path: str | Path) -> Path:
    """The YAML file a profile name (``loihi2``) or path stands for."""
    path = Path(name_or_path)
    return PROFILE_DIR / f"{name_or_path}.yaml" if not path.suffix else path


def load_profile(name_or_path: str | Path) -> HardwareProfile:
    """A profile by name (``loihi2``) or by path to a YAML file."""
    path = profile_path(name_or_path)
    if not path.is_file():
        raise NeuromapError(f"hardware profile {name_or_path} not found; use one of "
                            f"{', '.join(available_profiles())} or a path to a YAML profile")
    if path.stat().st_size > MAX_BYTES:
        raise NeuromapError(f"hardware profile {path} is larger than {MAX_BYTES // 1024} KiB; a "
                            f"profile is a short YAML file, compare it with {PROFILE_DIR / 'loihi2.yaml'}")
    try:
        raw: Any = yaml.safe_load(path.read_text())
        chip, core = raw["chip"], raw["core"]
        prof = HardwareProfile(
            name=str(raw["name"]),
            cores_per_chip=int(chip["cores_per_chip"]),
            cores_per_tile=int(chip["cores_per_tile"]),
            mesh_tiles=(int(chip["mesh_tiles"][0]), int(chip["mesh_tiles"][1])),
            max_neurons={str(k): int(v) for k, v in core["max_neurons"].items()},
            energy_pj=_per_event(raw["energy_pj"]),
            time_ns=_per_event(raw["time_ns"]),
            barrier_ns={int(k): float(v) for k, v in raw["barrier_ns"].items()},
            static_power_w_per_chip=float(raw["static_power_w_per_chip"]),
            source=str(path),
            calibration=dict(raw.get("calibration") or {}),
            known_error=_known_error(raw.get("known_error")),
            **_resources(core, raw),
        )
    except (yaml.YAMLError, KeyError, TypeError, ValueError, IndexError, AttributeError,
            OverflowError, UnicodeDecodeError, RecursionError, OSError) as exc:
        raise NeuromapError(f"hardware profile {path} is malformed ({exc.__class__.__name__}: "
                            f"{exc}); compare it with {PROFILE_DIR / 'loihi2.yaml'}") from None
    if "default" not in prof.max_neurons or min(prof.max_neurons.values()) <= 0:
        raise NeuromapError(f"hardware profile {path}: core.max_neurons needs a positive 'default'")
    if "default" not in prof.neuron_state_words or min(
            [prof.memory_words, prof.weight_bits, prof.max_input_axons, prof.max_output_routes]) <= 0:
        raise NeuromapError(f"hardware profile {path}: core budgets must be positive and "
                            f"core.neuron_state_words needs a 'default'")
    _check_numbers(prof, path)
    if prof.conv_input_axons not in ("per_neuron", "per_edge") or prof.layerwise_rule not in ("halving", "intel"):
        raise NeuromapError(f"hardware profile {path}: core.synapse.conv_input_axons must be per_neuron "
                            f"or per_edge and core.layerwise_rule halving or intel")
    if min(prof.conv_bits, prof.entry_bits, prof.max_neuron_groups, prof.max_axon_map) <= 0:
        raise NeuromapError(f"hardware profile {path}: synapse widths and core budgets must be positive")
    if prof.cores_per_chip > prof.cores_per_tile * prof.mesh_tiles[0] * prof.mesh_tiles[1]:
        raise NeuromapError(f"hardware profile {path}: cores_per_chip exceeds the tile mesh")
    return prof
