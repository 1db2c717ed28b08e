"""NIR neuron nodes as the importer reads them: their parameter arrays, the writer's time step
(given or inferred), and the translation of time constants and gains into Lava's fixed-point
decays (see docs/nir.md, "Importing NIR graphs made elsewhere")."""
from __future__ import annotations

from typing import Any

import numpy as np

import nir

from ...errors import NeuromapError
from .layout import DECAY_UNITY

def _neuron_arrays(node: Any) -> dict[str, np.ndarray]:
    if isinstance(node, nir.CubaLIF):
        keys = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in")
    elif isinstance(node, nir.LIF):
        keys = ("tau", "r", "v_leak", "v_threshold")
    else:
        keys = ("r", "v_threshold")
    out = {k: np.asarray(getattr(node, k), dtype=np.float64) for k in keys}
    if getattr(node, "v_reset", None) is not None:  # nir >= 1.0.6
        out["v_reset"] = np.asarray(node.v_reset, dtype=np.float64)
    return out


#: Relative tolerance when reading a writer's dt from its ``r = tau / dt`` convention.
DT_RTOL = 1e-6


def infer_dt(nodes: dict[str, Any]) -> tuple[float, str]:
    """The writer's time step, where the file makes it unambiguous: 1 (time in steps) when every
    finite time constant is at least 1; else the ``d`` of snnTorch's convention ``r = tau_mem / d``
    (and ``w_in = tau_syn / d`` for CubaLIF), when every LIF and CubaLIF node states the same
    ``d`` (and some ``r`` or ``w_in`` is not 1, else ``tau / r`` is just ``tau``). Otherwise
    NeuromapError asking for ``--dt``. Returns ``(dt, how)``."""
    taus, stated, gains = [], [], []
    for n, node in nodes.items():
        if isinstance(node, nir.CubaLIF):
            tau_syn, tau_mem = (np.asarray(getattr(node, k), dtype=np.float64).reshape(-1)
                                for k in ("tau_syn", "tau_mem"))
            taus += [(n, "tau_syn", tau_syn), (n, "tau_mem", tau_mem)]
            r, w_in = (np.asarray(getattr(node, k), dtype=np.float64).reshape(-1)
                       for k in ("r", "w_in"))
            gains += [r, w_in]
            stated.append(_quotients((tau_mem, r), (tau_syn, w_in)))
        elif isinstance(node, nir.LIF):
            tau = np.asarray(node.tau, dtype=np.float64).reshape(-1)
            taus.append((n, "tau", tau))
            r = np.asarray(node.r, dtype=np.float64).reshape(-1)
            gains.append(r)
            stated.append(_quotients((tau, r)))
    short = [(n, k, float(np.min(t[t < 1]))) for n, k, t in taus if np.any(t < 1)]
    if not short:
        return 1.0, "default (every time constant >= 1 step)"
    d = np.concatenate(stated) if stated else np.array([])
    d = d[np.isfinite(d)]
    # r = w_in = 1 everywhere (Norse, Rockpool's w_in) states no dt: tau / r is then just tau
    says = any(np.any(g != 1) for g in gains)
    if says and d.size and d[0] > 0 and np.allclose(d, d[0], rtol=DT_RTOL, atol=0) and d[0] < 1:
        return float(d[0]), "inferred (r = tau / dt in every neuron node)"
    n, k, t = short[0]
    raise NeuromapError(f"NIR neuron node {n}: {k} = {t:g} is below one time step at dt = 1 and "
                        f"the file does not state its dt; give --dt SECONDS, the writer's time "
                        f"step (snnTorch 1e-4, Rockpool 1e-3, Norse dt squared; see docs/nir.md)")


def _quotients(*pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Elementwise ``a / b`` of each pair, concatenated; pairs that do not broadcast give none
    (the shape checks of the import name them)."""
    out = []
    for a, b in pairs:
        try:
            with np.errstate(all="ignore"):
                out.append(np.broadcast_arrays(a, b)[0] / np.broadcast_arrays(a, b)[1])
        except ValueError:
            continue
    return np.concatenate(out) if out else np.array([])


def _decay(tau: np.ndarray, n: str, key: str, dt: float = 1.0) -> int:
    """Decay out of 4096 for a time constant of ``tau`` steps."""
    t = float(tau.reshape(-1)[0])
    if np.any(tau != t) and not np.allclose(tau, t, rtol=1e-9, atol=0):
        raise NeuromapError(f"NIR neuron node {n}: {key} varies across neurons; NetX/Loihi take "
                            f"one decay per layer, give it one value")
    if not t >= 1:
        raise NeuromapError(f"NIR neuron node {n}: {key} = {t * dt:g} is {t:g} time steps at "
                            f"dt = {dt:g}, below one step; give the writer's time step with --dt "
                            f"SECONDS (snnTorch 1e-4, Rockpool 1e-3; see docs/nir.md)")
    return 0 if np.isinf(t) else int(min(DECAY_UNITY, max(0, round(DECAY_UNITY / t))))


def _ratio(num: np.ndarray, den: np.ndarray, n: str, what: str) -> np.ndarray:
    both = np.isinf(num) & np.isinf(den)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(both, np.sign(num) * np.sign(den), num / den)
    if np.any(np.isnan(out)):
        raise NeuromapError(f"NIR neuron node {n}: {what} is undefined; fix the parameters")
    return out


def _leak(v_leak: np.ndarray, tau: np.ndarray, n: str) -> np.ndarray:
    if np.any(np.isinf(v_leak) & np.isinf(tau)):
        raise NeuromapError(f"NIR neuron node {n}: v_leak and tau are both infinite, so its bias "
                            f"is unknown; give v_leak a finite value")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isinf(tau), 0.0, v_leak / tau)


def _is_int(w: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(w)) and np.all(w == np.round(w)))
