"""NIR (Neuromorphic Intermediate Representation, ``nir`` 1.0.x) <-> NetworkGraph.

Export (:func:`graph_to_nir`) writes one NIR subgraph per IR edge (``Delay`` for a ``lag``,
``Flatten`` when a dense edge reads a spatial layer, then ``Conv2d`` or ``Affine``, then a
``Delay`` for NetX per-output-neuron delays) and one ``CubaLIF`` per neuron layer, plus
``Input``/``Output`` nodes. Import (:func:`nir_to_graph`) reads graphs made by us (exactly, from
the ``neuromap_*`` metadata) or elsewhere (from the float parameters, quantised to integer
mantissas per layer). docs/nir.md has the mapping table, the units and what does not translate.

Units: NIR values are in the IR's own unit, the weight mantissa (one LSB of a synaptic weight):
``v_threshold = vThMant``; decays ``d`` (out of 4096) become time constants with dt = 1 step,
``tau = 4096 / d`` (``inf`` for ``d = 0``); forward Euler with dt = 1 then reproduces Lava's
fixed-point CUBA update when ``w_in = tau_syn`` and ``r = tau_mem`` (the ratio ``inf / inf`` is
read as 1) and the per-neuron bias is ``v_leak / tau_mem``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

import nir

from ..errors import NeuromapError
from ..graph import Edge, Layer, NetworkGraph, Neuron
from ..h5io import check_structure, read_error, require_hdf5
from ..outputs import atomic_path
from ..validate import check_neurons, validate

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


# --------------------------------------------------------------------------------------------
# IR -> NIR
# --------------------------------------------------------------------------------------------

def graph_to_nir(graph: NetworkGraph, dt: float = 1.0, plain: bool = True) -> nir.NIRGraph:
    """Translate ``graph`` into an ``nir.NIRGraph`` (see the module docstring for the units).

    ``dt`` is the reader's time step in its own unit: time constants are written as
    ``steps * dt`` with ``w_in = tau_syn / dt`` and ``r = tau_mem / dt`` (unit input gains under
    forward Euler, snnTorch's convention), so a peer that simulates with that dt sees neuromap's
    per-step update. With ``plain``, a layer with full current decay is a plain ``LIF`` (``IF``
    without leak and bias), which snnTorch and Sinabs read; without, every layer is a ``CubaLIF``
    (Norse 1.1 ignores a ``LIF``'s ``r`` but reads ``CubaLIF`` fully).

    Raises NeuromapError for what NIR 1.0 cannot express: non-CUBA neurons (e.g. SDNN
    sigma-delta), graded spikes, per-synapse delays that vary with both pre and post neuron."""
    if not (np.isfinite(dt) and dt > 0):
        raise NeuromapError(f"--dt must be a positive number (the reader's time step), got {dt}")
    names = [lay.name for lay in graph.layers]
    if len(set(names)) != len(names):
        raise NeuromapError(f"graph {graph.name} has duplicate layer names; rename them")
    for n in names:
        if "/" in n or not n:
            raise NeuromapError(f"layer name {n!r} cannot be a NIR node name (empty or has '/'); "
                                f"rename the layer")
    layers = {lay.name: lay for lay in graph.layers}
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    for lay in graph.layers:
        if lay.kind == "input":
            if lay.neuron is None:
                nodes[lay.name] = nir.Input(input_type={"input": np.array(_nir_shape(lay.shape))})
            else:
                data = f"{lay.name}.data"
                nodes[data] = nir.Input(input_type={"input": np.array(_nir_shape(lay.shape))})
                nodes[lay.name] = _neuron_node(lay, dt, plain)
                edges.append((data, lay.name))
        elif lay.kind == "average":
            if lay.neuron is not None:
                raise NeuromapError(f"average layer {lay.name} has a neuron; an average readout "
                                    f"is host-side, drop its neuron")
            nodes[lay.name] = nir.Output(output_type={"output": np.array([lay.size])})
        else:
            if lay.neuron is None:
                raise NeuromapError(f"layer {lay.name} ({lay.kind}) has no neuron model, so it "
                                    f"has no NIR neuron node; give it a neuron or drop it")
            nodes[lay.name] = _neuron_node(lay, dt, plain)
    syn_names: list[str] = []
    seen_pairs: set[tuple[str, str]] = set()
    for i, e in enumerate(graph.edges):
        if e.src not in layers or e.dst not in layers:
            missing = e.src if e.src not in layers else e.dst
            raise NeuromapError(f"edge {e.src} -> {e.dst} refers to layer {missing}, which the "
                                f"graph does not have; fix the edge")
        base = f"{e.src}->{e.dst}"
        if (e.src, e.dst) in seen_pairs:
            base = f"{base}#{i}"
        seen_pairs.add((e.src, e.dst))
        chain = _edge_chain(e, layers[e.src], layers[e.dst], base)
        prev = e.src
        for node_name, node in chain:
            if node_name in nodes:
                raise NeuromapError(f"NIR node name {node_name} (for edge {e.src} -> {e.dst}) "
                                    f"collides with another node; rename the layers")
            nodes[node_name] = node
            edges.append((prev, node_name))
            prev = node_name
        edges.append((prev, e.dst))
        syn_names.append(f"{base}.syn")
    for lay in graph.layers:
        if lay.kind != "average" and not graph.out_edges(lay.name) and lay.kind != "input":
            out = f"{lay.name}.out"
            if out in nodes:
                raise NeuromapError(f"NIR node name {out} (output of layer {lay.name}) collides "
                                    f"with another node; rename the layers")
            nodes[out] = nir.Output(output_type={"output": np.array(_nir_shape(lay.shape))})
            edges.append((lay.name, out))
    meta = {"neuromap_format": FORMAT, "neuromap_dt": float(dt),
            "neuromap_graph": json.dumps({"name": graph.name, "layers": names, "edges": syn_names,
                                          "meta": dict(graph.meta)}, default=str)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def _neuron_node(lay: Layer, dt: float = 1.0, plain: bool = True) -> Any:
    assert lay.neuron is not None
    ntype, p = lay.neuron.type, dict(lay.neuron.params)
    if ntype not in CUBA_TYPES:
        raise NeuromapError(f"layer {lay.name} uses {ntype} neurons, which NIR 1.0 has no "
                            f"primitive for (only CUBA/LOIHI LIF neurons translate, as CubaLIF); "
                            f"retrain the network with CUBA neurons to export it")
    if p.get("gradedSpike"):
        raise NeuromapError(f"layer {lay.name} sends graded spikes (gradedSpike=True); NIR 1.0 "
                            f"neurons emit binary spikes; export it with gradedSpike=False")
    try:
        i_decay, v_decay, vth = (float(p[k]) for k in ("iDecay", "vDecay", "vThMant"))
    except (KeyError, TypeError, ValueError):
        raise NeuromapError(f"layer {lay.name}: CUBA neuron needs numeric iDecay, vDecay and "
                            f"vThMant, got {sorted(p)}; fix the neuron description") from None
    shape = _nir_shape(lay.shape)
    tau_syn = _tau(i_decay, lay.name, "iDecay")
    tau_mem = _tau(v_decay, lay.name, "vDecay")
    bias = np.zeros(shape) if lay.bias is None else _to_nir(lay.bias, lay.shape)
    with np.errstate(invalid="ignore"):
        v_leak = np.where(bias == 0, 0.0, bias * tau_mem)
    meta: dict[str, Any] = {"neuromap_layer": json.dumps(
        {"kind": lay.kind, "type": ntype, "params": p, "transform":
         dict(lay.transform) if lay.transform is not None else None}, default=str)}
    if lay.bias is not None:
        meta["neuromap_bias"] = bias
    full = np.ones(shape)
    zero = np.zeros(shape)
    if plain and i_decay == DECAY_UNITY and v_decay == 0 and not np.any(bias):
        # u = this step's input, v = v + u: integrate-and-fire, v += r I per step
        return nir.IF(r=full, v_threshold=full * vth, v_reset=zero, metadata=meta)
    if plain and i_decay == DECAY_UNITY:
        return nir.LIF(tau=full * tau_mem * dt, r=full * tau_mem, v_leak=v_leak,
                       v_threshold=full * vth, v_reset=zero, metadata=meta)
    return nir.CubaLIF(tau_syn=full * tau_syn * dt, tau_mem=full * tau_mem * dt, r=full * tau_mem,
                       v_leak=v_leak, v_threshold=full * vth, w_in=full * tau_syn, v_reset=zero,
                       metadata=meta)


def _tau(decay: float, layer: str, key: str) -> float:
    if not 0 <= decay <= DECAY_UNITY:
        raise NeuromapError(f"layer {layer}: {key}={decay:g} is outside 0..{DECAY_UNITY}; fix the "
                            f"neuron description")
    return float("inf") if decay == 0 else DECAY_UNITY / decay


def _edge_chain(e: Edge, src: Layer, dst: Layer, base: str) -> list[tuple[str, Any]]:
    where = f"edge {e.src} -> {e.dst}"
    src_shape = _nir_shape(src.shape)
    chain: list[tuple[str, Any]] = []
    if e.lag < 0 or int(e.lag) != e.lag:
        raise NeuromapError(f"{where}: lag {e.lag} must be a non-negative whole number of steps")
    if e.lag:
        chain.append((f"{base}.lag", nir.Delay(delay=np.full(src_shape, float(e.lag)),
                                               metadata={"neuromap_role": "lag"})))
    if e.kind == "conv":
        if e.delay is not None and np.any(e.delay):
            raise NeuromapError(f"{where}: per-synapse delays on a conv edge do not translate to "
                                f"NIR; drop them or use the edge's lag")
        if len(src.shape) != 3 or e.weight.ndim != 4:
            raise NeuromapError(f"{where}: a conv edge needs an (x, y, c) source and a 4-D weight, "
                                f"got {src.shape} and {e.weight.shape}")
        rev = lambda pair: (int(pair[1]), int(pair[0]))  # (x, y) -> torch (h, w)  # noqa: E731
        syn = nir.Conv2d(input_shape=(int(src.shape[1]), int(src.shape[0])),
                         weight=_conv_to_nir(e.weight), stride=rev(e.stride),
                         padding=rev(e.padding), dilation=rev(e.dilation), groups=int(e.groups),
                         bias=np.zeros(e.weight.shape[0]))
        chain.append((f"{base}.syn", syn))
        return chain
    if e.kind not in ("dense", "average"):
        raise NeuromapError(f"{where}: edge kind {e.kind!r} is unknown (dense, conv, average)")
    weight = np.asarray(e.weight, dtype=np.float64)
    if weight.shape != (dst.size, src.size):
        raise NeuromapError(f"{where}: dense weight {weight.shape} does not connect {src.size} "
                            f"neurons to {dst.size}")
    post_delay = None
    delay_role = "none"
    if e.delay is not None:
        d = np.asarray(e.delay, dtype=np.float64)
        if d.shape != weight.shape:
            raise NeuromapError(f"{where}: delay {d.shape} does not match weight {weight.shape}")
        if np.all(d == d[:, :1]):
            post_delay, delay_role = d[:, 0].copy(), "post"
        elif np.all(d == d[:1, :]):
            delay_role = "pre"
            chain.append((f"{base}.delay", nir.Delay(delay=_to_nir(d[0], src.shape),
                                                     metadata={"neuromap_role": "delay"})))
        else:
            raise NeuromapError(f"{where}: its NetX delays vary with both the pre and the post "
                                f"neuron; NIR 1.0's Delay delays whole signals, so only per-input "
                                f"or per-output delays translate")
    if len(src.shape) == 3:
        chain.append((f"{base}.flatten", nir.Flatten(input_type={"input": np.array(src_shape)},
                                                     start_dim=0, end_dim=-1)))
        weight = weight[:, np.argsort(_flat_perm(src.shape))]
    elif len(src.shape) != 1:
        raise NeuromapError(f"{where}: source {e.src} has shape {src.shape}; NIR export needs "
                            f"(n,) or (x, y, c) layers")
    chain.append((f"{base}.syn", nir.Affine(weight=weight, bias=np.zeros(weight.shape[0]),
                                            metadata={"neuromap_kind": e.kind,
                                                      "neuromap_delay": delay_role})))
    if post_delay is not None:
        chain.append((f"{base}.delay", nir.Delay(delay=post_delay,
                                                 metadata={"neuromap_role": "delay"})))
    return chain


# --------------------------------------------------------------------------------------------
# NIR -> IR
# --------------------------------------------------------------------------------------------

def nir_to_graph(g: nir.NIRGraph, name: str | None = None,
                 dt: float | None = None) -> NetworkGraph:
    """Translate an ``nir.NIRGraph`` into a NetworkGraph.

    Graphs written by :func:`graph_to_nir` come back exactly (integer weights and NetX neuron
    parameters from the ``neuromap_*`` metadata). Other graphs are read from their float
    parameters: per neuron node, weights are scaled so the largest fits 8 bits signed and
    rounded, and threshold and bias are scaled the same way. ``name`` defaults to the name
    stored by :func:`graph_to_nir`, else ``"nir"``.

    ``dt`` is the writer's time step in its time unit (seconds for snnTorch, Norse, Rockpool):
    a time constant ``tau`` becomes ``tau / dt`` steps and the Euler gains ``dt / tau`` follow.
    None infers it (:func:`infer_dt`): 1 when every time constant is at least one step, else
    the one step that the file's own ``r = tau / dt`` convention states."""
    if not isinstance(g, nir.NIRGraph):
        raise NeuromapError(f"expected an nir.NIRGraph, got {type(g).__name__}")
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise NeuromapError(f"--dt must be a positive number of seconds (the writer's time "
                            f"step), got {dt}")
    return validate(_Importer(g, name, dt).run())


class _Importer:
    def __init__(self, g: nir.NIRGraph, name: str | None, dt: float | None = None) -> None:
        self.g = g
        self.dt = dt
        self.dt_source = "given" if dt is not None else None
        self.nodes, self.edges = _inline_subgraphs(g)
        self.gmeta = _graph_meta(getattr(g, "metadata", None) or {})
        self.name = name or (self.gmeta or {}).get("name") or "nir"
        self.preds: dict[str, list[str]] = {n: [] for n in self.nodes}
        self.succs: dict[str, list[str]] = {n: [] for n in self.nodes}
        self.shape: dict[str, tuple[int, ...]] = {}
        self.rec: set[str] = set()
        self.foreign = False  # True once a neuron node is read from its float parameters

    # -- structure --------------------------------------------------------------------------
    def run(self) -> NetworkGraph:
        self._check_nodes()
        if self.dt is None:
            self.dt, self.dt_source = infer_dt(self.nodes)
        rec = self.rec = self._recurrent()
        order = self._toposort(rec)
        for n in order:
            self._infer(n)
        for s in rec:
            self._infer(s)
            (nn,) = self.preds[s]
            if self.shape[s] != self.shape[nn]:
                raise NeuromapError(f"NIR recurrent node {s} maps {self.shape[nn]} to "
                                    f"{self.shape[s]}; a recurrent synapse must keep {nn}'s shape")
        return self._build(order, rec)

    def _check_nodes(self) -> None:
        for n, node in self.nodes.items():
            kind = type(node).__name__
            if kind not in SUPPORTED:
                raise NeuromapError(f"NIR node {n} is a {kind}, which neuromap does not import "
                                    f"(supported: {', '.join(SUPPORTED)}); replace it")
        for a, b in self.edges:
            for n in (a, b):
                if n not in self.nodes:
                    raise NeuromapError(f"NIR edge {a} -> {b} refers to node {n}, which the graph "
                                        f"does not define; add the node or fix the edge")
            self.preds[b].append(a)
            self.succs[a].append(b)
        for n, node in self.nodes.items():
            if isinstance(node, nir.Input) and self.preds[n]:
                raise NeuromapError(f"NIR Input node {n} has incoming edges from "
                                    f"{', '.join(self.preds[n])}; an Input cannot have inputs")
            if isinstance(node, nir.Output) and self.succs[n]:
                raise NeuromapError(f"NIR Output node {n} has outgoing edges; remove them")
        inputs = [n for n, v in self.nodes.items() if isinstance(v, nir.Input)]
        if len(inputs) != 1:
            raise NeuromapError(f"NIR graph has {len(inputs)} Input nodes ({', '.join(inputs)}); "
                                f"neuromap maps networks with exactly one input")

    def _recurrent(self) -> set[str]:
        """Dense synapses that feed a neuron node's spikes back to itself (IR recurrent edges)."""
        rec = set()
        for n, node in self.nodes.items():
            if isinstance(node, (nir.Affine, nir.Linear)) and len(self.preds[n]) == 1 \
                    and self.preds[n] == self.succs[n] \
                    and isinstance(self.nodes[self.preds[n][0]], NEURON_TYPES):
                rec.add(n)
        return rec

    def _toposort(self, rec: set[str]) -> list[str]:
        indeg = {n: sum(1 for p in self.preds[n] if p not in rec) for n in self.nodes if n not in rec}
        ready = [n for n in self.nodes if n in indeg and indeg[n] == 0]
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for s in self.succs[n]:
                if s in indeg:
                    indeg[s] -= 1
                    if indeg[s] == 0:
                        ready.append(s)
        if len(order) != len(indeg):
            left = [n for n in indeg if n not in set(order)]
            cycle = self._find_cycle(set(left))
            raise NeuromapError(f"NIR graph has a cycle through {' -> '.join(cycle)}; neuromap "
                                f"runs feed-forward graphs (plus a neuron's own recurrent "
                                f"Affine/Linear), remove the loop")
        return order

    def _find_cycle(self, left: set[str]) -> list[str]:
        left = set(left)
        while True:  # drop nodes downstream of the loop: each node left then has a successor left
            sinks = {n for n in left if not any(s in left for s in self.succs[n])}
            if not sinks:
                break
            left -= sinks
        start = next(n for n in self.nodes if n in left)
        path, seen, n = [start], {start}, start
        while True:
            n = next(s for s in self.succs[n] if s in left)
            if n in seen:
                return path[path.index(n):] + [n]
            path.append(n)
            seen.add(n)

    def _in_shape(self, n: str) -> tuple[int, ...]:
        preds = [p for p in self.preds[n] if p not in self.rec]
        if not preds:
            raise NeuromapError(f"NIR node {n} has no input; connect it or remove it")
        shapes = {p: self.shape[p] for p in preds}
        first = shapes[preds[0]]
        for p in preds[1:]:
            if shapes[p] != first:
                raise NeuromapError(f"NIR node {n} joins inputs of different shapes: {preds[0]} "
                                    f"gives {first} but {p} gives {shapes[p]}; make them match")
        return first

    def _infer(self, n: str) -> None:
        node = self.nodes[n]
        if isinstance(node, nir.Input):
            shape = tuple(int(v) for v in np.asarray(node.input_type["input"]).reshape(-1))
            if len(shape) not in (1, 3) or min(shape, default=0) < 1:
                raise NeuromapError(f"NIR Input {n} has shape {shape}; neuromap needs (n,) or "
                                    f"(C, H, W)")
            check_neurons(int(np.prod(shape, dtype=np.int64)), f"NIR Input {n}")
            self.shape[n] = shape
            return
        shape = self._in_shape(n)
        if isinstance(node, nir.Output):
            declared = np.asarray((getattr(node, "output_type", None) or {}).get("output", []),
                                  dtype=np.float64).reshape(-1)
            if not np.all(np.isfinite(declared)) or np.any(declared < 0) or \
                    np.any(declared != np.round(declared)) or \
                    declared.size and np.prod(declared) != np.prod(shape):
                raise NeuromapError(f"NIR Output {n} declares shape {declared.tolist()[:4]} but "
                                    f"receives {shape}; fix the file")
        if isinstance(node, (nir.Output, *NEURON_TYPES)):
            out = shape
            if isinstance(node, NEURON_TYPES):
                for key, val in _neuron_arrays(node).items():
                    try:
                        np.broadcast_to(val, shape)
                    except ValueError:
                        raise NeuromapError(f"NIR neuron node {n}: {key} of shape "
                                            f"{np.shape(val)} does not fit its input shape "
                                            f"{shape}") from None
        elif isinstance(node, nir.Delay):
            d = np.asarray(node.delay, dtype=np.float64)
            if d.size != 1 and d.shape != shape:
                raise NeuromapError(f"NIR Delay {n}: delay of shape {d.shape} does not fit its "
                                    f"input shape {shape}")
            out = shape
        elif isinstance(node, nir.Flatten):
            out = _flatten_shape(node, shape, n)
        elif isinstance(node, nir.Conv2d):
            out = _conv_out(node, shape, n)
        elif isinstance(node, nir.SumPool2d):
            out = _pool_out(node, shape, n)
        else:  # Affine / Linear
            w = np.asarray(node.weight)
            if w.ndim != 2:
                raise NeuromapError(f"NIR {type(node).__name__} {n}: weight must be 2-D, got "
                                    f"{w.shape}")
            if len(shape) != 1:
                raise NeuromapError(f"NIR {type(node).__name__} {n} reads a {shape} signal; put a "
                                    f"nir.Flatten in front of it")
            if w.shape[1] != shape[0]:
                raise NeuromapError(f"NIR {type(node).__name__} {n}: weight {w.shape} does not "
                                    f"take its {shape[0]} inputs")
            out = (int(w.shape[0]),)
        check_neurons(int(np.prod(out, dtype=np.int64)), f"NIR node {n}")  # before any allocation
        self.shape[n] = tuple(int(v) for v in out)

    # -- paths from anchors -----------------------------------------------------------------
    def _is_anchor(self, n: str) -> bool:
        return isinstance(self.nodes[n], (nir.Input, *NEURON_TYPES))

    def _paths(self, n: str, suffix: list[str]) -> Iterator[tuple[str, list[str]]]:
        if self._is_anchor(n):
            yield n, suffix
            return
        if isinstance(self.nodes[n], nir.Output):
            raise NeuromapError(f"NIR Output {n} feeds other nodes; remove those edges")
        for p in self.preds[n]:
            yield from self._paths(p, [n] + suffix)

    # -- build --------------------------------------------------------------------------------
    def _build(self, order: list[str], rec: set[str]) -> NetworkGraph:
        (inp,) = [n for n in order if isinstance(self.nodes[n], nir.Input)]
        # the IR name each NIR anchor's spikes leave under
        layer_of: dict[str, str] = {}
        layers: dict[str, Layer] = {}
        pending: list[tuple[str, str, list[str]]] = []  # (src anchor, dst node, chain)
        direct = [s for s in self.succs[inp] if isinstance(self.nodes[s], NEURON_TYPES)]
        input_neuron = None
        if direct:
            input_neuron = direct[0]
            if len(self.succs[inp]) != 1 or len(self.preds[input_neuron]) != 1:
                raise NeuromapError(f"NIR Input {inp} feeds neuron node {input_neuron} directly and "
                                    f"has or shares other connections; neuromap needs the input "
                                    f"neuron layer to be fed by the Input alone")
            if "neuromap_layer" not in _node_meta(self.nodes[input_neuron]):
                raise NeuromapError(f"NIR Input {inp} feeds neuron node {input_neuron} with no "
                                    f"synapse in between; neuromap has no encoding for that, put "
                                    f"an Affine/Linear (e.g. identity) between them")
            layer_of[input_neuron] = input_neuron
        else:
            layer_of[inp] = inp
            layers[inp] = Layer(inp, "input", _ir_shape(self.shape[inp]))
        for n in order:
            node = self.nodes[n]
            if isinstance(node, NEURON_TYPES):
                layer_of[n] = n
                if n == input_neuron:
                    continue
                for p in self.preds[n]:
                    if p in rec:
                        continue
                    for src, chain in self._paths(p, []):
                        pending.append((src, n, chain))
                for p in self.preds[n]:
                    if p in rec:
                        pending.append((n, n, [p]))
            elif isinstance(node, nir.Output):
                for p in self.preds[n]:
                    for src, chain in self._paths(p, []):
                        if chain:
                            pending.append((src, n, chain))
        # turn each path into a float edge description
        raw: list[dict[str, Any]] = []
        for src, dst, chain in pending:
            if src == inp and input_neuron is not None:
                raise NeuromapError(f"NIR Input {inp} feeds neuron node {input_neuron} directly and "
                                    f"also {dst}; neuromap needs one input layer")
            if not any(isinstance(self.nodes[c], SYNAPSE_TYPES) for c in chain):
                raise NeuromapError(f"NIR path {' -> '.join([src, *chain, dst])} has no synapse "
                                    f"(Conv2d, Affine, Linear or SumPool2d); neuromap connects "
                                    f"neuron layers through synapses only, add one")
            raw.append(self._chain_edge(src, dst, chain, layer_of))
        # neuron layers, each with its in-edges quantised together
        by_dst: dict[str, list[dict[str, Any]]] = {}
        for r in raw:
            by_dst.setdefault(r["dst"], []).append(r)
        for n in order:
            node = self.nodes[n]
            if isinstance(node, NEURON_TYPES):
                layers[n] = self._neuron_layer(n, by_dst.get(n, []), input_layer=n == input_neuron)
            elif isinstance(node, nir.Output) and n in by_dst:
                layers[n] = self._average_layer(n, by_dst[n])
        edges = [r["edge"] for r in raw]
        return self._assemble(layers, edges, raw, inp if input_neuron is None else input_neuron)

    def _assemble(self, layers: dict[str, Layer], edges: list[Edge], raw: list[dict[str, Any]],
                  first: str) -> NetworkGraph:
        gm = self.gmeta or {}
        names = list(layers)
        stored = gm.get("layers")
        if isinstance(stored, list) and sorted(stored) == sorted(names):
            names = list(stored)
        else:
            names = [first] + [n for n in names if n != first]
        stored_edges = gm.get("edges")
        if isinstance(stored_edges, list) and sorted(stored_edges) == \
                sorted(r["syn"] for r in raw if r["syn"] is not None):
            rank = {s: i for i, s in enumerate(stored_edges)}
            edges = [r["edge"] for r in sorted(raw, key=lambda r: rank.get(r["syn"], 0))]
        meta = dict(gm.get("meta") or {})
        if self.foreign:
            meta["nir_import"] = {"dt": self.dt, "dt_from": self.dt_source}
        return NetworkGraph(name=str(self.name), layers=tuple(layers[n] for n in names),
                            edges=tuple(edges), meta=meta)

    def _chain_edge(self, src: str, dst: str, chain: list[str],
                    layer_of: dict[str, str]) -> dict[str, Any]:
        """One IR edge (weights still float, in NIR units) from a path src -> chain -> dst."""
        where = " -> ".join([src, *chain, dst])
        src_nir = self.shape[src]
        src_ir = _ir_shape(src_nir)
        lag = 0.0
        pre_delay = None  # NIR-flat per-input delays (dense only)
        post_delay = None
        flatten = False
        pool = syn = None
        for c in chain:
            node = self.nodes[c]
            if isinstance(node, nir.Delay):
                d = np.asarray(node.delay, dtype=np.float64)
                if not np.all(np.isfinite(d)) or np.any(d < 0) or np.any(d != np.round(d)):
                    raise NeuromapError(f"NIR Delay {c} must hold non-negative whole numbers of "
                                        f"steps (dt = 1); round its delays")
                role = _node_meta(node).get("neuromap_role")
                uniform = d.size == 1 or np.all(d == d.reshape(-1)[0])
                if syn is None and pool is None and role != "delay" and uniform:
                    lag += float(d.reshape(-1)[0])
                elif syn is None and pool is None:
                    pre_delay = (0 if pre_delay is None else pre_delay) + \
                        np.broadcast_to(d, self.shape[c]).reshape(-1)
                elif syn is not None:
                    post_delay = (0 if post_delay is None else post_delay) + \
                        np.broadcast_to(d, self.shape[c]).reshape(-1)
                elif uniform:
                    lag += float(d.reshape(-1)[0])
                else:
                    raise NeuromapError(f"NIR Delay {c} on path {where} delays neurons unequally "
                                        f"between other operations; only uniform delays or "
                                        f"per-input/per-output delays around a dense synapse "
                                        f"translate")
            elif isinstance(node, nir.Flatten):
                if syn is not None or flatten:
                    raise NeuromapError(f"NIR Flatten {c} on path {where} is not directly before "
                                        f"the Affine/Linear; neuromap reads Flatten -> Affine only")
                flatten = True
            elif isinstance(node, nir.SumPool2d):
                if pool is not None or syn is not None or flatten:
                    raise NeuromapError(f"NIR SumPool2d {c} on path {where} must come first "
                                        f"(one pooling before one synapse)")
                pool = c
            else:
                if syn is not None:
                    raise NeuromapError(f"NIR path {where} has two synapses ({syn}, {c}) without "
                                        f"a neuron between them; neuromap maps one synapse per "
                                        f"edge, put a neuron node between them")
                syn = c
        src_name = layer_of[src]
        dst_shape_nir = self.shape[dst]
        out: dict[str, Any] = {"src": src_name, "dst": dst, "syn": syn, "where": where}
        if syn is not None and isinstance(self.nodes[syn], nir.Conv2d) or \
                syn is None and pool is not None:
            if pre_delay is not None and np.any(pre_delay != pre_delay[0]) or \
                    post_delay is not None and np.any(post_delay != post_delay[0]):
                raise NeuromapError(f"NIR path {where}: unequal delays around a convolution do "
                                    f"not translate; neuromap delays conv edges as a whole (lag)")
            lag += float(pre_delay[0]) if pre_delay is not None else 0.0
            lag += float(post_delay[0]) if post_delay is not None else 0.0
            w, stride, padding, dilation, groups, bias = self._conv_parts(pool, syn, src_nir, where)
            out.update(kind="conv", weight=w, stride=stride, padding=padding, dilation=dilation,
                       groups=groups, bias=bias, delay=None)
        else:
            node = self.nodes[syn]
            w = np.asarray(node.weight, dtype=np.float64)
            b = np.asarray(getattr(node, "bias", 0.0), dtype=np.float64)
            if pool is not None:
                if not flatten:
                    raise NeuromapError(f"NIR path {where}: SumPool2d must be followed by "
                                        f"Flatten before an Affine/Linear")
                P = _pool_matrix(self.nodes[pool], src_nir, pool)
                w = w @ P
            elif len(src_nir) == 3 and not flatten:
                raise NeuromapError(f"NIR path {where} feeds a {src_nir} signal into {syn} "
                                    f"without Flatten; add a nir.Flatten")
            if w.shape[1] != int(np.prod(src_nir)):
                raise NeuromapError(f"NIR path {where}: {syn} takes {w.shape[1]} inputs but "
                                    f"{src} has {int(np.prod(src_nir))}")
            perm = _flat_perm(src_ir)
            w = w[:, perm]
            delay = None
            role = _node_meta(node).get("neuromap_delay")
            if pre_delay is not None or post_delay is not None or role in ("pre", "post"):
                pre = np.zeros(w.shape[1]) if pre_delay is None else \
                    np.broadcast_to(pre_delay, (int(np.prod(src_nir)),))[perm]
                post = np.zeros(w.shape[0]) if post_delay is None else \
                    np.broadcast_to(post_delay, (w.shape[0],))
                delay = pre[None, :] + post[:, None]
            kind = "average" if isinstance(self.nodes[dst], nir.Output) else "dense"
            out.update(kind=kind, weight=w, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                       groups=1, bias=np.broadcast_to(b, (w.shape[0],)).astype(np.float64),
                       delay=delay)
        if tuple(out["bias"].shape) != dst_shape_nir and out["kind"] == "conv":
            out["bias"] = np.broadcast_to(out["bias"][:, None, None], dst_shape_nir)
        out["lag"] = lag
        return out

    def _conv_parts(self, pool: str | None, syn: str | None, src_nir: tuple[int, ...],
                    where: str) -> tuple[Any, ...]:
        c_in = src_nir[0]
        if pool is not None:
            pk, ps, pp = _pool_params(self.nodes[pool], pool)
        if syn is None:  # pooling alone: a depthwise all-ones convolution
            w = np.ones((c_in, 1, pk[0], pk[1]))
            return _conv_to_ir(w), (ps[1], ps[0]), (pp[1], pp[0]), (1, 1), c_in, np.zeros(c_in)
        node = self.nodes[syn]
        w = np.asarray(node.weight, dtype=np.float64)
        stride, padding, dilation = (_pair(getattr(node, k), syn, k) for k in
                                     ("stride", "padding", "dilation"))
        padding = _conv_padding(node.padding, w.shape[2:], dilation, syn)
        groups = int(np.asarray(node.groups).reshape(-1)[0])
        bias = np.broadcast_to(np.asarray(node.bias, dtype=np.float64).reshape(-1),
                               (w.shape[0],)).copy()
        if pool is not None:
            pooled = _pool_out(self.nodes[pool], src_nir, pool)
            covered = all(o * st >= size for o, st, size in zip(pooled[1:], ps, src_nir[1:]))
            if pp != (0, 0) or padding != (0, 0) and (any(k > st for k, st in zip(pk, ps))
                                                       or not covered):
                raise NeuromapError(
                    f"NIR path {where}: SumPool2d {pool} (kernel {pk}, stride {ps}, padding "
                    f"{pp}) before the padded Conv2d {syn} does not compose into one "
                    f"convolution over {src_nir}: that needs an unpadded pooling whose windows "
                    f"do not overlap and cover the input; pool with kernel = stride dividing the "
                    f"input, or put a neuron node between them")
            # conv(pool(x)): kernel = conv kernel dilated by the pool stride, smeared by the pool;
            # the conv's zero padding of p pooled rows is p * stride zero rows of the input
            # (windows that do not overlap and cover the input read nothing else)
            kh = (w.shape[2] - 1) * dilation[0] * ps[0] + pk[0]
            kw = (w.shape[3] - 1) * dilation[1] * ps[1] + pk[1]
            big = np.zeros(w.shape[:2] + (kh, kw))
            for u in range(w.shape[2]):
                for v in range(w.shape[3]):
                    y0, x0 = u * dilation[0] * ps[0], v * dilation[1] * ps[1]
                    big[:, :, y0:y0 + pk[0], x0:x0 + pk[1]] += w[:, :, u:u + 1, v:v + 1]
            direct = _conv_out(node, pooled, syn)
            stride2 = (stride[0] * ps[0], stride[1] * ps[1])
            padding = (padding[0] * ps[0], padding[1] * ps[1])
            composed = tuple((s + 2 * p - k) // st + 1 for s, p, k, st in
                             zip(src_nir[1:], padding, (kh, kw), stride2))
            if tuple(direct[1:]) != composed:
                raise NeuromapError(f"NIR path {where}: SumPool2d {pool} then Conv2d {syn} does "
                                    f"not compose into one convolution over {src_nir}; put a "
                                    f"neuron node between them")
            w, stride, dilation = big, stride2, (1, 1)
        return (_conv_to_ir(w), (stride[1], stride[0]), (padding[1], padding[0]),
                (dilation[1], dilation[0]), groups, bias)

    def _neuron_layer(self, n: str, ins: list[dict[str, Any]], input_layer: bool) -> Layer:
        node = self.nodes[n]
        nir_shape = self.shape[n]
        ir_shape = _ir_shape(nir_shape)
        meta = _node_meta(node)
        stored = _json(meta.get("neuromap_layer"), n)
        exact = isinstance(stored, dict) and all(
            _is_int(r["weight"]) and not np.any(r["bias"]) for r in ins)
        if exact:
            neuron = Neuron(type=str(stored.get("type", "CUBA")),
                            params=dict(stored.get("params") or {}))
            bias = meta.get("neuromap_bias")
            bias = None if bias is None else _to_ir(np.asarray(bias), nir_shape)
            kind = str(stored.get("kind") or ("conv" if len(ir_shape) == 3 else "dense"))
            transform = stored.get("transform")
            for r in ins:
                r["edge"] = self._edge(r, r["weight"])
            return Layer(n, "input" if input_layer else kind, ir_shape, neuron, bias,
                         transform=dict(transform) if transform is not None else None)
        if input_layer:
            raise NeuromapError(f"NIR neuron node {n} is fed by the Input directly but its "
                                f"neuromap metadata is missing or edited; add a synapse")
        self.foreign = True
        dt = float(self.dt)
        arrays = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), nir_shape)
                  for k, v in _neuron_arrays(node).items()}
        for k, v in arrays.items():
            if np.any(np.isnan(v)):
                raise NeuromapError(f"NIR neuron node {n}: {k} holds NaN; fix the parameter")
        if "v_reset" in arrays and np.any(arrays["v_reset"] != 0):
            raise NeuromapError(f"NIR neuron node {n}: v_reset = "
                                f"{float(arrays['v_reset'].reshape(-1)[0]):g}; Loihi/Lava CUBA "
                                f"neurons reset to 0, so neuromap imports v_reset = 0 only; "
                                f"re-export with v_reset = 0")
        # forward Euler with step dt: decay dt / tau, input gains w_in dt / tau_syn and
        # r dt / tau_mem, bias v_leak dt / tau_mem per step
        if isinstance(node, nir.CubaLIF):
            steps_syn, steps_mem = arrays["tau_syn"] / dt, arrays["tau_mem"] / dt
            i_decay = _decay(steps_syn, n, "tau_syn", dt)
            v_decay = _decay(steps_mem, n, "tau_mem", dt)
            g_in = _ratio(arrays["w_in"], steps_syn, n, "w_in dt / tau_syn")
            g_r = _ratio(arrays["r"], steps_mem, n, "r dt / tau_mem")
            gain = g_in * g_r
            leak = _leak(arrays["v_leak"], steps_mem, n)
        elif isinstance(node, nir.LIF):
            steps = arrays["tau"] / dt
            i_decay = DECAY_UNITY
            v_decay = _decay(steps, n, "tau", dt)
            gain = _ratio(arrays["r"], steps, n, "r dt / tau")
            leak = _leak(arrays["v_leak"], steps, n)
        else:  # IF: v += r * I per step (no time constant; every peer writes it per step)
            i_decay, v_decay = DECAY_UNITY, 0
            gain = arrays["r"]
            leak = np.zeros(nir_shape)
        if np.any(~np.isfinite(gain)):
            raise NeuromapError(f"NIR neuron node {n}: its input gain is infinite; fix w_in, r or "
                                f"the time constants")
        vth = arrays["v_threshold"]
        if np.any(vth != vth.reshape(-1)[0]) or not np.isfinite(vth.reshape(-1)[0]) \
                or vth.reshape(-1)[0] < 0:
            raise NeuromapError(f"NIR neuron node {n}: v_threshold must be one finite, "
                                f"non-negative value for the whole layer (NetX has one vThMant)")
        vth0 = float(vth.reshape(-1)[0])
        # constant synaptic input (Conv2d/Affine bias) -> a voltage bias
        syn_bias = np.zeros(nir_shape)
        for r in ins:
            syn_bias = syn_bias + np.asarray(r["bias"]).reshape(nir_shape)
        if np.any(syn_bias):
            if i_decay == 0:
                raise NeuromapError(f"NIR neuron node {n}: a synapse bias into a current that "
                                    f"never decays (tau_syn = inf) grows without bound; drop the "
                                    f"bias or give tau_syn a finite value")
            # the current settles at gain * b / (i_decay / 4096); exact when i_decay = 4096
            leak = leak + gain * syn_bias * (DECAY_UNITY / i_decay)
        # fold the per-neuron gain into the weights (IR order rows / output channels)
        scaled = []
        for r in ins:
            gain_ir = _to_ir(gain, nir_shape)
            if r["kind"] == "conv":
                per_c = gain_ir.reshape(-1, gain_ir.shape[-1])
                if np.any(per_c != per_c[:1]):
                    raise NeuromapError(f"NIR neuron node {n}: its input gain (w_in, r) varies "
                                        f"within a channel, which a convolution cannot carry")
                scaled.append(r["weight"] * per_c[0][:, None, None, None])
            else:
                scaled.append(r["weight"] * gain_ir.reshape(-1)[:, None])
        wmax = max((float(np.max(np.abs(w))) for w in scaled if w.size), default=0.0)
        scale = WEIGHT_MAX / wmax if wmax > 0 else 1.0
        if vth0 * scale > VTH_MAX:
            scale = VTH_MAX / vth0
        bmax = float(np.max(np.abs(leak))) if leak.size else 0.0
        if not np.isfinite(bmax):
            raise NeuromapError(f"NIR neuron node {n}: its bias (v_leak / tau_mem) is infinite; "
                                f"fix v_leak or tau_mem")
        if bmax * scale > BIAS_MAX:
            scale = BIAS_MAX / bmax
        for r, w in zip(ins, scaled):
            if np.any(w) and not np.any(np.round(w * scale)):
                raise NeuromapError(f"NIR neuron node {n}: its bias or threshold is so much larger "
                                    f"than its weights (scale {scale:.3g}) that every weight rounds "
                                    f"to zero in fixed point; fix the parameters")
            r["edge"] = self._edge(r, np.round(w * scale))
        bias_q = np.round(_to_ir(leak, nir_shape) * scale)
        neuron = Neuron("CUBA", {"iDecay": int(i_decay), "vDecay": int(v_decay),
                                 "vThMant": int(round(vth0 * scale)), "refDelay": 1,
                                 "gradedSpike": False})
        kind = "conv" if len(ir_shape) == 3 else "dense"
        return Layer(n, kind, ir_shape, neuron, bias_q if np.any(bias_q) else None)

    def _average_layer(self, n: str, ins: list[dict[str, Any]]) -> Layer:
        if len(ins) != 1:
            raise NeuromapError(f"NIR Output {n} is fed by {len(ins)} synapse paths; neuromap's "
                                f"host-side readout (average) takes one")
        r = ins[0]
        w = r["weight"]
        n_out, n_in = w.shape
        k = n_in // n_out if n_out else 0
        mean = np.kron(np.eye(n_out), np.full((1, k), 1.0 / k)) if k else None
        if not k or n_in % n_out or not np.allclose(w, mean) or np.any(r["bias"]) \
                or r["delay"] is not None or r["lag"]:
            raise NeuromapError(f"NIR path {r['where']} feeds the Output through a synapse "
                                f"without a neuron; neuromap only reads out averages of equal "
                                f"groups there, put a neuron node before the Output")
        r["edge"] = self._edge(r, w)
        return Layer(n, "average", (n_out,))

    def _edge(self, r: dict[str, Any], weight: np.ndarray) -> Edge:
        lag = r["lag"]
        return Edge(r["src"], r["dst"], r["kind"], np.asarray(weight, dtype=np.float64),
                    tuple(int(v) for v in r["stride"]), tuple(int(v) for v in r["padding"]),
                    tuple(int(v) for v in r["dilation"]), int(r["groups"]),
                    None if r["delay"] is None else np.asarray(r["delay"], dtype=np.float64),
                    int(lag))


# --------------------------------------------------------------------------------------------
# helpers for import
# --------------------------------------------------------------------------------------------

#: How deep nested NIRGraph nodes may go (snnTorch writes one level for a recurrent layer).
MAX_NESTING = 8


def _inline_subgraphs(g: nir.NIRGraph, prefix: str = "",
                      level: int = 0) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges of ``g`` with every nested NIRGraph node replaced by its contents (named
    ``<subgraph>.<node>``): an edge into the subgraph goes to what its one Input feeds, an edge
    out of it leaves from what feeds its one Output. snnTorch's recurrent modules (RLeaky,
    RSynaptic) export such subgraphs, and Rockpool reads its recurrent layers as them."""
    if level > MAX_NESTING:
        raise NeuromapError(f"NIR graph nests subgraphs more than {MAX_NESTING} deep at "
                            f"{prefix.rstrip('.')}; flatten it")
    nodes: dict[str, Any] = {}
    edges = [(prefix + _str(a), prefix + _str(b)) for a, b in g.edges]
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for key, node in g.nodes.items():
        name = prefix + str(key)
        if not isinstance(node, nir.NIRGraph):
            nodes[name] = node
            continue
        sub_nodes, sub_edges = _inline_subgraphs(node, name + ".", level + 1)
        ins = [k for k, v in sub_nodes.items() if isinstance(v, nir.Input)]
        outs = [k for k, v in sub_nodes.items() if isinstance(v, nir.Output)]
        if len(ins) != 1 or len(outs) != 1:
            raise NeuromapError(f"NIR subgraph {name} has {len(ins)} Input and {len(outs)} "
                                f"Output nodes; neuromap inlines subgraphs with one of each")
        entry[name] = [b for a, b in sub_edges if a == ins[0]]
        exit_[name] = [a for a, b in sub_edges if b == outs[0]]
        inner = {k: v for k, v in sub_nodes.items() if k not in (ins[0], outs[0])}
        clash = sorted(set(inner) & (set(nodes) | {prefix + str(k) for k in g.nodes}))
        if clash:
            raise NeuromapError(f"NIR subgraph {name}'s node {clash[0]} has the name of another "
                                f"node once inlined; rename one of them")
        nodes.update(inner)
        edges += [(a, b) for a, b in sub_edges if a != ins[0] and b != outs[0]]
    if entry:
        rewired = []
        for a, b in edges:
            for src in exit_.get(a, [a]):
                for dst in entry.get(b, [b]):
                    rewired.append((src, dst))
        edges = list(dict.fromkeys(rewired))
    return nodes, edges


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


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------

def write_nir(graph: NetworkGraph, path: str | Path, dt: float = 1.0, plain: bool = True) -> Path:
    """Write ``graph`` as a NIR HDF5 file at ``path``, atomically (temp file, then rename);
    ``dt`` as in :func:`graph_to_nir`."""
    g = graph_to_nir(graph, dt, plain)
    path = Path(path).expanduser()
    with atomic_path(path) as tmp:
        nir.write(tmp, g)
    return path


def read_nir(path: str | Path, dt: float | None = None) -> NetworkGraph:
    """Read a NIR HDF5 file (from :func:`write_nir` or another tool) into a NetworkGraph;
    ``dt`` as in :func:`nir_to_graph`."""
    path = Path(path)
    require_hdf5(path, "NIR .nir file", "so it is not a NIR graph; re-export it")
    try:
        with h5py.File(path, "r") as f:
            _check_file(f, path)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # nir derives values while reading (e.g. dividing by a zero tau); what they become is
            # checked below, so its RuntimeWarnings would only add lines to a one-line error
            warnings.simplefilter("ignore", RuntimeWarning)
            g = nir.read(path, type_check=False)
    except NeuromapError:
        raise
    except Exception as exc:  # h5py and nir.read raise assorted errors (KeyError, TypeError...)
        raise read_error(path, "NIR graph", exc) from None
    if not isinstance(g, nir.NIRGraph):
        raise NeuromapError(f"{path} holds a single NIR {type(g).__name__}, not a graph; export "
                            f"the whole network")
    try:
        with np.errstate(all="ignore"):  # non-finite results are refused by the checks themselves
            graph = nir_to_graph(g, None, dt)
    except NeuromapError:
        raise
    except MemoryError:
        raise NeuromapError(f"{path}: importing it ran out of memory; the graph declares more than "
                            f"fits, lower its size or raise the limits (--max-neurons)") from None
    except Exception as exc:  # hostile parameter values (strings, arrays) break the arithmetic
        raise read_error(path, "NIR graph", exc) from None
    if graph.name == "nir" and not _graph_meta(g.metadata or {}):
        name = "".join(c if c.isprintable() else "_" for c in path.stem)[:100] or "model"
        graph = NetworkGraph(name, graph.layers, graph.edges, {**graph.meta, "source": str(path)})
    return validate(graph)


def _check_file(f: h5py.File, path: Path) -> None:
    if "node" not in f or not isinstance(f["node"], h5py.Group):
        raise NeuromapError(f"{path} has no 'node' group, so it is not a NIR file; write it with "
                            f"nir.write or `python -m neuromap.export --to nir`")
    check_structure(f, path, "NIR file")
