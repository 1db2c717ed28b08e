"""Training is reproducible: the same command, seed and thread count in two fresh processes gives
bit-identical weights (checkpoints and the exported NetX file)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from helpers import h5_datasets

ROOT = Path(__file__).resolve().parents[1]


def _train(where: Path) -> Path:
    where.mkdir()
    cmd = [sys.executable, "-m", "neuromap.train", "--model", "digitnet", "--epochs", "1",
           "--train-samples", "96", "--test-samples", "32", "--seed", "3", "--name", "r",
           "--out", str(where / "runs"), "--export", str(where / "r.net"), "--no-progress"]
    p = subprocess.run(cmd, cwd=where, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr[-2000:]
    return where


def test_same_seed_same_weights_bit_for_bit(tmp_path: Path) -> None:
    a, b = _train(tmp_path / "a"), _train(tmp_path / "b")
    for kind in ("snn", "cnn"):
        sa = torch.load(a / "runs" / "r" / f"{kind}.pt", weights_only=True)
        sb = torch.load(b / "runs" / "r" / f"{kind}.pt", weights_only=True)
        assert sa.keys() == sb.keys() and len(sa) > 2
        for k in sa:
            assert sa[k].dtype == sb[k].dtype and sa[k].numpy().tobytes() == sb[k].numpy().tobytes(), k
    da, db = h5_datasets(a / "r.net"), h5_datasets(b / "r.net")
    assert da.keys() == db.keys() and any(k.endswith("weight") for k in da)
    assert all(da[k] == db[k] for k in da if "metadata" not in k)
