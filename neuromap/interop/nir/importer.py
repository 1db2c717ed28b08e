"""NIR -> IR (:func:`nir_to_graph`): graphs made by neuromap come back exactly (from the
``neuromap_*`` metadata), graphs made elsewhere are read from their float parameters and
quantised to integer mantissas per layer (docs/nir.md)."""
from __future__ import annotations

import sys
from typing import Any, Iterator

import numpy as np

import nir

from ...errors import NeuromapError
from ...graph import Edge, Layer, NetworkGraph, Neuron
from ...validate import check_neurons, validate
from .layout import (DECAY_UNITY, NEURON_TYPES, SUPPORTED, SYNAPSE_TYPES, _conv_to_ir,
                     _flat_perm, _graph_meta, _ir_shape, _json, _node_meta, _str, _to_ir)
from .neurons import (CONVENTIONS, _decay, _is_int, _leak, _neuron_arrays, _ratio, infer_dt,
                      is_rockpool, rockpool_dt, rockpool_params)
from .scale import choose_scale
from .shapes import (_conv_out, _conv_padding, _flatten_shape, _pair, _pool_matrix,
                     _pool_out, _pool_params)


#: Printed (stderr) after every import in Rockpool's convention: Rockpool's neurons subtract the
#: threshold after a spike, Lava's CUBA sets v to 0; the file is imported all the same.
ROCKPOOL_RESET_WARNING = ("warning: Rockpool's neurons subtract the threshold after a spike; "
                          "neuromap simulates them with Loihi's reset to 0 (Lava's CUBA), so "
                          "spike counts may differ from Rockpool's own (docs/nir.md, Fidelity)")


# --------------------------------------------------------------------------------------------
# NIR -> IR
# --------------------------------------------------------------------------------------------

def nir_to_graph(g: nir.NIRGraph, name: str | None = None, dt: float | None = None,
                 convention: str | None = None) -> NetworkGraph:
    """Translate an ``nir.NIRGraph`` into a NetworkGraph.

    Graphs written by :func:`graph_to_nir` come back exactly (integer weights and NetX neuron
    parameters from the ``neuromap_*`` metadata). Other graphs are read from their float
    parameters: per neuron node, weights, threshold and bias are multiplied by one scale
    (:func:`.scale.choose_scale`) and rounded. ``name`` defaults to the name
    stored by :func:`graph_to_nir`, else ``"nir"``.

    ``dt`` is the writer's time step in its time unit (seconds for snnTorch, Norse, Rockpool):
    a time constant ``tau`` becomes ``tau / dt`` steps and the Euler gains ``dt / tau`` follow.
    None infers it (:func:`infer_dt`): 1 when every time constant is at least one step, else
    the one step that the file's own ``r = tau / dt`` convention states.

    ``convention`` says how the neuron parameters are meant (:data:`CONVENTIONS`): ``"nir"``,
    NIR's equations by forward Euler; ``"rockpool"``, Rockpool's exact exponential update
    (:func:`rockpool_params`; its dt read from its ``r`` unless given). None: ``"rockpool"``
    for a file that :func:`is_rockpool` recognises, else ``"nir"``. A graph read in Rockpool's
    convention prints :data:`ROCKPOOL_RESET_WARNING` on stderr (its subtracting reset becomes
    Lava's reset to 0)."""
    if not isinstance(g, nir.NIRGraph):
        raise NeuromapError(f"expected an nir.NIRGraph, got {type(g).__name__}")
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise NeuromapError(f"--dt must be a positive number of seconds (the writer's time "
                            f"step), got {dt}")
    if convention is not None and convention not in CONVENTIONS:
        raise NeuromapError(f"--from {convention!r} is not a NIR convention neuromap reads; give "
                            f"one of {', '.join(CONVENTIONS)}")
    graph = validate(_Importer(g, name, dt, convention).run())
    if graph.meta.get("nir_import", {}).get("convention") == "rockpool":
        print(ROCKPOOL_RESET_WARNING, file=sys.stderr)
    return graph


class _Importer:
    def __init__(self, g: nir.NIRGraph, name: str | None, dt: float | None = None,
                 convention: str | None = None) -> None:
        self.g = g
        self.convention = convention
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
        if self.convention is None:  # a file neuromap wrote follows NIR's, whatever its names
            self.convention = "rockpool" if not self.gmeta and is_rockpool(self.nodes) else "nir"
        if self.convention == "rockpool" and self.dt is None:
            self.dt, why = rockpool_dt(self.nodes)
            if self.dt is None:
                raise NeuromapError(f"NIR graph read in Rockpool's convention (r = tau "
                                    f"exp(-dt / tau) / dt) states no single dt: {why}; give "
                                    f"--dt SECONDS, the Rockpool module's dt")
            self.dt_source = "inferred (Rockpool's r = tau exp(-dt / tau) / dt)"
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
            if self.convention != "nir":
                meta["nir_import"]["convention"] = self.convention
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
        if self.convention == "rockpool" and isinstance(node, (nir.CubaLIF, nir.LIF)):
            i_decay, v_decay, gain, leak = rockpool_params(node, arrays, dt, n)
        elif isinstance(node, nir.CubaLIF):
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
        bmax = float(np.max(np.abs(leak))) if leak.size else 0.0
        if not np.isfinite(bmax):
            raise NeuromapError(f"NIR neuron node {n}: its bias (v_leak / tau_mem) is infinite; "
                                f"fix v_leak or tau_mem")
        dense = [w for r, w in zip(ins, scaled) if r["kind"] != "conv"]
        joint = np.hstack(dense) if len(dense) > 1 else None  # NetX encodes a recurrent pair as one
        scale = choose_scale(scaled, vth0, _to_ir(leak, nir_shape).reshape(-1), joint)
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
