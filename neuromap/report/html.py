"""index.html: one self-contained page per deployment, rendered from the report dict alone.

Every number on the page goes through ``num(path, kind)``, which looks the value up in the
report by its JSON path and writes it as ``<span class="num" data-key=PATH data-kind=KIND
data-value=RAW>TEXT</span>``: the page cannot show a number the JSON does not hold, and a test
reads every one back. Jinja2 autoescapes every string (model names and paths are user input);
figures are inline SVG (``plots``), so the page fetches nothing."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from . import plots, units

TEMPLATES = Path(__file__).parent / "templates"
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def lookup(data: Any, path: str) -> Any:
    """The value at a JSON path such as ``per_core[3].utilisation.neurons``."""
    for name, index in _TOKEN.findall(path):
        data = data[int(index)] if index else data[name]
    return data


def format_value(value: Any, kind: str) -> tuple[str, str]:
    """(text, unit) of a report value for reading; ``kind`` names the value's unit in the JSON."""
    if value is None:
        return "n/a", ""
    v = float(value)
    if kind == "pj":
        return units.energy(v)
    if kind == "uj":
        return units.energy(v * 1e6)
    if kind == "ns":
        return units.duration(v)
    if kind == "us":
        return units.duration(v * 1e3)
    if kind == "w":
        return units.power(v)
    if kind == "edp":
        return units.edp(v * 1e9)
    if kind == "frac":
        return units.percent(v), "%"
    if kind == "acc":
        return f"{v:.4f}", ""
    if kind == "rate":
        return f"{v:,.1f}", "/s"
    if kind == "g":
        return f"{v:g}", ""
    if kind == "count":
        return units.count(v), ""
    if kind == "int":
        return f"{int(value):,}", ""
    raise ValueError(f"unknown number kind {kind!r}")


def _num(report: dict[str, Any]) -> Any:
    def num(path: str, kind: str) -> Markup:
        value = lookup(report, path)
        text, unit = format_value(value, kind)
        raw = "null" if value is None else repr(value)
        shown = f"{text}\u2009{unit}" if unit and unit not in ("%", "/s") else f"{text}{unit if value is not None else ''}"
        return Markup('<span class="num" data-key="{}" data-kind="{}" data-value="{}">{}</span>').format(
            path, kind, raw, shown)
    return num


def environment() -> Any:
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["samples_text"] = units.samples
    return env


def _figure(draw: Any, r: dict[str, Any]) -> Markup:
    # SVG text from matplotlib: its labels (layer names) are escaped by matplotlib's writer
    return Markup(draw(r))


def render_html(report: dict[str, Any]) -> str:
    r = report
    figures = {
        "energy_parts": _figure(plots.energy_parts, r),
        "energy_layers": _figure(plots.energy_layers, r),
        "latency": _figure(plots.latency, r),
        "mesh": _figure(plots.mesh_heatmaps, r),
        "traffic": _figure(plots.traffic_matrix, r),
        "spikes": _figure(plots.spikes_over_time, r)
        if any(lay.get("spikes_per_step_per_inference") for lay in r["per_layer"]) else None,
        "utilisation": _figure(plots.utilisation, r),
    }
    return environment().get_template("report.html.j2").render(
        r=r, num=_num(r), fig=figures, css=Markup((TEMPLATES / "style.css").read_text()))
