"""Dense weight encoding: the integers both of neuromap's engines hand to Lava's dense synapse.

Loihi keeps a synaptic weight as an 8-bit mantissa (mixed signs: a signed mantissa, stored
doubled in -256..254) times ``2**weight_exp``, the exponent shared by a synapse matrix. lava-dl's
NetX loader picks the mantissas and exponent with ``optimize_weight_bits``
(:func:`optimize_weight_bits` is a copy of its arithmetic) and then Lava's dense model clips and
truncates the mantissas (:func:`lava_dense_weights`). lava-dl clips a mixed-sign matrix to
-256..254 instead of giving it an exponent, so a matrix such as ``4 * m`` (``m`` in -128..127)
loses its large weights although Loihi holds it exactly as mantissas ``m`` times ``2**2``.
:func:`encode_dense` is what both engines use: lava-dl's encoding wherever lava-dl keeps the
matrix, and where lava-dl would clip, the signed mantissa times the smallest exponent that fits.

Pure numpy: the fast engine (``sim.fast``) and the Lava backend (``sim.lava``) both import it.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import NeuromapError

#: Loihi's largest weight exponent (its 3-bit exponent spans -8..7).
WEIGHT_EXP_MAX = 7


def optimize_weight_bits(weight: np.ndarray) -> tuple[np.ndarray, int, int]:
    """lava-dl's ``netx.utils.optimize_weight_bits``: (weights shifted to fill 8 bits, weight bits,
    weight exponent). Reimplemented from its arithmetic; tests compare it with lava-dl's. Where
    lava-dl shifts left by a negative count (a one-sign matrix beyond 255), numpy gives 0 for
    every weight; this copy shifts right instead, which is what the count means."""
    w = np.asarray(weight, dtype=np.float64)
    wmax, wmin = float(np.max(w)), float(np.min(w))
    if (wmax > 254 and wmin < 0) or (wmin < -256 and wmax > 0):
        w = np.clip(w, -256, 254)
        wmax, wmin = float(np.max(w)), float(np.min(w))
    if wmax < 0:
        scale, signed = -256 / wmin, 0
    elif wmin >= 0:
        scale, signed = (255 / wmax if wmax else math.inf), 0
    else:
        scale, signed = min(127 / wmax if wmax else math.inf, -128 / wmin), 1  # numpy's 127 / 0 is inf
    if math.isinf(scale):
        raise NeuromapError("an all-zero dense weight matrix cannot be encoded the way lava-dl "
                            "does it (its scale is infinite); remove the layer or use --engine lava")
    scale_bits = int(np.floor(np.log2(scale))) + signed
    n = 8
    while n > 0 and np.sum(np.abs(w / 2 ** n - np.round(w / 2 ** n))) != 0:
        n -= 1
    n -= signed
    bits = 8 - scale_bits - n
    shifted = np.left_shift(w.astype(np.int32), scale_bits) if scale_bits >= 0 else \
        np.right_shift(w.astype(np.int32), -scale_bits)
    return shifted.astype(np.int64), int(bits), int(-scale_bits)


def lava_clips(weight: np.ndarray) -> bool:
    """Whether lava-dl's ``optimize_weight_bits`` would clip ``weight``: mixed signs beyond
    -256..254."""
    w = np.asarray(weight)
    wmax, wmin = float(np.max(w)), float(np.min(w))
    return (wmax > 254 and wmin < 0) or (wmin < -256 and wmax > 0)


def mixed_exponent(lo: int, hi: int) -> int:
    """The smallest shift ``e >= 1`` that brings the integer range ``lo..hi`` (``lo < 0 < hi``)
    into a signed 8-bit mantissa, ``-128 <= lo >> e`` and ``hi >> e <= 127``; at most
    ``WEIGHT_EXP_MAX + 1`` (Lava's weight exponent is ``e - 1``, the stored mantissa doubled)."""
    e = 1
    while e <= WEIGHT_EXP_MAX and (lo >> e < -128 or hi >> e > 127):
        e += 1
    return e


def encode_dense(weight: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(stored weights, weight bits, weight exponent) for Lava's dense synapse, whose current is
    ``(stored @ spikes) << exponent`` (``>>`` for a negative exponent).

    lava-dl's :func:`optimize_weight_bits` unless it would clip (mixed signs beyond -256..254).
    There the mantissa is ``w >> e`` with the smallest ``e`` of :func:`mixed_exponent`, stored
    doubled as lava-dl stores signed mantissas, with exponent ``e - 1``: exact when every weight
    is a multiple of ``2**e`` (``w = m * 2**e``), else the low bits are dropped (rounded toward
    minus infinity, as Lava's own truncation drops them), and beyond Loihi's largest exponent the
    mantissa is clipped to -128..127. Weight bits: 8 less the mantissas' common trailing zero bits,
    as lava-dl counts them."""
    w = np.asarray(weight, dtype=np.float64)
    if not lava_clips(w):
        return optimize_weight_bits(w)
    wi = np.round(w).astype(np.int64)
    e = mixed_exponent(int(wi.min()), int(wi.max()))
    mant = np.clip(wi >> e, -128, 127)
    nz = mant[mant != 0]
    tz = 0
    if nz.size:
        g = int(np.gcd.reduce(np.abs(nz)))
        tz = min((g & -g).bit_length() - 1, 7)
    return 2 * mant, 8 - tz, e - 1


def lava_dense_weights(weight: np.ndarray, bits: int) -> np.ndarray:
    """Lava's bit-accurate dense model: clip to 8 bits and drop the low bits by sign mode."""
    w = np.asarray(weight, dtype=np.int64)
    mode = "exc" if w.min() >= 0 else "inh" if w.max() <= 0 else "mixed"
    mixed = int(mode == "mixed")
    if mode == "inh":
        w = -w
    w = np.clip(w, -256 * mixed, 255)
    drop = 8 - bits + mixed
    if not 0 <= drop < 31:
        raise NeuromapError(f"a dense weight matrix needs {bits} weight bits, which Lava's synapse "
                            f"cannot truncate to; use --engine lava")
    w = (w >> drop) << drop
    return -w if mode == "inh" else w
