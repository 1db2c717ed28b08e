"""One validation pass for a NetworkGraph, wherever it comes from (NetX, NIR, Python).

:func:`validate` checks what the mapper, the simulators and the reports rely on and what Lava
would otherwise deadlock or silently wrap on: names, kinds and shapes, neuron types Lava runs
and their required fixed-point parameters (whole numbers within the registers' ranges), finite
biases and weights within the integer range Lava stores, edges that connect existing layers in
topological order with consistent shapes, and a size guard (``Limits``) on neurons and synapses.
The NetX loader and the NIR importer call it, so every CLI accepts and refuses the same graphs.
The structure (unique names, kinds, shapes, weight shapes that fit the layers) is the IR's own
invariant, checked when a NetworkGraph is built (``neuromap.graph.check_structure``).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from .errors import NeuromapError, int_in
from .graph import Edge, Layer, NetworkGraph, synapse_count

#: Neuron types Lava runs through lava-dl's ``Network.get_neuron_params``: CUBA LIF (``LOIHI`` is
#: lava-dl's older name for it) and sigma-delta.
NEURON_TYPES = ("CUBA", "LOIHI", "SDNN")
#: Parameters each type needs (an SDNN layer with ``sigma_output`` needs none).
REQUIRED = {"CUBA": ("vThMant", "iDecay", "vDecay"), "LOIHI": ("vThMant", "iDecay", "vDecay"),
            "SDNN": ("vThMant",)}
#: Whole-number parameters and their inclusive ranges. Lava's fixed-point LIF
#: (lava/proc/lif/models.py) has 12-bit decays plus a 1-bit offset (0..4096: lava-dl passes
#: du = iDecay - 1 with an offset of 1, dv = vDecay), a 17-bit threshold mantissa shifted left by
#: 6 into 24-bit state (2**17 is NetX's "never spikes"), and sigma-delta thresholds in 24-bit
#: state; refDelay and messageBits are small counters.
INT_RANGES = {
    "CUBA": {"vThMant": (0, 1 << 17), "iDecay": (0, 4096), "vDecay": (0, 4096),
             "refDelay": (0, 1 << 16), "messageBits": (0, 24), "wgtExp": (-8, 7)},
    "SDNN": {"vThMant": (0, (1 << 23) - 1), "messageBits": (0, 24)},
}
INT_RANGES["LOIHI"] = INT_RANGES["CUBA"]
#: Largest synaptic weight or bias magnitude: Lava keeps currents and voltages in 24-bit state,
#: so a larger mantissa only saturates (and 1e30 would wrap when cast to int32).
WEIGHT_LIMIT = float(1 << 23)
#: Longest per-synapse delay (NetX / Lava DelayDense) and whole-edge lag, in steps.
MAX_DELAY = 62
MAX_LAG = 4096
MAX_NAME = 200
#: Largest conv stride, padding or dilation (any real layer is far below).
MAX_GEOMETRY = 1 << 16


@dataclass(frozen=True)
class Limits:
    """Size guard: graphs beyond these are refused before anything big is allocated. Raise them
    with the CLIs' ``--max-neurons`` / ``--max-synapses`` (or NEUROMAP_MAX_NEURONS /
    NEUROMAP_MAX_SYNAPSES) for genuinely large models."""

    max_neurons: int = 4_000_000
    max_synapses: int = 400_000_000


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise NeuromapError(f"{name}={raw!r} is not a whole number; unset it or give a count") \
            from None
    if value < 1:
        raise NeuromapError(f"{name}={raw!r} must be at least 1")
    return value


_limits: Limits | None = None


def limits() -> Limits:
    if _limits is not None:
        return _limits
    base = Limits()
    return Limits(_env_int("NEUROMAP_MAX_NEURONS", base.max_neurons),
                  _env_int("NEUROMAP_MAX_SYNAPSES", base.max_synapses))


def set_limits(max_neurons: int | None = None, max_synapses: int | None = None) -> Limits:
    """Set the process-wide size guard (a CLI's --max-neurons / --max-synapses)."""
    global _limits
    cur = limits()
    for flag, v in (("--max-neurons", max_neurons), ("--max-synapses", max_synapses)):
        if v is not None and v < 1:
            raise NeuromapError(f"{flag} must be at least 1 (got {v})")
    _limits = Limits(max_neurons or cur.max_neurons, max_synapses or cur.max_synapses)
    return _limits


def add_limit_options(parser: Any) -> None:
    """The size-guard options every CLI that reads a model offers."""
    base = limits()
    parser.add_argument("--max-neurons", type=int_in(1, 1 << 62), default=None,
                        help=f"refuse models with more neurons than this "
                             f"(default: {base.max_neurons:,})")
    parser.add_argument("--max-synapses", type=int_in(1, 1 << 62), default=None,
                        help=f"refuse models with more synapses than this "
                             f"(default: {base.max_synapses:,})")


def check_neurons(count: int, where: str) -> None:
    """Size guard for a loader, called with a running neuron count before it allocates."""
    lim = limits().max_neurons
    if count > lim:
        raise NeuromapError(f"{where}: {count:,} neurons exceed the limit of {lim:,}; if the model "
                            f"is really this large, raise it with --max-neurons")


def validate(graph: NetworkGraph) -> NetworkGraph:
    """Check ``graph``; returns it unchanged, or raises one NeuromapError naming the problem."""
    g = graph.name
    if not isinstance(g, str) or not g or len(g) > MAX_NAME or not g.isprintable():
        raise NeuromapError(f"graph name {str(g)[:40]!r} must be 1..{MAX_NAME} printable characters")
    if len(graph.layers) < 2:
        raise NeuromapError(f"{g}: needs an input layer and at least one synaptic layer")
    index: dict[str, int] = {}
    neurons = 0
    for i, lay in enumerate(graph.layers):
        _check_layer(g, lay, i)
        index[lay.name] = i
        if lay.on_chip or lay.kind == "input":
            neurons += lay.size
            check_neurons(neurons, g)
    fed: set[str] = set()
    synapses = 0
    for e in graph.edges:
        _check_edge(graph, e, index)
        if e.src != e.dst:
            fed.add(e.dst)
        if e.kind != "average":
            synapses += synapse_count(graph, e)
            lim = limits().max_synapses
            if synapses > lim:
                raise NeuromapError(f"{g}: {synapses:,} synapses exceed the limit of {lim:,}; if the "
                                    f"model is really this large, raise it with --max-synapses")
    for lay in graph.layers[1:]:
        if lay.name not in fed:
            raise NeuromapError(f"{g}: layer {lay.name} has no input edge from another layer")
    return graph


def _check_layer(g: str, lay: Layer, i: int) -> None:
    name = lay.name
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or not name.isprintable():
        raise NeuromapError(f"{g}: layer {i} name {str(name)[:40]!r} must be 1..{MAX_NAME} "
                            f"printable characters")
    where = f"{g}: layer {name}"
    if (i == 0) != (lay.kind == "input"):
        raise NeuromapError(f"{where}: the input layer must come first, and only once")
    shape = lay.shape
    check_neurons(math.prod(int(v) for v in shape), where)
    if lay.neuron is not None:
        _check_neuron(where, lay.neuron.type, lay.neuron.params)
    elif lay.kind in ("conv", "dense"):
        raise NeuromapError(f"{where}: a {lay.kind} layer needs a neuron model")
    if lay.bias is not None:
        b = _numbers(lay.bias, f"{where}: bias")
        _bounded(b, WEIGHT_LIMIT, f"{where}: bias")
    if lay.transform is not None:
        for k, v in dict(lay.transform).items():
            if not _real(v) or abs(float(v)) > WEIGHT_LIMIT:
                raise NeuromapError(f"{where}: input transform {k} = {v!r} must be a finite number "
                                    f"within +-{WEIGHT_LIMIT:.0f}")


def _check_neuron(where: str, ntype: Any, params: Any) -> None:
    if ntype not in NEURON_TYPES:
        raise NeuromapError(f"{where}: neuron type {str(ntype)[:40]!r} is not supported (Lava runs "
                            f"{', '.join(NEURON_TYPES)}); export the layer with one of them")
    params = dict(params)
    needed = () if ntype == "SDNN" and params.get("sigma_output") else REQUIRED[ntype]
    missing = [k for k in needed if k not in params]
    if missing:
        raise NeuromapError(f"{where}: {ntype} neuron lacks {', '.join(missing)}; the file is "
                            f"incomplete, re-export it")
    ranges = INT_RANGES[ntype]
    for key, value in params.items():
        if key in ranges:
            lo, hi = ranges[key]
            if not _whole(value) or not lo <= int(value) <= hi:
                raise NeuromapError(f"{where}: {ntype} parameter {key} = {_show(value)} must be a "
                                    f"whole number in {lo}..{hi}; fix the exported neuron")
        elif key in ("gradedSpike", "sigma_output"):
            if not isinstance(value, (bool, np.bool_)) and value not in (0, 1):
                raise NeuromapError(f"{where}: neuron flag {key} = {_show(value)} must be true/false")
        elif not (isinstance(value, str) and len(value) <= 64 and value.isprintable()) \
                and not _real(value):
            raise NeuromapError(f"{where}: neuron parameter {key} = {_show(value)} must be one "
                                f"finite number or a short text")


def _check_edge(graph: NetworkGraph, e: Edge, index: dict[str, int]) -> None:
    g = graph.name
    where = f"{g}: edge {e.src} -> {e.dst}"
    if index[e.src] > index[e.dst] or (e.src == e.dst and e.kind != "dense"):
        raise NeuromapError(f"{where}: edges must run forward in layer order (only a dense edge "
                            f"may feed a layer back to itself)")
    dst = graph.layers[index[e.dst]]
    if dst.kind == "input":
        raise NeuromapError(f"{where}: the input layer cannot have inputs")
    if (e.kind == "average") != (dst.kind == "average"):
        raise NeuromapError(f"{where}: average edges go into, and only into, average layers")
    w = _numbers(e.weight, f"{where}: weight")
    if e.kind != "average":
        _bounded(w, WEIGHT_LIMIT, f"{where}: weight")
    if e.kind == "conv" and max(*e.stride, *e.padding, *e.dilation) > MAX_GEOMETRY:
        raise NeuromapError(f"{where}: stride and dilation must be whole numbers in "
                            f"1..{MAX_GEOMETRY}, padding in 0..{MAX_GEOMETRY}")
    if e.delay is not None:
        d = _numbers(e.delay, f"{where}: delay")
        if e.kind != "dense" or d.shape != w.shape or d.min(initial=0) < 0 or \
                d.max(initial=0) > MAX_DELAY or np.any(d != np.round(d)):
            raise NeuromapError(f"{where}: delays must be whole steps 0..{MAX_DELAY} in the dense "
                                f"weight's shape")
    if not isinstance(e.lag, Integral) or not 0 <= e.lag <= MAX_LAG:
        raise NeuromapError(f"{where}: lag {e.lag!r} must be a whole number of steps 0..{MAX_LAG}")


def _numbers(a: Any, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)) or \
            (arr.size and not np.all(np.isfinite(arr))):
        raise NeuromapError(f"{what} must hold finite numbers")
    return arr


def _bounded(a: np.ndarray, limit: float, what: str) -> None:
    if a.size and float(np.max(np.abs(a))) > limit:
        raise NeuromapError(f"{what} reaches {float(np.max(np.abs(a))):.3g}, beyond the "
                            f"+-{limit:.0f} Lava's 24-bit state holds; fix the export's scaling")


def _real(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _whole(v: Any) -> bool:
    """An integer type: Lava shifts these registers, which a float (even 80.0) breaks."""
    return isinstance(v, Integral) and not isinstance(v, (bool, np.bool_))


def _show(v: Any) -> str:
    return repr(v)[:40]
