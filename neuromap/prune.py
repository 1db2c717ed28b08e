"""Structured pruning of SqueezeNet: remove whole Fire modules, fine-tune, compare schedules.

    python -m neuromap.prune                          # digits, SNN twin, the paper's schedules + importance
    python -m neuromap.prune --schedules Ref-1 Alt-1 --epochs 2 --finetune-epochs 1

1. Trains the baseline, the full SqueezeNet (all Fire modules F2..F9, with the reference's bypass
   around F3, F5 and F7; a schedule keeps a bypass where its module's input still has the module's
   output channels), for --epochs, with squeezenet_p's registered recipe for the SNN twin
   (neuromap.models.recipe: conversion of its trained ReLU twin, then SLAYER fine-tuning with the
   TET loss, its learning rate and the window it gives the unpruned depth, shared by every schedule).
2. Importance: for each Fire module, the gain in linear-probe accuracy from its input to its
   output (neuromap.models.signal: a logistic regression on each layer's per-sample spike counts,
   or activations for the CNN, fitted on training samples and scored on other training samples),
   and its share of the baseline's synaptic operations (SNN, measured) or MACs (CNN).
3. Builds each schedule (the paper's, plus "Importance": drop the --drop modules with the smallest
   probe gain per share of operations) and fine-tunes it for --finetune-epochs from the baseline's
   weights. SNN with conversion: the baseline's ReLU twin with the schedule's modules removed (a kept
   module whose input changed gets a fresh squeeze conv) trains for the recipe's ReLU-twin epochs and
   is converted; otherwise the SNN starts from the baseline SNN's weights with fresh layers calibrated.
4. Writes <out>/table.md and table.csv: accuracy, macro-F1, parameters, SNN synaptic operations (AC)
   and MACs, SNN energy, CNN-twin MACs and energy (45 nm, fp32: 4.6 pJ/MAC, 0.9 pJ/AC), per schedule.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from neuromap.data.datasets import DATASETS, load_dataset
from neuromap.data.digits import DigitsSplit
from neuromap.data.encode import rate_encode
from neuromap.distributed import require_one_process
from neuromap.errors import float_in, HelpFormatter, int_in, NeuromapError, run_cli
from neuromap.metrics import count_macs, energy_mj, macro_f1, measure_snn
from neuromap.models import create_model
from neuromap.models.blocks import Chain, ConvUnit, count_parameters, Residual, TwinNet
from neuromap.models.checkpoint import atomic_write_bytes, atomic_write_json
from neuromap.models.convert import relu_twin
from neuromap.models.recipe import window
from neuromap.models.signal import signal_report
from neuromap.models.squeezenet import FIRE_NAMES, stride_plan
from neuromap.outputs import check_folder
from neuromap.train import (
    convert_snn, fit_relu_twin, fit_twin, init_snn, prepare_snn, resolve_recipe, _Twin, _versions)

#: The schedules of the seed paper's pruning table (kept modules); "baseline" keeps all eight.
#: The paper mentions eight hand-made schedules but its table (our reference) lists these six.
PAPER_SCHEDULES: dict[str, tuple[str, ...]] = {
    "baseline": FIRE_NAMES,
    "Head-1": ("F2", "F3", "F4", "F5", "F9"),
    "Tail-2": ("F2", "F4", "F6", "F7", "F8", "F9"),
    "Alt-1": ("F2", "F4", "F6", "F8"),
    "Alt-2": ("F3", "F5", "F7", "F9"),
    "Ref-1": ("F4", "F6", "F8", "F9"),
}
IMPORTANCE = "Importance"
#: The SNN twin's recipe (neuromap.models.recipe): the pruned nets are SqueezeNet-P variants.
RECIPE_MODEL = "squeezenet_p"
#: Training samples the linear probes of the importance criterion are fitted on, and scored on (the next as many).
PROBE_SAMPLES = 256


def fire_units(model: TwinNet) -> dict[str, torch.nn.Module]:
    """Fire module name -> its unit (Chain or Residual) in `model`."""
    return {u.unit_name: u for u in model.units if isinstance(u, (Chain, Residual)) and getattr(u, "unit_name", "")}


def _convs(unit: torch.nn.Module) -> list[ConvUnit]:
    return [m for m in unit.modules() if isinstance(m, ConvUnit)]


def transfer_weights(src: TwinNet, dst: TwinNet) -> list[str]:
    """Copy src's weights into dst layer by layer (stem, each Fire module both nets keep, classifier,
    readout) where the tensor shapes agree; a layer whose input channels changed because a module
    before it was dropped keeps dst's fresh initialisation. Returns the names of re-initialised layers."""
    def copy(a: torch.nn.Module, b: torch.nn.Module, name: str) -> bool:
        sa, sb = a.state_dict(), b.state_dict()
        if set(sa) != set(sb) or any(sa[k].shape != sb[k].shape for k in sa):
            return False
        b.load_state_dict(sa)
        return True

    fresh: list[str] = []
    pairs: list[tuple[torch.nn.Module, torch.nn.Module, str]] = [(src.units[0], dst.units[0], "stem")]
    fs, fd = fire_units(src), fire_units(dst)
    for name, unit in fd.items():
        if name in fs:
            for i, (a, b) in enumerate(zip(_convs(fs[name]), _convs(unit))):
                pairs.append((a, b, f"{name}.{'squeeze' if i == 0 else 'expand'}"))
        else:
            fresh.append(name)
    pairs += [(src.units[-2], dst.units[-2], "classifier"), (src.units[-1], dst.units[-1], "readout")]
    with torch.no_grad():
        for a, b, name in pairs:
            if not copy(a, b, name):
                fresh.append(name)
    return fresh


def _named_layers(net: TwinNet, names: Sequence[str]) -> list[torch.nn.Module]:
    """The modules transfer_weights names: stem, F<n> or F<n>.squeeze / .expand, classifier, readout."""
    fires = fire_units(net)
    out: list[torch.nn.Module] = []
    for name in names:
        fire, _, part = name.partition(".")
        if name == "stem":
            out.append(net.units[0])
        elif name == "classifier":
            out.append(net.units[-2])
        elif name == "readout":
            out.append(net.units[-1])
        elif fire in fires:
            convs = _convs(fires[fire])
            out.extend(convs if not part else [convs[0] if part == "squeeze" else convs[-1]])
    return out


def _fit(model: torch.nn.Module, twin: Any, epochs: int, lr: float, batch_size: int, seed: int) -> float:
    """neuromap.train.fit_twin (the loop every CLI fits with): Adam + cosine schedule; returns seconds."""

    return fit_twin(model, twin, epochs, lr, batch_size, seed)[1]


def _evaluate(model: torch.nn.Module, twin: Any, y_test: np.ndarray, num_classes: int) -> dict[str, float]:

    pred = twin.predict_test(model)
    return {"accuracy": float((pred == y_test).mean()), "macro_f1": float(macro_f1(y_test, pred, num_classes))}


def _snn_ops(model: torch.nn.Module, twin: Any) -> Any:

    spikes = rate_encode(twin.x_test_levels, twin.max_level, twin.timesteps)
    return measure_snn(model, spikes, batch_size=64)


def module_op_shares(ops: Any, model: TwinNet) -> dict[str, float]:
    """Share of the SNN's synaptic operations (AC + MAC) spent in each Fire module's synapses."""
    names = {}
    for unit_name, unit in fire_units(model).items():
        for conv in _convs(unit):
            names[id(conv.block.synapse)] = unit_name  # measure_snn names a layer by its block or synapse
            names[id(conv.block)] = unit_name
    by_module = {name: 0.0 for name in fire_units(model)}
    lookup = {name: mod for name, mod in model.named_modules()}
    total = 0.0
    for layer in ops.layers:
        cost = float(layer.acs) + float(layer.macs)
        total += cost
        mod = lookup.get(layer.name)
        if mod is not None and id(mod) in names:
            by_module[names[id(mod)]] += cost
    return {k: (v / total if total else 0.0) for k, v in by_module.items()}


def module_probe_gains(model: TwinNet, kind: str, x_fit: torch.Tensor, y_fit: torch.Tensor, x_score: torch.Tensor,
                       y_score: torch.Tensor, num_classes: int) -> dict[str, dict[str, float]]:
    """Per Fire module of `model`, in data-flow order: the held-out accuracy of a linear probe on
    the responses entering the module (the layer before it) and leaving it (its expand layer), and the
    gain between them (neuromap.models.signal.signal_report). A module whose output a linear readout
    decodes no better than its input adds little that the next layers can use; this needs no
    retraining and no re-initialised layer, unlike removing the module and measuring the drop."""

    rows = signal_report(model, x_fit, y_fit, num_classes, kind, held_out=(x_score, y_score))["layers"]
    names = [r["name"] for r in rows]
    index = {u.unit_name: i for i, u in enumerate(model.units) if getattr(u, "unit_name", "")}
    gains: dict[str, dict[str, float]] = {}
    for module, i in index.items():
        inside = [k for k, n in enumerate(names) if n.startswith(f"units.{i}.")]
        if not inside or inside[0] == 0:
            raise NeuromapError(f"cannot find the layers of Fire module {module} in the probe report")
        before, after = rows[inside[0] - 1]["probe_accuracy"], rows[inside[-1]]["probe_accuracy"]
        gains[module] = {"in": before, "out": after, "gain": after - before}
    return gains


def importance_schedule(scores: dict[str, float], shares: dict[str, float], n_drop: int) -> tuple[str, ...]:
    """Keep list after dropping the `n_drop` modules with the least importance score per share of
    operations (max(score, 0) / share; ties: the costlier module goes first). F9 feeds the classifier
    and is always kept; a candidate whose removal leaves the downsampling unplaceable is skipped."""
    order = sorted((m for m in scores if m != "F9"),
                   key=lambda m: (max(scores[m], 0.0) / max(shares.get(m, 0.0), 1e-9), -shares.get(m, 0.0)))
    keep = list(FIRE_NAMES)
    for m in order:
        if len(FIRE_NAMES) - len(keep) >= n_drop:
            break
        trial = [k for k in keep if k != m]
        try:
            stride_plan(trial)
        except NeuromapError:
            continue
        keep = trial
    return tuple(keep)


def _table(rows: list[dict[str, Any]]) -> tuple[str, str]:
    cols = ["schedule", "kept", "accuracy", "macro_f1", "params", "snn_acs", "snn_macs", "snn_energy_mj",
            "cnn_params", "cnn_macs", "cnn_energy_mj", "finetune_s"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if isinstance(v, float):
                v = f"{v:.4f}" if c in ("accuracy", "macro_f1") else (f"{v:.3g}" if "energy" in c else f"{v:.4g}")
            cells.append(str(v))
        md.append("| " + " | ".join(cells) + " |")
    return "\n".join(md) + "\n", buf.getvalue()


def build_parser() -> argparse.ArgumentParser:
    class _P(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            raise NeuromapError(f"{message} (see `python -m neuromap.prune --help`)")

    p = _P(prog="python -m neuromap.prune", description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    p.add_argument("--dataset", default="digits", choices=DATASETS, help="dataset")
    p.add_argument("--data-dir", default="data", help="dataset folder for CIFAR / TinyImageNet")
    p.add_argument("--kind", default="snn", choices=("snn", "cnn"), help="twin to prune (default: snn)")
    p.add_argument("--schedules", nargs="*", default=None,
                   help=f"subset of: {', '.join(PAPER_SCHEDULES)}, {IMPORTANCE} (default: all)")
    p.add_argument("--epochs", type=int_in(1, 10_000), default=3, help="baseline training epochs (default: 3)")
    p.add_argument("--finetune-epochs", type=int_in(1, 10_000), default=1, help="fine-tuning epochs per schedule (default: 1)")
    p.add_argument("--drop", type=int_in(1, 7), default=4, help="modules the importance schedule removes (default: 4)")
    p.add_argument("--timesteps", type=int_in(1, 100_000), default=None,
                   help="SNN time steps, the same for every schedule (default: the recipe's window for the unpruned net)")
    p.add_argument("--batch-size", type=int_in(1, 1 << 20), default=None, help="minibatch size (default: the recipe's)")
    p.add_argument("--lr", type=float_in(1e-12, 10.0), default=None, help="Adam learning rate (default: the recipe's)")
    p.add_argument("--seed", type=int_in(0, 2**32 - 1), default=0, help="seed of split, init and shuffling")
    p.add_argument("--train-limit", type=int_in(0, 1 << 31), default=0, help="use only the first N training samples (0: all)")
    p.add_argument("--test-limit", type=int_in(0, 1 << 31), default=0, help="use only the first N test samples (0: all)")
    p.add_argument("--out", default=None, help="output folder (default: runs/prune_<dataset>_<kind>)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m neuromap.prune`."""

    args = build_parser().parse_args(argv)
    require_one_process("neuromap.prune")
    names = list(PAPER_SCHEDULES) + [IMPORTANCE]
    wanted = names if args.schedules is None else list(args.schedules)
    bad = [s for s in wanted if s not in names]
    if bad:
        raise NeuromapError(f"unknown schedule(s) {bad}; choose from {', '.join(names)}")
    out = check_folder(Path(args.out or f"runs/prune_{args.dataset}_{args.kind}"), "--out")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    wall0 = time.perf_counter()
    data = load_dataset(args.dataset, args.data_dir, seed=args.seed)
    if args.train_limit > 0 or args.test_limit > 0:

        ntr = args.train_limit or len(data.y_train)
        nte = args.test_limit or len(data.y_test)
        data = DigitsSplit(data.x_train[:ntr], data.y_train[:ntr], data.x_test[:nte], data.y_test[:nte],
                           num_classes=data.num_classes, max_level=data.max_level)
    shape, nc = data.input_shape, data.num_classes

    def build(keep: Sequence[str], kind: str = args.kind) -> TwinNet:
        return create_model(RECIPE_MODEL, kind=kind, num_classes=nc, input_shape=shape, keep=list(keep), bypass=True)

    recipe = resolve_recipe(RECIPE_MODEL)
    base = build(FIRE_NAMES)
    timesteps = args.timesteps or window(recipe, base.depth)
    lr = args.lr or float(recipe["lr"][args.kind])
    batch_size = args.batch_size or int(recipe["batch_size"])
    if args.kind == "snn" and base.depth >= timesteps:
        raise NeuromapError(f"--timesteps {timesteps} is too short for the unpruned SNN ({base.depth} layers deep); "
                            f"use {window(recipe, base.depth)} or leave it out")
    config = {"num_classes": nc, "timesteps": timesteps, "recipe": recipe, "depth": base.depth,
              "model": RECIPE_MODEL, "seed": args.seed, "input_shape": list(shape),
              "model_kwargs": {"keep": list(FIRE_NAMES), "bypass": True}}
    twin = _Twin(args.kind, config, data)
    converting = args.kind == "snn" and recipe["convert"] is not None
    relu_twins: dict[tuple[str, ...], torch.nn.Module] = {}

    def prepare(net: TwinNet, fresh: Sequence[str] | None = None, keep: Sequence[str] = FIRE_NAMES) -> None:
        """The recipe's SNN init. With conversion (neuromap.train.convert_snn): the schedule's ReLU twin,
        the baseline's trained one with its modules removed (neuromap.prune.transfer_weights) and trained
        on, converted into `net`. Otherwise (neuromap.train.init_snn): surrogate width, calibration of all
        layers or only the re-initialised ones, per-layer surrogate balancing."""
        if args.kind != "snn":
            return
        prepare_snn(net, recipe)
        if converting:
            ann = relu_twin(build(keep, "cnn"))
            if tuple(keep) != FIRE_NAMES:
                transfer_weights(relu_twins[FIRE_NAMES], ann)
            relu_twins[tuple(keep)], report = fit_relu_twin(twin, recipe, ann)
            print(f"  ReLU twin: test accuracy {report['test_accuracy']:.4f}", file=sys.stderr)
            convert_snn(net, twin, recipe, relu_twins[tuple(keep)])
        else:
            init_snn(net, twin, recipe, None if fresh is None else _named_layers(net, fresh), net.depth)

    print(f"baseline: training {args.epochs} epochs ({args.kind}, T = {timesteps})" if args.kind == "snn" else
          f"baseline: training {args.epochs} epochs ({args.kind})", file=sys.stderr)
    prepare(base)
    base_seconds = _fit(base, twin, args.epochs, lr, batch_size, args.seed)
    base_eval = _evaluate(base, twin, data.y_test, nc)

    # importance: linear-probe gain per Fire module on training samples (fit on one half, score on the other)
    n_probe = min(PROBE_SAMPLES, len(twin.y_train) // 2)
    fit_idx, score_idx = torch.arange(n_probe), torch.arange(n_probe, 2 * n_probe)
    probes = module_probe_gains(base, args.kind, twin.batch(fit_idx), twin.y_train[fit_idx],
                                twin.batch(score_idx), twin.y_train[score_idx], nc)
    gains = {m: v["gain"] for m, v in probes.items()}
    if args.kind == "snn":
        shares = module_op_shares(_snn_ops(base, twin), base)
    else:
        macs = count_macs(base, shape)["layers"]
        total = sum(macs.values())
        shares = {m: sum(v for k, v in macs.items() if k.startswith(f"units.{i + 1}.")) / total
                  for i, m in enumerate(FIRE_NAMES)}  # units.<i> of the unpruned net; the stem is units.0
    schedules = dict(PAPER_SCHEDULES)
    schedules[IMPORTANCE] = importance_schedule(gains, shares, args.drop)

    rows: list[dict[str, Any]] = []
    for sname in wanted:
        keep = schedules[sname]
        print(f"{sname}: keep {' '.join(keep)}", file=sys.stderr)
        if tuple(keep) == FIRE_NAMES:
            net, secs = base, 0.0
        else:
            net = build(keep)
            prepare(net, transfer_weights(base, net), keep)
            secs = _fit(net, twin, args.finetune_epochs, lr, batch_size, args.seed + 1)
        row: dict[str, Any] = {"schedule": sname, "kept": " ".join(keep), **_evaluate(net, twin, data.y_test, nc),
                               "params": count_parameters(net), "finetune_s": round(secs, 1)}
        cnn = build(keep, "cnn")
        row["cnn_params"] = count_parameters(cnn)
        row["cnn_macs"] = int(count_macs(cnn, shape)["total"])
        row["cnn_energy_mj"] = energy_mj(row["cnn_macs"], 0.0, "fp32")
        if args.kind == "snn":
            ops = _snn_ops(net, twin)
            row["snn_acs"], row["snn_macs"] = float(ops.acs), float(ops.macs)
            row["snn_energy_mj"] = float(ops.energy_mj("fp32"))
        rows.append(row)
    md, csv_text = _table(rows)
    header = (f"# SqueezeNet Fire-module pruning on {args.dataset} ({args.kind} twin)\n\n"
              f"Baseline: all of F2..F9 with the bypass around F3, F5, F7, {args.epochs} epochs (accuracy {base_eval['accuracy']:.4f}, "
              f"{base_seconds:.0f} s); each schedule fine-tuned {args.finetune_epochs} epoch(s) from it. "
              + (f"T = {timesteps}, " if args.kind == "snn" else "")
              + f"Adam {lr:g}, batch {batch_size}. Samples: {len(data.y_train)} train / {len(data.y_test)} test. Energy: 45 nm fp32 preset (4.6 pJ/MAC, 0.9 pJ/AC), per sample. "
              f"snn_acs / snn_macs: measured on the test set (neuromap.metrics.measure_snn); cnn_macs: "
              f"neuromap.metrics.count_macs.\n\n"
              f"Importance (linear-probe accuracy into -> out of the module, on {n_probe} + {n_probe} training "
              f"samples / share of {'measured SNN synaptic operations' if args.kind == 'snn' else 'CNN MACs'}): "
              + ", ".join(f"{m} {probes[m]['in']:.3f} -> {probes[m]['out']:.3f}/{shares.get(m, 0):.3f}"
                          for m in FIRE_NAMES)
              + f"\n\nImportance schedule keeps: {' '.join(schedules[IMPORTANCE])}\n\n")
    atomic_write_bytes(out / "table.md", (header + md).encode())
    atomic_write_bytes(out / "table.csv", csv_text.encode())
    atomic_write_json(out / "prune.json", {"args": vars(args), "recipe": recipe if args.kind == "snn" else None,
                                           "timesteps": timesteps if args.kind == "snn" else None, "lr": lr,
                                           "batch_size": batch_size, "rows": rows, "probe_gain": probes,
                                           "op_share": shares, "schedules": {k: list(v) for k, v in schedules.items()},
                                           "baseline": base_eval, "versions": _versions(),
                                           "wall_seconds": round(time.perf_counter() - wall0, 1)})
    print(header + md)
    print(f"wrote {out / 'table.md'} and {out / 'table.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
