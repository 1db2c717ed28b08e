"""The fast engine: Lava's fixed-point arithmetic, batched over samples in torch.

It reads only the IR and reproduces, bit for bit, what ``neuromap.sim.lava`` makes Lava compute
(``Loihi2SimCfg(select_tag="fixed_pt")``, the NetX parameter translation of
``lava.lib.dl.netx.hdf5.Network``), without Lava's process-per-block runtime:

* CUBA / LOIHI neurons as Lava's bit-accurate LIF model: 12-bit current and voltage decays with
  sign-magnitude rounding, input and threshold left-shifted by 6 bits, bias mantissa (stored in
  16 bits) shifted by the exponent 6, 24-bit current wrap-around, 24-bit voltage saturation, reset
  of the voltage on a spike, and the windowed state reset of ``LIFReset`` (phase = depth + 1);
* sigma-delta neurons (SDNN): Delta on the input layer, SigmaDelta (ReLU) and Sigma elsewhere,
  with graded payloads and the 6 + 6 bit state and spike exponents;
* dense synapses after the weight encoding of ``sim.weights`` (lava-dl's ``optimize_weight_bits``,
  with Loihi's weight exponent where lava-dl would clip) and Lava's clipping, truncation and weight
  exponent; per-synapse delays; conv synapses (stride, padding, dilation, groups) with the 24-bit
  wrap of Lava's conv model; the one-step delay of every synapse and the lags of the graph
  extension; binary versus graded messages as Lava decides them per edge;
* the input conventions of the Lava backend: per-step input into a source layer or into the
  neurons of a NetX input layer, or a static drive held as the input neurons' bias.

Networks whose samples cannot leak into each other in Lava (resettable neurons, every path to a
layer of equal length, no recurrence, no per-synapse delay) run as many independent streams of one
sample each; every other network runs as Lava runs it, one stream of samples back to back. Both
follow Lava's global time line, so either is exact, and the Activity windows are the ones
``simulate_lava`` returns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import NeuromapError
from ..graph import Edge, Layer, NetworkGraph
from .activity import RESETTABLE, Activity, depths, is_binary, prepare_inputs, progress_bar
from .weights import encode_dense, lava_dense_weights

SIGMA_DELTA = ("SDNN",)
SUPPORTED_NEURONS = RESETTABLE + SIGMA_DELTA
#: Samples per chunk when the caller gives none: bounded so that a chunk's recorded events stay
#: near this many values.
CHUNK_VALUES = 40_000_000
#: torch CPU threads while the engine runs. Its steps are many small tensor operations, which a
#: second thread slows down as soon as the other core is busy (3 against 62 sample-steps per second
#: for squeezenet on a shared 2-core machine; see docs/performance.md).
DEFAULT_THREADS = 1
_I32 = 1 << 32
_U24 = 1 << 24
_M23 = 1 << 23


# ---------------------------------------------------------------------------------- arithmetic
def wrap32(x: torch.Tensor) -> torch.Tensor:
    """Two's-complement int32 wrap of an int64 tensor (what numpy's int32 arithmetic does).
    Wrapping is arithmetic modulo 2**32, so one wrap after a sum equals a wrap of every term."""
    return ((x + (1 << 31)) & (_I32 - 1)) - (1 << 31)


def wrap16(a: np.ndarray) -> np.ndarray:
    """A value stored in Lava's int16 ``bias_mant`` variable."""
    return np.asarray(a).round().astype(np.int64).astype(np.int16).astype(np.int64)


def _decay(x: torch.Tensor, decay: int) -> torch.Tensor:
    """``sign(x * (4096 - decay)) * (|x * (4096 - decay)| >> 12)``, as Lava's LIF decays u and v."""
    if decay == 4096:
        return torch.zeros_like(x)
    if decay == 0:
        return x.clone()
    y = x * (4096 - decay)
    return (y + ((y >> 63) & 4095)) >> 12  # sign(y) * (|y| >> 12): round toward zero, no division


# ---------------------------------------------------------------------------------- the program
@dataclass
class _Syn:
    """One edge, ready to run: each ``fns[i](x)`` maps the source's output (B, n_src) to current
    (B, n_dst) through the synapses of delay ``delays[i]``."""

    edge: Edge
    delays: tuple[int, ...]          # per-synapse delay values, each with its own fn (DelayDense)
    fns: tuple[Callable[[torch.Tensor], torch.Tensor], ...]
    binary_in: bool                  # Lava casts the message to bool (unary spikes)


@dataclass
class _Unit:
    """A layer with neurons, its synapses and its neuron parameters."""

    layer: Layer
    kind: str                        # "lif", "delta", "sigma_delta", "sigma"
    syns: list[_Syn]
    depth: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Program:
    graph: NetworkGraph
    units: list[_Unit]
    depth: dict[str, int]
    resettable: bool
    independent: bool                # samples cannot leak into each other in Lava
    graded: dict[str, bool]          # Lava's output_message_bits > 0, per layer
    device: torch.device


def compile_graph(graph: NetworkGraph, binary_input: bool, device: str | torch.device | None = None) -> Program:
    """Check that the fast engine supports every feature of ``graph`` and prepare its tensors."""
    dev = torch.device(device) if device is not None else default_device()
    depth = depths(graph)
    for lay in graph.layers:
        if lay.neuron is not None and lay.kind != "average" and lay.neuron.type not in SUPPORTED_NEURONS:
            raise NeuromapError(f"layer {lay.name}: neuron type {lay.neuron.type!r} is not supported by "
                                f"the fast engine (supported: {', '.join(SUPPORTED_NEURONS)}); "
                                f"run it with --engine lava")
    resettable = all(lay.neuron is None or lay.neuron.type in RESETTABLE for lay in graph.layers)
    graded = {}
    for lay in graph.layers:
        if lay.kind == "average":
            continue
        if lay.neuron is None:
            graded[lay.name] = not binary_input
        else:
            bits = lay.neuron.params.get("messageBits")
            default = 16 if lay.neuron.type in SIGMA_DELTA else 0
            graded[lay.name] = int(default if bits is None else bits) > 0
    units: list[_Unit] = []
    independent = resettable
    for lay in graph.layers:
        if lay.kind == "average" or lay.neuron is None:
            continue
        p = lay.neuron.params
        if lay.kind == "input":
            kind = "lif" if lay.neuron.type in RESETTABLE else "delta"
        elif lay.neuron.type in RESETTABLE:
            kind = "lif"
        else:
            kind = "sigma" if "sigma_output" in p else "sigma_delta"
        syns = []
        edges = [e for e in graph.in_edges(lay.name)]
        if lay.kind != "input":
            want = "conv" if lay.kind == "conv" else "dense"
            primary = next((e for e in edges if e.src != lay.name and e.kind == want), None)
            if primary is None or any(e.kind not in ("conv", "dense") for e in edges):
                raise NeuromapError(f"layer {lay.name}: needs a {want} input edge and conv/dense edges "
                                    f"only; fix the graph")
            rec = [e for e in edges if e.src == lay.name]
            joint = None
            if rec:  # lava-dl's RecurrentDense encodes the two matrices together
                joint = encode_dense(np.hstack((primary.weight, rec[0].weight)))
                independent = False
            for e in edges:
                if e.delay is not None and np.any(e.delay != 0):
                    independent = False
                if e.src != lay.name and depth[lay.name] != depth[e.src] + e.lag + 1:
                    independent = False
                src = graph.layer(e.src)
                split = None
                if joint is not None and (e is primary or e is rec[0]):
                    cols = primary.weight.shape[1]
                    w = joint[0][:, :cols] if e is primary else joint[0][:, cols:]
                    split = (w, joint[1], joint[2])
                syns.append(_synapse(e, src, lay, not graded[e.src], dev, split))
        params: dict[str, Any] = {}
        if kind == "lif":
            params = {"du": int(_num(p, "iDecay", lay)), "dv": int(_num(p, "vDecay", lay)),
                      "vth": int(_num(p, "vThMant", lay)) << 6}
            for key in ("du", "dv"):
                if not 0 <= params[key] <= 4096:
                    raise NeuromapError(f"layer {lay.name}: decay {params[key]} is outside 0..4096; "
                                        f"fix the neuron parameters")
        else:
            # Lava's sigma-delta processes store vth << (6 + 6) in an int32 variable
            vth = int(_num(p, "vThMant", lay)) * (1 << 12)
            params = {"vth": (vth + (1 << 31)) % _I32 - (1 << 31)} if kind != "sigma" else {}
        if lay.bias is not None and lay.kind != "input":
            b = np.asarray(lay.bias, dtype=np.float64).reshape(-1)
            if kind == "lif":
                params["bias"] = torch.as_tensor(wrap16(b) << 6, device=dev)
            elif kind == "sigma_delta":
                params["bias"] = torch.as_tensor(
                    (b.round().astype(np.int32) * np.int32(1 << 12)).astype(np.int64), device=dev)
        units.append(_Unit(lay, kind, syns, depth[lay.name], params))
    return Program(graph, units, depth, resettable, independent, graded, dev)


def _num(params: Any, key: str, lay: Layer) -> float:
    value = params.get(key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number != round(number):
        raise NeuromapError(f"layer {lay.name}: neuron parameter {key} = {value!r} must be a finite "
                            f"integer; fix the model file")
    return number


def _synapse(edge: Edge, src: Layer, dst: Layer, binary_in: bool, dev: torch.device,
             split: tuple[np.ndarray, int, int] | None) -> _Syn:
    if edge.kind == "conv":
        w = np.asarray(edge.weight).round().astype(np.int64)
        # Lava correlates with the spatially flipped kernel, (c_out, x, y, c_in/g) -> torch (c_out, c_in/g, x, y)
        kernel = w[:, ::-1, ::-1, :].transpose(0, 3, 1, 2).copy()
        bound = np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max(initial=0)
        dtype = _exact_float(bound, binary_in)
        small = binary_in and bound < _M23  # the 24-bit wrap can never act
        k = torch.as_tensor(kernel, dtype=dtype, device=dev)
        X, Y, C = src.shape
        out_shape = dst.shape

        def conv(x: torch.Tensor) -> torch.Tensor:
            img = x.to(dtype).view(x.shape[0], X, Y, C).permute(0, 3, 1, 2)
            out = F.conv2d(img, k, stride=edge.stride, padding=edge.padding, dilation=edge.dilation,
                           groups=edge.groups)
            flat = out.permute(0, 2, 3, 1).reshape(x.shape[0], -1).to(torch.int64)
            if small:
                return flat
            return ((flat + _M23) & (_U24 - 1)) - _M23  # Lava's conv model: signed 24-bit wrap
        if out_shape != tuple(int(v) for v in (*_conv_xy(src.shape, edge), w.shape[0])):
            raise NeuromapError(f"layer {dst.name}: conv output does not match the layer shape")
        return _Syn(edge, (0,), (conv,), binary_in)
    w, bits, exp = split if split is not None else encode_dense(edge.weight)
    w = lava_dense_weights(w, bits)
    delays = np.zeros(w.shape, dtype=np.int64) if edge.delay is None else np.asarray(edge.delay).astype(np.int64)
    values = tuple(int(v) for v in np.unique(delays))
    fns = []
    for value in values:
        part = np.where(delays == value, w, 0)
        bound = np.abs(part).sum(axis=1).max(initial=0)
        dtype = _exact_float(bound, binary_in)
        small = binary_in and bound * 2 ** max(exp, 0) < 1 << 31  # the int32 wrap can never act
        wt = torch.as_tensor(part.T.copy(), dtype=dtype, device=dev)

        def dense(x: torch.Tensor, wt: torch.Tensor = wt, dtype: torch.dtype = dtype,
                  small: bool = small) -> torch.Tensor:
            acc = (x.to(dtype) @ wt).to(torch.int64)
            acc = acc << exp if exp > 0 else acc >> -exp
            return acc if small else wrap32(acc)
        fns.append(dense)
    return _Syn(edge, values, tuple(fns), binary_in)


def _conv_xy(shape: tuple[int, ...], edge: Edge) -> tuple[int, int]:
    _, kx, ky, _ = edge.weight.shape
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in
                 zip(shape[:2], (kx, ky), edge.stride, edge.padding, edge.dilation))  # type: ignore[return-value]


def _exact_float(max_row_sum: float, binary_in: bool) -> torch.dtype:
    """float32 when every partial sum is an integer below 2**24 (so any summation order is exact)."""
    return torch.float32 if binary_in and max_row_sum < (1 << 24) else torch.float64


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


# ---------------------------------------------------------------------------------- running
@dataclass
class Trace:
    """Every layer's output and neuron state at every global step of one stream (for tests)."""

    out: dict[str, np.ndarray]       # (steps, n)
    u: dict[str, np.ndarray]
    v: dict[str, np.ndarray]


def run_fast(graph: NetworkGraph, inputs: np.ndarray, steps: int | None = None, batch_size: int | None = None,
             device: str | torch.device | None = None, progress: bool = False,
             threads: int | None = DEFAULT_THREADS) -> Iterator[Activity]:
    """Yield the Activity of ``inputs`` chunk by chunk (samples in order), as ``simulate_lava``
    would return it for the same samples. ``inputs`` as for ``simulate_lava``. ``threads`` sets
    torch's CPU threads while the engine runs (None: leave them as they are)."""
    data, static, T = _prepare(graph, inputs, steps)
    prog = compile_graph(graph, binary_input=is_binary(data), device=device)
    n = data.shape[0]
    if batch_size is None:
        batch_size = max(1, CHUNK_VALUES // max(1, T * sum(lay.size for lay in graph.layers)))
    bar = progress_bar(n, progress, "fast")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        if prog.independent:
            for start in range(0, n, batch_size):
                chunk = data[start:start + batch_size]
                yield _stream(prog, chunk, static, T, streams=chunk.shape[0])
                bar.update(chunk.shape[0])
        else:
            yield from _stream_chunks(prog, data, static, T, batch_size, bar)
    finally:
        bar.close()
        torch.set_num_threads(before)


def simulate_fast(graph: NetworkGraph, inputs: np.ndarray, steps: int | None = None,
                  batch_size: int | None = None, device: str | torch.device | None = None,
                  progress: bool = False, threads: int | None = DEFAULT_THREADS) -> Activity:
    """All samples at once (``run_fast`` concatenated): the drop-in for ``simulate_lava``."""
    chunks = list(run_fast(graph, inputs, steps, batch_size, device, progress, threads))
    events = {name: np.concatenate([c.events[name] for c in chunks]) for name in chunks[0].events}
    return Activity(events=events, steps=chunks[0].steps)


def trace_fast(graph: NetworkGraph, inputs: np.ndarray, steps: int, total: int, reset: bool = True,
               device: str | torch.device | None = None) -> Trace:
    """One sample's stream for ``total`` global steps, with every layer's output, current and
    voltage recorded after each step (``reset=False`` runs Lava's plain LIF, as stock NetX does)."""
    data, static, T = _prepare(graph, inputs[:1], steps)
    prog = compile_graph(graph, binary_input=is_binary(data), device=device)
    prog.independent = False  # every layer at every step, not only inside its window
    if not reset:
        prog.resettable = False
    rec: dict[str, list[np.ndarray]] = {}
    _run(prog, data, static, T, 1, total, lambda t, outs, states: _record(rec, outs, states))
    out = {k[2:]: np.concatenate(v) for k, v in rec.items() if k.startswith("s:")}
    u = {k[2:]: np.concatenate(v) for k, v in rec.items() if k.startswith("u:")}
    v = {k[2:]: np.concatenate(v) for k, v in rec.items() if k.startswith("v:")}
    return Trace(out, u, v)


def _record(rec: dict[str, list[np.ndarray]], outs: dict[str, torch.Tensor],
            states: dict[str, dict[str, torch.Tensor]]) -> None:
    for name, s in outs.items():  # copies: the engine zeroes states in place at a reset
        rec.setdefault("s:" + name, []).append(s.cpu().numpy().copy())
    for name, st in states.items():
        for key in ("u", "v"):
            if key in st:
                rec.setdefault(f"{key}:{name}", []).append(st[key].cpu().numpy().copy())


def _prepare(graph: NetworkGraph, inputs: np.ndarray, steps: int | None) -> tuple[np.ndarray, bool, int]:
    inputs, static, T = prepare_inputs(graph, inputs, steps)
    data = inputs.round().astype(np.int64)
    if np.abs(data).max(initial=0) >= 1 << 31:
        raise NeuromapError("input values do not fit in 32 bits; scale the input")
    return data, static, T



def _stream(prog: Program, data: np.ndarray, static: bool, T: int, streams: int) -> Activity:
    """``streams`` independent streams of one sample each; returns their Activity."""
    graph = prog.graph
    rec = {lay.name: np.zeros((streams, T, lay.size), dtype=_event_dtype(prog, lay))
           for lay in graph.layers if lay.kind != "average" and (lay.neuron is not None or lay.kind == "input")}
    depth = prog.depth
    total = T + max(depth.values())

    def keep(t: int, outs: dict[str, torch.Tensor], _states: Any) -> None:
        for name, s in outs.items():
            j = t - depth[name] - 1
            if 0 <= j < T:
                rec[name][:, j] = s.cpu().numpy()
    _run(prog, data, static, T, streams, total, keep)
    return _finish(graph, rec, T)


def _stream_chunks(prog: Program, data: np.ndarray, static: bool, T: int, batch_size: int,
                   bar: Any) -> Iterator[Activity]:
    """One stream of all samples back to back (Lava's own time line), yielded in chunks of
    ``batch_size`` samples as soon as every layer has finished their windows."""
    graph = prog.graph
    depth = prog.depth
    n = data.shape[0]
    dmax = max(depth.values())
    names = [lay.name for lay in graph.layers if lay.kind != "average" and
             (lay.neuron is not None or lay.kind == "input")]
    bufs: dict[int, dict[str, np.ndarray]] = {}
    done: list[Activity] = []

    def chunk(c: int) -> dict[str, np.ndarray]:
        if c not in bufs:
            count = min(batch_size, n - c * batch_size)
            bufs[c] = {name: np.zeros((count, T, graph.layer(name).size),
                                      dtype=_event_dtype(prog, graph.layer(name))) for name in names}
        return bufs[c]

    def keep(t: int, outs: dict[str, torch.Tensor], _states: Any) -> None:
        for name, s in outs.items():
            k, j = divmod(t - depth[name] - 1, T)
            if 0 <= k < n:
                c, i = divmod(k, batch_size)
                chunk(c)[name][i, j] = s[0].cpu().numpy()
        for c in sorted(bufs):
            last = min(n, (c + 1) * batch_size)  # samples [c * batch_size, last)
            if t == last * T + dmax:
                done.append(_finish(graph, bufs.pop(c), T))
                bar.update(last - c * batch_size)

    for _ in _run_iter(prog, data, static, T, 1, n * T + dmax, keep, samples_per_stream=n):
        while done:
            yield done.pop(0)
    while done:
        yield done.pop(0)


def _event_dtype(prog: Program, lay: Layer) -> Any:
    return np.int32 if prog.graded.get(lay.name, False) else np.int8


def _finish(graph: NetworkGraph, rec: dict[str, np.ndarray], T: int) -> Activity:
    events = dict(rec)
    for edge in graph.edges:
        if edge.kind == "average":
            events[edge.dst] = events[edge.src].astype(np.float64) @ edge.weight.T
    return Activity(events=events, steps=T)


def _run(prog: Program, data: np.ndarray, static: bool, T: int, streams: int, total: int,
         keep: Callable[[int, dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]], None]) -> None:
    samples = data.shape[0] // streams if streams > 1 else data.shape[0]
    for _ in _run_iter(prog, data, static, T, streams, total, keep, samples_per_stream=samples):
        pass


def _run_iter(prog: Program, data: np.ndarray, static: bool, T: int, streams: int, total: int,
              keep: Callable[..., None], samples_per_stream: int) -> Iterator[int]:
    """Lava's global time line, steps 1..total, for ``streams`` streams of ``samples_per_stream``
    samples each (stream b holds samples b*m .. b*m + m - 1 when streams > 1, else all)."""
    graph, dev = prog.graph, prog.device
    inp = graph.input_layer
    m = samples_per_stream
    B = streams
    per_stream = data.reshape((B, m) + data.shape[1:]) if B > 1 else data[None]
    # history of every layer's output: hist[name][0] is the output of the previous step
    max_back = {lay.name: 1 for lay in graph.layers}
    for unit in prog.units:
        for syn in unit.syns:
            back = 1 + syn.edge.lag + max(syn.delays)
            max_back[syn.edge.src] = max(max_back[syn.edge.src], back)
    hist: dict[str, list[torch.Tensor]] = {}
    for lay in graph.layers:
        if lay.kind != "average":
            zero = torch.zeros((B, lay.size), dtype=torch.int64, device=dev)
            hist[lay.name] = [zero] * max_back[lay.name]
    states: dict[str, dict[str, torch.Tensor]] = {}
    for unit in prog.units:
        n = unit.layer.size
        z = lambda: torch.zeros((B, n), dtype=torch.int64, device=dev)  # noqa: E731
        states[unit.layer.name] = ({"u": z(), "v": z()} if unit.kind == "lif" else
                                   {"sigma": z(), "act": z(), "residue": z()})
    n_in = inp.size
    bias_in = None
    windowed = prog.independent and m == 1
    idle = {unit.layer.name: torch.zeros((B, unit.layer.size), dtype=torch.float32 if unit.kind == "lif"
                                         else torch.int64, device=dev) for unit in prog.units}
    for t in range(1, total + 1):
        k = (t - 1) // T  # the sample the input layer works on at step t
        drive = None
        if static:
            if k < m:
                bias_in = torch.as_tensor(wrap16(per_stream[:, k].reshape(B, n_in)) << 6, device=dev)
        elif k < m:
            drive = torch.as_tensor(per_stream[:, k, ..., (t - 1) % T].reshape(B, n_in), device=dev)
        outs: dict[str, torch.Tensor] = {}
        if inp.neuron is None:
            outs[inp.name] = drive if drive is not None else torch.zeros((B, n_in), dtype=torch.int64,
                                                                         device=dev)
        for unit in prog.units:
            lay = unit.layer
            if windowed and not unit.depth < t <= unit.depth + T:
                # one sample per stream: outside its window a layer's output is never read (the paths
                # are aligned) and its state is reset when the window opens
                outs[lay.name] = idle[lay.name]
                continue
            st = states[lay.name]
            if unit.layer.kind == "input":
                a_in = drive if drive is not None else torch.zeros((B, n_in), dtype=torch.int64, device=dev)
                bias = bias_in if static else None
            else:
                a_in = None
                for syn in unit.syns:
                    h = hist[syn.edge.src]
                    for value, fn in zip(syn.delays, syn.fns):
                        x = h[syn.edge.lag + value]
                        if syn.binary_in and x.dtype != torch.float32:  # LIF spikes are float 0/1 already
                            x = (x != 0).to(torch.float32)
                        cur = fn(x)
                        a_in = cur if a_in is None else a_in.add_(cur)
                bias = unit.params.get("bias")
            if unit.kind == "lif":
                if prog.resettable and t % T == (unit.depth + 1) % T:
                    st["u"].zero_()
                    st["v"].zero_()
                outs[lay.name] = _lif(st, a_in, bias, unit.params)
            elif unit.kind == "delta":
                outs[lay.name] = _delta(st, a_in, unit.params["vth"])
            elif unit.kind == "sigma_delta":
                outs[lay.name] = _sigma_delta(st, a_in, bias, unit.params["vth"])
            else:
                st["sigma"] = wrap32(st["sigma"] + a_in)
                outs[lay.name] = st["sigma"].clone()
        keep(t, outs, states)
        for name, s in outs.items():
            h = hist[name]
            h.insert(0, s)
            h.pop()
        yield t


def _lif(st: dict[str, torch.Tensor], a_in: torch.Tensor, bias: torch.Tensor | None,
         p: dict[str, Any]) -> torch.Tensor:
    """One step of Lava's bit-accurate LIF; returns the spikes as float 0/1 (what synapses read)."""
    cur = a_in << 6
    if p["du"] != 4096:
        cur += _decay(st["u"], p["du"])
    lo, hi = torch.aminmax(cur)
    if lo <= -_M23 or hi > _M23:  # rare: Lava's int32 arithmetic, then its 24-bit wrap of u
        cur = wrap32(cur)
        wrapped = torch.where(cur > _M23, cur - _U24, cur)
        cur = torch.where(wrapped <= -_M23, cur + _U24, wrapped)
    st["u"] = cur
    volt = cur.clone() if p["dv"] == 4096 else _decay(st["v"], p["dv"]).add_(cur)
    if bias is not None:
        volt += bias
    lo, hi = torch.aminmax(volt)
    if lo < -_M23 + 1 or hi > _M23 - 1:  # saturate as Lava does (after its int32 arithmetic)
        volt = torch.clamp(wrap32(volt), -_M23 + 1, _M23 - 1)
    spikes = volt > p["vth"]
    st["v"] = volt.masked_fill_(spikes, 0)
    return spikes.to(torch.float32)


def _delta(st: dict[str, torch.Tensor], a_in: torch.Tensor, vth: int) -> torch.Tensor:
    act = wrap32(a_in << 12)
    delta = wrap32(act - st["act"] + st["residue"])
    out = torch.where(delta.abs() >= vth, delta, torch.zeros_like(delta))
    st["residue"] = wrap32(delta - out)
    st["act"] = act
    return out >> 6


def _sigma_delta(st: dict[str, torch.Tensor], a_in: torch.Tensor, bias: torch.Tensor | None,
                 vth: int) -> torch.Tensor:
    st["sigma"] = wrap32(st["sigma"] + a_in)
    act = st["sigma"] if bias is None else wrap32(st["sigma"] + bias)
    act = torch.clamp(act, min=0)
    delta = wrap32(act - st["act"] + st["residue"])
    out = torch.where(delta.abs() >= vth, delta, torch.zeros_like(delta))
    st["residue"] = wrap32(delta - out)
    st["act"] = act
    return out >> 6
