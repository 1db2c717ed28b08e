"""Train a spiking CNN (SLAYER) and its ReLU CNN twin, then export the SNN to NetX HDF5.

    python -m neuromap.train                       # digitnet on digits, seed 0, both twins
    python -m neuromap.train --kind snn --epochs 5 --name quick --resume
    python -m neuromap.train --model squeezenet_p --dataset cifar10 --data-dir data

Writes runs/<name>/ (config.json, metrics.json, snn.pt, cnn.pt, checkpoint/ for --resume)
and netx_models/<name>.net. Graph models (squeezenet, shufflenetv2, mnasnet, mixnet) are written in
the NetX graph extension (docs/netx-graph-format.md); `neuromap.deploy` runs them in Lava.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

import neuromap
from neuromap.data.datasets import DATASETS, load_dataset
from neuromap.data.digits import load_digits_split
from neuromap.data.encode import rate_encode
from neuromap.errors import HelpFormatter, NeuromapError, run_cli
from neuromap.outputs import check_file, check_folder
from neuromap.models import create_model, list_models
from neuromap.models.calibrate import set_surrogate_scales, set_surrogate_width, surrogate_scales
from neuromap.models.digitnet import DEFAULT_NEURON_PARAMS, topology_to_dicts
from neuromap.provenance import training_fingerprint, versions as _versions
from neuromap.models.checkpoint import (
    atomic_torch_save,
    atomic_write_json,
    safe_torch_load,
    save_checkpoint,
    snn_output_counts,
)

TEST_FRACTION = 0.25
PLANNED_DATASETS = ("nmnist", "mnist", "shd", "dvs_gesture")
DEFAULT_MODEL_KWARGS: dict[str, Any] = {"channels": [8, 16], "hidden": 64, "weight_scale": 2.0}
#: Per-model constructor arguments recorded in the run config (zoo models use their defaults).
MODEL_KWARGS: dict[str, dict[str, Any]] = {"digitnet": DEFAULT_MODEL_KWARGS}
#: Zoo SNNs get STEPS_PER_LAYER * depth + EXTRA_STEPS time steps by default. The first output spike
#: needs `depth` steps (one synaptic delay per layer) plus each layer's time to integrate to threshold:
#: calibrated at 0.1, the output first spikes at init at step 20 of squeezenet_p (11 layers), 45 of
#: squeezenet (19), 68 of mnasnet (27), so about 2.5 steps per layer; 3 per layer plus 3 leaves the
#: output some 15 steps to count. squeezenet_p: 0.978 after 20 epochs at T = 36 (0.95 at 28, 0.91 at
#: 23, where the output had 3 steps); the deep SNNs learn only with such windows (docs/models.md).
STEPS_PER_LAYER, EXTRA_STEPS = 3, 3
ENCODE_BATCH = 256
#: SLAYER SpikeRate targets: the true class should fire on half the steps, the others rarely.
TRUE_RATE, FALSE_RATE = 0.5, 0.05
#: Zoo SNNs are calibrated before training (neuromap.models.calibrate): every layer's weights are
#: scaled on the first CALIBRATE_SAMPLES training samples so it fires at CALIBRATE_RATE spikes per
#: neuron per step. Without it the activity of the 11- to 28-layer SNNs dies out with depth; denser
#: layers (0.2, 0.3) lose the class faster with depth, and the deep SNNs did not learn at 0.2.
CALIBRATE_RATE = 0.1
CALIBRATE_SAMPLES = 32
#: Zoo SNNs then get per-layer surrogate-gradient scales (neuromap.models.calibrate.balance_surrogate,
#: training only) from SURROGATE_ITERS backward passes on the first SURROGATE_SAMPLES training samples:
#: at the zoo's one scale for all layers the backward signal of the 11- to 34-layer SNNs spans 3.6 to 13.6
#: decades (benchmarks/surrogate_gain.py).
SURROGATE_SAMPLES, SURROGATE_ITERS = 64, 3
SURROGATE_BALANCE: dict[str, int] = {"samples": SURROGATE_SAMPLES, "iters": SURROGATE_ITERS}
#: The width of SLAYER's surrogate gradient (`tau_grad`; training only, so the exported network is the
#: same): SURROGATE_WIDTH (the zoo's and digitnet's neurons as built) unless WIDE_SURROGATE names the
#: family. The MBConv SNNs did not learn at 0.03 (docs/models.md, "Ablations of the MBConv SNNs").
SURROGATE_WIDTH = float(DEFAULT_NEURON_PARAMS["tau_grad"])
WIDE_SURROGATE: dict[str, float] = {"mixnet": 0.3, "mnasnet": 3.0}
#: What runs made before a config key existed were trained with, so they still match (--resume, the bench).
LEGACY_CONFIG: dict[str, Any] = {"surrogate_width": SURROGATE_WIDTH}
#: Adam's learning rate (cosine-decayed): LR for every CNN twin and digitnet's SNN, LR_ZOO_SNN for
#: the zoo's SNN twins. At 3e-3 the classifier of squeezenet_p's SNN died on seed 1 (0.24 after 20
#: epochs); at 1e-3 seeds 0, 1 and 2 reached 0.958, 0.927 and 0.956 (docs/models.md, "Seeds").
LR, LR_ZOO_SNN = 3e-3, 1e-3
#: The signal report (neuromap.models.signal: per-layer class separability, rates, latency) runs on the
#: first SIGNAL_SAMPLES training samples, at init and after training.
SIGNAL_SAMPLES = 128


def default_timesteps(depth: int | None) -> int:
    """The default --timesteps for an SNN of `depth` layers (None: digitnet)."""
    if depth is None:
        return 16
    return max(16, STEPS_PER_LAYER * depth + EXTRA_STEPS)


def default_lr(depth: int | None) -> dict[str, float]:
    """The default learning rate of each twin of a model whose SNN has `depth` layers (None: digitnet)."""
    return {"snn": LR if depth is None else LR_ZOO_SNN, "cnn": LR}


def default_surrogate(depth: int | None) -> dict[str, int] | None:
    """The default surrogate balancing of an SNN of `depth` layers (None: digitnet, not balanced)."""
    return None if depth is None else dict(SURROGATE_BALANCE)


def calibration_config(rate: float) -> dict[str, Any] | None:
    """The config entry of a calibration at `rate` spikes per neuron per step (0: none)."""
    return {"target_rate": rate, "samples": CALIBRATE_SAMPLES} if rate > 0 else None


def default_surrogate_width(model: str | None) -> float:
    """The default --surrogate-width (SLAYER's tau_grad) of `model`'s SNN."""
    return WIDE_SURROGATE.get(model or "", SURROGATE_WIDTH)


def default_recipe(depth: int | None, model: str | None = None) -> dict[str, Any]:
    """The config entries `main` fills in when their options are not given, for `model` whose SNN has
    `depth` layers (None: digitnet): window, learning rate, calibration, surrogate balancing and width."""
    return {"timesteps": default_timesteps(depth), "lr": default_lr(depth),
            "calibration": calibration_config(default_calibrate_rate(depth)),
            "surrogate_balance": default_surrogate(depth), "surrogate_width": default_surrogate_width(model)}


def config_value(config: dict[str, Any], key: str) -> Any:
    """config[key], or what runs made before `key` existed were trained with (LEGACY_CONFIG)."""
    return config[key] if key in config else LEGACY_CONFIG.get(key)


def default_calibrate_rate(depth: int | None) -> float:
    """The default --calibrate-rate for an SNN of `depth` layers (None: digitnet, not calibrated)."""
    return 0.0 if depth is None else CALIBRATE_RATE


#: Config keys that must match for --resume to continue a checkpoint (epochs may grow).
RESUME_KEYS = ("model", "dataset", "seed", "timesteps", "batch_size", "lr", "test_fraction",
               "model_kwargs", "loss", "encoding", "num_classes", "input_shape", "calibration", "surrogate_balance",
               "surrogate_width", "train_samples", "test_samples")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Parser(argparse.ArgumentParser):
    """argparse that raises NeuromapError (one line, exit 2) instead of printing usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise NeuromapError(f"{message} (see `python -m neuromap.train --help`)")


def _positive(kind: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a positive {kind.__name__}, got {text!r}") from None
        if not value > 0 or (isinstance(value, float) and not np.isfinite(value)):
            raise argparse.ArgumentTypeError(f"{what} must be a positive {kind.__name__}, got {text!r}")
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be a non-negative integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"seed must be in 0..2**32-1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The CLI of `python -m neuromap.train`."""
    p = _Parser(prog="python -m neuromap.train", description=__doc__.split("\n\n")[0],
                formatter_class=HelpFormatter)
    p.add_argument("--model", default="digitnet", help="registered model family (default: digitnet)")
    p.add_argument("--dataset", default="digits", help=f"dataset: {', '.join(DATASETS)} (default: digits)")
    p.add_argument("--data-dir", default="data",
                   help="folder holding cifar-10-batches-py/, cifar-100-python/ or tiny-imagenet-200/ (default: data)")
    p.add_argument("--download", action="store_true", help="let torchvision download CIFAR into --data-dir (needs internet)")
    p.add_argument("--kind", default="both", choices=("snn", "cnn", "both"), help="which twin(s) to train (default: both)")
    p.add_argument("--epochs", type=_positive(int, "--epochs"), default=20, help="training epochs per twin (default: %(default)s)")
    p.add_argument("--timesteps", type=_positive(int, "--timesteps"), default=None,
                   help=f"SNN time steps per sample (default: 16 for digitnet, {STEPS_PER_LAYER} x SNN depth + "
                        f"{EXTRA_STEPS} for zoo models)")
    p.add_argument("--batch-size", type=_positive(int, "--batch-size"), default=32, help="minibatch size (default: %(default)s)")
    p.add_argument("--lr", type=_positive(float, "--lr"), default=None,
                   help=f"Adam learning rate of both twins, cosine-decayed (default: {LR_ZOO_SNN} for the SNN "
                        f"twins of zoo models, {LR} for the others)")
    p.add_argument("--calibrate-rate", type=float, default=None,
                   help=f"SNN data-driven init: scale each layer's weights so it fires at this rate (spikes per "
                        f"neuron per step) on {CALIBRATE_SAMPLES} training samples; 0 turns it off "
                        f"(default: {CALIBRATE_RATE} for zoo SNNs, 0 for digitnet)")
    p.add_argument("--surrogate", choices=("balanced", "uniform"), default=None,
                   help=f"SNN surrogate-gradient scales: 'balanced' per layer before training, from "
                        f"{SURROGATE_ITERS} backward passes on {SURROGATE_SAMPLES} training samples, or 'uniform' "
                        f"as built (default: balanced for zoo SNNs, uniform for digitnet)")
    p.add_argument("--surrogate-width", type=_positive(float, "--surrogate-width"), default=None,
                   help=f"SNN surrogate-gradient width, SLAYER's tau_grad (training only; default: "
                        f"{', '.join(f'{v} for {k}' for k, v in sorted(WIDE_SURROGATE.items()))}, "
                        f"{SURROGATE_WIDTH} for the others)")
    p.add_argument("--seed", type=_seed, default=0, help="seed for the split, init and shuffling (default: %(default)s)")
    p.add_argument("--train-samples", type=_positive(int, "--train-samples"), default=None,
                   help="train on the first N samples of the (shuffled) training split only (default: all)")
    p.add_argument("--test-samples", type=_positive(int, "--test-samples"), default=None,
                   help="evaluate on the first N test samples only (default: all)")
    p.add_argument("--name", default=None, help="run name (default: <model>_<dataset>)")
    p.add_argument("--out", default="runs", help="runs root folder; the run goes to <out>/<name>/ (default: runs)")
    p.add_argument("--export", default=None, help="NetX file to write (default: netx_models/<name>.net)")
    p.add_argument("--resume", action="store_true",
                   help="continue from <out>/<name>/checkpoint/ when its config matches")
    p.add_argument("--no-progress", action="store_true", help="hide the per-epoch progress bars")
    return p


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    from neuromap.metrics.classification import macro_f1

    return macro_f1(y_true, y_pred, num_classes)


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    """A metrics row with its floats rounded to 5 decimals for metrics.json."""
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}


class _Twin:
    """Everything that differs between training the SNN and the CNN."""

    def __init__(self, kind: str, config: dict[str, Any], data: Any) -> None:
        self.kind = kind
        self.num_classes = int(config["num_classes"])
        if kind == "snn":
            from neuromap.models.digitnet import import_slayer

            slayer = import_slayer()
            self.timesteps, self.max_level = int(config["timesteps"]), int(data.max_level)
            self.x_train = torch.from_numpy(data.x_train)  # levels; spikes are encoded per batch
            self.x_test_levels = data.x_test
            self._loss = slayer.loss.SpikeRate(true_rate=TRUE_RATE, false_rate=FALSE_RATE, reduction="sum")
        else:
            self.x_train = torch.from_numpy(data.x_train.astype(np.float32) / data.max_level)
            self.x_test = torch.from_numpy(data.x_test.astype(np.float32) / data.max_level)
            self._loss = torch.nn.CrossEntropyLoss(reduction="sum")
        self.y_train = torch.from_numpy(data.y_train)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self._loss(output, target)

    def calibration_batch(self, n: int) -> torch.Tensor:
        """The first n training samples, rate-coded (the split is shuffled, so classes are mixed)."""
        levels = self.x_train[:n].numpy()
        return torch.from_numpy(rate_encode(levels, self.max_level, self.timesteps).astype(np.float32))

    def signal(self, model: torch.nn.Module) -> dict[str, Any]:
        """neuromap.models.signal report on the first SIGNAL_SAMPLES training samples, rounded."""
        from neuromap.models.signal import signal_report

        n = min(SIGNAL_SAMPLES, len(self.y_train))
        rep = signal_report(model, self.batch(torch.arange(n)), self.y_train[:n], self.num_classes, self.kind)
        return {"samples": rep["samples"], "chance": round(rep["chance"], 5),
                "layers": [_rounded(r) for r in rep["layers"]], "output": _rounded(rep["output"])}

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        """Model input for training rows `idx` (SNN: rate-coded spikes, encoded on the fly)."""
        if self.kind == "snn":
            levels = self.x_train[idx].numpy()
            return torch.from_numpy(rate_encode(levels, self.max_level, self.timesteps).astype(np.float32))
        return self.x_train[idx]

    def test_counts(self, model: torch.nn.Module) -> np.ndarray:
        """SNN output spike counts (N, classes) on the test set, encoded in chunks."""
        out = [snn_output_counts(model, rate_encode(self.x_test_levels[i:i + ENCODE_BATCH], self.max_level,
                                                    self.timesteps), batch_size=128)
               for i in range(0, len(self.x_test_levels), ENCODE_BATCH)]
        return np.concatenate(out, axis=0)

    def predict(self, output: torch.Tensor) -> torch.Tensor:
        """Predicted classes from a model output (SNN: summed output spikes, ties -> lowest index)."""
        if self.kind == "snn":
            return output.reshape(output.shape[0], self.num_classes, -1).sum(-1).argmax(dim=1)
        return output.argmax(dim=1)

    def predict_test(self, model: torch.nn.Module) -> np.ndarray:
        """Test-set predictions; SNN: argmax of summed output spikes (ties -> lowest index)."""
        if self.kind == "snn":
            return self.test_counts(model).argmax(axis=1)
        model.eval()
        with torch.no_grad():
            return np.concatenate([self.predict(model(self.x_test[i:i + ENCODE_BATCH])).numpy()
                                   for i in range(0, len(self.x_test), ENCODE_BATCH)])


def initial_model(kind: str, config: dict[str, Any], twin: _Twin,
                  calibrate: bool = True) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The `kind` twin as training starts: seeded init and, for an SNN whose config asks for them, the
    data-driven calibration and the surrogate balancing (neuromap.models.calibrate). Returns (model,
    {"calibration": per-layer report, "surrogate": per-round report}, each present only if done)."""
    _seed_everything(int(config["seed"]) + (0 if kind == "snn" else 1))
    model = create_model(config["model"], kind=kind, num_classes=config["num_classes"],
                         input_shape=tuple(config["input_shape"]), **config["model_kwargs"])
    reports: dict[str, Any] = {}
    if kind == "snn":  # not in the state dict: set on every build, resumed runs included
        set_surrogate_width(model, float(config_value(config, "surrogate_width")))
    if kind != "snn" or not calibrate:
        return model, reports
    from neuromap.models.calibrate import balance_surrogate, calibrate_snn

    calibration, balance = config.get("calibration"), config.get("surrogate_balance")
    if calibration:
        reports["calibration"] = calibrate_snn(model, twin.calibration_batch(int(calibration["samples"])),
                                               target_rate=float(calibration["target_rate"]))
    if balance:
        idx = torch.arange(min(int(balance["samples"]), len(twin.y_train)))
        was = model.training
        model.train()
        reports["surrogate"] = balance_surrogate(model, twin.batch(idx), twin.y_train[idx], twin.loss,
                                                 iters=int(balance["iters"]))
        model.train(was)
    return model, reports


def _train_twin(kind: str, config: dict[str, Any], data: Any, run_dir: Path, resume: bool,
                progress: bool) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train one twin with per-epoch checkpoints in run_dir/checkpoint/; returns (model, metrics)."""
    from tqdm import tqdm

    twin = _Twin(kind, config, data)
    resuming = resume and (run_dir / "checkpoint" / f"{kind}.pt").is_file()
    t0 = time.perf_counter()
    model, init_report = initial_model(kind, config, twin, calibrate=not resuming)
    train_seconds = time.perf_counter() - t0 if init_report else 0.0  # calibration is training cost
    base_lr = float(config["lr"][kind])
    optimizer = torch.optim.Adam(model.parameters(), lr=base_lr)
    generator = torch.Generator().manual_seed(int(config["seed"]))
    epochs = int(config["epochs"])
    ckpt_path = run_dir / "checkpoint" / f"{kind}.pt"
    start_epoch = 0
    history: list[dict[str, Any]] = []  # per epoch: mean train loss and accuracy (on the fly), test accuracy
    signal_init = None if resuming else twin.signal(model)
    if resuming:
        state = safe_torch_load(ckpt_path)
        model.load_state_dict(state["model"])
        if "surrogate_scales" in state:  # training-only neuron settings, not in the state dict
            set_surrogate_scales(model, [float(v) for v in state["surrogate_scales"]])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        start_epoch, train_seconds = int(state["epoch"]), float(state["train_seconds"])
        history = list(state.get("history", []))
        if start_epoch > epochs:
            raise NeuromapError(f"the {kind} checkpoint in {ckpt_path.parent} already has {start_epoch} epochs, "
                                f"more than --epochs {epochs}; pass --epochs {start_epoch} or more, or drop --resume")
        print(f"{kind}: resuming after epoch {start_epoch}/{epochs}", file=sys.stderr)

    def set_lr(epoch: int) -> None:  # cosine schedule, a function of the epoch so resume is exact
        lr = float(0.5 * base_lr * (1 + np.cos(np.pi * epoch / epochs)))
        for group in optimizer.param_groups:
            group["lr"] = lr

    n = len(twin.y_train)
    bs = int(config["batch_size"])
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        set_lr(epoch)
        model.train()
        order = torch.randperm(n, generator=generator)
        total, correct = 0.0, 0
        with tqdm(total=(n + bs - 1) // bs, desc=f"{kind} epoch {epoch + 1}/{epochs}", unit="batch",
                  disable=not progress, file=sys.stderr, dynamic_ncols=True, mininterval=0.5) as bar:
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                output = model(twin.batch(idx))
                loss = twin.loss(output, twin.y_train[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
                correct += int((twin.predict(output.detach()) == twin.y_train[idx]).sum())
                bar.set_postfix(loss=f"{total / min(n, start + bs):.4f}", refresh=False)
                bar.update(1)
            acc = float((twin.predict_test(model) == data.y_test).mean())
            bar.set_postfix(loss=f"{total / n:.4f}", test_acc=f"{acc:.3f}")
        train_seconds += time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "train_loss": round(total / n, 5), "train_accuracy": round(correct / n, 5),
                        "test_accuracy": round(acc, 5)})
        state = {"epoch": epoch + 1, "train_seconds": train_seconds, "model": model.state_dict(),
                 "optimizer": optimizer.state_dict(), "generator": generator.get_state(), "history": history}
        if kind == "snn":
            state["surrogate_scales"] = surrogate_scales(model)
        atomic_torch_save(ckpt_path, state)
    pred = twin.predict_test(model)
    metrics = {
        "test_accuracy": float((pred == data.y_test).mean()),
        "test_macro_f1": _macro_f1(data.y_test, pred, twin.num_classes),
        "epochs": epochs,
        "train_seconds": round(train_seconds, 2),
        "history": history,
    }
    if signal_init is not None:
        metrics["signal_init"] = signal_init
    metrics["signal"] = twin.signal(model)
    if kind == "snn":
        counts = twin.test_counts(model)
        metrics["test_tie_fraction"] = float(((counts == counts.max(1, keepdims=True)).sum(1) > 1).mean())
        metrics["test_mean_output_spikes"] = float(counts.sum(1).mean())
        if "calibration" in init_report:
            metrics["calibration"] = [_rounded(r) for r in init_report["calibration"]]
        if "surrogate" in init_report:
            rounds = init_report["surrogate"]

            def sig4(values: list[float]) -> list[float]:  # values spanning decades: 4 significant digits
                return [float(f"{v:.4g}") for v in values]

            metrics["surrogate"] = {"grad_rms_before": sig4(rounds[0]["grad_rms"]),
                                    "grad_rms_after": sig4(rounds[-1]["grad_rms"]),
                                    "scales": sig4(rounds[-1]["scales"])}
    return model, metrics


def signal_summary(signal: dict[str, Any], timesteps: int | None) -> str:
    """One line from a signal report: class separability at the first layer, the last layer and the
    output against chance, and (SNN) when the output first spikes."""
    layers = signal["layers"]
    sep = [r["class_separability"] for r in layers]
    text = (f"class separability {sep[0]:.2f} (first layer) -> {sep[-1]:.2f} (last layer), output "
            f"{signal['output']['class_separability']:.2f}, chance {signal['chance']:.2f}") if sep else "no layers"
    if timesteps is not None:
        first = signal["output"].get("first_spike_step")
        text += ("; output silent on most samples" if first is None
                 else f"; output first spikes at step {first} of {timesteps}")
    return text


def _check_resume(run_dir: Path, config: dict[str, Any], resume: bool) -> bool:
    """Whether to resume; refuses a checkpoint whose config differs."""
    ckpt_cfg_path = run_dir / "checkpoint" / "config.json"
    wanted = {k: config[k] for k in RESUME_KEYS}
    if not resume:
        return False
    if not ckpt_cfg_path.is_file():
        print(f"no checkpoint in {run_dir}/checkpoint/; training from scratch", file=sys.stderr)
        return False
    try:
        found = json.loads(ckpt_cfg_path.read_text())
    except ValueError:
        raise NeuromapError(f"{ckpt_cfg_path} is corrupt; rerun without --resume to start over") from None
    diff = sorted(k for k in RESUME_KEYS if config_value(found, k) != wanted[k])
    if diff:
        detail = ", ".join(f"{k}: {config_value(found, k)!r} -> {wanted[k]!r}" for k in diff)
        raise NeuromapError(f"cannot --resume {run_dir}: the checkpoint was trained with a different config "
                            f"({detail}); rerun without --resume, or use another --name")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m neuromap.train`; returns the exit code."""
    args = build_parser().parse_args(argv)
    wall0 = time.perf_counter()
    if args.dataset not in DATASETS:
        hint = " is not available yet" if args.dataset.lower() in PLANNED_DATASETS else " is unknown"
        raise NeuromapError(f"dataset {args.dataset!r}{hint}; available datasets: {', '.join(DATASETS)}")
    if args.model not in list_models():
        raise NeuromapError(f"unknown model {args.model!r}; known models: {', '.join(list_models())}")
    name = args.name or f"{args.model}_{args.dataset}"
    if not _NAME_RE.match(name):
        raise NeuromapError(f"--name {name!r} must be letters, digits, '_', '-' or '.' (no path separators)")
    run_dir = (Path(args.out) / name).resolve()
    export_path = Path(args.export if args.export else Path("netx_models") / f"{name}.net").resolve()
    check_folder(Path(args.out), "--out")
    check_folder(run_dir, "--out")
    check_file(export_path, "--export", not_inside=run_dir / "checkpoint")

    kinds = ["snn", "cnn"] if args.kind == "both" else [args.kind]
    model_kwargs = dict(MODEL_KWARGS.get(args.model, {}))
    # One intra-op thread: these ops are tiny, and on a shared 2-core VM a second OpenMP thread
    # measured slower (busy-wait barriers stall when the other core is taken).
    torch.set_num_threads(1)
    if args.dataset == "digits":
        data = load_digits_split(seed=args.seed, test_fraction=TEST_FRACTION)
    else:
        data = load_dataset(args.dataset, args.data_dir, seed=args.seed, test_fraction=TEST_FRACTION,
                            download=args.download)
    if args.train_samples or args.test_samples:
        from neuromap.data.digits import DigitsSplit

        ntr, nte = args.train_samples or len(data.y_train), args.test_samples or len(data.y_test)
        data = DigitsSplit(data.x_train[:ntr], data.y_train[:ntr], data.x_test[:nte], data.y_test[:nte],
                           num_classes=data.num_classes, max_level=data.max_level)
    probe = create_model(args.model, kind="cnn", num_classes=data.num_classes, input_shape=data.input_shape,
                         **model_kwargs)
    if hasattr(probe, "depth"):
        depth = int(probe.depth)
    else:
        depth = sum(1 for spec in probe.topology if getattr(spec, "kind", "") != "flatten")
    zoo_depth = depth if hasattr(probe, "depth") else None
    recipe = default_recipe(zoo_depth, args.model)  # what the options not given default to
    if args.timesteps is None:
        args.timesteps = recipe["timesteps"]
    lr = recipe["lr"] if args.lr is None else {"snn": args.lr, "cnn": args.lr}
    if args.surrogate is None:
        args.surrogate = "balanced" if recipe["surrogate_balance"] else "uniform"
    if args.surrogate_width is None:
        args.surrogate_width = recipe["surrogate_width"]
    do_export = "snn" in kinds
    if args.calibrate_rate is None:
        args.calibrate_rate = default_calibrate_rate(zoo_depth)
    if not 0.0 <= args.calibrate_rate < 1.0:
        raise NeuromapError(f"--calibrate-rate must be in [0, 1) spikes per neuron per step, got {args.calibrate_rate}")
    if "snn" in kinds:
        if args.timesteps <= depth:
            raise NeuromapError(f"--timesteps {args.timesteps} is too short: the {depth}-layer SNN needs {depth} "
                                f"steps before its first output spike; use --timesteps 16 or more")

    config: dict[str, Any] = {
        "name": name, "model": args.model, "dataset": args.dataset, "kind": args.kind,
        "epochs": args.epochs, "timesteps": args.timesteps, "batch_size": args.batch_size, "lr": lr,
        "seed": args.seed, "test_fraction": TEST_FRACTION, "optimizer": "adam", "lr_schedule": "cosine",
        "train_samples": args.train_samples, "test_samples": args.test_samples,
        "loss": {"snn": f"slayer.loss.SpikeRate(true_rate={TRUE_RATE}, false_rate={FALSE_RATE}, reduction='sum')",
                 "cnn": "cross_entropy"},
        "calibration": calibration_config(args.calibrate_rate),
        "surrogate_balance": dict(SURROGATE_BALANCE) if args.surrogate == "balanced" else None,
        "surrogate_width": args.surrogate_width,
        "encoding": "rate", "max_level": data.max_level, "num_classes": data.num_classes,
        "input_shape": list(data.input_shape), "model_kwargs": model_kwargs,
        "run_dir": str(run_dir), "export": str(export_path) if do_export else None,
        "data_dir": str(args.data_dir) if args.dataset != "digits" else None,
        "versions": _versions(), "fingerprint": training_fingerprint(),
        "argv": list(sys.argv[1:] if argv is None else argv),
    }
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NeuromapError(f"cannot create run folder {run_dir} ({exc.strerror}); pick another --out") from None
    resume = _check_resume(run_dir, config, args.resume)
    atomic_write_json(run_dir / "checkpoint" / "config.json", {k: config[k] for k in RESUME_KEYS})

    metrics: dict[str, Any] = {}
    models: dict[str, torch.nn.Module] = {}
    for kind in kinds:
        models[kind], metrics[kind] = _train_twin(kind, config, data, run_dir, resume, not args.no_progress)
        if hasattr(models[kind], "depth"):
            config["topology"] = models[kind].topology
        elif hasattr(models[kind], "topology"):
            config["topology"] = topology_to_dicts(models[kind].topology)
        save_checkpoint(run_dir, models[kind], config)
    if do_export:
        models["snn"].export_hdf5(export_path, {
            "name": name, "model": args.model, "kind": "snn", "dataset": args.dataset,
            "num_classes": data.num_classes, "input_shape": list(data.input_shape),
            "timesteps": args.timesteps, "encoding": "rate", "max_level": data.max_level,
            "seed": args.seed, "test_fraction": TEST_FRACTION, "run_dir": str(run_dir),
            "test_accuracy": metrics["snn"]["test_accuracy"],
            "neuromap_version": neuromap.__version__,
            "lava_dl_version": config["versions"]["lava-dl"], "torch_version": torch.__version__,
        })
    metrics["wall_seconds"] = round(time.perf_counter() - wall0, 2)
    metrics["threads"] = torch.get_num_threads()
    atomic_write_json(run_dir / "metrics.json", metrics)

    for kind in kinds:
        m = metrics[kind]
        print(f"{kind}: test accuracy {m['test_accuracy']:.4f}  macro-F1 {m['test_macro_f1']:.4f}  "
              f"({m['epochs']} epochs, {m['train_seconds']:.1f} s)")
        print(f"{kind}: {signal_summary(m['signal'], args.timesteps if kind == 'snn' else None)}")
    print(f"run folder: {run_dir}")
    if do_export:
        print(f"netx model: {export_path}")
    print(f"wall time: {metrics['wall_seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
