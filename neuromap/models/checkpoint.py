"""Run-folder checkpoints: state dicts + config.json, loaded back with `weights_only=True`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from neuromap.errors import NeuromapError
from neuromap.models import create_model
from neuromap.models.norm import apply_thresholds, attach_norm
from neuromap.outputs import atomic_path, write_bytes, write_json
from neuromap.passes import eval_mode

CONFIG_FILE = "config.json"


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` through a temp file in the same folder and os.replace."""
    return write_bytes(path, data)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON (no NaN) to `path` atomically."""
    return write_json(path, obj, sort_keys=True)


def atomic_torch_save(path: str | Path, obj: Any) -> Path:
    """torch.save `obj` to `path` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def safe_torch_load(path: str | Path) -> Any:
    """torch.load with weights_only=True (never unpickles code); errors become NeuromapError."""
    path = Path(path)
    if not path.is_file():
        raise NeuromapError(f"checkpoint {path} does not exist; train first with `python -m neuromap.train`")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, foreign pickle, truncated write
        raise NeuromapError(f"checkpoint {path} could not be loaded ({type(exc).__name__}: {exc}); retrain it") from None


def save_checkpoint(run_dir: str | Path, model: torch.nn.Module, config: Mapping[str, Any]) -> Path:
    """Save `model`'s state dict as <run_dir>/<kind>.pt and `config` as <run_dir>/config.json.

    The kind ("snn" or "cnn") is `config["kind"]` when given, else inferred from the model.
    """
    run_dir = Path(run_dir)
    inferred = getattr(model, "kind", None)
    if inferred not in ("snn", "cnn"):
        inferred = "snn" if hasattr(model, "blocks") else "cnn"
    kind = str(config.get("kind", inferred))
    if kind not in ("snn", "cnn"):
        kind = str(inferred)
    path = atomic_torch_save(run_dir / f"{kind}.pt", model.state_dict())
    atomic_write_json(run_dir / CONFIG_FILE, dict(config))
    return path


def load_config(run_dir: str | Path) -> dict[str, Any]:
    """Read <run_dir>/config.json."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise NeuromapError(f"{path} does not exist; pass a run folder written by `python -m neuromap.train`")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise NeuromapError(f"{path} is not valid JSON ({exc}); retrain to rewrite it") from None


def build_from_config(config: Mapping[str, Any], kind: str) -> torch.nn.Module:
    """Instantiate the `kind` twin described by a run config (no weights loaded)."""
    try:
        return create_model(
            config["model"],
            kind=kind,
            num_classes=int(config["num_classes"]),
            input_shape=tuple(config["input_shape"]),
            **dict(config.get("model_kwargs", {})),
        )
    except KeyError as exc:
        raise NeuromapError(f"run config lacks {exc}; retrain with `python -m neuromap.train`") from None


def load_snn_from_run(run_dir: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the trained SNN of a run folder (config.json + snn.pt) in eval mode."""
    config = load_config(run_dir)
    model = build_from_config(config, "snn")
    recipe = config.get("recipe") or {}
    normed = recipe.get("norm") == "tdbn" or recipe.get("convert") is not None
    if normed:  # folded norms: their state (bias, thresholds, shortcut gains) is in snn.pt
        attach_norm(model, folded=True)
    state = safe_torch_load(Path(run_dir) / "snn.pt")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        raise NeuromapError(f"{run_dir}/snn.pt does not match its config.json ({exc}); retrain") from None
    if normed:
        apply_thresholds(model)
    model.eval()
    return model, config


def snn_output_spikes(model: torch.nn.Module, spikes: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Output spikes (N, num_classes, T) uint8 of `model` for spikes (N, C, H, W, T); eval, no grad."""
    spikes = np.asarray(spikes)
    if spikes.ndim != 5:
        raise NeuromapError(f"expected spikes shaped (N, C, H, W, T), got {spikes.shape}")
    outs: list[np.ndarray] = []
    device = next(model.parameters(), torch.empty(0)).device  # the model's (a GPU under torchrun)
    with eval_mode(model):
        for start in range(0, len(spikes), max(1, int(batch_size))):
            x = torch.from_numpy(spikes[start:start + batch_size].astype(np.float32)).to(device)
            out = model(x)
            outs.append(out.reshape(out.shape[0], -1, out.shape[-1]).round().to(torch.uint8).cpu().numpy())
    if not outs:
        return np.zeros((0, int(getattr(model, "num_classes", 0)), spikes.shape[-1]), dtype=np.uint8)
    return np.concatenate(outs, axis=0)


def snn_output_counts(model: torch.nn.Module, spikes: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Output spike counts (N, num_classes) int64 of `model` for spikes (N, C, H, W, T); eval, no grad."""
    return snn_output_spikes(model, spikes, batch_size).sum(axis=-1, dtype=np.int64)
