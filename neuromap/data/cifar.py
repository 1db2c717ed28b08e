"""CIFAR-10 / CIFAR-100 in their official "python version" on-disk format (pickled batches).

Put the extracted archives under the data folder: <data_dir>/cifar-10-batches-py/ or
<data_dir>/cifar-100-python/ (what torchvision's download writes). Nothing is downloaded unless the
caller passes download=True (the train CLI's --download, through torchvision, which checks the
archive's md5).

The batch files are Python pickles, and unpickling can run any code a file names. They are read
with :class:`SafeUnpickler`, which rebuilds only what the official files hold (dicts, lists,
strings, bytes, numbers and numpy arrays) and refuses any other global, so a crafted batch is
refused before anything in it runs.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from neuromap.data.digits import DigitsSplit
from neuromap.errors import NeuromapError

FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
FILES = {"cifar10": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels"),
         "cifar100": (["train"], ["test"], "fine_labels")}
URL = "https://www.cs.toronto.edu/~kriz/"
#: The globals a pickled numpy array needs (numpy 1.x and 2.x module names), and nothing else.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
#: Largest batch file read (the official ones are about 31 MB, CIFAR-100's train file 155 MB).
MAX_BYTES = 400 * 1024 * 1024


class SafeUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def safe_load(path: Path) -> Any:
    """Read one pickled batch with :class:`SafeUnpickler`; any problem is one NeuromapError."""
    if not path.is_file():
        raise NeuromapError(f"{path} is missing")
    if path.stat().st_size > MAX_BYTES:
        raise NeuromapError(f"{path} is larger than any CIFAR batch; re-extract the archive")
    try:
        with open(path, "rb") as fh:
            return SafeUnpickler(fh, encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise NeuromapError(f"{path} is not a CIFAR batch ({exc}); it holds more than plain data and "
                            f"was not read, re-extract the official archive from {URL}") from None
    except Exception as exc:  # truncated or corrupt pickles raise EOFError, ValueError, ...
        raise NeuromapError(f"{path} is unreadable ({type(exc).__name__}: {str(exc)[:100]}); "
                            f"re-extract the official archive from {URL}") from None


def _field(entry: Any, key: str, path: Path) -> Any:
    if not isinstance(entry, dict):
        raise NeuromapError(f"{path} holds a {type(entry).__name__}, not a CIFAR batch dict; "
                            f"re-extract the archive")
    for k in (key, key.encode()):
        if k in entry:
            return entry[k]
    raise NeuromapError(f"{path} has no '{key}' entry; re-extract the archive")


def _read(files: list[str], folder: Path, label_key: str, classes: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for name in files:
        path = folder / name
        entry = safe_load(path)
        data = _field(entry, "data", path)
        labels = _field(entry, label_key, path)
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or \
                data.shape[1] != 3072:
            raise NeuromapError(f"{path}: 'data' must be uint8 rows of 3072 values; re-extract it")
        try:
            y = np.asarray(labels, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError, OverflowError):
            raise NeuromapError(f"{path}: '{label_key}' must be a list of class numbers") from None
        if y.shape[0] != data.shape[0] or (y.size and (y.min() < 0 or y.max() >= classes)):
            raise NeuromapError(f"{path}: '{label_key}' must give one class in 0..{classes - 1} "
                                f"per row")
        xs.append(data.reshape(-1, 3, 32, 32))  # each row: 1024 R, then G, then B, row-major
        ys.append(y)
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def load_cifar(name: str, data_dir: str | Path, download: bool = False) -> DigitsSplit:
    """Train/test split of CIFAR-10/100 as uint8 levels 0..255 (N, 3, 32, 32) and int64 labels."""
    if name not in FOLDERS:
        raise NeuromapError(f"unknown CIFAR variant {name!r}; use cifar10 or cifar100")
    root = Path(data_dir).expanduser()
    folder = root / FOLDERS[name]
    train_files, test_files, label_key = FILES[name]
    if download:
        import torchvision

        base = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        try:
            base(str(root), train=True, download=True)  # verifies md5 of the official archive
        except (RuntimeError, OSError) as exc:
            raise NeuromapError(f"{name} download into {root} failed ({exc}); download the "
                                f"python-version archive from {URL} by hand") from None
    missing = [f for f in train_files + test_files if not (folder / f).is_file()]
    if missing:
        raise NeuromapError(
            f"{name} not found in {folder} (missing {', '.join(missing[:3])}); put the extracted "
            f"python-version archive from {URL} there (or pass --download when online)")
    x_train, y_train = _read(train_files, folder, label_key, NUM_CLASSES[name])
    x_test, y_test = _read(test_files, folder, label_key, NUM_CLASSES[name])
    return DigitsSplit(x_train, y_train, x_test, y_test, num_classes=NUM_CLASSES[name], max_level=255)
