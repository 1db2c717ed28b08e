"""Hardware-cost report: a JSON summary and a Markdown page for design reviews.

``build_report`` is a pure function; ``write_report`` is the only writer and replaces the
report folder atomically (a killed run never leaves a half-written report)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..cost.accounting import CoreEvents
from ..cost.model import CostEstimate
from ..graph import NetworkGraph, synapse_count
from ..mapper.mapping import Mapping
from ..outputs import json_text, replace_folder, write_json


def build_report(graph: NetworkGraph, mapping: Mapping, events: CoreEvents, cost: CostEstimate,
                 extra: dict[str, Any]) -> dict[str, Any]:
    per = 1.0 / events.samples
    layers = []
    for lay in graph.layers:
        cores = mapping.layer_cores(lay.name)
        layers.append({
            "name": lay.name, "kind": lay.kind, "shape": list(lay.shape), "neurons": lay.size,
            "neuron_type": lay.neuron.type if lay.neuron else None, "on_chip": lay.on_chip,
            "cores": len(cores),
            "neurons_per_core": int(mapping.layer_neurons_per_core(lay.name).max(initial=0)),
            "synapses_in": sum(synapse_count(graph, e) for e in graph.in_edges(lay.name)
                               if e.kind != "average"),
            "spikes_per_inference": events.layer_spikes.get(lay.name, 0) * per,
            "synops_per_inference": events.layer_synops.get(lay.name, 0) * per,
        })
    cores = []
    for c in mapping.cores:
        i = c.index
        cores.append({
            "core": i, "chip": c.chip, "tile": [c.tile_x, c.tile_y], "layer": c.layer,
            "neurons": c.neurons,
            "synops_per_inference": float(events.synops[i] * per),
            "neuron_updates_per_inference": float(events.updates[i] * per),
            "active_updates_per_inference": float(events.active_updates[i] * per),
            "spikes_per_inference": float(events.spikes[i] * per),
            "messages_per_inference": float(events.messages[i] * per),
            "dynamic_energy_pj": float(cost.core_dynamic_pj[i]),
        })
    return {
        **extra,
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
        "energy_pj_per_inference": cost.energy_pj,
        "energy_uj_per_inference": cost.energy_pj["total"] / 1e6,
        "dynamic_energy_uj_per_inference": cost.energy_pj["dynamic"] / 1e6,
        "time_step_ns": cost.step_ns,
        "latency_us_per_inference": cost.latency_us,
        "step_time_terms": cost.step_terms,
        "known_error": list(cost.known_error),
        "per_layer": layers,
        "per_core": cores,
    }


def summary_of(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its per-core table (what `--summary-json` writes)."""
    return {k: v for k, v in report.items() if k != "per_core"}


def render_markdown(report: dict[str, Any]) -> str:
    r = report
    acc = "n/a" if r.get("accuracy") is None else f"{r['accuracy']:.4f}"
    agr = "n/a" if r.get("agreement_with_slayer") is None else f"{r['agreement_with_slayer']:.4f}"
    engine = {"lava": "the Lava CPU simulator", "fast": "neuromap's fast fixed-point engine"}.get(
        r.get("engine", "lava"), str(r.get("engine")))
    ver = r.get("verification")
    check = "not checked against Lava" if not ver else ver["skipped"] if ver.get("skipped") else (
        f"{ver['spike_mismatches']} spikes differ from Lava on the first {ver['samples']} sample(s), "
        f"per-core counts {'equal' if ver['per_core_counts_equal'] else 'different'}")
    lines = [
        f"# Hardware-cost report: {r['name']}",
        "",
        f"Model `{r.get('model')}` on profile **{r['profile']}** ({r['strategy']} mapping), "
        f"target `{r.get('target')}`; {r['samples']} samples x {r['steps_per_sample']} steps; "
        f"input: {r.get('input')}.",
        "",
        f"Every number below comes from {engine} over all {r['samples']} samples ({check}).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| cores / chips / tiles | {r['cores']} / {r['chips']} / {r['tiles']} |",
        f"| neurons / synapses | {r['neurons']:,} / {r['synapses']:,} |",
        f"| accuracy ({r['samples']} samples) | {acc} |",
        f"| agreement with SLAYER | {agr} |",
        f"| energy per inference | {r['energy_uj_per_inference']:.4f} uJ "
        f"(dynamic {r['dynamic_energy_uj_per_inference']:.4f} uJ) |",
        f"| latency per inference | {r['latency_us_per_inference']:.3f} us "
        f"({r['time_step_ns']:.1f} ns per step{_bound(r)}) |",
        f"| known model error | {known_error_text(r.get('known_error') or [])} |",
        f"| synaptic ops per inference | {r['synops_per_inference']:,.1f} |",
        f"| spikes per inference | {r['spikes_per_inference']:,.1f} |",
        f"| inter-core messages per inference | {r['inter_core_messages_per_inference']:,.1f} |",
        "",
        "## Energy per inference (pJ)",
        "",
        "| part | pJ |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:,.1f} |" for k, v in r["energy_pj_per_inference"].items()]
    lines += ["", "## Per layer", "",
              "| layer | kind | shape | neurons | cores | neurons/core | synapses in | "
              "spikes/inf | synops/inf |",
              "|---|---|---|---|---|---|---|---|---|"]
    for lay in r["per_layer"]:
        shape = " x ".join(map(str, lay["shape"]))
        lines.append(f"| {lay['name']} | {lay['kind']} | {shape} | {lay['neurons']:,} | "
                     f"{lay['cores']} | {lay['neurons_per_core']:,} | {lay['synapses_in']:,} | "
                     f"{lay['spikes_per_inference']:,.1f} | {lay['synops_per_inference']:,.1f} |")
    lines += ["", "## Per core", "",
              "| core | chip | tile | layer | neurons | synops/inf | active updates/inf | "
              "spikes/inf | messages/inf | dynamic pJ |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for c in r["per_core"]:
        lines.append(f"| {c['core']} | {c['chip']} | {c['tile'][0]},{c['tile'][1]} | {c['layer']} | "
                     f"{c['neurons']:,} | {c['synops_per_inference']:,.1f} | "
                     f"{c['active_updates_per_inference']:,.1f} | {c['spikes_per_inference']:,.1f} | "
                     f"{c['messages_per_inference']:,.1f} | {c['dynamic_energy_pj']:,.1f} |")
    lines += ["", f"Energy and time per event: the {r['profile']} profile (sources and calibration "
              "in its YAML); see docs/cost-model.md for what is and is not modelled.", ""]
    return "\n".join(lines)


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
    side = (f"busiest core {terms['busiest_core']} {terms['busiest_core_ns']:.1f} ns"
            if terms["bound"] == "core" else f"host injection {terms['host_injection_ns']:.1f} ns")
    return f": {side} + barrier {terms['barrier_ns']:.1f} ns"


def write_json_atomic(path: Path, data: Any) -> None:
    write_json(path, data, default=_json_default)


def write_report(report: dict[str, Any], folder: Path) -> Path:
    """Write report.json and report.md into ``folder``, replacing it as a whole."""
    text = json_text(report, default=_json_default)
    markdown = render_markdown(report)

    def fill(tmp: Path) -> None:
        (tmp / "report.json").write_text(text)
        (tmp / "report.md").write_text(markdown)

    return replace_folder(folder, fill)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
