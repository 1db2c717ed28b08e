"""The report's figures as inline SVG text (matplotlib, Agg), drawn from the report dict alone.

SVG output is made reproducible (fixed hash salt, no date) and self-contained: no XML
declaration, DOCTYPE, namespace URLs or metadata block, so the page that inlines it names no
external resource."""
from __future__ import annotations

import io
import math
import re
from typing import Any

import numpy as np

from .units import ENERGY_UNITS

#: chips drawn in the mesh heat maps (a larger system is summarised in the caption)
MAX_CHIPS = 8
#: largest number of per-core bars before a figure switches to a strip
MAX_BARS = 64

_COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
            "#CCB974", "#64B5CD"]


def _plt() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matplotlib.rcParams.update({"svg.hashsalt": "neuromap", "svg.fonttype": "none",
                                "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _svg(fig: Any) -> str:
    plt = _plt()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return text.strip()


def _pj_scale(values: list[float]) -> tuple[float, str]:
    top = max([abs(v) for v in values] + [0.0])
    scale, name = ENERGY_UNITS[0]
    for s, n in ENERGY_UNITS:
        if top >= s:
            scale, name = s, n
    return scale, name


def energy_parts(r: dict[str, Any]) -> str:
    """Energy per inference by event type, static last."""
    plt = _plt()
    e = r["energy_pj_per_inference"]
    keys = [k for k in ("synops", "neuron_updates", "spike_out", "spikes", "hops", "static") if k in e]
    scale, unit = _pj_scale([e[k] for k in keys])
    fig, ax = plt.subplots(figsize=(6.0, 2.6))
    vals = [e[k] / scale for k in keys]
    colours = [_COLOURS[i] if k != "static" else "#8C8C8C" for i, k in enumerate(keys)]
    ax.barh(keys[::-1], vals[::-1], color=colours[::-1])
    for y, v in enumerate(vals[::-1]):
        ax.text(v, y, f" {v:.3g}", va="center", fontsize=8)
    ax.set_xlabel(f"energy per inference ({unit})")
    ax.set_title("Energy by event type (static: whole chips for the whole latency)")
    return _svg(fig)


def energy_layers(r: dict[str, Any]) -> str:
    """Dynamic energy per inference by layer (on-chip layers)."""
    plt = _plt()
    rows = [lay for lay in r["per_layer"] if lay["on_chip"]]
    scale, unit = _pj_scale([lay["dynamic_energy_pj_per_inference"] for lay in rows])
    fig, ax = plt.subplots(figsize=(6.0, max(1.6, 0.28 * len(rows) + 0.8)))
    names = [lay["name"] for lay in rows][::-1]
    vals = [lay["dynamic_energy_pj_per_inference"] / scale for lay in rows][::-1]
    ax.barh(names, vals, color=_COLOURS[0])
    ax.set_xlabel(f"dynamic energy per inference ({unit})")
    ax.set_title("Dynamic energy by layer")
    return _svg(fig)


def latency(r: dict[str, Any]) -> str:
    """Busy time per step of every core, the bounding core marked, and the step it sets."""
    plt = _plt()
    cores = r["per_core"]
    terms = r["step_time_terms"]
    busy = np.array([c["busy_ns_per_step"] for c in cores])
    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    colours = ["#C44E52" if c["core"] == terms["busiest_core"] else _COLOURS[0] for c in cores]
    ax.bar(np.arange(len(cores)), busy / 1e3, color=colours, width=0.85)
    ax.axhline(r["time_step_ns"] / 1e3, color="black", lw=1, ls="--")
    ax.text(len(cores) - 0.5, r["time_step_ns"] / 1e3, " step", va="center", fontsize=8)
    ax.axhline(terms["host_injection_ns"] / 1e3, color="#DD8452", lw=1, ls=":")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("core")
    ax.set_ylabel("busy time per step (us)")
    ax.set_title(f"Compute per core per step; step = {terms['bound']} bound + barrier (red: busiest core)")
    return _svg(fig)


def _mesh_grid(r: dict[str, Any], values: np.ndarray) -> tuple[np.ndarray, int, int, int, int]:
    hw = r["hardware"]
    W, H = hw["mesh_tiles"]
    k = hw["cores_per_tile"]
    sc = int(math.ceil(math.sqrt(k)))
    sr = int(math.ceil(k / sc))
    chips = min(r["chips"], MAX_CHIPS)
    grid = np.full((H * sr, chips * W * sc), np.nan)
    slot: dict[tuple[int, int, int], int] = {}
    for c, v in zip(r["per_core"], values):
        if c["chip"] >= chips:
            continue
        key = (c["chip"], c["tile"][0], c["tile"][1])
        s = slot.get(key, 0)
        slot[key] = s + 1
        if s >= sr * sc:
            continue
        row = c["tile"][1] * sr + s // sc
        col = (c["chip"] * W + c["tile"][0]) * sc + s % sc
        grid[row, col] = v
    return grid, W, sc, sr, chips


def mesh_heatmaps(r: dict[str, Any]) -> str:
    """Per-core quantities on the chip mesh: each tile is a block of its cores, chips side by
    side east-west; unused cores are blank."""
    plt = _plt()
    cores = r["per_core"]
    util = [c.get("utilisation") or {} for c in cores]
    panels = [
        ("synaptic ops per inference", np.array([c["synops_per_inference"] for c in cores]), "viridis"),
        ("neuron budget used (%)", 100 * np.array([u.get("neurons", np.nan) for u in util]), "magma"),
        ("memory budget used (%)", 100 * np.array([u.get("memory_words") if u.get("memory_words") is not None
                                                   else np.nan for u in util], dtype=float), "magma"),
        ("messages sent + received per inference",
         np.array([c["messages_per_inference"] + c["messages_received_per_inference"] for c in cores]), "cividis"),
    ]
    chips = min(r["chips"], MAX_CHIPS)
    W, H = r["hardware"]["mesh_tiles"]
    cols = 2 if chips <= 2 else 1
    rows = len(panels) // cols
    panel_w = min(12.0 / cols, 1.3 + 0.75 * chips * W)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * panel_w, rows * (0.62 * H + 1.1)), squeeze=False)
    for ax, (title, vals, cmap) in zip(axes.ravel(), panels):
        grid, W, sc, sr, chips = _mesh_grid(r, vals)
        cm = plt.get_cmap(cmap).copy()
        cm.set_bad("#EEEEEE")
        im = ax.imshow(grid, cmap=cm, aspect="equal", interpolation="nearest")
        for x in range(0, grid.shape[1] + 1, sc):
            edge = x % (W * sc) == 0
            ax.axvline(x - 0.5, color="black" if edge else "white", lw=1.5 if edge else 0.8)
        for y in range(0, grid.shape[0] + 1, sr):
            ax.axhline(y - 0.5, color="white", lw=0.8)
        ax.set_xticks([(c * W + W / 2) * sc - 0.5 for c in range(chips)])
        ax.set_xticklabels([f"chip {c}" for c in range(chips)])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    more = "" if r["chips"] <= MAX_CHIPS else f" (first {MAX_CHIPS} of {r['chips']} chips)"
    fig.suptitle(f"Per-core heat maps on the {W} x {H} tile mesh{more}", fontsize=10)
    fig.tight_layout()
    return _svg(fig)


def traffic_matrix(r: dict[str, Any]) -> str:
    """Spike messages per inference from each group of cores (named by its layers) to each."""
    plt = _plt()
    tm = r["traffic_matrix"]
    m = np.array(tm["messages_per_inference"], dtype=float)
    n_src, n_dst = m.shape if m.ndim == 2 else (len(tm["sources"]), 0)
    fig, ax = plt.subplots(figsize=(min(12.0, 2.5 + 0.45 * n_dst), min(12.0, 1.6 + 0.35 * n_src)))
    shown = np.where(m > 0, m, np.nan)
    cm = plt.get_cmap("viridis").copy()
    cm.set_bad("#F4F4F4")
    from matplotlib.colors import LogNorm
    positive = m[m > 0]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if positive.size and positive.min() < positive.max() else None
    im = ax.imshow(shown, cmap=cm, norm=norm, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(n_dst))
    ax.set_xticklabels(tm["destinations"], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n_src))
    ax.set_yticklabels(tm["sources"], fontsize=7)
    ax.set_xlabel("to (layer on the receiving cores)")
    ax.set_ylabel("from")
    ax.set_title("Spike messages per inference between layers")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    return _svg(fig)


def spikes_over_time(r: dict[str, Any]) -> str:
    """Spikes per step of each layer's window, averaged over the samples."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 3.0))
    for i, lay in enumerate(r["per_layer"]):
        series = lay.get("spikes_per_step_per_inference")
        if series:
            ax.plot(np.arange(len(series)), series, lw=1.2, color=_COLOURS[i % len(_COLOURS)],
                    label=lay["name"])
    ax.set_xlabel("time step of the layer's window")
    ax.set_ylabel("spikes per step per inference")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_title("Spikes per layer over time")
    ax.legend(fontsize=7, ncol=max(1, len(r["per_layer"]) // 12 + 1), loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _svg(fig)


def utilisation(r: dict[str, Any]) -> str:
    """Every per-core budget's use, one row per budget, one column per core."""
    plt = _plt()
    names = {"neurons": "neurons", "memory_words": "memory words", "input_axons": "input axons",
             "output_routes": "output routes", "neuron_groups": "neuron groups", "axon_map": "axon map"}
    # the budgets the profile bounds (an unbounded one has no share to draw)
    keys = [k for k in names if any((c.get("utilisation") or {}).get(k) is not None for c in r["per_core"])] \
        or ["neurons"]
    m = np.array([[100 * ((c.get("utilisation") or {}).get(k) or 0.0) for c in r["per_core"]] for k in keys])
    fig, ax = plt.subplots(figsize=(min(13.0, 3.0 + 0.12 * m.shape[1]), 1.9))
    im = ax.imshow(m, cmap="magma", vmin=0, vmax=100, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(keys)))
    ax.set_yticklabels([names[k] for k in keys])
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("core")
    ax.set_title("Budget used per core (%)")
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    return _svg(fig)


def pareto(points: list[dict[str, Any]]) -> str:
    """Accuracy against energy per inference (log x) for the compared runs, the Pareto front
    (no other run both more accurate and cheaper) joined by a line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    have = [p for p in points if p["accuracy"] is not None]
    for i, p in enumerate(points):
        if p["accuracy"] is None:   # energy known, accuracy not: a cross on the energy axis
            ax.scatter([p["energy_uj"]], [0.0], transform=ax.get_xaxis_transform(), marker="x", clip_on=False,
                       color=_COLOURS[i % len(_COLOURS)], zorder=3, label=p["label"] + " (no accuracy)")
            continue
        ax.scatter([p["energy_uj"]], [p["accuracy"]], color=_COLOURS[i % len(_COLOURS)], zorder=3,
                   label=p["label"])
        if p.get("interval") and p["accuracy"] is not None:
            lo, hi = p["interval"]
            ax.plot([p["energy_uj"]] * 2, [lo, hi], color=_COLOURS[i % len(_COLOURS)], lw=1)
    front = sorted((p for p in have if p["pareto"]), key=lambda p: p["energy_uj"])
    if len(front) > 1:
        ax.plot([p["energy_uj"] for p in front], [p["accuracy"] for p in front], color="black", lw=1,
                ls="--", zorder=2, label="Pareto front")
    energies = [p["energy_uj"] for p in points if p["energy_uj"] > 0]
    ax.set_xscale("log")
    if energies:
        ax.set_xlim(min(energies) / 1.5, max(energies) * 1.5)
    if not have:
        ax.set_ylim(0.0, 1.0)
    from matplotlib.ticker import FuncFormatter
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    if energies and max(energies) < 10 * min(energies):   # under a decade: label the minor ticks too
        ax.xaxis.set_minor_formatter(plain)
        ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("energy per inference (uJ, log)")
    ax.set_ylabel("accuracy (bars: 95 % Wilson interval)")
    ax.set_title("Accuracy against energy per inference")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _svg(fig)
