"""The report's JSON schema (``neuromap.report/2``, docs/report-schema.md) and its validator.

The spec is data: a dict is an object whose keys are all required (others are allowed), a
one-element list is an array of that item, a tuple an array of exactly those items, ``Opt(x)``
allows null, and the names below are the scalar types. ``check_report`` returns the first
problem as a path and a sentence, so a CLI can name the file and the key."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SCHEMA = "neuromap.report/2"


@dataclass(frozen=True)
class Opt:
    """``item`` or null."""
    item: Any


NUM, INT, STR, BOOL, ANY = "number", "integer", "string", "boolean", "any"

_LAYER = {"name": STR, "kind": STR, "shape": [INT], "neurons": INT, "neuron_type": Opt(STR),
          "on_chip": BOOL, "cores": INT, "neurons_per_core": INT, "synapses_in": INT,
          "spikes_per_inference": NUM, "synops_per_inference": NUM,
          "dynamic_energy_pj_per_inference": NUM, "spikes_per_step_per_inference": Opt([NUM])}
_UTIL = {"neurons": NUM, "memory_words": Opt(NUM), "input_axons": Opt(NUM), "output_routes": Opt(NUM),
         "neuron_groups": Opt(NUM), "axon_map": Opt(NUM)}
_CORE = {"core": INT, "chip": INT, "tile": (INT, INT), "layer": STR, "neurons": INT,
         "synops_per_inference": NUM, "neuron_updates_per_inference": NUM,
         "active_updates_per_inference": NUM, "spikes_per_inference": NUM,
         "messages_per_inference": NUM, "messages_received_per_inference": NUM,
         "dynamic_energy_pj": NUM, "busy_ns_per_step": NUM, "utilisation": Opt(_UTIL)}
_ENERGY = {k: NUM for k in ("synops", "neuron_updates", "spike_out", "spikes", "hops", "dynamic",
                            "static", "total")}
_CONSTANT = {"key": STR, "value": NUM, "unit": STR, "source": STR}
_TWIN = {"run_dir": STR, "macs": NUM, "energy_fp32_uj": NUM, "energy_int8_uj": NUM,
         "accuracy": Opt(NUM), "accuracy_correct": Opt(INT), "accuracy_samples": Opt(INT),
         "accuracy_source": STR, "accuracy_interval95": Opt((NUM, NUM)), "snn_energy_fp32_uj": NUM, "snn_energy_int8_uj": NUM,
         "presets": {"fp32": {"mac_pj": NUM, "ac_pj": NUM, "source": STR},
                     "int8": {"mac_pj": NUM, "ac_pj": NUM, "source": STR}}}

SPEC: dict[str, Any] = {
    "schema": STR, "name": STR, "model": STR, "target": STR, "engine": STR, "input": STR,
    "profile": STR, "strategy": STR, "cores": INT, "chips": INT, "tiles": INT, "neurons": INT,
    "synapses": INT, "samples": INT, "steps_per_sample": INT, "seed": INT, "created": STR,
    "versions": {"python": STR, "neuromap": STR},
    "accuracy": Opt(NUM), "accuracy_correct": Opt(INT), "accuracy_samples": Opt(INT),
    "accuracy_interval95": Opt((NUM, NUM)), "agreement_with_slayer": Opt(NUM),
    "verification": Opt({"engine": STR, "samples": INT}),
    "synops_per_inference": NUM, "spikes_per_inference": NUM, "neuron_updates_per_inference": NUM,
    "inter_core_messages_per_inference": NUM, "hops_east_west_per_inference": NUM,
    "hops_north_south_per_inference": NUM, "chip_crossings_per_inference": NUM,
    "energy_pj_per_inference": _ENERGY, "energy_uj_per_inference": NUM,
    "dynamic_energy_uj_per_inference": NUM, "static_share": Opt(NUM), "static_note": STR,
    "energy_share_of_total": {k: Opt(NUM) for k in _ENERGY},
    "time_step_ns": NUM, "latency_us_per_inference": NUM, "throughput_inferences_per_s": Opt(NUM),
    "power_w": {"dynamic": Opt(NUM), "static": Opt(NUM), "total": Opt(NUM)},
    "energy_delay_product_uj_us": NUM,
    "step_time_terms": {"busiest_core": INT, "busiest_core_ns": NUM, "host_injection_ns": NUM,
                        "barrier_ns": NUM, "bound": STR},
    "known_error": [{"what": STR, "energy_pct": Opt(NUM), "latency_pct": Opt(NUM), "source": STR}],
    "per_layer_energy": STR, "per_layer": [_LAYER], "per_core": [_CORE],
    "traffic_matrix": {"sources": [STR], "destinations": [STR], "messages_per_inference": [[NUM]]},
    "warnings": [STR],
    "provenance": {"command": Opt([STR]), "model_path": STR, "model_sha256": Opt(STR), "input": STR,
                   "input_sha256": Opt(STR)},
    "hardware": {"profile_path": STR, "profile_sha256": Opt(STR), "description": Opt(STR),
                 "cores_per_chip": INT, "cores_per_tile": INT, "mesh_tiles": (INT, INT),
                 "static_power_w_per_chip": NUM, "calibration_base": Opt(STR),
                 "limits": {"neurons": {"default": INT}, "memory_words": Opt(INT), "input_axons": Opt(INT),
                            "output_routes": Opt(INT), "neuron_groups": Opt(INT), "axon_map": Opt(INT)},
                 "constants": [_CONSTANT]},
    "twin": Opt(_TWIN),
}


def _type_ok(kind: str, v: Any) -> bool:
    if kind == ANY:
        return True
    if kind == STR:
        return isinstance(v, str)
    if kind == BOOL:
        return isinstance(v, bool)
    if kind == INT:
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _name(spec: Any) -> str:
    if isinstance(spec, Opt):
        return f"{_name(spec.item)} or null"
    if isinstance(spec, dict):
        return "an object"
    if isinstance(spec, (list, tuple)):
        return "an array" if isinstance(spec, list) else f"an array of {len(spec)}"
    return {"number": "a finite number", "integer": "an integer"}.get(spec, f"a {spec}")


def problem(value: Any, spec: Any, at: str = "") -> str | None:
    """The first place ``value`` breaks ``spec``: 'path: expected X, got Y', or None."""
    if isinstance(spec, Opt):
        return None if value is None else problem(value, spec.item, at)
    where = at or "the top level"
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return f"{where}: expected {_name(spec)}, got {type(value).__name__}"
        for key, sub in spec.items():
            if key not in value:
                return f"{at + '.' if at else ''}{key}: missing"
            bad = problem(value[key], sub, f"{at}.{key}" if at else key)
            if bad:
                return bad
        return None
    if isinstance(spec, (list, tuple)):
        if not isinstance(value, list):
            return f"{where}: expected {_name(spec)}, got {type(value).__name__}"
        if isinstance(spec, tuple) and len(value) != len(spec):
            return f"{where}: expected {len(spec)} items, got {len(value)}"
        items = spec if isinstance(spec, tuple) else [spec[0]] * len(value)
        for i, (v, sub) in enumerate(zip(value, items)):
            bad = problem(v, sub, f"{at}[{i}]")
            if bad:
                return bad
        return None
    if not _type_ok(spec, value):
        return f"{where}: expected {_name(spec)}, got {type(value).__name__} {str(value)[:40]!r}"
    return None


def check_report(report: Any) -> str | None:
    """None for a valid ``neuromap.report/2`` dict, else the first problem in one line (an older
    or unknown schema is named as such)."""
    if not isinstance(report, dict):
        return f"expected a JSON object, got {type(report).__name__}"
    version = report.get("schema")
    if version is None:
        return ("no 'schema' key: a report from before neuromap.report/2; regenerate it with "
                "`python -m neuromap.deploy`")
    if version != SCHEMA:
        return f"schema {str(version)[:60]!r} is not {SCHEMA}; regenerate it with `python -m neuromap.deploy`"
    bad = problem(report, SPEC)
    if bad:
        return bad
    n = len(report["per_core"])
    if n != report["cores"]:
        return f"per_core: {n} rows for {report['cores']} cores"
    tm = report["traffic_matrix"]
    rows = tm["messages_per_inference"]
    if len(rows) != len(tm["sources"]) or any(len(r) != len(tm["destinations"]) for r in rows):
        return "traffic_matrix: its shape does not match sources x destinations"
    return None
