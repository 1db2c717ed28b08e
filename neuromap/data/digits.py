"""The scikit-learn 8x8 handwritten digits, split deterministically for training and testing."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_CLASSES = 10
MAX_LEVEL = 16
INPUT_SHAPE = (1, 8, 8)  # (C, H, W)


@dataclass(frozen=True)
class DigitsSplit:
    """A stratified train/test split; x holds uint8 intensity levels 0..16 in NCHW, y int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int = NUM_CLASSES
    max_level: int = MAX_LEVEL

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one sample as (C, H, W)."""
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]


def load_digits_split(seed: int = 0, test_fraction: float = 0.25) -> DigitsSplit:
    """Load sklearn's bundled digits (no download) and split them with a seeded stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    bunch = load_digits()
    x = np.asarray(bunch.images, dtype=np.float64)
    levels = np.rint(x).clip(0, MAX_LEVEL).astype(np.uint8).reshape(-1, *INPUT_SHAPE)
    y = np.asarray(bunch.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        levels, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return DigitsSplit(
        x_train=np.ascontiguousarray(x_train),
        y_train=np.ascontiguousarray(y_train),
        x_test=np.ascontiguousarray(x_test),
        y_test=np.ascontiguousarray(y_test),
    )
