"""``python -m neuromap.calibrate MEASUREMENTS.csv --base loihi2 --out my.yaml``: fit a hardware
profile's per-event energies and times to measured energy and time per inference.

Each row of the CSV names a NetX network and its input; neuromap re-measures the activity
(simulation, mapping with the base profile, accounting) and the fit scales the base profile's
per-event numbers by non-negative least squares so that the model reproduces the measurements.
Terms that the rows cannot tell apart keep the base profile's ratios; the tool says which."""
from __future__ import annotations

import argparse
import csv
import math
import os
import sysconfig
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import yaml
from scipy.optimize import nnls

from .cost import CoreEvents, account, estimate_cost
from .cost.model import CostEstimate
from .errors import NeuromapError, run_cli
from .graph import NetworkGraph
from .hw.profile import HardwareProfile, available_profiles, load_profile
from .mapper import STRATEGIES, map_network
from .mapper.mapping import Mapping
from .netx.load import load_netx

CSV_HELP = """\
MEASUREMENTS.csv: a header row, then one row per measured run, values per inference.
  network            NetX .net file (relative to the CSV's folder, absolute, or
                     lava-dl:REL for a network shipped with lava-dl's tests, e.g.
                     lava-dl:gts/pilotnet_lif/network.net)
  input              input samples as .npy, the layout of `python -m neuromap.deploy --help`
                     (same path rules)
  steps              time steps per sample of a static input (default: the network's tSample, else 16)
  samples            samples of the input file to simulate (default 1)
  dynamic_energy_uj  measured dynamic energy per inference (uJ)
  energy_uj          measured total energy per inference (uJ); with dynamic_energy_uj and
                     time_us it fixes the static power, alone the base profile's static power
                     is taken off it
  time_us            measured time per inference (us)
optional per-inference activity counts as an activity profiler reports them, either one chip
total or one value per core separated by ';' (in the order of neuromap's mapping); they replace
neuromap's own counts: syn_ops (synaptic ops), dendrite_updates (active neuron updates),
axon_out (messages sent), spikes_in (messages received).
Each row needs dynamic_energy_uj, energy_uj or time_us."""

# fitted terms: name -> the per-event keys of the profile it scales together
ENERGY_TERMS = {"synop": ("synop", "synop_conv", "synop_dense"),
                "neuron_update_active": ("neuron_update_active",),
                "neuron_update_inactive": ("neuron_update_inactive",),
                "spike_out": ("spike_out",), "spike_in_tile": ("spike_in_tile",),
                "hop_east_west": ("hop_east_west",), "hop_north_south": ("hop_north_south",)}
TIME_TERMS = {"synop": ("synop", "synop_conv", "synop_dense"),
              "neuron_update_active": ("neuron_update_active",),
              "neuron_update_inactive": ("neuron_update_inactive",),
              "spike_out": ("spike_out",), "spike_in_tile": ("spike_in_tile",),
              "message_in": ("message_in",), "host_message": ("host_message",)}
COUNT_COLUMNS = ("syn_ops", "dendrite_updates", "axon_out", "spikes_in")
MEASURED = ("dynamic_energy_uj", "energy_uj", "time_us")
PRIOR_WEIGHT = 1e-4   # pull towards the base ratios, felt only where the rows say nothing
RANK_TOL = 1e-9


@dataclass(frozen=True)
class Row:
    network: Path
    input: Path
    steps: int | None
    samples: int
    measured: dict[str, float]           # subset of MEASURED
    counts: dict[str, np.ndarray]        # subset of COUNT_COLUMNS, per inference
    line: int


@dataclass(frozen=True)
class Measured:
    """A row with neuromap's activity: the mapped graph and its per-core events."""

    row: Row
    graph: NetworkGraph
    mapping: Mapping
    events: CoreEvents


@dataclass(frozen=True)
class Fit:
    profile: HardwareProfile
    energy_scale: dict[str, float]
    time_scale: dict[str, float]
    identified: dict[str, list[str]]
    combined: dict[str, list[str]]
    unobserved: dict[str, list[str]]
    static_identified: bool


# ---------------------------------------------------------------- reading the measurements

def lava_dl_data() -> Path:
    return Path(sysconfig.get_paths()["purelib"]) / "tests" / "lava" / "lib" / "dl" / "netx"


def _resolve(value: str, folder: Path, what: str, line: int) -> Path:
    if not value:
        raise NeuromapError(f"measurements line {line}: the {what} column is empty; name a file")
    path = lava_dl_data() / value[len("lava-dl:"):] if value.startswith("lava-dl:") else Path(value)
    if not path.is_absolute():
        path = folder / path
    if not path.is_file():
        raise NeuromapError(f"measurements line {line}: {what} {value} not found ({path}); "
                            f"fix the path (relative paths start at the CSV's folder)")
    return path


def _number(text: str, column: str, line: int, positive: bool = True) -> float:
    try:
        value = float(text)
    except ValueError:
        raise NeuromapError(f"measurements line {line}: {column} = {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise NeuromapError(f"measurements line {line}: {column} = {text} must be a finite "
                            f"{'positive' if positive else 'non-negative'} number")
    return value


def read_measurements(path: Path) -> list[Row]:
    if not path.is_file():
        raise NeuromapError(f"measurements file {path} does not exist")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise NeuromapError(f"measurements file {path} cannot be read as text ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("network", "input") if c not in header]
    if missing:
        raise NeuromapError(f"measurements file {path} has no {', '.join(missing)} column; the "
                            f"header must name network, input and measured values (see --help)")
    known = {"network", "input", "steps", "samples", *MEASURED, *COUNT_COLUMNS}
    unknown = [h for h in header if h not in known]
    if unknown:
        raise NeuromapError(f"measurements file {path}: unknown column(s) {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(known))}")
    rows = []
    for i, raw in enumerate(reader, start=2):
        if None in raw or any(v is None for v in raw.values()):
            raise NeuromapError(f"measurements line {i}: {len(header)} columns expected; fix the row")
        rec = {k.strip(): v.strip() for k, v in raw.items()}
        if not any(rec.values()):
            continue
        measured = {k: _number(rec[k], k, i) for k in MEASURED if rec.get(k)}
        if not measured:
            raise NeuromapError(f"measurements line {i} measures nothing: give dynamic_energy_uj, "
                                f"energy_uj or time_us")
        if "dynamic_energy_uj" in measured and measured.get("energy_uj", math.inf) < measured["dynamic_energy_uj"]:
            raise NeuromapError(f"measurements line {i}: energy_uj is below dynamic_energy_uj")
        counts = {}
        for k in COUNT_COLUMNS:
            if rec.get(k):
                counts[k] = np.array([_number(v, k, i, positive=False) for v in rec[k].split(";")])
        steps = int(_number(rec["steps"], "steps", i)) if rec.get("steps") else None
        samples = int(_number(rec["samples"], "samples", i)) if rec.get("samples") else 1
        rows.append(Row(_resolve(rec["network"], path.parent, "network", i),
                        _resolve(rec["input"], path.parent, "input", i),
                        steps, samples, measured, counts, i))
    if not rows:
        raise NeuromapError(f"measurements file {path} has no rows; add one per measured run")
    return rows


# ---------------------------------------------------------------- activity

def measure(row: Row, base: HardwareProfile, strategy: str = "layerwise",
            simulate: Callable[..., Any] | None = None) -> Measured:
    """Re-measure a row's activity with neuromap: load, map with the base profile, simulate,
    account; then put the row's own activity counts, if any, in place of neuromap's."""
    graph = load_netx(row.network)
    mapping = map_network(graph, base, strategy).mapping
    data, steps = load_input(graph, row)
    if simulate is None:  # the fast engine: bit for bit what Lava computes (tests/test_fast_engine.py)
        from .sim.fast import simulate_fast as simulate  # torch only when this CLI simulates
    activity = simulate(graph, data, steps=steps)
    events = apply_counts(account(graph, mapping, activity), row)
    return Measured(row, graph, mapping, events)


def load_input(graph: NetworkGraph, row: Row) -> tuple[np.ndarray, int]:
    """A row's input in the layout of `neuromap.deploy --input` (a single sample may come
    without its leading sample axis) and its steps per sample."""
    shape = tuple(graph.input_layer.shape)
    try:
        data = np.load(row.input, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise NeuromapError(f"measurements line {row.line}: input {row.input} is not a plain .npy "
                            f"array ({exc})") from None
    if not np.issubdtype(data.dtype, np.number):
        raise NeuromapError(f"measurements line {row.line}: input {row.input} is not numeric")
    if data.shape == shape or data.shape[:-1] == shape:
        data = data[None]
    if data.shape[1:] == shape:
        if graph.input_layer.neuron is None:
            raise NeuromapError(f"measurements line {row.line}: input {data.shape} has no time "
                                f"axis but {graph.name}'s input layer has no neurons")
        steps = int(row.steps or graph.meta.get("simulation", {}).get("tSample", 16))
    elif data.shape[1:-1] == shape:
        steps = int(data.shape[-1])
    else:
        raise NeuromapError(f"measurements line {row.line}: input {row.input} has shape "
                            f"{data.shape}; {graph.name} needs (N, {shape}[, T])")
    return data[:row.samples], steps


def _per_core(value: np.ndarray, ours: np.ndarray, column: str, line: int) -> np.ndarray:
    """A measured count per inference as a per-core total over all samples: one value per core
    as given, or a chip total spread over the cores like neuromap's own counts."""
    if value.size == ours.size:
        return value.astype(float)
    if value.size != 1:
        raise NeuromapError(f"measurements line {line}: {column} has {value.size} values but the "
                            f"mapping has {ours.size} cores; give one total or one per core")
    if ours.sum() > 0:
        return ours * (float(value[0]) / ours.sum())
    return np.full(ours.size, float(value[0]) / ours.size)


def apply_counts(events: CoreEvents, row: Row) -> CoreEvents:
    """CoreEvents with the row's measured counts (per inference) in place of neuromap's."""
    if not row.counts:
        return events
    S = events.samples
    synops, active, traffic = events.synops, events.active_updates, events.traffic.copy()
    if "syn_ops" in row.counts:
        synops = _per_core(row.counts["syn_ops"], events.synops / S, "syn_ops", row.line) * S
    if "dendrite_updates" in row.counts:
        active = _per_core(row.counts["dendrite_updates"], events.active_updates / S,
                           "dendrite_updates", row.line) * S
        if np.any(active > events.updates + 1e-9):
            raise NeuromapError(f"measurements line {row.line}: dendrite_updates exceed the "
                                f"neuron updates of the mapping (neurons x steps per core)")
    sent = row.counts.get("axon_out")
    received = row.counts.get("spikes_in")
    sent_t = None if sent is None else _per_core(sent, traffic[:-1].sum(1) / S, "axon_out", row.line) * S
    recv_t = None if received is None else _per_core(received, traffic.sum(0) / S, "spikes_in", row.line) * S
    for _ in range(50 if sent_t is not None and recv_t is not None else 1):
        # iterative proportional fitting: rows to the messages sent, columns to those received
        if sent_t is not None:
            have = traffic[:-1].sum(1)
            empty = (have == 0) & (sent_t > 0)
            traffic[:-1][empty, empty.nonzero()[0]] = 1.0   # no known destination: to itself
            have = traffic[:-1].sum(1)
            traffic[:-1] *= np.divide(sent_t, have, out=np.zeros_like(have), where=have > 0)[:, None]
        if recv_t is not None:
            have = traffic.sum(0)
            traffic *= np.divide(recv_t, have, out=np.ones_like(have), where=have > 0)[None, :]
    return replace(events, synops=np.asarray(synops, float), active_updates=np.asarray(active, float),
                   traffic=traffic)


# ---------------------------------------------------------------- the fit

def _only(profile: HardwareProfile, table: str, keys: Sequence[str]) -> HardwareProfile:
    """The profile with every per-event number of ``table`` zero except ``keys`` (static
    power and barrier zero too): evaluating it gives one term's contribution."""
    numbers = getattr(profile, table)
    kept = {k: (numbers[k] if k in keys else 0.0) for k in numbers}
    return replace(profile, **{table: kept}, static_power_w_per_chip=0.0, barrier_ns={1: 0.0})


def energy_design(m: Measured, base: HardwareProfile) -> np.ndarray:
    """pJ per inference that each energy term contributes under the base profile."""
    return np.array([estimate_cost(m.events, m.mapping, _only(base, "energy_pj", keys), m.graph)
                     .energy_pj["dynamic"] for keys in ENERGY_TERMS.values()])


def time_design(m: Measured, current: HardwareProfile, base: HardwareProfile
                ) -> tuple[np.ndarray, float, str, int]:
    """ns per step that each time term contributes, at the base profile's per-event times, to
    the side that bounds the step under ``current`` (the busiest core, or the host); the
    barrier; which side bounds; and the busiest core."""
    cost = estimate_cost(m.events, m.mapping, current, m.graph)
    core, bound = cost.step_terms["busiest_core"], cost.step_terms["bound"]
    out = []
    for name, keys in TIME_TERMS.items():
        part = estimate_cost(m.events, m.mapping, _only(base, "time_ns", keys), m.graph)
        if bound == "host":
            out.append(part.step_terms["host_injection_ns"] if name == "host_message" else 0.0)
        else:
            out.append(0.0 if name == "host_message" else float(part.core_busy_ns[core]))
    return np.array(out), cost.step_terms["barrier_ns"], bound, core


def identification(design: np.ndarray, names: Sequence[str]) -> tuple[list[str], list[str], list[str], int]:
    """Which terms the rows identify one by one, which only in combination with others, and
    which have no events in any row; and the rank (degrees of freedom the rows fix)."""
    observed = np.abs(design).sum(axis=0) > 0
    unobserved = [n for n, o in zip(names, observed) if not o]
    if not observed.any():
        return [], [], unobserved, 0
    cols = design[:, observed] / np.linalg.norm(design[:, observed], axis=0)
    _, sv, vt = np.linalg.svd(cols)
    rank = int((sv > RANK_TOL * sv[0]).sum())
    null = vt[rank:]
    obs_names = [n for n, o in zip(names, observed) if o]
    alone = [n for j, n in enumerate(obs_names) if np.linalg.norm(null[:, j]) < 1e-6]
    combined = [n for n in obs_names if n not in alone]
    return alone, combined, unobserved, rank


def solve_scales(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Non-negative scales s of the observed terms minimising the relative residuals
    |design s / target - 1| (scipy.optimize.nnls). Where the rows leave directions free, a weak
    pull towards one common scale, acting only in those directions, keeps the base profile's
    ratios there. Terms with no events in any row take the mean scale."""
    observed = np.abs(design).sum(axis=0) > 0
    k = int(observed.sum())
    a = design[:, observed] / target[:, None]
    norms = np.linalg.norm(a, axis=0)
    _, sv, vt = np.linalg.svd(a / norms)
    rank = int((sv > RANK_TOL * sv[0]).sum())
    free = vt[rank:] / norms[None, :]          # null directions of `a`, in scale coordinates
    if len(free):
        free /= np.linalg.norm(free, axis=1, keepdims=True)
    prior = PRIOR_WEIGHT * free @ (np.eye(k) - np.full((k, k), 1.0 / k))
    x, _ = nnls(np.vstack([a, prior]), np.concatenate([np.ones(len(target)), np.zeros(len(prior))]))
    scales = np.full(design.shape[1], float(x.mean()))
    scales[observed] = x
    return scales


def _scaled(table: dict[str, float], terms: dict[str, tuple[str, ...]],
            scale: dict[str, float]) -> dict[str, float]:
    out = dict(table)
    for name, keys in terms.items():
        for key in keys:
            out[key] = table[key] * scale[name]
    return out


def dynamic_target(m: Measured, base: HardwareProfile) -> float | None:
    """Measured dynamic energy per inference in pJ: given, or the total minus the base
    profile's static energy over the measured time."""
    meas = m.row.measured
    if "dynamic_energy_uj" in meas:
        return meas["dynamic_energy_uj"] * 1e6
    if "energy_uj" in meas:
        if "time_us" not in meas:
            raise NeuromapError(f"measurements line {m.row.line}: a total energy without "
                                f"dynamic_energy_uj needs time_us to take the static energy off")
        static = base.static_power_w_per_chip * m.mapping.num_chips * meas["time_us"] * 1e6
        if meas["energy_uj"] * 1e6 <= static:
            raise NeuromapError(f"measurements line {m.row.line}: energy_uj is not above the base "
                                f"profile's static energy ({static / 1e6:.4g} uJ); give dynamic_energy_uj")
        return meas["energy_uj"] * 1e6 - static
    return None


def fit_profile(measured: Sequence[Measured], base: HardwareProfile) -> Fit:
    """Fit the per-event energies and times of ``base`` to the rows (see the module doc)."""
    e_names, t_names = list(ENERGY_TERMS), list(TIME_TERMS)
    # static power: rows that give total, dynamic and time fix it directly
    statics = [(m.row.measured["energy_uj"] - m.row.measured["dynamic_energy_uj"])
               / (m.row.measured["time_us"] * m.mapping.num_chips)
               for m in measured if all(k in m.row.measured for k in MEASURED)]
    static_w = float(np.mean(statics)) if statics else base.static_power_w_per_chip
    prof = replace(base, static_power_w_per_chip=static_w)

    e_rows = [(energy_design(m, base), t) for m in measured
              if (t := dynamic_target(m, prof)) is not None]
    e_alone, e_comb, e_unobs, e_rank = identification(
        np.array([d for d, _ in e_rows]) if e_rows else np.zeros((0, len(e_names))), e_names)
    e_scale = dict.fromkeys(e_names, 1.0)
    if e_rank:
        design = np.array([d for d, _ in e_rows])
        e_scale = dict(zip(e_names, solve_scales(design, np.array([t for _, t in e_rows]))))
        prof = replace(prof, energy_pj=_scaled(base.energy_pj, ENERGY_TERMS, e_scale))

    t_rows = [m for m in measured if "time_us" in m.row.measured]
    t_scale = dict.fromkeys(t_names, 1.0)
    t_alone: list[str] = []
    t_comb: list[str] = []
    t_unobs: list[str] = list(t_names)
    t_rank = 0
    current = prof
    for _ in range(10):   # the busiest core may change with the times: refit until it holds
        if not t_rows:
            break
        designs, targets, where = [], [], []
        for m in t_rows:
            d, barrier, bound, core = time_design(m, current, base)
            step = m.row.measured["time_us"] * 1000.0 / m.events.steps
            if step <= barrier:
                raise NeuromapError(f"measurements line {m.row.line}: {step:.1f} ns per step is not "
                                    f"above the barrier synchronisation alone ({barrier:.1f} ns)")
            designs.append(d)
            targets.append(step - barrier)
            where.append((bound, core))
        design = np.array(designs)
        t_alone, t_comb, t_unobs, t_rank = identification(design, t_names)
        if not t_rank:
            break
        t_scale = dict(zip(t_names, solve_scales(design, np.array(targets))))
        current = replace(prof, time_ns=_scaled(base.time_ns, TIME_TERMS, t_scale))
        if all(time_design(m, current, base)[2:] == w for m, w in zip(t_rows, where)):
            break
    if not e_rank and not t_rank and not statics:
        raise NeuromapError("the measurements identify nothing: no row has activity under a "
                            "measured quantity (all counts are zero); measure a network that spikes")
    prof = replace(current, energy_pj=prof.energy_pj)
    return Fit(prof, e_scale, t_scale,
               {"energy": e_alone, "time": t_alone},
               {"energy": e_comb, "time": t_comb},
               {"energy": e_unobs, "time": t_unobs}, bool(statics))


# ---------------------------------------------------------------- residuals and output

def predict(m: Measured, profile: HardwareProfile) -> CostEstimate:
    return estimate_cost(m.events, m.mapping, profile, m.graph)


def residuals(m: Measured, profile: HardwareProfile) -> dict[str, dict[str, float]]:
    cost = predict(m, profile)
    pred = {"dynamic_energy_uj": cost.energy_pj["dynamic"] / 1e6,
            "energy_uj": cost.energy_pj["total"] / 1e6, "time_us": cost.latency_us}
    meas = m.row.measured
    return {"measured": dict(meas), "predicted": pred,
            "residual_pct": {k: 100.0 * (pred[k] - meas[k]) / meas[k] for k in meas}}


def events_record(m: Measured, profile: HardwareProfile) -> dict[str, Any]:
    """The activity a row was calibrated on, per inference (and the busiest core's, per step)."""
    ev, per = m.events, 1.0 / m.events.samples
    cost = predict(m, profile)
    core = cost.step_terms["busiest_core"]
    steps_run = ev.samples * ev.steps
    return {
        "cores": m.mapping.num_cores, "chips": m.mapping.num_chips, "tiles": cost.tiles_used,
        "synops": float(ev.synops.sum() * per),
        "active_updates": float(ev.active_updates.sum() * per),
        "inactive_updates": float((ev.updates - ev.active_updates).sum() * per),
        "spikes": float(ev.spikes.sum() * per),
        "messages": float((ev.messages.sum() + ev.traffic[-1].sum()) * per),
        "hops_east_west": cost.hops_east_west, "hops_north_south": cost.hops_north_south,
        "busiest_core": {"core": core, "layer": m.mapping.cores[core].layer if core >= 0 else None,
                         "synops_per_step": float(ev.synops[core] / steps_run),
                         "active_updates_per_step": float(ev.active_updates[core] / steps_run),
                         "neuron_updates_per_step": float(ev.updates[core] / steps_run),
                         "messages_sent_per_step": float(ev.messages[core] / steps_run)},
        "step_ns": {k: v for k, v in cost.step_terms.items() if k.endswith("_ns")},
    }


def _display(path: Path) -> str:
    data = lava_dl_data()
    return f"lava-dl:{path.relative_to(data)}" if path.is_relative_to(data) else str(path)


def calibration_record(measured: Sequence[Measured], fit: Fit, base: HardwareProfile,
                       strategy: str) -> dict[str, Any]:
    rows = []
    for m in measured:
        rows.append({"network": _display(m.row.network), "input": _display(m.row.input),
                     "steps": int(m.events.steps), "samples": int(m.events.samples),
                     "counts_given": sorted(m.row.counts),
                     "events_per_inference": events_record(m, fit.profile),
                     **residuals(m, fit.profile)})
    return {
        "method": "neuromap.calibrate: base per-event numbers scaled by non-negative least squares "
                  "on relative residuals (scipy.optimize.nnls); terms the rows do not identify keep "
                  "the base ratios",
        "base": base.name, "strategy": strategy,
        "energy_scale": {k: float(v) for k, v in fit.energy_scale.items()},
        "time_scale": {k: float(v) for k, v in fit.time_scale.items()},
        "identified": fit.identified, "only_in_combination": fit.combined,
        "no_events_scaled_with_the_rest": fit.unobserved, "static_power_identified": fit.static_identified,
        "rows": rows,
    }


def known_error_from(record: dict[str, Any]) -> list[dict[str, Any]]:
    energy, latency = [], []
    for r in record["rows"]:
        res = r["residual_pct"]
        energy += [abs(res[k]) for k in ("dynamic_energy_uj", "energy_uj") if k in res]
        latency += [abs(res["time_us"])] if "time_us" in res else []
    n = len(record["rows"])
    return [{"what": f"calibration residual, largest over {n} measured row{'s' * (n > 1)}",
             "energy_pct": round(max(energy), 3) if energy else None,
             "latency_pct": round(max(latency), 3) if latency else None,
             "source": "neuromap.calibrate (profile calibration block)"}]


def _round(table: dict[str, float]) -> dict[str, float]:
    return {k: float(f"{v:.5g}") for k, v in table.items()}


def profile_yaml(base: HardwareProfile, fit: Fit, record: dict[str, Any], name: str) -> str:
    raw = yaml.safe_load(Path(base.source).read_text())
    raw["name"] = name
    raw["description"] = f"{base.name} calibrated by neuromap.calibrate on {len(record['rows'])} measured row(s)"
    raw["energy_pj"] = _round(dict(fit.profile.energy_pj))
    raw["time_ns"] = _round(dict(fit.profile.time_ns))
    raw["static_power_w_per_chip"] = float(f"{fit.profile.static_power_w_per_chip:.5g}")
    raw["calibration"] = _plain(record)
    raw["known_error"] = known_error_from(record)
    return yaml.safe_dump(_plain(raw), sort_keys=False, width=100)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {(k if isinstance(k, (int, str)) else str(k)): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(f"{float(obj):.6g}")
    return obj


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def format_rows(measured: Sequence[Measured], profile: HardwareProfile) -> list[str]:
    lines = []
    for m in measured:
        r = residuals(m, profile)
        parts = [f"{k} {r['measured'][k]:.4g} -> {r['predicted'][k]:.4g} ({r['residual_pct'][k]:+.2f} %)"
                 for k in r["measured"]]
        lines.append(f"  line {m.row.line} {m.row.network.name}: " + ", ".join(parts))
    return lines


def format_identification(fit: Fit) -> list[str]:
    lines = []
    for what in ("energy", "time"):
        alone, comb, none = fit.identified[what], fit.combined[what], fit.unobserved[what]
        lines.append(f"  {what}: identified one by one: {', '.join(alone) or 'none'}")
        if comb:
            lines.append(f"  {what}: only in combination (their base ratios kept): {', '.join(comb)}")
        if none:
            lines.append(f"  {what}: no events in any row (scaled with the rest): {', '.join(none)}")
    lines.append("  static power: " + ("fitted from total - dynamic energy over time"
                                       if fit.static_identified else "base value kept"))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m neuromap.calibrate", description=__doc__.split("\n\n")[0],
        epilog=CSV_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("measurements", type=Path, help="CSV of measured runs, see below")
    parser.add_argument("--base", default="loihi2",
                        help=f"profile to start from: {', '.join(available_profiles())} or a YAML path")
    parser.add_argument("--out", type=Path, help="where to write the calibrated profile (YAML)")
    parser.add_argument("--name", help="profile name in the output (default: the --out file's stem)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="layerwise", help="mapper")
    parser.add_argument("--check", action="store_true",
                        help="fit nothing: print how far the base profile is from each row")
    args = parser.parse_args(argv)
    if args.out is None and not args.check:
        raise NeuromapError("give --out FILE.yaml for the calibrated profile, or --check")
    base = load_profile(args.base)
    rows = read_measurements(args.measurements)
    measured = [measure(row, base, args.strategy) for row in rows]
    if args.check:
        print(f"{base.name} against {args.measurements}:")
        print("\n".join(format_rows(measured, base)))
        return 0
    fit = fit_profile(measured, base)
    record = calibration_record(measured, fit, base, args.strategy)
    text = profile_yaml(base, fit, record, args.name or args.out.stem)
    print(f"calibrated {base.name} on {len(rows)} row(s) of {args.measurements}:")
    print("\n".join(format_rows(measured, fit.profile)))
    print("what the rows identify:")
    print("\n".join(format_identification(fit)))
    write_text_atomic(args.out, text)
    print(f"profile: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
