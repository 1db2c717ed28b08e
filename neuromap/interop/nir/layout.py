"""NIR <-> IR layouts and conventions shared by export and import: the constants of Lava's
fixed point, array orders ((x, y, c) against NIR's (C, H, W)), conv kernel orientation, and the
``neuromap_*`` metadata that makes a round trip exact. Names with a leading underscore are
package-internal (used by the sibling modules, not part of the public API)."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

import nir

from ...errors import NeuromapError


#: Fixed-point decays are out of this (Lava's ``decay_unity``, 12 bits).
DECAY_UNITY = 4096
#: Neuron types NetX runs as Lava's CUBA LIF (``LOIHI`` is lava-dl's older name for it).
CUBA_TYPES = ("CUBA", "LOIHI")
#: Largest weight mantissa magnitude used when quantising float weights (8 bits signed).
WEIGHT_MAX = 127
#: Largest threshold mantissa (Loihi's vThMant has 17 bits).
VTH_MAX = (1 << 17) - 1
#: Largest bias mantissa magnitude (Lava's bias_mant is 13 bits signed).
BIAS_MAX = (1 << 12) - 1
FORMAT = 1

SYNAPSE_TYPES = (nir.Conv2d, nir.Affine, nir.Linear, nir.SumPool2d)
CHAIN_TYPES = SYNAPSE_TYPES + (nir.Delay, nir.Flatten)
NEURON_TYPES = (nir.CubaLIF, nir.LIF, nir.IF)
SUPPORTED = ("Input", "Output", "Conv2d", "Affine", "Linear", "SumPool2d", "Flatten", "Delay",
             "CubaLIF", "LIF", "IF")


# --------------------------------------------------------------------------------------------
# shapes and orders
# --------------------------------------------------------------------------------------------

def _nir_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """IR (x, y, c) -> NIR/torch (C, H, W); 1-D shapes are unchanged."""
    return tuple(int(v) for v in shape[::-1]) if len(shape) == 3 else tuple(int(v) for v in shape)


def _ir_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return _nir_shape(shape)  # the reversal is its own inverse


def _to_nir(arr: np.ndarray, ir_shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.float64).reshape(ir_shape)
    return arr.transpose(2, 1, 0).copy() if len(ir_shape) == 3 else arr.copy()


def _to_ir(arr: np.ndarray, nir_shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.float64).reshape(nir_shape)
    return arr.transpose(2, 1, 0).copy() if len(nir_shape) == 3 else arr.copy()


def _flat_perm(ir_shape: tuple[int, ...]) -> np.ndarray:
    """``perm[i] = j``: IR neuron ``i`` (C order over (x, y, c)) is element ``j`` of the
    C-order flatten of the NIR (C, H, W) signal (what ``nir.Flatten`` and NetX produce)."""
    n = int(np.prod(ir_shape))
    if len(ir_shape) != 3:
        return np.arange(n)
    return np.arange(n).reshape(ir_shape[::-1]).transpose(2, 1, 0).reshape(-1)


def _conv_to_nir(weight: np.ndarray) -> np.ndarray:
    """IR/Lava (out, kx, ky, in/g) -> torch/NIR (out, in/g, kh, kw) cross-correlation kernel
    (the inverse of the NetX loader's flip and transpose)."""
    return np.ascontiguousarray(weight.transpose(0, 3, 2, 1)[:, :, ::-1, ::-1], dtype=np.float64)


def _conv_to_ir(weight: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(weight, dtype=np.float64)[:, :, ::-1, ::-1]
                                .transpose(0, 3, 2, 1))



def _str(v: Any) -> str:
    return v.decode("utf8") if isinstance(v, bytes) else str(v)


def _node_meta(node: Any) -> dict[str, Any]:
    meta = getattr(node, "metadata", None)
    if not isinstance(meta, dict):
        return {}
    return {k: (_str(v) if isinstance(v, (bytes, np.bytes_)) else v) for k, v in meta.items()}


def _json(v: Any, where: str) -> Any:
    if v is None:
        return None
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v.item()
    try:
        return json.loads(_str(v))
    except (TypeError, ValueError):
        raise NeuromapError(f"NIR node {where}: neuromap metadata is not valid JSON; drop the "
                            f"node's metadata to import it from its float parameters") from None


def _graph_meta(meta: dict[str, Any]) -> dict[str, Any] | None:
    raw = meta.get("neuromap_graph")
    if raw is None:
        return None
    parsed = _json(raw, "graph")
    return parsed if isinstance(parsed, dict) else None
