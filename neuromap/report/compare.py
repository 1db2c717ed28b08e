"""A comparison of deployments (design options) from their report dicts: one row per run,
what differs between the runs, and which runs are on the accuracy-energy Pareto front."""
from __future__ import annotations

from typing import Any

from . import plots, units
from .html import TEMPLATES, _num, environment
from .schema import SCHEMA

COMPARISON_SCHEMA = "neuromap.comparison/1"
#: what may differ between design options, as (label, how to read it from a report)
DESIGN_FIELDS: tuple[tuple[str, Any], ...] = (
    ("model", lambda r: r["provenance"]["model_sha256"] or r["model"]),
    ("model file", lambda r: r["model"]),
    ("profile", lambda r: r["profile"]),
    ("profile file sha256", lambda r: r["hardware"]["profile_sha256"]),
    ("strategy", lambda r: r["strategy"]),
    ("time steps T", lambda r: r["steps_per_sample"]),
    ("input", lambda r: r["input"]),
    ("samples", lambda r: r["samples"]),
    ("engine", lambda r: r["engine"]),
    ("neuromap version", lambda r: r["versions"].get("neuromap")),
)


def _row(path: str, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": path, "name": r["name"], "model": r["model"], "model_sha256": r["provenance"]["model_sha256"],
        "profile": r["profile"], "strategy": r["strategy"], "steps_per_sample": r["steps_per_sample"],
        "samples": r["samples"], "engine": r["engine"],
        "accuracy": r["accuracy"], "accuracy_samples": r["accuracy_samples"],
        "accuracy_interval95": r["accuracy_interval95"],
        "energy_uj_per_inference": r["energy_uj_per_inference"],
        "dynamic_energy_uj_per_inference": r["dynamic_energy_uj_per_inference"],
        "static_share": r["static_share"],
        "latency_us_per_inference": r["latency_us_per_inference"],
        "throughput_inferences_per_s": r["throughput_inferences_per_s"],
        "power_w": r["power_w"]["total"], "energy_delay_product_uj_us": r["energy_delay_product_uj_us"],
        "cores": r["cores"], "chips": r["chips"],
        "inter_core_messages_per_inference": r["inter_core_messages_per_inference"],
        "synops_per_inference": r["synops_per_inference"],
        "warnings": list(r["warnings"]),
    }


def _labels(rows: list[dict[str, Any]], differing: list[str]) -> list[str]:
    """Short unique labels: the name plus whatever design choices differ."""
    keys = {"profile": "profile", "strategy": "strategy", "time steps T": "steps_per_sample"}
    out = []
    for r in rows:
        parts = [f"{'T=' if k == 'time steps T' else ''}{r[keys[k]]}" for k in keys if k in differing]
        out.append(r["name"] + (f" ({', '.join(parts)})" if parts else ""))
    seen: dict[str, int] = {}
    for i, lab in enumerate(out):
        if out.count(lab) > 1:
            seen[lab] = seen.get(lab, 0) + 1
            out[i] = f"{lab} #{seen[lab]}"
    return out


def pareto_front(rows: list[dict[str, Any]]) -> list[bool]:
    """Runs no other run beats on both accuracy (higher) and energy per inference (lower); a run
    without an accuracy is not on the front."""
    front = []
    for r in rows:
        if r["accuracy"] is None:
            front.append(False)
            continue
        beaten = any(o is not r and o["accuracy"] is not None
                     and o["accuracy"] >= r["accuracy"] and o["energy_uj_per_inference"] <= r["energy_uj_per_inference"]
                     and (o["accuracy"] > r["accuracy"] or o["energy_uj_per_inference"] < r["energy_uj_per_inference"])
                     for o in rows)
        front.append(not beaten)
    return front


def build_comparison(reports: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The comparison of ``(path, report)`` pairs, all valid ``neuromap.report/2`` dicts."""
    rows = [_row(p, r) for p, r in reports]
    differs, same = {}, {}
    for label, read in DESIGN_FIELDS:
        values = [read(r) for _, r in reports]
        if len({repr(v) for v in values}) > 1:
            differs[label] = values
        else:
            same[label] = values[0]
    labels = _labels(rows, list(differs))
    for row, lab, on in zip(rows, labels, pareto_front(rows)):
        row["label"] = lab
        row["pareto"] = on
    return {"schema": COMPARISON_SCHEMA, "report_schema": SCHEMA, "runs": rows, "differs": differs,
            "same": same}


def render_comparison_markdown(c: dict[str, Any]) -> str:
    lines = ["# Design options compared", "",
             f"{len(c['runs'])} deployments (reports `{c['report_schema']}`). "
             "Pareto: no other run is both at least as accurate and at most as costly in energy per inference.", "",
             "| run | accuracy | energy / inference | dynamic | static share | latency | throughput | power | "
             "EDP | cores | chips | inter-core messages / inf | Pareto |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in c["runs"]:
        acc = "n/a" if r["accuracy"] is None else f"{r['accuracy']:.4f}" + (
            f" ({units.samples(r['accuracy_samples'])})" if r["accuracy_samples"] else "")
        lines.append(
            f"| {r['label']} | {acc} | {' '.join(units.energy(r['energy_uj_per_inference'] * 1e6))} | "
            f"{' '.join(units.energy(r['dynamic_energy_uj_per_inference'] * 1e6))} | "
            f"{'n/a' if r['static_share'] is None else units.percent(r['static_share']) + ' %'} | "
            f"{' '.join(units.duration(r['latency_us_per_inference'] * 1e3))} | "
            f"{'n/a' if r['throughput_inferences_per_s'] is None else format(r['throughput_inferences_per_s'], ',.1f')}/s | "
            f"{'n/a' if r['power_w'] is None else ' '.join(units.power(r['power_w']))} | "
            f"{' '.join(units.edp(r['energy_delay_product_uj_us'] * 1e9))} | {r['cores']:,} | {r['chips']:,} | "
            f"{units.count(r['inter_core_messages_per_inference'])} | {'yes' if r['pareto'] else ''} |")
    lines += ["", "## What differs", ""]
    if c["differs"]:
        lines += ["| | " + " | ".join(r["label"] for r in c["runs"]) + " |",
                  "|---|" + "---|" * len(c["runs"])]
        lines += [f"| {k} | " + " | ".join(str(v) for v in vals) + " |" for k, vals in c["differs"].items()]
    else:
        lines.append("Nothing in the design fields: the runs are repeats of one configuration.")
    lines += ["", "Same in every run: " + "; ".join(f"{k} {v}" for k, v in c["same"].items()) + ".", "",
              "## Reports", ""]
    lines += [f"- {r['label']}: `{r['path']}`" for r in c["runs"]]
    for r in c["runs"]:
        lines += [f"- warning ({r['label']}): {w}" for w in r["warnings"]]
    return "\n".join(lines) + "\n"


def render_comparison_html(c: dict[str, Any]) -> str:
    from markupsafe import Markup

    points = [{"label": r["label"], "accuracy": r["accuracy"], "energy_uj": r["energy_uj_per_inference"],
               "interval": r["accuracy_interval95"], "pareto": r["pareto"]} for r in c["runs"]]
    return environment().get_template("comparison.html.j2").render(
        c=c, num=_num(c), pareto=Markup(plots.pareto(points)),
        css=Markup((TEMPLATES / "style.css").read_text()))
