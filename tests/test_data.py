"""Digits split and rate encoder: shapes, determinism, the exact spike rule."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuromap.data.digits import DigitsSplit, load_digits_split
from neuromap.data.encode import rate_encode


@pytest.fixture(scope="module")
def split() -> DigitsSplit:
    return load_digits_split()


def test_split_shapes_and_dtypes(split: DigitsSplit) -> None:
    assert split.x_train.shape == (1347, 1, 8, 8)
    assert split.x_test.shape == (450, 1, 8, 8)
    assert split.x_train.dtype == np.uint8 and split.x_test.dtype == np.uint8
    assert split.y_train.dtype == np.int64 and split.y_test.dtype == np.int64
    assert split.x_train.min() == 0 and split.x_train.max() == split.max_level == 16
    assert split.num_classes == 10
    assert split.input_shape == (1, 8, 8)
    assert set(np.unique(split.y_test)) == set(range(10))


def test_split_is_frozen(split: DigitsSplit) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        split.num_classes = 3  # type: ignore[misc]


def test_split_is_deterministic_and_seeded(split: DigitsSplit) -> None:
    again = load_digits_split(seed=0)
    assert np.array_equal(split.x_train, again.x_train) and np.array_equal(split.y_test, again.y_test)
    other = load_digits_split(seed=1)
    assert not np.array_equal(split.y_train, other.y_train)


def test_split_is_stratified(split: DigitsSplit) -> None:
    train = np.bincount(split.y_train, minlength=10) / len(split.y_train)
    test = np.bincount(split.y_test, minlength=10) / len(split.y_test)
    assert np.abs(train - test).max() < 0.01


def test_split_test_fraction() -> None:
    s = load_digits_split(test_fraction=0.5)
    assert abs(len(s.y_test) - len(s.y_train)) <= 1
    with pytest.raises(ValueError):
        load_digits_split(test_fraction=1.5)


def test_rate_encode_matches_rule() -> None:
    levels = np.arange(17, dtype=np.uint8).reshape(1, 17)
    spikes = rate_encode(levels, max_level=16, timesteps=20)
    assert spikes.shape == (1, 17, 20) and spikes.dtype == np.uint8
    for k in range(17):
        for t in range(20):
            expected = ((t + 1) * k) // 16 > (t * k) // 16
            assert spikes[0, k, t] == expected


def test_rate_encode_counts_and_extremes() -> None:
    levels = np.arange(17)
    spikes = rate_encode(levels, 16, 16)
    assert np.array_equal(spikes.sum(-1), levels)  # exactly k spikes in max_level steps
    assert not spikes[0].any() and spikes[16].all()
    assert np.array_equal(rate_encode(levels, 16, 7).sum(-1), (7 * levels) // 16)


def test_rate_encode_is_deterministic_on_images(split: DigitsSplit) -> None:
    a = rate_encode(split.x_test[:5], split.max_level, 16)
    b = rate_encode(split.x_test[:5], split.max_level, 16)
    assert a.shape == (5, 1, 8, 8, 16)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("levels,max_level,steps", [([17], 16, 4), ([-1], 16, 4), ([1], 0, 4), ([1], 16, 0)])
def test_rate_encode_rejects_bad_input(levels: list[int], max_level: int, steps: int) -> None:
    with pytest.raises(ValueError):
        rate_encode(np.array(levels), max_level, steps)
