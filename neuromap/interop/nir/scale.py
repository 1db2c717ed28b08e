"""One scale per imported layer, from NIR's float parameters to Lava's integer mantissas.

A foreign neuron layer's weights (gains folded in), threshold and bias are multiplied by one scale
``s`` and rounded: the weights become NetX weights, the threshold ``vThMant``, the bias the bias
mantissa. Lava keeps a weight as an 8-bit mantissa times ``2**e``; the threshold has 17 bits. So
``s`` need not make the largest weight 127: :func:`choose_scale` takes, among candidate scales
whose rounded weights NetX carries exactly (:func:`representable`), the one with the smallest
rounding error of weights, threshold and bias together, in the writer's own voltage units. Where
some scale makes all of them exact (integer weights with a threshold of ``k + 0.25``: a power of
two), that scale wins; float weights keep the most precision (largest weight 127) unless another
scale is better for the threshold and bias as well."""
from __future__ import annotations

import math

import numpy as np

from ...sim.weights import WEIGHT_EXP_MAX, lava_clips, mixed_exponent
from .layout import BIAS_MAX, VTH_MAX, WEIGHT_MAX

#: Powers of two tried as scales: 2**-24 .. 2**24.
POW2 = tuple(2.0 ** k for k in range(-24, 25))
#: Two rounding errors closer than this times the layer's largest weight or threshold are equal
#: (then the scale nearer the 127 one wins): peers write float32, whose rounding (about 6e-8 of
#: each value) must not pick the scale.
TIE_RTOL = 1e-5
#: How many weights are tried before a whole matrix (float weights at a scale that needs an
#: exponent are rejected from these alone).
HEAD = 4096


def _tz(v: int) -> int:
    """Trailing zero bits of a nonzero integer."""
    return (v & -v).bit_length() - 1


def representable(w: np.ndarray) -> bool:
    """Whether integer weights ``w`` pass through neuromap's dense weight encoding and Lava
    unchanged in at most 8 weight bits: lava-dl's ``optimize_weight_bits`` (one exponent for the
    matrix) where it keeps the matrix, else (mixed signs beyond its clip to -256..254) a signed
    8-bit mantissa times ``2**e``, then Lava's dense synapse (clipped to 8 bits plus sign, low
    bits dropped by the bit width), give ``w`` back. Their arithmetic, followed step by step on
    the matrix's extremes and the common power of two of its weights (tests check it against the
    engines' encoding, ``neuromap.sim.weights``)."""
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0 or not np.any(w):
        return True
    if not np.all(np.isfinite(w)) or np.any(w != np.round(w)):
        return False
    lo, hi = int(w.min()), int(w.max())
    if max(hi, -lo) > 255 << WEIGHT_EXP_MAX:
        return False
    nz = w[w != 0]
    if lava_clips(w):
        # the engines' exponent encoding: mantissa w >> e in -128..127, exact when 2**e divides
        # every weight
        e = mixed_exponent(lo, hi)
        if lo >> e < -128 or hi >> e > 127:
            return False  # beyond Loihi's largest exponent
        if nz.size > HEAD and _tz(int(np.gcd.reduce(nz[:HEAD].astype(np.int64)))) < e:
            return False
        return _tz(int(np.gcd.reduce(nz.astype(np.int64)))) >= e
    if lo < 0 <= hi:  # lava-dl's mixed mode (a largest weight of 0 included)
        if hi == 0:
            return False  # the fast engine's copy divides by the 0
        scale, signed = min(127 / hi, -128 / lo), 1
    else:
        scale, signed = (-256 / lo, 0) if hi < 0 else (255 / hi, 0)
    sb = math.floor(math.log2(scale)) + signed
    if nz.size > HEAD:  # float weights rounded at a large scale are odd early: skip the gcd pass
        head = int(np.gcd.reduce(nz[:HEAD].astype(np.int64)))
        if _tz(head) < -sb:
            return False
    tz = _tz(int(np.gcd.reduce(nz.astype(np.int64))))
    bits = 8 - sb - (min(tz, 8) - signed)
    if bits > 8 or tz < -sb:  # more bits than Loihi's 8, or the right shift drops set bits
        return False
    lo_s, hi_s = (lo * 2 ** sb, hi * 2 ** sb)
    if signed:
        if lo_s < -256 or hi_s > 255:
            return False
    elif max(abs(lo_s), abs(hi_s)) > 255:
        return False
    drop = 8 - bits + signed
    return 0 <= drop < 31 and tz + sb >= drop


def rounding_error(s: float, weights: list[np.ndarray], vth: float, bias: np.ndarray) -> float:
    """What rounding at scale ``s`` can move a voltage by in one step, relative to the threshold
    comparison, in the writer's units: the largest per-neuron sum of weight rounding errors (all
    inputs spiking at once) over each in-edge, plus the threshold's and the bias's rounding."""
    err = 0.0
    for w in weights:
        if w.size:
            d = np.abs(np.round(w * s) - w * s)
            err += float(d.reshape(d.shape[0], -1).sum(axis=1).max())
    err += abs(round(vth * s) - vth * s)
    if bias.size:
        err += float(np.max(np.abs(np.round(bias * s) - bias * s)))
    return err / s


def _feasible(s: float, weights: list[np.ndarray], tops: list[float], joint: np.ndarray | None,
              vth: float, bias: np.ndarray) -> bool:
    if not (math.isfinite(s) and s > 0) or round(vth * s) > VTH_MAX:
        return False
    if bias.size and float(np.max(np.abs(np.round(bias * s)))) > BIAS_MAX:
        return False
    for w, top in zip(weights, tops):
        if not _head_fits(w, s * top, s):
            return False
        q = np.round(w * s)
        if np.any(w) and not np.any(q):
            return False
        if not representable(q):
            return False
    return joint is None or representable(np.round(joint * s))



def _head_fits(w: np.ndarray, top: float, s: float) -> bool:
    """False when the first weights alone show that ``w`` at scale ``s`` needs an exponent
    ``e > 0`` (largest beyond an 8-bit mantissa) but has weights that are not multiples of
    ``2**e``: float weights at a large scale, rejected without rounding the whole matrix. ``top``
    is the largest weight magnitude times ``s``."""
    if w.size <= HEAD or top <= 127.5:
        return True
    e = min(WEIGHT_EXP_MAX, max(1, math.ceil(math.log2(top / 255))))
    return not np.any(np.remainder(np.round(w.reshape(-1)[:HEAD] * s), 2 ** e))


def choose_scale(weights: list[np.ndarray], vth: float, bias: np.ndarray,
                 joint: np.ndarray | None = None) -> float:
    """The scale for one layer: ``weights`` its in-edges' float weights (gains folded in; dense
    ``(post, pre)`` or conv ``(out, ...)``), ``vth`` its threshold, ``bias`` its per-step bias,
    ``joint`` the dense weights NetX encodes as one matrix (a recurrent layer's input and
    recurrent weights side by side), which must be representable together.

    Candidates: the scale that makes the largest weight 127, its powers-of-two multiples and
    fractions, the powers of two, and the two scales below it that make the threshold an integer;
    the feasible one (every rounded matrix representable, nothing rounded away, threshold and bias
    within their bits) with the smallest :func:`rounding_error` wins, ties going to the one nearest
    the 127 scale. Without a feasible one, the 127 scale lowered to fit threshold and bias (the
    caller then names what does not fit)."""
    tops = [float(np.max(np.abs(w))) if w.size else 0.0 for w in weights]
    wmax = max(tops, default=0.0)
    base = WEIGHT_MAX / wmax if wmax > 0 else 1.0
    bmax = float(np.max(np.abs(bias))) if bias.size else 0.0
    fallback = base
    if vth * fallback > VTH_MAX:
        fallback = VTH_MAX / vth
    if bmax * fallback > BIAS_MAX:
        fallback = BIAS_MAX / bmax
    if wmax == 0:
        return fallback
    cands = {fallback, *(base * 2.0 ** k for k in range(-3, 4)), *POW2}
    if vth > 0:
        k = math.floor(base * vth)
        cands.update(v / vth for v in (k, k - 1) if v > 0)
    best, best_err = None, math.inf
    tie = TIE_RTOL * max(wmax, abs(vth))
    for s in sorted(cands, key=lambda c: abs(math.log(c / base))):
        if not 0.5 <= s * wmax <= 255 << WEIGHT_EXP_MAX:
            continue  # every weight rounds to 0, or the largest fits no mantissa and exponent
        if not _feasible(s, weights, tops, joint, vth, bias):
            continue
        err = rounding_error(s, weights, vth, bias)
        if err < best_err - tie or best is None:
            best, best_err = s, err
    return fallback if best is None else best
