"""Benchmark SNN and CNN twins: accuracy, macro-F1, parameters, operations and 45 nm energy.

    python -m neuromap.bench                                   # the five zoo families on digits
    python -m neuromap.bench --models digitnet,squeezenet_p --dataset digits --epochs 5

For each model it trains both twins with `neuromap.train` into <runs>/bench_<model>_<dataset>/, or
loads that run when its config matches, then measures on the test set and writes
<out>/<dataset>/table.md, table.csv, accuracy_vs_energy.png and results.json (per-layer detail).
Models train in parallel, one process each (--jobs, default: one per CPU); the results do not
depend on it (tested).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from neuromap import train
from neuromap.cost.measure import hardware_summary
from neuromap.data.datasets import DATASETS, load_dataset
from neuromap.data.encode import rate_encode
from neuromap.distributed import require_one_process
from neuromap.errors import HelpFormatter, NeuromapError, run_cli
from neuromap.hw.profile import load_profile
from neuromap.metrics import (
    count_macs, count_params, energy_mj, macro_f1, PRESETS, SynapseRecorder, top1_accuracy)
from neuromap.models import create_model, list_models
from neuromap.models.checkpoint import (
    atomic_write_bytes, atomic_write_json, build_from_config, load_config, load_snn_from_run,
    safe_torch_load, snn_output_counts)
from neuromap.netx.lower import lower_snn
from neuromap.outputs import check_folder
from neuromap.provenance import training_fingerprint, versions as _versions
from neuromap.sim.activity import depths

#: The paper's five families; `python -m neuromap.bench` with no --models runs these.
DEFAULT_MODELS = ("squeezenet", "squeezenet_p", "shufflenetv2", "mnasnet", "mixnet")
#: Epochs per twin for the default run: all five families on digits fit in 30 minutes on 2 CPU cores.
DEFAULT_EPOCHS = 2
PRESET_NAMES = ("fp32", "int8")
#: Hardware columns of an SNN row: its exported network on the loihi2 profile over the whole test set
#: (fast engine), for Intel-style layerwise and traffic-aware graph mapping.
HW_FIELDS = ("layerwise_cores", "graph_cores", "layerwise_dynamic_uj", "layerwise_total_uj", "graph_dynamic_uj",
             "graph_total_uj", "layerwise_latency_us", "layerwise_inferences_per_s", "hw_counts_equal_slayer")
CSV_FIELDS = ("model", "twin", "accuracy", "macro_f1", "params", "macs", "acs", "spikes_per_inference",
              "energy_fp32_mj", "energy_int8_mj", *HW_FIELDS, "test_samples", "timesteps", "epochs", "train_seconds",
              "run_dir")

#: Kabir et al. 2026 (arXiv 2602.09717), CIFAR-10: their numbers, not ours.
#: (family, CNN acc, SNN acc, SNN F1, SNN AC, SNN MAC, SNN params, CNN mJ, SNN mJ)
PAPER_CIFAR10 = (
    ("ShuffleNetV2", 0.70, 0.40, 0.40, "93k", "894k", "911.0k", 0.010, 0.0042),
    ("MnasNet", 0.83, 0.78, 0.77, "3.43M", "12.13M", "151.8k", 0.113, 0.0589),
    ("MixNet", 0.82, 0.73, 0.73, "523k", "507k", "84.9k", 0.047, 0.0028),
    ("SqueezeNet", 0.81, 0.75, 0.74, "16.61M", "4.47M", "736.5k", 0.252, 0.0355),
    ("SqueezeNet-P", 0.82, 0.81, 0.81, "11.20M", "4.23M", "599.1k", 0.168, 0.0295),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise NeuromapError(f"{message} (see `python -m neuromap.bench --help`)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m neuromap.bench", description=__doc__.split("\n\n")[0],
                formatter_class=HelpFormatter)
    p.add_argument("--models", nargs="+", default=None,
                   help=f"model names, space- or comma-separated (default: {' '.join(DEFAULT_MODELS)})")
    p.add_argument("--dataset", default="digits", help="digits | cifar10 | cifar100 | tinyimagenet (default: digits)")
    p.add_argument("--data-dir", default="data", help="dataset folder for CIFAR / TinyImageNet (default: data)")
    p.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS,
                   help="training epochs per twin (default: %(default)s, sized for the 30-minute digits run)")
    p.add_argument("--timesteps", type=_positive_int, default=None,
                   help="SNN time steps (default: neuromap.train's per-model default)")
    p.add_argument("--seed", type=int, default=0, help="seed of split, init and shuffling (default: 0)")
    p.add_argument("--test-samples", type=_positive_int, default=None,
                   help="measure on the first N test samples only (default: the whole test set)")
    p.add_argument("--runs", default="runs", help="runs root; each model trains into <runs>/bench_<model>_<dataset>/")
    p.add_argument("--out", default="benchmarks/results", help="results root; files go to <out>/<dataset>/")
    p.add_argument("--retrain", action="store_true", help="train even when a matching run exists")
    p.add_argument("--jobs", type=_positive_int, default=None,
                   help="models trained at once, one process and one torch thread each (default: the CPUs this "
                        "process may use, at most the number of models)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


def _parse_models(raw: Sequence[str] | None) -> list[str]:

    names = list(DEFAULT_MODELS) if not raw else [n.strip() for item in raw for n in item.split(",") if n.strip()]
    if not names:
        raise NeuromapError("--models is empty; name at least one registered model")
    known = list_models()
    for n in names:
        if n not in known:
            raise NeuromapError(f"unknown model {n!r}; known models: {', '.join(known)}")
    return list(dict.fromkeys(names))


# --------------------------------------------------------------- training --


def _run_matches(run_dir: Path, want: dict[str, Any]) -> bool:
    """Whether run_dir holds both trained twins with the config `want` asks for."""
    cfg_path = run_dir / "config.json"
    if not all((run_dir / f).is_file() for f in ("config.json", "metrics.json", "snn.pt", "cnn.pt")):
        return False
    try:
        cfg = json.loads(cfg_path.read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except ValueError:
        return False
    if cfg.get("kind") != "both" or not {"snn", "cnn"} <= set(metrics):
        return False
    return all(cfg.get(k) == v for k, v in want.items())


def _train_or_load(model: str, args: argparse.Namespace, log: Callable[[str], None]) -> tuple[Path, bool]:
    """Train both twins of `model` with its registered recipe (neuromap.train.fit_run) unless a matching
    run exists; returns (run folder, trained?)."""

    name = f"bench_{model}_{args.dataset}"
    run_dir = (Path(args.runs) / name).resolve()
    # runs made with another recipe than the registered one are retrained
    recipe = train.resolve_recipe(model)
    want: dict[str, Any] = {"model": model, "dataset": args.dataset, "epochs": args.epochs, "seed": args.seed,
                            "recipe": recipe}
    # the code and package versions too: a run trained by other code is not this command's result
    want["fingerprint"] = training_fingerprint()
    if args.timesteps is not None:
        want["timesteps"] = args.timesteps
    else:
        want["timesteps"] = _recipe_window(model)[1]
    if not args.retrain and _run_matches(run_dir, want):
        log(f"{model}: loading {run_dir} (same model, dataset, epochs, seed, recipe)")
        return run_dir, False
    log(f"{model}: training both twins for {args.epochs} epoch(s) into {run_dir}")
    stdout = io.StringIO()
    try:
        from contextlib import redirect_stdout

        with redirect_stdout(stdout):
            train.fit_run(model, args.dataset, kind="both", epochs=args.epochs, seed=args.seed, name=name,
                          out=Path(args.runs), export=run_dir / "snn.net", data_dir=args.data_dir,
                          progress=not args.no_progress, timesteps=args.timesteps)
    finally:
        torch.set_num_threads(1)
    return run_dir, True


def _recipe_window(model: str) -> tuple[int, int]:
    """(SNN depth, the recipe's window) of a family (the depth does not depend on the input size)."""
    probe = create_model(model, kind="cnn", num_classes=10, input_shape=(1, 8, 8), **train.MODEL_KWARGS.get(model, {}))
    depth = train.network_depth(probe)
    return depth, train.window(train.resolve_recipe(model), depth)


def _train_job(model: str, args: argparse.Namespace) -> tuple[str, bool, list[str]]:
    """`_train_or_load` in a worker process (neuromap.train sets its one torch thread): (run folder,
    trained?, its log lines)."""
    lines: list[str] = []
    run_dir, trained = _train_or_load(model, args, lines.append)
    return str(run_dir), trained, lines


def _trained_runs(models: list[str], args: argparse.Namespace, jobs: int,
                  log: Callable[[str], None]) -> Iterator[tuple[str, Path, bool]]:
    """(model, run folder, trained?) for each model, training up to `jobs` at once (in spawned processes,
    without their progress bars, the longest first) and yielding each as it finishes, so the caller can
    measure one model while others train."""
    if jobs <= 1:
        for model in models:
            run_dir, trained = _train_or_load(model, args, log)
            yield model, run_dir, trained
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    quiet = argparse.Namespace(**{**vars(args), "no_progress": True})
    # the longest first (SNN training work grows with depth x window), so that no long run starts last
    work = {m: np.prod(_recipe_window(m)) for m in models}
    longest_first = sorted(models, key=lambda m: -work[m])
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_train_job, model, quiet): model for model in longest_first}
        try:
            for future in as_completed(futures):
                model = futures[future]
                run_dir, trained, lines = future.result()
                for line in lines:
                    log(line)
                yield model, Path(run_dir), trained
        finally:
            for future in futures:
                future.cancel()


# ------------------------------------------------------------- measuring --


def _load_twins(run_dir: Path) -> tuple[dict[str, Any], torch.nn.Module, torch.nn.Module]:

    snn, config = load_snn_from_run(run_dir)
    cnn = build_from_config(load_config(run_dir), "cnn")
    try:
        cnn.load_state_dict(safe_torch_load(run_dir / "cnn.pt"))
    except (RuntimeError, TypeError) as exc:
        raise NeuromapError(f"{run_dir}/cnn.pt does not match its config.json ({exc}); rerun with --retrain") from None
    cnn.eval()
    return config, snn, cnn


def measure_run(run_dir: Path, data: Any, test_samples: int | None, batch_size: int = 64) -> list[dict[str, Any]]:
    """Rows (one per twin) of accuracy, F1, parameters, operations and energy of a trained run."""

    config, snn, cnn = _load_twins(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    n = len(data.y_test) if test_samples is None else min(int(test_samples), len(data.y_test))
    x, y = data.x_test[:n], data.y_test[:n]
    classes = int(config["num_classes"])
    timesteps = int(config["timesteps"])
    common = {"model": config["model"], "test_samples": n, "epochs": int(config["epochs"]), "run_dir": str(run_dir)}

    # CNN twin: all its MACs at E_MAC.
    with torch.no_grad():
        pred_cnn = np.concatenate([cnn(torch.from_numpy(x[i:i + batch_size].astype(np.float32) / data.max_level))
                                   .argmax(dim=1).numpy() for i in range(0, n, batch_size)])
    macs = count_macs(cnn, tuple(config["input_shape"]))
    cnn_row = {**common, "twin": "CNN", "accuracy": top1_accuracy(y, pred_cnn), "macro_f1": macro_f1(y, pred_cnn, classes),
               "params": count_params(cnn), "macs": float(macs["total"]), "acs": 0.0, "spikes_per_inference": None,
               "timesteps": None, "train_seconds": metrics.get("cnn", {}).get("train_seconds"),
               "layers": macs["layers"]}
    for p in PRESET_NAMES:
        cnn_row[f"energy_{p}_mj"] = energy_mj(macs["total"], 0.0, p)

    # SNN twin: measured synaptic operations on the same samples, in the same pass as the predictions.
    counts = []
    with SynapseRecorder(snn) as rec:
        for i in range(0, n, batch_size):
            spikes = rate_encode(x[i:i + batch_size], data.max_level, timesteps)
            counts.append(snn_output_counts(snn, spikes, batch_size=batch_size))
    ops = rec.result()
    pred_snn = np.concatenate(counts).argmax(axis=1)
    snn_row = {**common, "twin": "SNN", "accuracy": top1_accuracy(y, pred_snn), "macro_f1": macro_f1(y, pred_snn, classes),
               "params": count_params(snn), "macs": ops.macs, "acs": ops.acs, "spikes_per_inference": ops.input_events,
               "timesteps": timesteps, "train_seconds": metrics.get("snn", {}).get("train_seconds"),
               "layers": ops.to_dict()["layers"]}
    for p in PRESET_NAMES:
        snn_row[f"energy_{p}_mj"] = ops.energy_mj(p)
    snn_row.update(hardware_columns(snn, rate_encode(x, data.max_level, timesteps)))
    return [snn_row, cnn_row]


def hardware_columns(snn: torch.nn.Module, spikes: np.ndarray) -> dict[str, Any]:
    """The SNN's exported network on the loihi2 profile, every test sample through the fast engine;
    ``hw_counts_equal_slayer`` is the share of samples whose output spike counts equal SLAYER's (run
    with the zero tail the hardware pipeline adds, one step per synapse layer)."""

    graph = lower_snn(snn)
    summary = hardware_summary(graph, spikes.transpose(0, 3, 2, 1, 4), None, load_profile("loihi2"))
    tail = depths(graph)[graph.output_layer.name]
    padded = np.concatenate([spikes, np.zeros(spikes.shape[:-1] + (tail,), spikes.dtype)], axis=-1)
    equal = np.all(snn_output_counts(snn, padded) == summary["output_counts"], axis=1)
    return {**{k: summary[k] for k in HW_FIELDS if k in summary}, "hw_counts_equal_slayer": float(equal.mean())}


# ---------------------------------------------------------------- writing --


def _si(value: float | None) -> str:
    if value is None:
        return "-"
    v = float(value)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.2f}{suffix}"
    return f"{v:.0f}"


def _energy(value: float) -> str:
    return f"{value:.3g}" if value < 1e-3 else f"{value:.4f}"


def _equal_shares(rows: list[dict[str, Any]]) -> str:
    shares = [f"{r['model']} {r['hw_counts_equal_slayer']:.3f}" for r in rows
              if r.get("hw_counts_equal_slayer") is not None]
    return ", ".join(shares) or "none measured"


def _hardware(r: dict[str, Any]) -> str:
    """The loihi2 cells of a row (a CNN twin has none)."""
    if r.get("layerwise_cores") is None:
        return "- | - | - | -"
    return (f"{r['layerwise_cores']} / {r['graph_cores']} | {r['layerwise_dynamic_uj']:.2f} / "
            f"{r['layerwise_total_uj']:.2f} | {r['layerwise_latency_us']:.1f} | {r['layerwise_inferences_per_s']:,.0f}")


def render_markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """table.md: our measured table, the CNN/SNN energy ratios, then the paper's CIFAR-10 rows."""
    lines = [f"# Benchmark: {meta['dataset']}", "",
             f"Generated by `{meta['command']}` on {meta['date']} ({meta['wall_seconds']:.0f} s).", "",
             f"Test samples: {meta['test_samples']}; epochs per twin: {meta['epochs']}; seed: {meta['seed']}; "
             f"SNN input: rate code over each model's time steps (column T). Energy per inference, 45 nm "
             f"(Horowitz 2014): E_CNN = E_MAC x MACs; E_SNN = E_MAC x MACs(real-valued-input layers) + "
             f"E_AC x ACs; fp32 MAC 4.6 / AC 0.9 pJ, int8 MAC 0.23 / AC 0.03 pJ. SNN ACs are measured "
             f"spikes x fan-out on the test samples; see docs/metrics.md. loihi2 columns: the SNN's exported "
             f"network on the loihi2 profile, every test sample through neuromap's fast engine (bit-exact "
             f"with Lava), cores for layer-wise and graph mapping, energy, latency and throughput per "
             f"inference with layer-wise mapping (docs/cost-model.md); share of samples whose hardware "
             f"output counts equal SLAYER's: {_equal_shares(rows)}.", "",
             "| model | twin | accuracy | macro-F1 | params | MACs | ACs | spikes/inf | T | energy fp32 (mJ) "
             "| energy int8 (mJ) | loihi2 cores (layerwise / graph) | loihi2 uJ dynamic / total (layerwise) "
             "| latency (us) | inferences/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['twin']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {_si(r['params'])} "
                     f"| {_si(r['macs'])} | {_si(r['acs'])} | {_si(r['spikes_per_inference'])} "
                     f"| {r['timesteps'] or '-'} | {_energy(r['energy_fp32_mj'])} | {_energy(r['energy_int8_mj'])} "
                     f"| {_hardware(r)} |")
    lines += ["", "CNN / SNN energy (fp32), same formula for both twins:", ""]
    by_model: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_model.setdefault(r["model"], {})[r["twin"]] = r
    for model, twins in by_model.items():
        if {"SNN", "CNN"} <= set(twins) and twins["SNN"]["energy_fp32_mj"] > 0:
            ratio = twins["CNN"]["energy_fp32_mj"] / twins["SNN"]["energy_fp32_mj"]
            lines.append(f"- {model}: {ratio:.2f}x (CNN {_energy(twins['CNN']['energy_fp32_mj'])} mJ, "
                         f"SNN {_energy(twins['SNN']['energy_fp32_mj'])} mJ; accuracy CNN "
                         f"{twins['CNN']['accuracy']:.4f}, SNN {twins['SNN']['accuracy']:.4f})")
    lines += ["", "## Reference: the paper's CIFAR-10 numbers (not measured here)", "",
              "Kabir et al., arXiv 2602.09717 (2026), CIFAR-10, 32 x 32; copied from the paper, for comparison only.",
              "", "| family | CNN acc | SNN acc | SNN F1 | SNN AC | SNN MAC | SNN params | CNN energy (mJ) "
              "| SNN energy (mJ) |", "|---|---|---|---|---|---|---|---|---|"]
    for fam, cacc, sacc, sf1, ac, mac, par, ce, se in PAPER_CIFAR10:
        lines.append(f"| {fam} | {cacc:.2f} | {sacc:.2f} | {sf1:.2f} | {ac} | {mac} | {par} | {ce:.3f} | {se:.4f} |")
    lines += ["", "## Configuration", "", "```json", json.dumps({k: meta[k] for k in sorted(meta)}, indent=2), "```", ""]
    return "\n".join(lines)


def render_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_FIELDS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_FIELDS})
    return buf.getvalue()


def render_plot(rows: list[dict[str, Any]], dataset: str) -> bytes:
    """Accuracy vs fp32 energy (log x), SNN and CNN twins joined by a line; paper points on CIFAR-10."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    by_model: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_model.setdefault(r["model"], {})[r["twin"]] = r
    for i, (model, twins) in enumerate(by_model.items()):
        color = f"C{i % 10}"
        pts = [(twins[t]["energy_fp32_mj"], twins[t]["accuracy"], t) for t in ("SNN", "CNN") if t in twins]
        if len(pts) == 2:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, lw=0.8, alpha=0.6)
        for e, a, t in pts:
            ax.scatter([e], [a], color=color, marker="o" if t == "SNN" else "s", s=40, zorder=3,
                       label=model if t == pts[0][2] else None)
    if dataset == "cifar10":
        for fam, cacc, sacc, _f1, _ac, _mac, _p, ce, se in PAPER_CIFAR10:
            ax.scatter([se, ce], [sacc, cacc], color="grey", marker="x", s=25)
            ax.annotate(f"paper {fam}", (se, sacc), textcoords="offset points", xytext=(4, -8), fontsize=6, color="grey")
    ax.set_xscale("log")
    ax.margins(x=0.2, y=0.08)
    ax.set_xlabel("energy per inference, fp32 45 nm (mJ)")
    ax.set_ylabel("top-1 accuracy")
    ax.set_title(f"{dataset}: accuracy vs energy (o SNN, s CNN)")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_results(out_dir: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Path]:
    """Write table.md, table.csv, accuracy_vs_energy.png and results.json atomically."""

    paths = {"md": out_dir / "table.md", "csv": out_dir / "table.csv", "png": out_dir / "accuracy_vs_energy.png",
             "json": out_dir / "results.json"}
    atomic_write_bytes(paths["png"], render_plot(rows, meta["dataset"]))
    atomic_write_bytes(paths["csv"], render_csv(rows).encode())
    atomic_write_json(paths["json"], {"meta": meta, "rows": rows})
    atomic_write_bytes(paths["md"], render_markdown(rows, meta).encode())
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m neuromap.bench`; returns the exit code."""
    args = build_parser().parse_args(argv)
    from tqdm import tqdm

    require_one_process("neuromap.bench")  # it loads runs trained under torchrun (docs/training.md)

    if args.dataset not in DATASETS:
        raise NeuromapError(f"unknown dataset {args.dataset!r}; available datasets: {', '.join(DATASETS)}")
    models = _parse_models(args.models)
    out_dir = check_folder(Path(args.out) / args.dataset, "--out")
    check_folder(Path(args.runs), "--runs")
    wall0 = time.perf_counter()
    torch.set_num_threads(1)  # tiny ops on a shared 2-core machine: one thread is faster (see docs/results.md)
    data = load_dataset(args.dataset, args.data_dir, seed=args.seed)
    rows: list[dict[str, Any]] = []
    runs: dict[str, Any] = {}
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    jobs = min(args.jobs or cpus, len(models))
    with tqdm(total=2 * len(models), desc="bench", unit="step", disable=args.no_progress, file=sys.stderr,
              dynamic_ncols=True) as bar:
        bar.set_postfix_str(f"training {len(models)} model(s), {jobs} at a time")
        for model, run_dir, trained in _trained_runs(models, args, jobs, bar.write):
            bar.update(1)
            bar.set_postfix_str(f"{model}: measure")
            cfg = json.loads((run_dir / "config.json").read_text())
            if int(cfg.get("seed", args.seed)) != args.seed or cfg.get("dataset") != args.dataset:
                raise NeuromapError(f"{run_dir} holds another seed or dataset; rerun with --retrain")
            rows += measure_run(run_dir, data, args.test_samples)
            runs[model] = {"run_dir": str(run_dir), "trained_now": trained, "timesteps": cfg.get("timesteps"),
                           "train_config": {k: cfg.get(k) for k in (
                               "epochs", "seed", "timesteps", "encoding", "model_kwargs", "recipe")},
                           "train_versions": cfg.get("versions")}
            bar.update(1)

    rows.sort(key=lambda r: models.index(r["model"]))  # the table in the order asked, whatever finished first
    runs = {m: runs[m] for m in models}
    given = list(sys.argv[1:] if argv is None else argv)
    meta = {"dataset": args.dataset, "models": models, "epochs": args.epochs, "seed": args.seed,
            "test_samples": rows[0]["test_samples"] if rows else 0, "timesteps_option": args.timesteps,
            "command": " ".join(["python -m neuromap.bench", *given]),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "wall_seconds": round(time.perf_counter() - wall0, 1), "threads": torch.get_num_threads(), "jobs": jobs,
            "versions": _versions(), "fingerprint": training_fingerprint(), "runs": runs,
            "presets": {p: {"mac_pj": v.mac_pj, "ac_pj": v.ac_pj, "source": v.source}
                        for p, v in PRESETS.items()}}
    paths = write_results(out_dir, rows, meta)
    for r in rows:
        print(f"{r['model']:>14} {r['twin']}: acc {r['accuracy']:.4f}  F1 {r['macro_f1']:.4f}  params {_si(r['params'])}  "
              f"MACs {_si(r['macs'])}  ACs {_si(r['acs'])}  E fp32 {_energy(r['energy_fp32_mj'])} mJ")
    print(f"wrote {paths['md']}, {paths['csv']}, {paths['png']}")
    print(f"wall time: {meta['wall_seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
