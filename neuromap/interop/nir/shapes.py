"""Shapes and parameters of NIR's structural nodes as the importer reads them: integer pairs,
conv padding (including ``'same'``/``'valid'``), conv and sum-pool output shapes, the sum-pool
matrix, and ``Flatten``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import NeuromapError
from .layout import _str


def _pair(v: Any, n: str, key: str) -> tuple[int, int]:
    if isinstance(v, str):
        return (0, 0)
    a = np.asarray(v).reshape(-1)
    if a.size == 1:
        return (int(a[0]), int(a[0]))
    if a.size == 2:
        return (int(a[0]), int(a[1]))
    raise NeuromapError(f"NIR node {n}: {key} must be one or two integers, got {a.tolist()}")


def _conv_padding(pad: Any, kernel: tuple[int, ...], dilation: tuple[int, int],
                  n: str) -> tuple[int, int]:
    if isinstance(pad, (bytes, np.bytes_)):
        pad = _str(pad)
    if isinstance(pad, np.ndarray) and pad.dtype.kind in "SUO":
        pad = _str(pad.reshape(-1)[0])
    if isinstance(pad, str):
        if pad == "valid":
            return (0, 0)
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        if any(t % 2 for t in total):
            raise NeuromapError(f"NIR Conv2d {n}: padding='same' with an even kernel pads "
                                f"unequally, which neuromap cannot express; give explicit padding")
        return (total[0] // 2, total[1] // 2)
    return _pair(pad, n, "padding")


def _conv_out(node: Any, shape: tuple[int, ...], n: str) -> tuple[int, int, int]:
    w = np.asarray(node.weight)
    if w.ndim != 4:
        raise NeuromapError(f"NIR Conv2d {n}: weight must be 4-D (out, in/groups, kh, kw), got "
                            f"{w.shape}")
    if len(shape) != 3:
        raise NeuromapError(f"NIR Conv2d {n} reads a {shape} signal; it needs (C, H, W)")
    groups = int(np.asarray(node.groups).reshape(-1)[0])
    if groups < 1 or w.shape[1] * groups != shape[0] or w.shape[0] % groups:
        raise NeuromapError(f"NIR Conv2d {n}: weight {w.shape} with groups={groups} does not fit "
                            f"{shape[0]} input channels")
    stride, dilation = _pair(node.stride, n, "stride"), _pair(node.dilation, n, "dilation")
    padding = _conv_padding(node.padding, w.shape[2:], dilation, n)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise NeuromapError(f"NIR Conv2d {n}: stride/dilation must be >= 1 and padding >= 0")
    if node.input_shape is not None:
        declared = tuple(int(v) for v in np.asarray(node.input_shape).reshape(-1))
        if declared != tuple(shape[1:]):
            raise NeuromapError(f"NIR Conv2d {n} declares input_shape {declared} but receives "
                                f"{tuple(shape[1:])}; fix input_shape")
    out = [(s + 2 * p - d * (k - 1) - 1) // st + 1 for s, p, d, k, st in
           zip(shape[1:], padding, dilation, w.shape[2:], stride)]
    if min(out) < 1:
        raise NeuromapError(f"NIR Conv2d {n}: kernel {w.shape[2:]} does not fit input {shape}")
    return (int(w.shape[0]), out[0], out[1])


def _pool_params(node: Any, n: str) -> tuple[tuple[int, int], ...]:
    k, s, p = (_pair(getattr(node, key), n, key) for key in ("kernel_size", "stride", "padding"))
    if min(k) < 1 or min(s) < 1 or min(p) < 0:
        raise NeuromapError(f"NIR SumPool2d {n}: kernel/stride must be >= 1 and padding >= 0")
    return k, s, p


def _pool_out(node: Any, shape: tuple[int, ...], n: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise NeuromapError(f"NIR SumPool2d {n} reads a {shape} signal; it needs (C, H, W)")
    k, s, p = _pool_params(node, n)
    out = [(size + 2 * pp - kk) // ss + 1 for size, kk, ss, pp in zip(shape[1:], k, s, p)]
    if min(out) < 1:
        raise NeuromapError(f"NIR SumPool2d {n}: kernel {k} does not fit input {shape}")
    return (shape[0], out[0], out[1])


def _pool_matrix(node: Any, shape: tuple[int, ...], n: str) -> np.ndarray:
    """Sum pooling as a (pooled, inputs) matrix, both in NIR C-order."""
    k, s, p = _pool_params(node, n)
    c, h, w = shape
    _, oh, ow = _pool_out(node, shape, n)
    mat = np.zeros((c * oh * ow, c * h * w))
    for ch in range(c):
        for i in range(oh):
            for j in range(ow):
                row = (ch * oh + i) * ow + j
                for a in range(k[0]):
                    for b in range(k[1]):
                        y, x = i * s[0] - p[0] + a, j * s[1] - p[1] + b
                        if 0 <= y < h and 0 <= x < w:
                            mat[row, (ch * h + y) * w + x] += 1.0
    return mat


def _flatten_shape(node: Any, shape: tuple[int, ...], n: str) -> tuple[int, ...]:
    start = int(np.asarray(node.start_dim).reshape(-1)[0])
    end = int(np.asarray(node.end_dim).reshape(-1)[0])
    declared = None if node.input_type is None else node.input_type.get("input")
    if declared is not None and len(np.asarray(declared).reshape(-1)) == len(shape) + 1:
        start, end = start - 1, (end - 1 if end > 0 else end)  # the node counted a batch dim
    nd = len(shape)
    start = start + nd if start < 0 else start
    end = end + nd if end < 0 else end
    out = shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
    if len(out) != 1:
        raise NeuromapError(f"NIR Flatten {n} turns {shape} into {out}; neuromap needs a full "
                            f"flatten to 1-D (start_dim=0, end_dim=-1)")
    return out
