"""NIR neuron nodes as the importer reads them: their parameter arrays, the writer's time step
(given or inferred), the translation of time constants and gains into Lava's fixed-point decays,
and the conventions a file's parameters follow (NIR's equations by forward Euler, or Rockpool's
exact exponential update; see docs/nir.md, "Importing NIR graphs made elsewhere")."""
from __future__ import annotations

from typing import Any

import numpy as np

import nir
from scipy.special import lambertw

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


# ------------------------------------------------------------------------------- conventions

#: How a NIR file's neuron parameters are meant (``--from``): NIR's own equations integrated by
#: forward Euler (snnTorch, Norse, Sinabs, neuromap), or Rockpool's exact exponential update.
CONVENTIONS = ("nir", "rockpool")
#: Rockpool's neuron modules as its ``to_nir`` names their nodes (``<index>_<class>``).
ROCKPOOL_NEURONS = ("LIFTorch", "LIFNeuronTorch")
#: Relative tolerance of Rockpool's float32 parameters when their dt is read or checked.
ROCKPOOL_RTOL = 1e-4


def _rockpool_dts(node: Any) -> np.ndarray:
    """The dt of each neuron of a Rockpool node: its ``r = tau exp(-dt / tau) / dt`` solved for
    ``dt``, which is ``tau W(1 / r)`` (W: Lambert's W, the root of ``w exp(w) = 1 / r``)."""
    tau = np.asarray(node.tau_mem if isinstance(node, nir.CubaLIF) else node.tau,
                     dtype=np.float64).reshape(-1)
    r = np.broadcast_to(np.asarray(node.r, dtype=np.float64).reshape(-1), tau.shape)
    with np.errstate(all="ignore"):
        return np.where((r > 0) & np.isfinite(tau) & (tau > 0),
                        tau * np.real(lambertw(1.0 / np.where(r > 0, r, 1.0))), np.nan)


def rockpool_dt(nodes: dict[str, Any]) -> tuple[float | None, str]:
    """The one dt that every LIF/CubaLIF node's ``r`` states under Rockpool's convention, or
    ``(None, why)`` naming a node when they state none or several."""
    first = None
    for n, node in nodes.items():
        if not isinstance(node, (nir.CubaLIF, nir.LIF)):
            continue
        try:
            d = _rockpool_dts(node)
        except (TypeError, ValueError):
            return None, f"node {n}'s tau and r do not fit together"
        if d.size == 0 or not np.all(np.isfinite(d)) or np.any(d <= 0):
            return None, f"node {n}'s r states no positive dt"
        if first is None:
            first = (n, float(d[0]))
        if not np.allclose(d, first[1], rtol=ROCKPOOL_RTOL, atol=0):
            bad = float(d[~np.isclose(d, first[1], rtol=ROCKPOOL_RTOL, atol=0)][0])
            return None, f"node {first[0]}'s r states dt = {first[1]:g}, node {n}'s {bad:g}"
    if first is None:
        return None, "it has no LIF or CubaLIF node"
    return first[1], ""


def is_rockpool(nodes: dict[str, Any]) -> bool:
    """A file Rockpool's ``to_nir`` wrote, told apart without asking (the importer asks only for
    files without neuromap's graph metadata): every neuron node is a
    LIF/CubaLIF named ``<index>_LIFTorch`` or ``<index>_LIFNeuronTorch`` (Rockpool's naming), with
    ``w_in = 1`` and an ``r`` that states one dt in Rockpool's convention."""
    neurons = {n: v for n, v in nodes.items() if isinstance(v, (nir.IF, nir.LIF, nir.CubaLIF))}
    if not neurons:
        return False
    for n, node in neurons.items():
        index, _, cls = n.rsplit(".", 1)[-1].partition("_")
        if not index.isdigit() or cls not in ROCKPOOL_NEURONS or isinstance(node, nir.IF):
            return False
        try:
            w_in = np.asarray(node.w_in, dtype=np.float64) if isinstance(node, nir.CubaLIF) else 1
            if np.any(w_in != 1):
                return False
        except (TypeError, ValueError):  # not numbers: the import's checks name it
            return False
    return rockpool_dt(neurons)[0] is not None


def rockpool_params(node: Any, arrays: dict[str, np.ndarray], dt: float,
                    n: str) -> tuple[int, int, np.ndarray, np.ndarray]:
    """``(iDecay, vDecay, input gain, bias per step)`` of a Rockpool neuron node at step ``dt``.

    Rockpool's ``LIFTorch`` (a CubaLIF in its files) per step: ``I = (I + input) beta``,
    ``v = v alpha + I + bias`` with ``alpha, beta = exp(-dt / tau_mem), exp(-dt / tau_syn)``:
    Lava's CUBA with decays ``1 - beta`` and ``1 - alpha`` and the weights times ``beta`` (the
    current decays once before it reaches v). ``LIFNeuronTorch`` (a LIF): ``v = v alpha + input +
    bias``. Its importer reads ``v_leak`` as the bias per step; it ignores ``w_in`` and reads
    ``r`` only for dt, so ``w_in`` must be 1 and ``r`` must state ``dt``."""
    tau_mem = arrays["tau_mem"] if isinstance(node, nir.CubaLIF) else arrays["tau"]
    if isinstance(node, nir.CubaLIF) and np.any(arrays["w_in"] != 1):
        w_in = float(arrays["w_in"].reshape(-1)[0])
        raise NeuromapError(f"NIR neuron node {n}: w_in = {w_in:g}; Rockpool writes and reads "
                            f"w_in = 1, import it without --from rockpool")
    stated = _rockpool_dts(node)
    if not np.allclose(stated, dt, rtol=ROCKPOOL_RTOL, atol=0):
        raise NeuromapError(f"NIR neuron node {n}: its r states dt = {float(stated[0]):g} in "
                            f"Rockpool's convention (r = tau exp(-dt / tau) / dt), not the given "
                            f"{dt:g}; drop --dt or give the module's dt")

    def decay(tau: np.ndarray, key: str) -> tuple[int, np.ndarray]:
        t = float(tau.reshape(-1)[0])
        if np.any(tau != t) and not np.allclose(tau, t, rtol=1e-9, atol=0):
            raise NeuromapError(f"NIR neuron node {n}: {key} varies across neurons; NetX/Loihi "
                                f"take one decay per layer, give it one value")
        if not t > 0:
            raise NeuromapError(f"NIR neuron node {n}: {key} = {t:g} must be positive")
        keep = float(np.exp(-dt / t)) if np.isfinite(t) else 1.0
        return int(round(DECAY_UNITY * (1 - keep))), np.full(tau.shape, keep)

    v_decay, _ = decay(tau_mem, "tau_mem" if isinstance(node, nir.CubaLIF) else "tau")
    if isinstance(node, nir.CubaLIF):
        i_decay, gain = decay(arrays["tau_syn"], "tau_syn")
    else:
        i_decay, gain = DECAY_UNITY, np.ones(tau_mem.shape)
    return i_decay, v_decay, gain, arrays["v_leak"].copy()
