"""Deterministic integer rate code: intensity levels to binary spike trains."""
from __future__ import annotations

import numpy as np


def rate_encode(levels: np.ndarray, max_level: int, timesteps: int) -> np.ndarray:
    """Encode integer levels (0..max_level) as uint8 spikes of shape levels.shape + (timesteps,).

    A level k spikes at step t iff ((t+1)*k)//max_level > (t*k)//max_level, so over
    `max_level` steps it emits exactly k evenly spaced spikes. No randomness.
    """
    if max_level <= 0:
        raise ValueError(f"max_level must be positive, got {max_level}")
    if timesteps <= 0:
        raise ValueError(f"timesteps must be positive, got {timesteps}")
    k = np.asarray(levels).astype(np.int64)
    if k.size and (k.min() < 0 or k.max() > max_level):
        raise ValueError(f"levels must lie in 0..{max_level}, got {k.min()}..{k.max()}")
    t = np.arange(timesteps, dtype=np.int64)
    k = k[..., None]
    spikes = ((t + 1) * k) // max_level > (t * k) // max_level
    return spikes.astype(np.uint8)
