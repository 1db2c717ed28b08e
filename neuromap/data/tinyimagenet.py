"""TinyImageNet-200 from its published folder layout (64 x 64 RGB, 200 classes).

    <data_dir>/tiny-imagenet-200/wnids.txt
    <data_dir>/tiny-imagenet-200/train/<wnid>/images/*.JPEG
    <data_dir>/tiny-imagenet-200/val/images/*.JPEG + val/val_annotations.txt  (file, wnid, box)

`data_dir` may also be the tiny-imagenet-200 folder itself. The labelled val set is the test split
(the official test set has no labels). Classes are numbered in wnids.txt order.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neuromap.data.digits import DigitsSplit
from neuromap.errors import NeuromapError

FOLDER = "tiny-imagenet-200"
SIZE = 64
URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"


def _root(data_dir: str | Path) -> Path:
    d = Path(data_dir).expanduser()
    for cand in (d / FOLDER, d):
        if (cand / "wnids.txt").is_file():
            return cand
    raise NeuromapError(f"TinyImageNet not found: expected {d / FOLDER}/wnids.txt; unzip {URL} into {d}")


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if img.size != (SIZE, SIZE):
                img = img.resize((SIZE, SIZE), Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    except OSError as exc:
        raise NeuromapError(f"cannot read image {path} ({exc}); re-extract TinyImageNet") from None


def load_tinyimagenet(data_dir: str | Path) -> DigitsSplit:
    """Train/val split as uint8 levels 0..255 (N, 3, 64, 64) and int64 labels (wnids.txt order)."""
    root = _root(data_dir)
    wnids = [w.strip() for w in (root / "wnids.txt").read_text().split() if w.strip()]
    if not wnids:
        raise NeuromapError(f"{root / 'wnids.txt'} lists no classes; re-extract TinyImageNet")
    index = {w: i for i, w in enumerate(wnids)}
    xs, ys = [], []
    for wnid in wnids:
        folder = root / "train" / wnid / "images"
        if not folder.is_dir():
            raise NeuromapError(f"TinyImageNet train folder {folder} is missing; re-extract {URL}")
        for f in sorted(folder.glob("*.JPEG")):
            xs.append(_read(f))
            ys.append(index[wnid])
    ann = root / "val" / "val_annotations.txt"
    if not ann.is_file():
        raise NeuromapError(f"{ann} is missing; re-extract {URL}")
    xv, yv = [], []
    for line_no, line in enumerate(ann.read_text().splitlines(), 1):
        parts = line.split("\t")
        if not line.strip():
            continue
        if len(parts) < 2 or parts[1] not in index:
            raise NeuromapError(f"{ann}:{line_no}: expected '<file>\\t<wnid>\\t...' with a wnid from wnids.txt")
        xv.append(_read(root / "val" / "images" / parts[0]))
        yv.append(index[parts[1]])
    if not xs or not xv:
        raise NeuromapError(f"TinyImageNet under {root} has no train or val images; re-extract {URL}")
    return DigitsSplit(np.stack(xs), np.asarray(ys, dtype=np.int64), np.stack(xv), np.asarray(yv, dtype=np.int64),
                       num_classes=len(wnids), max_level=255)
