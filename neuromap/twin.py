"""The CNN twin of a deployed SNN: its accuracy and 45 nm energy, where the run folder that
trained the SNN (recorded in the NetX file's metadata) still holds it.

On digits the twin is evaluated on the same test samples the deployment ran; on other datasets
its accuracy is the one its run recorded in metrics.json (over that run's test split)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .data.digits import load_digits_split
from .errors import NeuromapError
from .graph import NetworkGraph
from .metrics.energy import PRESETS, energy_mj


def cnn_twin(graph: NetworkGraph, samples: int) -> dict[str, Any] | None:
    """``{"run_dir", "accuracy", "accuracy_correct", "accuracy_samples", "accuracy_source",
    "macs", "energy_fp32_uj", "energy_int8_uj", "presets"}``, or None when the network was not
    trained by neuromap or its run folder no longer holds the CNN twin."""
    meta = graph.meta.get("neuromap", {})
    run_dir = Path(str(meta.get("run_dir", "")))
    if not meta.get("run_dir") or not (run_dir / "cnn.pt").is_file() or not (run_dir / "config.json").is_file():
        return None
    # torch (through the model metrics and checkpoints) only for a network whose run folder holds
    # a CNN twin: deploy on a plain NetX or NIR file never imports it
    import torch

    from .metrics import count_macs  # torch, as above
    from .models.checkpoint import build_from_config, load_config, safe_torch_load  # torch, as above

    config = load_config(run_dir)
    cnn = build_from_config(config, "cnn")
    try:
        cnn.load_state_dict(safe_torch_load(run_dir / "cnn.pt"))
    except (RuntimeError, TypeError) as exc:
        raise NeuromapError(f"{run_dir}/cnn.pt does not match its config.json ({exc}); retrain the "
                            f"run or move it away") from None
    cnn.eval()
    macs = float(count_macs(cnn, tuple(config["input_shape"]))["total"])
    out: dict[str, Any] = {"run_dir": str(run_dir), "macs": macs,
                           "energy_fp32_uj": energy_mj(macs, 0.0, "fp32") * 1e3,
                           "energy_int8_uj": energy_mj(macs, 0.0, "int8") * 1e3,
                           "presets": {k: {"mac_pj": p.mac_pj, "ac_pj": p.ac_pj, "source": p.source}
                                       for k, p in PRESETS.items()}}
    if meta.get("dataset") == "digits":
        split = load_digits_split(seed=int(meta.get("seed", 0)))
        n = min(samples, len(split.y_test))
        x = torch.from_numpy(split.x_test[:n].astype(np.float32) / split.max_level)
        with torch.no_grad():
            pred = cnn(x).argmax(dim=1).numpy()
        correct = int(np.sum(pred == split.y_test[:n]))
        out.update(accuracy=correct / n, accuracy_correct=correct, accuracy_samples=n,
                   accuracy_source="the same test samples as the SNN")
        return out
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        acc = float(metrics["cnn"]["test_accuracy"])
    except (OSError, ValueError, KeyError, TypeError):
        acc = None
    out.update(accuracy=acc, accuracy_correct=None, accuracy_samples=config.get("test_samples"),
               accuracy_source="the run's metrics.json (its own test split)")
    return out
