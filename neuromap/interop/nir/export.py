"""IR -> NIR (:func:`graph_to_nir`): one NIR subgraph per IR edge (``Delay`` for a ``lag``,
``Flatten`` when a dense edge reads a spatial layer, then ``Conv2d`` or ``Affine``, then a
``Delay`` for NetX per-output-neuron delays) and one neuron node per layer, plus
``Input``/``Output`` nodes. docs/nir.md has the mapping table and the units."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

import nir

from ...errors import NeuromapError
from ...graph import Edge, Layer, NetworkGraph
from .layout import CUBA_TYPES, DECAY_UNITY, FORMAT, _conv_to_nir, _flat_perm, _nir_shape, _to_nir


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
