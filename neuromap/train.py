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
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

import neuromap
from neuromap import distributed
from neuromap.data.datasets import DATASETS, load_dataset
from neuromap.data.digits import DigitsSplit, load_digits_split
from neuromap.data.encode import rate_encode
from neuromap.errors import HelpFormatter, NeuromapError, run_cli
from neuromap.metrics.classification import macro_f1
from neuromap.models import create_model, get_recipe, list_models
from neuromap.models.calibrate import (
    balance_surrogate, calibrate_snn, set_surrogate_scales, set_surrogate_width, surrogate_scales)
from neuromap.models.checkpoint import (
    atomic_torch_save, atomic_write_bytes, atomic_write_json, safe_torch_load, save_checkpoint,
    snn_output_counts)
from neuromap.models.convert import convert, relu_twin
from neuromap.models.digitnet import import_slayer, topology_to_dicts
from neuromap.models.norm import apply_thresholds, attach_norm, ChannelNorm, fold_norm, has_norm
from neuromap.models.recipe import DEEP_ZOO_RECIPE, LOSSES, NORMS, validate_recipe, window, ZOO_RECIPE
from neuromap.models.signal import signal_report
from neuromap.netx.export import export_netx
from neuromap.outputs import check_file, check_folder
from neuromap.provenance import training_fingerprint, versions as _versions

TEST_FRACTION = 0.25
PLANNED_DATASETS = ("nmnist", "mnist", "shd", "dvs_gesture")
DEFAULT_MODEL_KWARGS: dict[str, Any] = {"channels": [8, 16], "hidden": 64, "weight_scale": 2.0}
#: Per-model constructor arguments recorded in the run config (zoo models use their defaults).
MODEL_KWARGS: dict[str, dict[str, Any]] = {"digitnet": DEFAULT_MODEL_KWARGS}
ENCODE_BATCH = 256
#: SLAYER SpikeRate targets (recipe loss "spike_rate"): the true class should fire on half the steps,
#: the others rarely.
TRUE_RATE, FALSE_RATE = 0.5, 0.05
#: The signal report (neuromap.models.signal: per-layer class separability, rates, latency) runs on the
#: first SIGNAL_SAMPLES training samples, at init and after training.
SIGNAL_SAMPLES = 128
#: Config keys that must match for --resume to continue a checkpoint (epochs may grow).
RESUME_KEYS = ("model", "dataset", "seed", "timesteps", "test_fraction", "model_kwargs", "recipe", "train_samples",
               "test_samples", "encoding",
               "num_classes", "input_shape", "world_size", "amp")
#: What a checkpoint written before a key existed stands for (one process, full precision).
RESUME_DEFAULTS: dict[str, Any] = {"world_size": 1, "amp": False}
#: Entries every per-twin training checkpoint (checkpoint/<kind>.pt) holds.
CHECKPOINT_KEYS = ("epoch", "train_seconds", "model", "optimizer", "generator", "history")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def network_depth(model: torch.nn.Module) -> int:
    """Neuron layers on the longest path of a twin (the SNN's pipeline latency in steps)."""
    if hasattr(model, "depth"):
        return int(model.depth)
    return sum(1 for spec in model.topology if getattr(spec, "kind", "") != "flatten")


def tet_loss(output: torch.Tensor, target: torch.Tensor, depth: int, gain: float) -> torch.Tensor:
    """Per-step cross-entropy on the readout's running spike rate (TET, Deng et al., ICLR 2022, on
    spike counts): at every step t >= depth (the first `depth` output steps cannot hold a spike: one
    synaptic step per layer), logits = gain x (spikes so far since step `depth`) / (steps so far); the
    mean over those steps, summed over the batch. A silent readout gives uniform logits, whose loss
    still pulls the true class up, so the loss cannot fall silent."""
    out = output.reshape(output.shape[0], -1, output.shape[-1])
    T = out.shape[-1]
    first = min(int(depth), T - 1)
    counts = torch.cumsum(out[..., first:], dim=-1)
    steps = torch.arange(1, T - first + 1, device=out.device, dtype=out.dtype)
    logits = gain * counts / steps  # (N, classes, T')
    ce = torch.nn.functional.cross_entropy(logits, target[:, None].expand(-1, logits.shape[-1]), reduction="none")
    return ce.mean(dim=1).sum()


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


def _recipe_item(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--recipe takes KEY=VALUE (VALUE in JSON), got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value  # a bare word such as tdbn


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
                   help="SNN time steps per sample (default: the family's recipe window, e.g. "
                        f"{ZOO_RECIPE['window']['per_layer']} x SNN depth + {ZOO_RECIPE['window']['extra']} for "
                        f"the SqueezeNets and ShuffleNetV2, {DEEP_ZOO_RECIPE['window']['per_layer']} x depth + "
                        f"{DEEP_ZOO_RECIPE['window']['extra']} for mnasnet and mixnet, 16 for digitnet)")
    p.add_argument("--lr", type=_positive(float, "--lr"), default=None,
                   help="Adam learning rate of both twins, cosine-decayed (default: the recipe's)")
    p.add_argument("--batch-size", type=_positive(int, "--batch-size"), default=None,
                   help="minibatch size (default: the recipe's, 32)")
    p.add_argument("--norm", choices=NORMS, default=None,
                   help="SNN per-channel normalisation of the integrated current (default: the recipe's: tdbn "
                        "for the zoo, none for digitnet)")
    p.add_argument("--loss", choices=LOSSES, default=None,
                   help="SNN loss (default: the recipe's: tet for the zoo, spike_rate for digitnet)")
    p.add_argument("--recipe", type=_recipe_item, action="append", default=[], metavar="KEY=VALUE",
                   help="override one recipe entry (VALUE in JSON; dotted keys reach into dicts, e.g. "
                        "window.extra=4, fold_epochs=0, surrogate_width=0.3); see docs/models.md")
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
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to train: auto = a GPU when CUDA is available (under torchrun cuda:LOCAL_RANK "
                        "with NCCL), else the CPU (gloo under torchrun)")
    p.add_argument("--amp", action="store_true",
                   help="float16 autocast with a gradient scaler (CUDA only; off by default, see docs/training.md)")
    return p


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:

    return macro_f1(y_true, y_pred, num_classes)


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    """A metrics row with its floats rounded to 5 decimals for metrics.json."""
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}


class _Twin:
    """Everything that differs between training the SNN and the CNN: data encoding, loss, prediction.
    `config` needs num_classes, recipe and (SNN) timesteps and depth."""

    def __init__(self, kind: str, config: dict[str, Any], data: Any) -> None:
        self.kind = kind
        self.config, self.data = config, data
        self.num_classes = int(config["num_classes"])
        self.recipe = config["recipe"]
        if kind == "snn":

            slayer = import_slayer()
            self.timesteps, self.max_level = int(config["timesteps"]), int(data.max_level)
            self.depth = int(config["depth"])
            self.x_train = torch.from_numpy(data.x_train)  # levels; spikes are encoded per batch
            self.x_test_levels = data.x_test
            self._spike_rate = slayer.loss.SpikeRate(true_rate=TRUE_RATE, false_rate=FALSE_RATE, reduction="sum")
        else:
            self.x_train = torch.from_numpy(data.x_train.astype(np.float32) / data.max_level)
            self.x_test = torch.from_numpy(data.x_test.astype(np.float32) / data.max_level)
            self._ce = torch.nn.CrossEntropyLoss(reduction="sum")
        self.y_train = torch.from_numpy(data.y_train)

    def loss(self, output: torch.Tensor, target: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """The recipe's loss, summed over the batch; `depth`: the SNN's (default: the config's)."""
        if self.kind == "cnn":
            return self._ce(output, target)
        if self.recipe["loss"] == "tet":
            return tet_loss(output, target, self.depth if depth is None else depth, float(self.recipe["loss_gain"]))
        return self._spike_rate(output, target)

    def calibration_batch(self, n: int) -> torch.Tensor:
        """The first n training samples, rate-coded (the split is shuffled, so classes are mixed)."""
        levels = self.x_train[:n].numpy()
        return torch.from_numpy(rate_encode(levels, self.max_level, self.timesteps).astype(np.float32))

    def signal(self, model: torch.nn.Module) -> dict[str, Any]:
        """neuromap.models.signal report on the first SIGNAL_SAMPLES training samples, rounded."""

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


def prepare_snn(model: torch.nn.Module, recipe: dict[str, Any]) -> None:
    """What the recipe sets on an SNN twin as built, before weights are loaded or trained: the
    surrogate width (training only, not in the state dict) and the normalisation modules."""

    set_surrogate_width(model, float(recipe["surrogate_width"]))
    if recipe.get("convert") is not None:  # conversion's biases and thresholds live in folded norms

        if not hasattr(model, "units"):
            raise NeuromapError(f"recipe key 'convert' needs a zoo model; {type(model).__name__} has no zoo units "
                                f"(use --recipe convert=null)")
        if not has_norm(model):
            attach_norm(model, folded=True)
    elif recipe["norm"] == "tdbn":
        if not hasattr(model, "units"):
            raise NeuromapError(f"recipe norm 'tdbn' needs a zoo model; {type(model).__name__} has no zoo units "
                                f"(use --norm none)")
        attach_norm(model)


def initial_model(kind: str, config: dict[str, Any], twin: _Twin,
                  calibrate: bool = True) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The `kind` twin as training starts: seeded init, the recipe's normalisation and, for an SNN whose
    recipe asks for them, the data-driven calibration and the surrogate balancing
    (neuromap.models.calibrate). Returns (model, {"calibration": per-layer report, "surrogate":
    per-round report}, each present only if done)."""
    _seed_everything(int(config["seed"]) + (0 if kind == "snn" else 1))
    model = create_model(config["model"], kind=kind, num_classes=config["num_classes"],
                         input_shape=tuple(config["input_shape"]), **config["model_kwargs"])
    reports: dict[str, Any] = {}
    if kind != "snn":
        return model, reports
    recipe = config["recipe"]
    prepare_snn(model, recipe)
    if not calibrate:
        return model, reports
    return model, init_snn(model, twin, recipe)


def init_snn(model: torch.nn.Module, twin: _Twin, recipe: dict[str, Any],
             only: Sequence[torch.nn.Module] | None = None,
             depth: int | None = None) -> dict[str, Any]:
    """The recipe's data-driven SNN init (neuromap.models.calibrate): calibration of every layer, or of
    the layers inside `only`, then per-layer surrogate balancing with the recipe's loss (`depth`: the
    SNN's, default the twin's). Returns {"calibration": ..., "surrogate": ...}, each present only if done."""

    reports: dict[str, Any] = {}
    if recipe.get("convert") is not None:
        reports["convert"] = convert_snn(model, twin, recipe)
    calibration, balance = recipe["calibration"], recipe["surrogate_balance"]
    if calibration:
        reports["calibration"] = calibrate_snn(model, twin.calibration_batch(int(calibration["samples"])),
                                               target_rate=float(calibration["target_rate"]), only=only)
    if balance:
        idx = torch.arange(min(int(balance["samples"]), len(twin.y_train)))
        was = model.training
        model.train()
        reports["surrogate"] = balance_surrogate(model, twin.batch(idx), twin.y_train[idx],
                                                 lambda out, target: twin.loss(out, target, depth),
                                                 iters=int(balance["iters"]))
        model.train(was)
    return reports


def fit_relu_twin(twin: _Twin, recipe: dict[str, Any], ann: torch.nn.Module | None = None,
                  ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train the ReLU twin (neuromap.models.convert.relu_twin) of the run's family for the recipe's
    `convert.ann_epochs` on the SNN's training data, seeded from the run's seed; `ann`: a ReLU twin to
    go on training instead of a fresh one. Returns it and {"history", "test_accuracy"}."""

    cfg = twin.config
    _seed_everything(int(cfg["seed"]) + 2)
    if ann is None:
        ann = relu_twin(create_model(cfg["model"], kind="cnn", num_classes=cfg["num_classes"],
                                     input_shape=tuple(cfg["input_shape"]), **cfg["model_kwargs"]))
    ctwin = _Twin("cnn", cfg, twin.data)
    history, _ = fit_twin(ann, ctwin, int(recipe["convert"]["ann_epochs"]), float(recipe["lr"]["cnn"]),
                          int(recipe["batch_size"]), int(cfg["seed"]) + 2)
    return ann, {"history": history, "test_accuracy": float((ctwin.predict_test(ann) == twin.data.y_test).mean())}


def convert_snn(model: torch.nn.Module, twin: _Twin, recipe: dict[str, Any],
                ann: torch.nn.Module | None = None) -> dict[str, Any]:
    """The recipe's conversion init (neuromap.models.convert): convert the trained ReLU twin `ann`
    (default: one fitted here by fit_relu_twin) into `model` and measure the converted SNN on the
    test set. Returns the ReLU twin's report (when fitted here), the per-layer conversion and
    rate-balancing reports, and the converted SNN's test accuracy."""

    conv = recipe["convert"]
    out: dict[str, Any] = {}
    if ann is None:
        with distributed.alone():  # under torchrun only rank 0 runs the init
            ann, out["relu_twin"] = fit_relu_twin(twin, recipe)
    n = min(int(conv["samples"]), len(twin.y_train))
    nb = min(int(conv["balance_samples"]), len(twin.y_train))
    rates = twin.x_train[:n].float() / twin.max_level
    out.update(convert(model, ann, rates, twin.batch(torch.arange(nb)), float(conv["percentile"]),
                       balance=nb > 0))
    out["test_accuracy"] = float((twin.predict_test(model) == twin.data.y_test).mean())
    return out


def fit_twin(model: torch.nn.Module, twin: _Twin, epochs: int, lr: float, batch_size: int, seed: int,
             fold_epochs: int = 0, progress: bool = False, ckpt_path: Path | None = None,
             resume_state: dict[str, Any] | None = None, train_seconds: float = 0.0,
             evaluate: Callable[[torch.nn.Module], float] | None = None,
             on_epoch: Callable[[list[dict[str, Any]]], None] | None = None,
             amp: bool = False) -> tuple[list[dict[str, Any]], float]:
    """Fit one twin: Adam, cosine-decayed per epoch from `lr`, minibatches in a seeded order. An SNN
    with a normalisation trains its last `fold_epochs` epochs folded (neuromap.models.norm.fold_norm:
    folded after max(1, epochs - fold_epochs) epochs, so always after the last), so the model returned
    is the one that exports.
    Per epoch the history gets the mean training loss, the on-the-fly training accuracy and
    `evaluate(model)` (test accuracy) when given; with `ckpt_path` each epoch is checkpointed there
    and `resume_state` (such a checkpoint) continues one; `on_epoch(history)` after each epoch.
    Returns (history, training seconds).

    Under torchrun (neuromap.distributed) every rank runs this with the same model: each global batch
    of `batch_size` is sharded over the ranks, DistributedDataParallel sums the gradients (so the step
    is the one process's), the epoch's metrics are summed over the ranks, and rank 0 alone shows the
    progress bar and writes the checkpoint, which holds every rank's RNG states. `amp`: float16
    autocast with a gradient scaler, CUDA only."""
    from tqdm import tqdm



    ctx = distributed.context()
    device = ctx.device
    progress = progress and ctx.is_main
    depth = network_depth(model)
    normed = twin.kind == "snn" and has_norm(model)
    fold_at = max(1, epochs - fold_epochs)  # folded after this many epochs (at least one with batch statistics)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    # the same permutation on every rank: each takes its share of every global batch
    generator = torch.Generator().manual_seed(int(seed))
    scaler = torch.cuda.amp.GradScaler(enabled=amp)
    start_epoch = 0
    history: list[dict[str, Any]] = []
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        generator.set_state(resume_state["generator"])
        start_epoch = int(resume_state["epoch"])
        history = list(resume_state.get("history", []))
        if "scaler" in resume_state:
            scaler.load_state_dict(resume_state["scaler"])
        if "rng" in resume_state:  # each rank's global RNG streams as they were after that epoch
            distributed.set_rng_state(resume_state["rng"][ctx.rank])
    elif ctx.rank > 0:  # each rank its own global random streams (rank 0 keeps the one-process ones)
        _seed_everything(distributed.rank_seed(seed))
    net = distributed.wrap(model)  # DistributedDataParallel under torchrun, else the model itself
    distributed.sync_batchnorm(model)  # batch statistics over the global batch, as in one process

    def set_lr(epoch: int) -> float:  # cosine schedule, a function of the epoch so resume is exact
        value = float(0.5 * lr * (1 + np.cos(np.pi * epoch / epochs)))
        for group in optimizer.param_groups:
            group["lr"] = value
        return value

    def fold() -> None:
        nonlocal optimizer, net
        fold_norm(model)
        # the weights changed scale: start Adam's moments afresh (the parameters are the same objects)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        net = distributed.wrap(model)  # folding changes which parameters take part

    n = len(twin.y_train)
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        epoch_lr = set_lr(epoch)
        model.train()
        order = torch.randperm(n, generator=generator)
        total, correct = 0.0, 0
        with tqdm(total=(n + batch_size - 1) // batch_size, desc=f"{twin.kind} epoch {epoch + 1}/{epochs}",
                  unit="batch", disable=not progress, file=sys.stderr, dynamic_ncols=True, mininterval=0.5) as bar:
            for start in range(0, n, batch_size):
                idx = distributed.shard(order[start:start + batch_size])
                # a rank left without samples by a short last batch still steps in the collective:
                # it runs one sample with its loss weighted 0
                weight = 1.0 if len(idx) else 0.0
                idx = idx if len(idx) else order[start:start + 1]
                target = twin.y_train[idx].to(device)
                with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                    output = net(twin.batch(idx).to(device))
                    loss = twin.loss(output, target, depth) if twin.kind == "snn" else twin.loss(output, target)
                if weight == 0.0:
                    loss = loss * 0.0
                optimizer.zero_grad()
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                total += float(loss.detach())
                correct += int((twin.predict(output.detach()) == target).sum()) if weight else 0
                if progress:
                    bar.set_postfix(loss=f"{total * ctx.world_size / min(n, start + batch_size):.4f}", refresh=False)
                bar.update(1)
            if ctx.active:
                if normed:  # the SNN's ChannelNorm keeps per-rank running statistics
                    distributed.average_buffers(model)
                total, correct = distributed.sum_across([total, correct])
                correct = int(correct)
            if normed and epoch + 1 >= fold_at and not _is_folded(model):
                fold()  # before the epoch is measured and checkpointed, so --resume continues folded
            entry = {"epoch": epoch + 1, "lr": epoch_lr, "train_loss": round(total / n, 5),
                     "train_accuracy": round(correct / n, 5)}
            if evaluate is not None:
                entry["test_accuracy"] = round(float(evaluate(model)), 5)
                bar.set_postfix(loss=f"{total / n:.4f}", test_acc=f"{entry['test_accuracy']:.3f}")
        train_seconds += time.perf_counter() - t0
        history.append(entry)
        if ckpt_path is not None:
            rng = distributed.gather_rng_states()
            if ctx.is_main:
                state = {"epoch": epoch + 1, "train_seconds": train_seconds, "model": _cpu(model.state_dict()),
                         "optimizer": _cpu(optimizer.state_dict()), "generator": generator.get_state(),
                         "history": history, "rng": rng, "world_size": ctx.world_size}
                if amp:
                    state["scaler"] = scaler.state_dict()
                if twin.kind == "snn":
                    state["surrogate_scales"] = surrogate_scales(model)
                atomic_torch_save(ckpt_path, state)
            distributed.barrier()  # no rank runs ahead of a checkpoint that is not yet on disk
        if on_epoch is not None and ctx.is_main:
            on_epoch(history)
    if normed and not _is_folded(model):  # a resumed run that had already reached its epochs
        fold()
    distributed.unsync_batchnorm(model)
    return history, train_seconds


def _cpu(obj: Any) -> Any:
    """A (nested) state dict with its tensors on the CPU, for a checkpoint that loads anywhere."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def _test_outputs(twin: _Twin, model: torch.nn.Module) -> np.ndarray:
    """On the whole test set: SNN output spike counts (N, classes); CNN predicted classes (N,). Under
    torchrun each rank computes a contiguous slice (same chunks as one process) and all get the whole."""

    ctx = distributed.context()
    if not ctx.active and ctx.device.type == "cpu":
        return twin.test_counts(model) if twin.kind == "snn" else twin.predict_test(model)
    n = len(twin.x_test_levels) if twin.kind == "snn" else len(twin.x_test)
    lo, hi = distributed.span(n)
    parts: list[np.ndarray] = []
    if twin.kind == "snn":
        for i in range(lo, hi, ENCODE_BATCH):
            spikes = rate_encode(twin.x_test_levels[i:min(i + ENCODE_BATCH, hi)], twin.max_level, twin.timesteps)
            parts.append(snn_output_counts(model, spikes, batch_size=128))
        part = np.concatenate(parts) if parts else np.zeros((0, twin.num_classes), dtype=np.int64)
    else:
        model.eval()
        with torch.no_grad():
            for i in range(lo, hi, ENCODE_BATCH):
                parts.append(twin.predict(model(twin.x_test[i:min(i + ENCODE_BATCH, hi)].to(ctx.device))).cpu().numpy())
        part = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return np.concatenate(distributed.all_gather(part))


def _test_predictions(twin: _Twin, model: torch.nn.Module) -> np.ndarray:
    """Predicted test classes (SNN: argmax of the output spike counts, ties -> lowest index)."""
    out = _test_outputs(twin, model)
    return out.argmax(axis=1) if twin.kind == "snn" else out


class _EpochLog:
    """Per-epoch metrics of a run: <run>/metrics.csv (every twin's history so far, rewritten atomically
    each epoch, so a resumed run holds each epoch once) and TensorBoard event files in
    <run>/tensorboard/<twin>/ (torch.utils.tensorboard; a resumed twin's writer purges the steps
    after its checkpoint, which a killed run may have logged)."""

    COLUMNS = ("twin", "epoch", "lr", "train_loss", "train_accuracy", "test_accuracy")

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "metrics.csv"
        self.tb_dir = run_dir / "tensorboard"
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.writers: dict[str, Any] = {}

    def rows(self, kind: str, history: list[dict[str, Any]]) -> None:
        """Set `kind`'s history and rewrite the CSV."""
        import csv
        import io

        self.histories[kind] = list(history)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for twin, hist in self.histories.items():
            for entry in hist:
                writer.writerow({"twin": twin, **entry})
        atomic_write_bytes(self.path, buf.getvalue().encode())

    def epoch(self, kind: str, history: list[dict[str, Any]]) -> None:
        """One finished epoch (history[-1]): the CSV and the TensorBoard scalars."""
        self.rows(kind, history)
        entry = history[-1]
        writer = self._writer(kind, int(entry["epoch"]))
        if writer is None:
            return
        step = int(entry["epoch"])
        for key, tag in (("train_loss", "train/loss"), ("train_accuracy", "train/accuracy"),
                         ("test_accuracy", "test/accuracy"), ("lr", "lr")):
            if key in entry:
                writer.add_scalar(tag, float(entry[key]), step)
        writer.flush()

    def _writer(self, kind: str, first_step: int) -> Any:
        if kind not in self.writers:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # the tensorboard package is missing: metrics.csv only
                self.writers[kind] = None
                print("tensorboard is not installed: per-epoch metrics go to metrics.csv only "
                      "(pip install -r requirements.txt)", file=sys.stderr)
                return None
            self.writers[kind] = SummaryWriter(str(self.tb_dir / kind), purge_step=first_step)
        return self.writers[kind]

    def close(self) -> None:
        for writer in self.writers.values():
            if writer is not None:
                writer.close()


def _is_folded(model: torch.nn.Module) -> bool:

    return all(m.is_folded for m in model.modules() if isinstance(m, ChannelNorm))


def _train_twin(kind: str, config: dict[str, Any], data: Any, run_dir: Path, resume: bool,
                progress: bool, on_epoch: Callable[[list[dict[str, Any]]], None] | None = None,
                amp: bool = False) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train one twin with per-epoch checkpoints in run_dir/checkpoint/; returns (model, metrics).
    Under torchrun: rank 0 reads the checkpoint and does the data-driven init, every rank gets the
    result; the test set is split over the ranks and the predictions gathered."""

    ctx = distributed.context()
    twin = _Twin(kind, config, data)
    recipe = config["recipe"]
    ckpt_path = run_dir / "checkpoint" / f"{kind}.pt"
    # the run folder may live on rank 0's node only: it reads, every rank gets the state
    state = distributed.on_main(lambda: safe_torch_load(ckpt_path) if resume and ckpt_path.is_file() else None)
    resuming = state is not None
    t0 = time.perf_counter()
    model, init_report = initial_model(kind, config, twin, calibrate=not resuming and ctx.is_main)
    train_seconds = time.perf_counter() - t0 if init_report else 0.0  # calibration is training cost
    epochs = int(config["epochs"])
    signal_init = None if resuming or not ctx.is_main else twin.signal(model)
    model.to(ctx.device)  # (NCCL broadcasts GPU tensors)
    if ctx.active and kind == "snn" and not resuming:  # the init computed once, on rank 0
        distributed.broadcast_module(model)
        apply_thresholds(model)  # a converted SNN's thresholds live in its norms' state
        set_surrogate_scales(model, distributed.broadcast_object(surrogate_scales(model)))
    if resuming:
        model.load_state_dict(state["model"])
        apply_thresholds(model)
        if "surrogate_scales" in state:  # training-only neuron settings, not in the state dict
            set_surrogate_scales(model, [float(v) for v in state["surrogate_scales"]])
        train_seconds = float(state["train_seconds"])
        if ctx.is_main:
            print(f"{kind}: resuming after epoch {state['epoch']}/{epochs}", file=sys.stderr)
    history, train_seconds = fit_twin(
        model, twin, epochs, float(recipe["lr"][kind]), int(recipe["batch_size"]), int(config["seed"]),
        fold_epochs=int(recipe["fold_epochs"]) if kind == "snn" else 0, progress=progress, ckpt_path=ckpt_path,
        resume_state=state, train_seconds=train_seconds, on_epoch=on_epoch, amp=amp,
        evaluate=lambda m: float((_test_predictions(twin, m) == data.y_test).mean()))
    counts = _test_outputs(twin, model) if kind == "snn" else None
    pred = counts.argmax(axis=1) if counts is not None else _test_outputs(twin, model)
    metrics = {
        "test_accuracy": float((pred == data.y_test).mean()),
        "test_macro_f1": _macro_f1(data.y_test, pred, twin.num_classes),
        "epochs": epochs,
        "train_seconds": round(train_seconds, 2),
        "history": history,
    }
    if signal_init is not None:
        metrics["signal_init"] = signal_init
    model.cpu()  # the run folder's state dicts and the NetX export are CPU tensors
    if ctx.is_main:  # the signal report: rank 0 alone
        metrics["signal"] = twin.signal(model)
    if counts is not None:
        metrics["test_tie_fraction"] = float(((counts == counts.max(1, keepdims=True)).sum(1) > 1).mean())
        metrics["test_mean_output_spikes"] = float(counts.sum(1).mean())
        if "convert" in init_report:
            metrics["convert"] = init_report["convert"]
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


def _check_resume(run_dir: Path, config: dict[str, Any], resume: bool, kinds: Sequence[str] = ("snn", "cnn")) -> bool:
    """Whether to resume: refuses (NeuromapError, nothing written) a missing or corrupt checkpoint, one
    trained with a different config (model, recipe, world size, ...) and a twin checkpoint that does
    not load into this config's model."""
    if not resume:
        return False
    ckpt_cfg_path = run_dir / "checkpoint" / "config.json"
    if not ckpt_cfg_path.is_file():
        raise NeuromapError(f"--resume: there is no checkpoint in {run_dir}/checkpoint/ (no config.json); "
                            f"drop --resume to train from scratch, or pass the --out/--name of the killed run")
    try:
        found = json.loads(ckpt_cfg_path.read_text())
    except (ValueError, UnicodeDecodeError):
        found = None
    if not isinstance(found, dict):
        raise NeuromapError(f"{ckpt_cfg_path} is corrupt; rerun without --resume to start over")
    wanted = {k: config[k] for k in RESUME_KEYS}
    diff = sorted(k for k in RESUME_KEYS if found.get(k, RESUME_DEFAULTS.get(k)) != wanted[k])
    if diff:
        detail = ", ".join(f"{k}: {found.get(k, RESUME_DEFAULTS.get(k))!r} -> {wanted[k]!r}" for k in diff)
        hint = (f"relaunch with {found.get('world_size', 1)} process(es) in all (torchrun --nnodes x "
                f"--nproc_per_node), " if "world_size" in diff else "")
        raise NeuromapError(f"cannot --resume {run_dir}: the checkpoint was trained with a different config "
                            f"({detail}); {hint}rerun without --resume, or use another --name")
    for kind in kinds:
        path = run_dir / "checkpoint" / f"{kind}.pt"
        if path.is_file():
            _check_twin_checkpoint(path, kind, config)
    return True


def _check_twin_checkpoint(path: Path, kind: str, config: dict[str, Any]) -> None:
    """Refuse a per-twin checkpoint that is corrupt, incomplete, from another world size, past --epochs,
    or whose weights do not fit this config's model."""
    state = safe_torch_load(path)
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise NeuromapError(f"{path} is not a training checkpoint (lacks {', '.join(missing)}); "
                            f"rerun without --resume to start over")
    world = int(state.get("world_size", 1))
    if world != int(config["world_size"]) or len(state.get("rng", [None] * world)) != world:
        raise NeuromapError(f"{path} was written by {world} process(es), this run has {config['world_size']}; "
                            f"relaunch with {world} in all, or rerun without --resume")
    epochs = int(config["epochs"])
    if int(state["epoch"]) > epochs:
        raise NeuromapError(f"the {kind} checkpoint in {path.parent} already has {state['epoch']} epochs, "
                            f"more than --epochs {epochs}; pass --epochs {state['epoch']} or more, or drop --resume")
    model = create_model(config["model"], kind=kind, num_classes=config["num_classes"],
                         input_shape=tuple(config["input_shape"]), **config["model_kwargs"])
    if kind == "snn":
        prepare_snn(model, config["recipe"])
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NeuromapError(f"{path} does not hold this config's {config['model']} {kind} weights ({first}); "
                            f"rerun without --resume, or use another --name") from None


def resolve_recipe(model: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The registered recipe of `model` with `overrides` applied (dotted keys reach into dicts),
    checked (neuromap.models.recipe.validate_recipe): a bad value raises NeuromapError naming the key."""

    recipe = get_recipe(model)
    for key, value in (overrides or {}).items():
        head, _, tail = key.partition(".")
        if head not in recipe:
            validate_recipe({**recipe, head: value})  # names the unknown key and the allowed ones
        if tail:
            if not isinstance(recipe[head], dict) or tail not in recipe[head]:
                raise NeuromapError(f"recipe key {key!r} is unknown; {head!r} has: "
                                    f"{', '.join(recipe[head]) if isinstance(recipe[head], dict) else 'no sub-keys'}")
            recipe[head][tail] = value
        else:
            recipe[head] = value
    return validate_recipe(recipe)


def fit_run(model: str, dataset: str = "digits", *, kind: str = "both", epochs: int = 20, seed: int = 0,
            name: str | None = None, out: str | Path = "runs", export: str | Path | None = None,
            data_dir: str | Path = "data", download: bool = False, resume: bool = False, progress: bool = True,
            timesteps: int | None = None, overrides: dict[str, Any] | None = None, data: Any = None,
            argv: Sequence[str] = (), train_samples: int | None = None,
            test_samples: int | None = None, amp: bool = False) -> dict[str, Any]:
    """Fit the twins of a registered family with its recipe (plus `overrides`), the one function the
    train, bench and prune CLIs use: writes <out>/<name>/ (config.json, metrics.json, snn.pt, cnn.pt,
    checkpoint/) and the SNN's NetX file. `data`: an already loaded split (else loaded here). Returns
    {"config", "metrics", "models", "run_dir", "export"}. Bad input raises NeuromapError before any
    training starts. Under torchrun (neuromap.distributed.setup() called first) every rank calls it and
    rank 0 alone writes; `amp`: float16 autocast on CUDA."""

    ctx = distributed.context()
    wall0 = time.perf_counter()
    if dataset not in DATASETS:
        hint = " is not available yet" if dataset.lower() in PLANNED_DATASETS else " is unknown"
        raise NeuromapError(f"dataset {dataset!r}{hint}; available datasets: {', '.join(DATASETS)}")
    if model not in list_models():
        raise NeuromapError(f"unknown model {model!r}; known models: {', '.join(list_models())}")
    recipe = resolve_recipe(model, overrides)
    name = name or f"{model}_{dataset}"
    if not _NAME_RE.match(name):
        raise NeuromapError(f"--name {name!r} must be letters, digits, '_', '-' or '.' (no path separators)")
    run_dir = (Path(out) / name).resolve()
    export_path = Path(export if export else Path("netx_models") / f"{name}.net").resolve()
    if amp and ctx.device.type != "cuda":
        raise NeuromapError("--amp (float16 autocast) needs a CUDA device; drop --amp on CPU")
    distributed.on_main(lambda: (check_folder(Path(out), "--out"), check_folder(run_dir, "--out"),
                                 check_file(export_path, "--export", not_inside=run_dir / "checkpoint")) and None)
    kinds = ["snn", "cnn"] if kind == "both" else [kind]
    model_kwargs = dict(MODEL_KWARGS.get(model, {}))
    # One intra-op thread: these ops are tiny, and on a shared 2-core VM a second OpenMP thread
    # measured slower (busy-wait barriers stall when the other core is taken).
    torch.set_num_threads(1)
    if data is None:
        if download and ctx.active and dataset != "digits":  # one rank downloads, then all read
            distributed.on_main(lambda: load_dataset(dataset, data_dir, seed=seed, test_fraction=TEST_FRACTION,
                                                     download=True) and None)
        if dataset == "digits":
            data = load_digits_split(seed=seed, test_fraction=TEST_FRACTION)
        else:
            data = load_dataset(dataset, data_dir, seed=seed, test_fraction=TEST_FRACTION, download=download)
    if train_samples or test_samples:

        ntr, nte = train_samples or len(data.y_train), test_samples or len(data.y_test)
        data = DigitsSplit(data.x_train[:ntr], data.y_train[:ntr], data.x_test[:nte], data.y_test[:nte],
                           num_classes=data.num_classes, max_level=data.max_level)
    probe = create_model(model, kind="cnn", num_classes=data.num_classes, input_shape=data.input_shape,
                         **model_kwargs)
    depth = network_depth(probe)
    if recipe["norm"] == "tdbn" and not hasattr(probe, "units"):
        raise NeuromapError(f"recipe key 'norm' must be 'none' for {model} (its SNN has no zoo units), got 'tdbn'")
    if timesteps is None:
        timesteps = window(recipe, depth)
    if "snn" in kinds and timesteps <= depth:
        raise NeuromapError(f"--timesteps {timesteps} is too short: the {depth}-layer SNN needs {depth} "
                            f"steps before its first output spike; use --timesteps {window(recipe, depth)}")
    do_export = "snn" in kinds
    config: dict[str, Any] = {
        "name": name, "model": model, "dataset": dataset, "kind": kind, "epochs": int(epochs),
        "timesteps": int(timesteps), "depth": depth, "recipe": recipe, "seed": int(seed),
        "test_fraction": TEST_FRACTION, "optimizer": "adam", "lr_schedule": "cosine",
        "train_samples": train_samples, "test_samples": test_samples,
        "batch_size": recipe["batch_size"], "lr": recipe["lr"],
        "loss": {"snn": recipe["loss"], "cnn": "cross_entropy"},
        "encoding": "rate", "max_level": data.max_level, "num_classes": data.num_classes,
        "input_shape": list(data.input_shape), "model_kwargs": model_kwargs,
        "run_dir": str(run_dir), "export": str(export_path) if do_export else None,
        "data_dir": str(data_dir) if dataset != "digits" else None,
        "versions": _versions(), "fingerprint": training_fingerprint(), "argv": list(argv),
        "world_size": ctx.world_size, "device": ctx.device.type, "amp": bool(amp),
    }

    def prepare() -> bool:
        resuming = _check_resume(run_dir, config, resume, kinds)  # before anything is written
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NeuromapError(f"cannot create run folder {run_dir} ({exc.strerror}); pick another --out") from None
        atomic_write_json(run_dir / "checkpoint" / "config.json", {k: config[k] for k in RESUME_KEYS})
        return resuming

    resuming = distributed.on_main(prepare)  # rank 0 alone writes
    log = _EpochLog(run_dir) if ctx.is_main else None

    metrics: dict[str, Any] = {}
    models: dict[str, torch.nn.Module] = {}
    try:
        for k in kinds:
            models[k], metrics[k] = _train_twin(k, config, data, run_dir, resuming, progress, amp=amp,
                                                on_epoch=None if log is None else partial(log.epoch, k))
            if hasattr(models[k], "depth"):
                config["topology"] = models[k].topology
            elif hasattr(models[k], "topology"):
                config["topology"] = topology_to_dicts(models[k].topology)
            if log is not None:
                log.rows(k, metrics[k]["history"])
                save_checkpoint(run_dir, models[k], config)
    finally:
        if log is not None:
            log.close()
    if not ctx.is_main:
        return {"config": config, "metrics": metrics, "models": models, "run_dir": run_dir,
                "export": export_path if do_export else None}
    if do_export:
        export_netx(models["snn"], export_path, {
            "name": name, "model": model, "kind": "snn", "dataset": dataset,
            "num_classes": data.num_classes, "input_shape": list(data.input_shape),
            "timesteps": int(timesteps), "encoding": "rate", "max_level": data.max_level,
            "seed": int(seed), "test_fraction": TEST_FRACTION, "run_dir": str(run_dir),
            "test_accuracy": metrics["snn"]["test_accuracy"],
            "neuromap_version": neuromap.__version__,
            "lava_dl_version": config["versions"]["lava-dl"], "torch_version": torch.__version__,
        })
    metrics["wall_seconds"] = round(time.perf_counter() - wall0, 2)
    metrics["threads"] = torch.get_num_threads()
    atomic_write_json(run_dir / "metrics.json", metrics)
    return {"config": config, "metrics": metrics, "models": models, "run_dir": run_dir,
            "export": export_path if do_export else None}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m neuromap.train`; returns the exit code."""

    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = dict(args.recipe)
    if args.lr is not None:
        overrides["lr"] = {"snn": args.lr, "cnn": args.lr}
    for key in ("batch_size", "norm", "loss"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    ctx = distributed.setup(args.device)  # joins torchrun's process group, if launched by torchrun
    try:
        res = fit_run(args.model, args.dataset, kind=args.kind, epochs=args.epochs, seed=args.seed, name=args.name,
                      out=args.out, export=args.export, data_dir=args.data_dir, download=args.download,
                      resume=args.resume, progress=not args.no_progress, timesteps=args.timesteps,
                      overrides=overrides, argv=list(sys.argv[1:] if argv is None else argv),
                      train_samples=args.train_samples, test_samples=args.test_samples, amp=args.amp)
    except NeuromapError:
        if not ctx.is_main:  # every rank raised the same error: rank 0 prints it
            raise SystemExit(2) from None
        raise
    finally:
        distributed.shutdown()
    if not ctx.is_main:
        return 0
    metrics, config = res["metrics"], res["config"]
    for kind in (["snn", "cnn"] if args.kind == "both" else [args.kind]):
        m = metrics[kind]
        print(f"{kind}: test accuracy {m['test_accuracy']:.4f}  macro-F1 {m['test_macro_f1']:.4f}  "
              f"({m['epochs']} epochs, {m['train_seconds']:.1f} s)")
        print(f"{kind}: {signal_summary(m['signal'], config['timesteps'] if kind == 'snn' else None)}")
    print(f"run folder: {res['run_dir']}")
    if res["export"] is not None:
        print(f"netx model: {res['export']}")
    print(f"wall time: {metrics['wall_seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
