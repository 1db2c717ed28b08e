"""Hardware-cost report: a JSON summary and a Markdown page for design reviews.

``build_report`` is a pure function; ``write_report`` is the only writer and replaces the
report folder atomically (a killed run never leaves a half-written report)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..cost.accounting import CoreEvents
from ..cost.model import CostEstimate
from ..graph import NetworkGraph, synapse_count
from ..hw.profile import HardwareProfile, bounded
from ..mapper.mapping import Mapping
from ..outputs import json_text, replace_folder, write_json
from ..provenance import file_sha256
from .constants import profile_constants
from .html import render_html
from . import units
from .schema import SCHEMA, check_report


#: z of a two-sided 95 % normal interval
Z95 = 1.959963984540054
#: fewer labelled samples than this get a warning next to the accuracy
FEW_SAMPLES = 30


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (correct out of n)."""
    if n <= 0:
        raise ValueError("an interval needs at least one sample")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def build_report(graph: NetworkGraph, mapping: Mapping, events: CoreEvents, cost: CostEstimate,
                 extra: dict[str, Any], usage: Any = None,
                 profile: HardwareProfile | None = None) -> dict[str, Any]:
    """The report dict (schema ``SCHEMA``, docs/report-schema.md) of one deployment.

    ``extra`` carries what only the caller knows (model path, input, accuracy and its ``correct``
    count, provenance, the CNN twin); ``usage`` is the mapper's per-core resource use
    (``MapResult.usage``: neuron_use, memory, axons, routes), ``profile`` the profile priced with
    (its constants and their sources go into the report)."""
    per = 1.0 / events.samples
    n_cores = mapping.num_cores
    share = _layer_shares(graph, mapping)
    layer_energy = {name: float(cost.core_dynamic_pj @ w) for name, w in share.items()}
    layers = []
    for lay in graph.layers:
        cores = mapping.layer_cores(lay.name)
        step = events.layer_step_spikes.get(lay.name)
        layers.append({
            "name": lay.name, "kind": lay.kind, "shape": list(lay.shape), "neurons": lay.size,
            "neuron_type": lay.neuron.type if lay.neuron else None, "on_chip": lay.on_chip,
            "cores": len(cores),
            "neurons_per_core": int(mapping.layer_neurons_per_core(lay.name).max(initial=0)),
            "synapses_in": sum(synapse_count(graph, e) for e in graph.in_edges(lay.name)
                               if e.kind != "average"),
            "spikes_per_inference": events.layer_spikes.get(lay.name, 0) * per,
            "synops_per_inference": events.layer_synops.get(lay.name, 0) * per,
            "dynamic_energy_pj_per_inference": layer_energy.get(lay.name, 0.0),
            "spikes_per_step_per_inference": None if step is None else [float(x) * per for x in step],
        })
    busy = cost.core_busy_ns if len(cost.core_busy_ns) == n_cores else np.zeros(n_cores)
    cores = []
    for c in mapping.cores:
        i = c.index
        row = {
            "core": i, "chip": c.chip, "tile": [c.tile_x, c.tile_y], "layer": c.layer,
            "neurons": c.neurons,
            "synops_per_inference": float(events.synops[i] * per),
            "neuron_updates_per_inference": float(events.updates[i] * per),
            "active_updates_per_inference": float(events.active_updates[i] * per),
            "spikes_per_inference": float(events.spikes[i] * per),
            "messages_per_inference": float(events.messages[i] * per),
            "messages_received_per_inference": float(events.traffic[:, i].sum() * per),
            "dynamic_energy_pj": float(cost.core_dynamic_pj[i]),
            "busy_ns_per_step": float(busy[i]),
            "utilisation": None,
        }
        if usage is not None and profile is not None:
            row["memory_words"] = float(usage.memory[i])
            row["input_axons"] = float(usage.axons[i])
            row["output_routes"] = float(usage.routes[i])
            row["utilisation"] = {
                "neurons": float(usage.neuron_use[i]),
                "memory_words": _share(usage.memory, i, profile.memory_words),
                "input_axons": _share(usage.axons, i, profile.max_input_axons),
                "output_routes": _share(usage.routes, i, profile.max_output_routes),
                "neuron_groups": _share(usage.groups, i, profile.max_neuron_groups),
                "axon_map": _share(usage.axon_map, i, profile.max_axon_map)}
        cores.append(row)
    e = cost.energy_pj
    latency_ns = cost.latency_us * 1000.0
    terms = dict(cost.step_terms)
    if terms.get("busiest_core", -1) >= 0:
        terms["busiest_core_layer"] = mapping.cores[terms["busiest_core"]].layer
    report = {
        **extra,
        "schema": SCHEMA,
        "name": graph.name,
        "profile": mapping.profile,
        "strategy": mapping.strategy,
        "cores": mapping.num_cores,
        "chips": mapping.num_chips,
        "tiles": cost.tiles_used,
        "neurons": graph.num_neurons,
        "synapses": graph.num_synapses,
        "samples": events.samples,
        "steps_per_sample": events.steps,
        "synops_per_inference": float(events.synops.sum() * per),
        "spikes_per_inference": float(events.spikes.sum() * per),
        "neuron_updates_per_inference": float(events.updates.sum() * per),
        "inter_core_messages_per_inference": events.inter_core_messages * per,
        "hops_east_west_per_inference": cost.hops_east_west,
        "hops_north_south_per_inference": cost.hops_north_south,
        "chip_crossings_per_inference": cost.chip_crossings,
        "energy_pj_per_inference": e,
        "energy_uj_per_inference": e["total"] / 1e6,
        "dynamic_energy_uj_per_inference": e["dynamic"] / 1e6,
        "static_share": e["static"] / e["total"] if e["total"] > 0 else None,
        "energy_share_of_total": {k: (v / e["total"] if e["total"] > 0 else None) for k, v in e.items()},
        "time_step_ns": cost.step_ns,
        "latency_us_per_inference": cost.latency_us,
        "throughput_inferences_per_s": 1e9 / latency_ns if latency_ns > 0 else None,
        "power_w": {k: (e[k] / latency_ns * 1e-3 if latency_ns > 0 else None)   # pJ/ns = mW
                    for k in ("dynamic", "static", "total")},
        "energy_delay_product_uj_us": e["total"] / 1e6 * cost.latency_us,
        "step_time_terms": terms,
        "known_error": list(cost.known_error),
        "per_layer_energy": "exact" if all(len(c.layers) == 1 for c in mapping.cores)
        else "split by neuron share on cores that hold several layers",
        "per_layer": layers,
        "per_core": cores,
        "traffic_matrix": _traffic_matrix(mapping, events),
    }
    report["accuracy_interval95"] = None
    correct, n_acc = extra.get("accuracy_correct"), extra.get("accuracy_samples")
    warnings = list(extra.get("warnings") or [])
    if correct is not None and n_acc:
        report["accuracy_interval95"] = list(wilson_interval(int(correct), int(n_acc)))
        if n_acc < FEW_SAMPLES:
            warnings.append(f"accuracy from only {n_acc} labelled sample{'s' if n_acc != 1 else ''} "
                            f"(fewer than {FEW_SAMPLES}): read its 95 % interval, not the point value")
    report["warnings"] = warnings
    twin = report.get("twin")
    if twin:  # the SNN priced with the same 45 nm formula: its synaptic ops as accumulates
        report["twin"] = {**twin, **{f"snn_energy_{k}_uj": report["synops_per_inference"] * p["ac_pj"] / 1e6
                                     for k, p in twin["presets"].items()}}
        k, n = twin.get("accuracy_correct"), twin.get("accuracy_samples")
        report["twin"]["accuracy_interval95"] = list(wilson_interval(k, n)) if k is not None and n else None
    if profile is not None:
        report["hardware"] = {
            "profile_path": str(profile.source),
            "profile_sha256": file_sha256(profile.source),
            "description": _description(profile),
            "cores_per_chip": profile.cores_per_chip, "cores_per_tile": profile.cores_per_tile,
            "mesh_tiles": list(profile.mesh_tiles),
            "static_power_w_per_chip": profile.static_power_w_per_chip,
            "limits": {"neurons": dict(profile.max_neurons), "memory_words": bounded(profile.memory_words),
                       "input_axons": bounded(profile.max_input_axons),
                       "output_routes": bounded(profile.max_output_routes),
                       "neuron_groups": bounded(profile.max_neuron_groups),
                       "axon_map": bounded(profile.max_axon_map)},
            "constants": profile_constants(profile),
            "calibration_base": (profile.calibration or {}).get("base"),
        }
        report["static_note"] = (
            f"Static power is charged for whole chips: {profile.static_power_w_per_chip:g} W per chip "
            f"x {mapping.num_chips} chip{'s' if mapping.num_chips != 1 else ''} for the whole latency, "
            f"although this network uses {mapping.num_cores} of the "
            f"{profile.cores_per_chip * mapping.num_chips} cores on "
            f"{'it' if mapping.num_chips == 1 else 'them'}; it is "
            f"{100 * (report['static_share'] or 0):.1f} % of the energy per inference.")
    return report


def _description(profile: HardwareProfile) -> str | None:
    try:
        import yaml
        raw = yaml.safe_load(Path(profile.source).read_text())
        return str(raw.get("description")) if isinstance(raw, dict) and raw.get("description") else None
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _layer_shares(graph: NetworkGraph, mapping: Mapping) -> dict[str, np.ndarray]:
    """Per layer, the share of each core's dynamic energy it is charged: the whole core when the
    core holds only that layer, else the layer's share of the core's neurons."""
    n = mapping.num_cores
    counts = {name: np.bincount(np.asarray(a), minlength=n).astype(float)
              for name, a in mapping.assignment.items()}
    total = sum(counts.values()) if counts else np.zeros(n)
    return {name: np.divide(c, total, out=np.zeros(n), where=total > 0) for name, c in counts.items()}


def _traffic_matrix(mapping: Mapping, events: CoreEvents) -> dict[str, Any]:
    """Spike messages per inference between groups of cores named by the layers they hold
    (the host, which injects the input, is the first source)."""
    groups: list[str] = []
    for c in mapping.cores:
        if c.layer not in groups:
            groups.append(c.layer)
    index = np.array([groups.index(c.layer) for c in mapping.cores], dtype=np.int64)
    g = len(groups)
    m = np.zeros((g + 1, g))
    per = 1.0 / events.samples
    src = np.r_[index + 1, 0]                   # traffic rows: cores, then the host
    for i in range(events.traffic.shape[0]):
        m[src[i]] += np.bincount(index, weights=events.traffic[i], minlength=g)
    return {"sources": ["host"] + groups, "destinations": groups,
            "messages_per_inference": (m * per).tolist()}


def summary_of(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its per-core table (what `--summary-json` writes)."""
    return {k: v for k, v in report.items() if k != "per_core"}


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: the numbers reviewers diff, from the report dict alone."""
    r = report
    engine = {"lava": "the Lava CPU simulator", "fast": "neuromap's fast fixed-point engine"}.get(
        r.get("engine", "lava"), str(r.get("engine")))
    ver = r.get("verification")
    check = "not checked against Lava" if not ver else ver["skipped"] if ver.get("skipped") else (
        f"{ver['spike_mismatches']} spikes differ from Lava on the first {samples_text(ver['samples'])}, "
        f"per-core counts {'equal' if ver['per_core_counts_equal'] else 'different'}")
    e = r["energy_pj_per_inference"]
    terms = r.get("step_time_terms") or {}
    lines = [
        f"# Hardware-cost report: {r['name']}",
        "",
        f"Model `{r.get('model')}` on profile **{r['profile']}** ({r['strategy']} mapping), "
        f"target `{r.get('target')}`; {samples_text(r['samples'])} x {r['steps_per_sample']} steps; "
        f"input: {r.get('input')}.",
        "",
        f"Every number below comes from {engine} over all {samples_text(r['samples'])} ({check}).",
        "",
    ]
    for w in r.get("warnings") or []:
        lines += [f"**Warning:** {w}", ""]
    lines += [
        "| metric | value |",
        "|---|---|",
        f"| cores / chips / tiles | {r['cores']} / {r['chips']} / {r['tiles']} |",
        f"| neurons / synapses | {r['neurons']:,} / {r['synapses']:,} |",
        f"| accuracy | {accuracy_text(r)} |",
        f"| agreement with SLAYER | {_opt(r.get('agreement_with_slayer'))} |",
        f"| energy per inference | {_e(e['total'])} (dynamic {_e(e['dynamic'])}, static {_e(e['static'])}, "
        f"{_pct(r.get('static_share'))} static) |",
        f"| latency per inference | {_t(r['latency_us_per_inference'] * 1e3)} "
        f"({_t(r['time_step_ns'])} per step{_bound(r)}) |",
        f"| throughput | {_opt(r.get('throughput_inferences_per_s'), 1)} inferences/s (one at a time) |",
        f"| power | {_w(r.get('power_w', {}).get('total'))} (dynamic {_w(r.get('power_w', {}).get('dynamic'))}) |",
        f"| energy-delay product | {_edp(r.get('energy_delay_product_uj_us'))} |",
        f"| known model error | {known_error_text(r.get('known_error') or [])} |",
        f"| synaptic ops per inference | {units.count(r['synops_per_inference'])} |",
        f"| spikes per inference | {units.count(r['spikes_per_inference'])} |",
        f"| inter-core messages per inference | {units.count(r['inter_core_messages_per_inference'])} |",
        "",
    ]
    if r.get("static_note"):
        lines += [r["static_note"], ""]
    twin = r.get("twin")
    if twin:
        lines += ["## CNN twin (45 nm energy, Horowitz ISSCC 2014)", "",
                  "| twin | accuracy | operations per inference | energy fp32 | energy int8 |",
                  "|---|---|---|---|---|",
                  f"| SNN (this deployment) | {accuracy_text(r)} | {units.count(r['synops_per_inference'])} "
                  f"ACs | {_e(twin['snn_energy_fp32_uj'] * 1e6)} | {_e(twin['snn_energy_int8_uj'] * 1e6)} |",
                  f"| CNN twin | {accuracy_text(twin)} | {units.count(twin['macs'])} MACs | "
                  f"{_e(twin['energy_fp32_uj'] * 1e6)} | {_e(twin['energy_int8_uj'] * 1e6)} |", "",
                  f"CNN accuracy on {twin['accuracy_source']}; run folder `{twin['run_dir']}`. On the "
                  f"chip the SNN takes {_e(e['total'])} per inference ({_e(e['dynamic'])} dynamic).", ""]
    lines += ["## Energy per inference", "", "| part | energy | share of total |", "|---|---|---|"]
    lines += [f"| {k} | {_e(v)} | {_pct(v / e['total'] if e['total'] else None)} |" for k, v in e.items()]
    if terms:
        lines += ["", "## Latency per time step", "", "| term | time |", "|---|---|",
                  f"| busiest core ({terms['busiest_core']}, {terms.get('busiest_core_layer', '')}) | "
                  f"{_t(terms['busiest_core_ns'])} |",
                  f"| host injection | {_t(terms['host_injection_ns'])} |",
                  f"| barrier | {_t(terms['barrier_ns'])} |",
                  f"| step (bound by the {terms['bound']}) | {_t(r['time_step_ns'])} |"]
    lines += ["", "## Per layer", "",
              "| layer | kind | shape | neurons | cores | neurons/core | synapses in | "
              "spikes/inf | synops/inf | dynamic energy/inf |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for lay in r["per_layer"]:
        shape = " x ".join(map(str, lay["shape"]))
        lines.append(f"| {lay['name']} | {lay['kind']} | {shape} | {lay['neurons']:,} | "
                     f"{lay['cores']} | {lay['neurons_per_core']:,} | {lay['synapses_in']:,} | "
                     f"{units.count(lay['spikes_per_inference'])} | {units.count(lay['synops_per_inference'])} | "
                     f"{_e(lay.get('dynamic_energy_pj_per_inference'))} |")
    if r.get("per_layer_energy") and r["per_layer_energy"] != "exact":
        lines += ["", f"Per-layer energy: {r['per_layer_energy']}."]
    lines += ["", "## Per core", "",
              "| core | chip | tile | layer | neurons | synops/inf | active updates/inf | "
              "spikes/inf | messages/inf | dynamic energy | busy/step | neurons % | memory % | axons % | routes % |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in r["per_core"]:
        u = c.get("utilisation") or {}
        lines.append(f"| {c['core']} | {c['chip']} | {c['tile'][0]},{c['tile'][1]} | {c['layer']} | "
                     f"{c['neurons']:,} | {units.count(c['synops_per_inference'])} | "
                     f"{units.count(c['active_updates_per_inference'])} | {units.count(c['spikes_per_inference'])} | "
                     f"{units.count(c['messages_per_inference'])} | {_e(c['dynamic_energy_pj'])} | "
                     f"{_t(c.get('busy_ns_per_step'))} | "
                     + " | ".join(_pct(u.get(k)) for k in ("neurons", "memory_words", "input_axons", "output_routes"))
                     + " |")
    hw = r.get("hardware")
    if hw:
        lines += ["", "## Profile constants", "",
                  f"`{hw['profile_path']}` (sha256 `{hw['profile_sha256']}`)"
                  + (f"; calibrated from `{hw['calibration_base']}`" if hw.get("calibration_base") else ""), "",
                  "| constant | value | unit | source |", "|---|---|---|---|"]
        lines += [f"| {k['key']} | {k['value']:g} | {k['unit']} | {k['source']} |" for k in hw["constants"]]
    prov = r.get("provenance")
    if prov:
        cmd = " ".join(prov["command"]) if prov.get("command") else "called from Python"
        lines += ["", "## Provenance", "", f"- command: `{cmd}`",
                  f"- model: `{prov['model_path']}` (sha256 `{prov['model_sha256']}`)",
                  f"- input: {prov['input']}" + (f" (sha256 `{prov['input_sha256']}`)" if prov.get("input_sha256") else ""),
                  f"- seed {r.get('seed')}, created {r.get('created')}, schema {r.get('schema')}",
                  "- versions: " + ", ".join(f"{k} {v}" for k, v in (r.get("versions") or {}).items())]
    lines += ["", f"Energy and time per event: the {r['profile']} profile; docs/cost-model.md says what "
              "is and is not modelled.", ""]
    return "\n".join(lines)


def samples_text(n: int) -> str:
    return units.samples(n)


def accuracy_text(r: dict[str, Any]) -> str:
    """'0.9667 (435 of 450 samples, 95 % CI 0.945-0.980)' or 'n/a (no labels)'."""
    acc = r.get("accuracy")
    if acc is None:
        return "n/a (no labels)"
    n, k = r.get("accuracy_samples"), r.get("accuracy_correct")
    if k is None or not n:
        return f"{acc:.4f}" + (f" ({samples_text(n)})" if n else "")
    lo, hi = r["accuracy_interval95"]
    return f"{acc:.4f} ({k:,} of {samples_text(n)}, 95 % CI {lo:.3f}-{hi:.3f})"


def _opt(x: Any, decimals: int = 4) -> str:
    return "n/a" if x is None else f"{x:,.{decimals}f}"


def _e(pj: Any) -> str:
    return "n/a" if pj is None else " ".join(units.energy(pj))


def _t(ns: Any) -> str:
    return "n/a" if ns is None else " ".join(units.duration(ns))


def _w(w: Any) -> str:
    return "n/a" if w is None else " ".join(units.power(w))


def _edp(uj_us: Any) -> str:
    return "n/a" if uj_us is None else " ".join(units.edp(uj_us * 1e9))


def _share(used: Any, core: int, limit: int) -> float | None:
    """Core `core`'s use of a budget as a fraction of `limit`; None where the profile sets no
    budget or the mapping does not count it."""
    cap = bounded(limit)
    return None if used is None or cap is None else float(used[core]) / cap


def _pct(f: Any) -> str:
    return "n/a" if f is None else f"{units.percent(f)} %"


def known_error_text(entries: list[dict[str, Any]]) -> str:
    """The profile's known error in one line: energy and latency error per source."""
    if not entries:
        return "not stated by the profile (uncalibrated)"

    def pct(v: Any) -> str:
        return "not measured" if v is None else f"{v:.1f} %"
    return "; ".join(f"energy {pct(e.get('energy_pct'))}, latency {pct(e.get('latency_pct'))}: "
                     f"{e['what']} ({e.get('source', '')})" for e in entries)


def _bound(r: dict[str, Any]) -> str:
    terms = r.get("step_time_terms") or {}
    if not terms:
        return ""
    side = (f"busiest core {terms['busiest_core']} {_t(terms['busiest_core_ns'])}"
            if terms["bound"] == "core" else f"host injection {_t(terms['host_injection_ns'])}")
    return f": {side} + barrier {_t(terms['barrier_ns'])}"


def write_json_atomic(path: Path, data: Any) -> None:
    write_json(path, data, default=_json_default)


def write_report(report: dict[str, Any], folder: Path) -> Path:
    """Write report.json, report.md and index.html into ``folder``, replacing it as a whole.
    The Markdown and the HTML are rendered from the JSON text read back, so they hold nothing
    the JSON does not."""
    text = json_text(report, default=_json_default)
    data = json.loads(text)
    bad = check_report(data)
    if bad:
        raise ValueError(f"report does not match {SCHEMA}: {bad}")  # a bug in build_report
    markdown = render_markdown(data)
    page = render_html(data)

    def fill(tmp: Path) -> None:
        (tmp / "report.json").write_text(text)
        (tmp / "report.md").write_text(markdown)
        (tmp / "index.html").write_text(page)

    return replace_folder(folder, fill)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
