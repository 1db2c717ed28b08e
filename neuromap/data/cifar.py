"""CIFAR-10 / CIFAR-100 through torchvision's on-disk format (python pickle batches).

Put the extracted archives under the data folder: <data_dir>/cifar-10-batches-py/ or
<data_dir>/cifar-100-python/ (what torchvision's download writes). Nothing is downloaded unless the
caller passes download=True (the train CLI's --download).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neuromap.data.digits import DigitsSplit
from neuromap.errors import NeuromapError

FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
URL = "https://www.cs.toronto.edu/~kriz/"


def load_cifar(name: str, data_dir: str | Path, download: bool = False) -> DigitsSplit:
    """Train/test split of CIFAR-10/100 as uint8 levels 0..255 (N, 3, 32, 32) and int64 labels."""
    import torchvision

    if name not in FOLDERS:
        raise NeuromapError(f"unknown CIFAR variant {name!r}; use cifar10 or cifar100")
    root = Path(data_dir).expanduser()
    base = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100

    class Reader(base):  # type: ignore[misc, valid-type]
        """torchvision's reader; presence of every batch file replaces its md5 check (which only
        guards its own download), so files written in the same format elsewhere load too."""

        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            return all((folder / f).is_file() for f, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:  # the same reader without the md5 check
            import pickle

            path = Path(self.root) / self.base_folder / self.meta["filename"]
            if not path.is_file():
                raise RuntimeError(f"{path} is missing")
            with open(path, "rb") as fh:
                self.classes = pickle.load(fh, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    try:
        if download:
            base(str(root), train=True, download=True)  # verifies md5 of the official archive
        train = Reader(str(root), train=True, download=False)
        test = Reader(str(root), train=False, download=False)
    except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted"
        raise NeuromapError(
            f"{name} not found in {root / FOLDERS[name]} ({exc}); put the extracted python-version archive "
            f"from {URL} there (or pass --download when online)") from None
    except (OSError, ValueError, EOFError, KeyError) as exc:
        raise NeuromapError(f"{name} files under {root / FOLDERS[name]} are unreadable ({type(exc).__name__}: "
                            f"{exc}); re-extract them") from None

    def arrays(ds: object) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(np.asarray(ds.data, dtype=np.uint8).transpose(0, 3, 1, 2))  # NHWC -> NCHW
        return x, np.asarray(ds.targets, dtype=np.int64)

    x_train, y_train = arrays(train)
    x_test, y_test = arrays(test)
    return DigitsSplit(x_train, y_train, x_test, y_test, num_classes=NUM_CLASSES[name], max_level=255)
