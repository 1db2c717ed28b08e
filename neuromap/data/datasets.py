"""One entry point for every dataset: load_dataset(name, data_dir, seed) -> a train/test split."""
from __future__ import annotations

from pathlib import Path

from neuromap.data.cifar import load_cifar
from neuromap.data.digits import DigitsSplit, load_digits_split
from neuromap.data.tinyimagenet import load_tinyimagenet
from neuromap.errors import NeuromapError

DATASETS = ("digits", "cifar10", "cifar100", "tinyimagenet")


def load_dataset(name: str, data_dir: str | Path = "data", seed: int = 0, test_fraction: float = 0.25,
                 download: bool = False) -> DigitsSplit:
    """Split with uint8 levels (x, NCHW), int64 labels, num_classes and max_level (16 digits, 255 images).

    digits: sklearn's bundled 8x8 set, seeded stratified split, used at its native 1x8x8 (every zoo
    net reaches at least 1x1 after its three stride-2 stages, so no upsampling is needed).
    """
    if name == "digits":
        return load_digits_split(seed=seed, test_fraction=test_fraction)
    if name in ("cifar10", "cifar100"):
        return load_cifar(name, data_dir, download=download)
    if name == "tinyimagenet":
        if download:
            raise NeuromapError("TinyImageNet has no --download; unzip it into --data-dir yourself")
        return load_tinyimagenet(data_dir)
    raise NeuromapError(f"unknown dataset {name!r}; available datasets: {', '.join(DATASETS)}")
