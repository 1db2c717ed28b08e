"""Write a NetworkGraph as a NetX HDF5 file (the inverse of ``neuromap.netx.load``).

A chain is written in lava-dl's own layout, loadable by stock ``lava.lib.dl.netx.hdf5.Network``.
A layer that is not "one synapse from the layer just before it" is written as a graph layer
(``docs/netx-graph-format.md``): NetX's reserved type ``concat`` (stock NetX raises
NotImplementedError on it instead of silently building a wrong chain) with an ``inputs`` group
that names each input layer, its synapse and its lag.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from ..errors import NeuromapError
from ..graph import Edge, Layer, NetworkGraph
from ..outputs import atomic_path
from ..provenance import versions

#: Version of the graph extension written to the file root (attribute ``netx_graph_version``).
GRAPH_FORMAT_VERSION = 1
GRAPH_TYPE = "concat"
METADATA_GROUP = "neuromap"


def write_netx(graph: NetworkGraph, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write `graph` to `path` atomically; returns the resolved path."""
    path = Path(path).expanduser().resolve()
    meta = dict(graph.meta.get("neuromap", {}))
    meta.update(dict(metadata or {}))
    v = versions()
    for key, name in (("neuromap_version", "neuromap"), ("torch_version", "torch"),
                      ("lava_dl_version", "lava-dl"), ("lava_nc_version", "lava-nc")):
        meta.setdefault(key, v[name])
    try:
        meta_json = json.dumps(meta, sort_keys=True)
    except TypeError as exc:
        raise NeuromapError(f"export metadata must be JSON-serialisable: {exc}") from None
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            names = _write_layers(graph, f.create_group("layer"))
            f.attrs["netx_graph_version"] = GRAPH_FORMAT_VERSION
            group = f.create_group(METADATA_GROUP)
            group.attrs["metadata"] = meta_json
            group.attrs["layer_names"] = json.dumps(names)
            sim = graph.meta.get("simulation")
            if isinstance(sim, Mapping):
                sg = f.create_group("simulation")
                for k, val in sim.items():
                    sg.create_dataset(k, data=np.asarray(val))
    return path


def _write_layers(graph: NetworkGraph, root: h5py.Group) -> list[str]:
    """Layers in IR order; returns the file's layer names by index ('' for a flatten)."""
    index: dict[str, int] = {}
    names: list[str] = []

    def new(name: str) -> h5py.Group:
        names.append(name)
        return root.create_group(str(len(names) - 1))

    inp = graph.input_layer
    if inp.kind != "input":
        raise NeuromapError(f"{graph.name}: the first layer must be the input, found {inp.kind} {inp.name}")
    g = new(inp.name)
    _string(g, "type", "input")
    g.create_dataset("shape", data=np.array(inp.shape[::-1], dtype=np.int64))
    if inp.neuron is not None:
        _neuron(g, inp.neuron)
        t = dict(inp.transform or {})
        g.create_dataset("weight", data=np.float64(t.get("weight", 64.0)))
        g.create_dataset("bias", data=np.float64(t.get("bias", 0.0)))
    index[inp.name] = 0
    previous = inp
    for lay in graph.layers[1:]:
        ins = [e for e in graph.in_edges(lay.name) if e.src != lay.name]
        rec = [e for e in graph.in_edges(lay.name) if e.src == lay.name]
        missing = [e.src for e in ins if e.src not in index]
        if missing:
            raise NeuromapError(f"{graph.name}: layer {lay.name} reads {missing[0]}, which is not an "
                                f"earlier layer; order the layers topologically")
        if not ins:
            raise NeuromapError(f"{graph.name}: layer {lay.name} has no input")
        if lay.kind == "average":
            if len(ins) != 1 or ins[0].src != previous.name:
                raise NeuromapError(f"{graph.name}: average readout {lay.name} must read the layer "
                                    f"just before it")
            g = new(lay.name)
            _string(g, "type", "average")
            g.create_dataset("shape", data=np.array(lay.shape[::-1], dtype=np.int64))
        elif _chained(ins, rec, previous, lay):
            edge = ins[0]
            if edge.kind == "dense" and len(previous.shape) > 1:
                _string(new(""), "type", "flatten")
            g = new(lay.name)
            if edge.kind == "conv":
                _string(g, "type", "conv")
                _conv_synapse(g, edge)
            else:
                _string(g, "type", "dense_rec" if rec else "dense")
                _dense_synapse(g, edge, graph.layer(edge.src))
                if rec:
                    g.create_dataset("weight_rec", data=_compact(rec[0].weight))
            _layer_fields(g, lay)
        else:
            g = new(lay.name)
            _string(g, "type", GRAPH_TYPE)
            _string(g, "layer", "conv" if len(lay.shape) == 3 else "dense")
            _layer_fields(g, lay)
            inputs = g.create_group("inputs")
            for k, edge in enumerate(ins + rec):
                ig = inputs.create_group(str(k))
                ig.create_dataset("source", data=np.int64(index[edge.src] if edge.src != lay.name
                                                            else len(names) - 1))
                ig.create_dataset("lag", data=np.int64(edge.lag))
                _string(ig, "type", edge.kind)
                if edge.kind == "conv":
                    _conv_synapse(ig, edge)
                elif edge.kind == "dense":
                    _dense_synapse(ig, edge, graph.layer(edge.src))
                else:
                    raise NeuromapError(f"{graph.name}: edge {edge.src} -> {lay.name} of kind "
                                        f"{edge.kind} cannot be written")
        index[lay.name] = len(names) - 1
        previous = lay
    return names


def _chained(ins: list[Edge], rec: list[Edge], previous: Layer, lay: Layer) -> bool:
    """True when stock NetX can build the layer: one synapse from the previous layer, no lag."""
    if len(ins) != 1 or len(rec) > 1:
        return False
    e = ins[0]
    if e.src != previous.name or e.lag:
        return False
    if e.kind == "conv":
        return not rec and len(lay.shape) == 3 and len(previous.shape) == 3
    return e.kind == "dense" and len(lay.shape) == 1


def _conv_synapse(g: h5py.Group, edge: Edge) -> None:
    # IR (out, kx, ky, in/g) -> file (out, in/g, ky, kx) with the kernel flipped, as NetX stores it
    raw = edge.weight.transpose(0, 3, 2, 1)[:, :, ::-1, ::-1]
    g.create_dataset("weight", data=_compact(np.ascontiguousarray(raw)))
    for key, pair in (("stride", edge.stride), ("padding", edge.padding), ("dilation", edge.dilation)):
        g.create_dataset(key, data=np.array([pair[1], pair[0]], dtype=np.int64))  # file: (y, x)
    g.create_dataset("groups", data=np.int64(edge.groups))
    if edge.delay is not None and np.any(edge.delay):
        raise NeuromapError(f"conv edge {edge.src} -> {edge.dst} has per-synapse delays, which NetX "
                            f"conv layers cannot hold; use the edge lag")


def _dense_synapse(g: h5py.Group, edge: Edge, src: Layer) -> None:
    """Dense weights in the file's column order: NetX flattens an (x, y, c) layer as (c, y, x)."""
    weight, delay = edge.weight, edge.delay
    if len(src.shape) == 3:
        perm = np.arange(src.size).reshape(src.shape[::-1]).transpose(2, 1, 0).reshape(-1)
        file_w = np.empty_like(weight)
        file_w[:, perm] = weight
        weight = file_w
        if delay is not None:
            file_d = np.empty_like(delay)
            file_d[:, perm] = delay
            delay = file_d
    g.create_dataset("weight", data=_compact(weight))
    if delay is not None:
        g.create_dataset("delay", data=delay)


def _layer_fields(g: h5py.Group, lay: Layer) -> None:
    g.create_dataset("shape", data=np.array(lay.shape[::-1], dtype=np.int64))
    if lay.neuron is not None:
        _neuron(g, lay.neuron)
    if lay.bias is not None:
        bias = np.asarray(lay.bias, dtype=np.float64)
        per_channel = bias.reshape(-1, bias.shape[-1])
        if np.all(per_channel == per_channel[:1]):
            g.create_dataset("bias", data=per_channel[0].copy())
        else:
            g.create_dataset("bias", data=bias.reshape(-1))


def _neuron(g: h5py.Group, neuron: Any) -> None:
    ng = g.create_group("neuron")
    _string(ng, "type", neuron.type)
    for key, value in neuron.params.items():
        if isinstance(value, str):
            _string(ng, key, value)
        else:
            ng.create_dataset(key, data=np.asarray(value))


def _compact(a: np.ndarray) -> np.ndarray:
    """float32 (as lava-dl writes weights) when that is exact, else float64."""
    small = a.astype(np.float32)
    return small if np.array_equal(small, a) else a


def _string(g: h5py.Group, key: str, value: str) -> None:
    g.create_dataset(key, (1,), f"S{max(len(value), 1)}", [value.encode()])
