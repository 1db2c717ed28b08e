"""Load a NetX HDF5 network into the NetworkGraph IR (no Lava import needed).

Reads the layout written by lava-dl's ``export_hdf5`` and read by
``lava.lib.dl.netx.hdf5.Network``, with the same interpretation of shapes, kernels and
flatten order, and validates it: a corrupt, hostile or inconsistent file raises a
NeuromapError that names the layer and the problem.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import NeuromapError
from ..graph import Edge, Layer, NetworkGraph, Neuron, conv_output_shape
from ..h5io import MAX_ELEMENTS, check_structure, read_error, require_hdf5
from ..validate import check_neurons, validate

SUPPORTED = ("input", "conv", "flatten", "dense", "dense_rec", "average", "concat")
#: Graph extension versions this loader reads (docs/netx-graph-format.md).
GRAPH_VERSIONS = (1,)
#: Longest edge lag accepted (a sanity bound against hostile files, far above any zoo model).
MAX_LAG = 4096
#: Neuron used by NetX for a dense layer without a neuron description (non-leaky integrator).
#: ``1 << 18 - 1`` is what lava-dl writes, i.e. 1 << 17.
DEFAULT_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17,
                  "refDelay": 1, "gradedSpike": False}


def load_netx(path: str | Path) -> NetworkGraph:
    """Read a NetX ``.net`` file into a NetworkGraph."""
    path = Path(path)
    require_hdf5(path, "NetX .net file (e.g. one written by `python -m neuromap.train`)",
                 "re-export it with `python -m neuromap.train --export`")
    try:
        with h5py.File(path, "r") as f:
            return _read(f, path)
    except NeuromapError:
        raise
    except MemoryError:
        raise NeuromapError(f"{path}: reading it ran out of memory; the file declares more data than "
                            f"fits, lower its size or raise the limits (--max-neurons)") from None
    except Exception as exc:  # h5py raises OSError, RuntimeError, KeyError... on corrupt files
        raise read_error(path, "NetX network", exc) from None


def _read(f: h5py.File, path: Path) -> NetworkGraph:
    check_structure(f, path, "NetX model")
    if "layer" not in f or not isinstance(f["layer"], h5py.Group):
        if "node" in f:
            raise NeuromapError(f"{path} is a NIR graph, not a NetX network; convert it with "
                                f"`python -m neuromap.export --model {path} --to netx --out X.net` "
                                f"(map and deploy read .nir directly)")
        raise NeuromapError(f"{path} has no 'layer' group, so it is not a NetX network; "
                            f"export it with lava-dl's export_hdf5 or neuromap.train")
    group = f["layer"]
    keys = list(group.keys())
    if not keys or sorted(keys, key=_int_key) != [str(i) for i in range(len(keys))]:
        raise NeuromapError(f"{path}: layers must be numbered 0..N-1, found {sorted(keys)}")
    meta: dict[str, Any] = {"source": str(path)}
    if "simulation" in f:
        meta["simulation"] = {k: _scalar(f["simulation"][k]) for k in f["simulation"]}
    if "neuromap" in f and "metadata" in f["neuromap"].attrs:
        try:
            meta["neuromap"] = json.loads(f["neuromap"].attrs["metadata"])
        except (ValueError, TypeError):
            raise NeuromapError(f"{path}: the 'neuromap' metadata is not valid JSON; re-export it")

    names = _layer_names(f, len(keys), path)
    layers: list[Layer] = []
    edges: list[Edge] = []
    by_index: dict[int, Layer] = {}
    flatten_next = False
    for i in range(len(keys)):
        check_neurons(sum(lay.size for lay in layers), str(path))
        cfg = group[str(i)]
        if not isinstance(cfg, h5py.Group) or "type" not in cfg:
            raise NeuromapError(f"{path}: layer {i} has no 'type'; the file is corrupt")
        kind = _string(cfg["type"])
        where = f"{path}: layer {i} ({kind})"
        if kind not in SUPPORTED:
            raise NeuromapError(f"{where} is not supported (supported: {', '.join(SUPPORTED)}); "
                                f"export the network without this layer type")
        name = names[i] or f"{kind}{i}"
        where = f"{path}: layer {i} ({name})" if names[i] else where
        if kind == "concat":
            _graph_version(f, path)
            lay, new_edges = _graph_layer(cfg, i, name, where, by_index, path)
            layers.append(lay)
            edges.extend(new_edges)
            by_index[i] = lay
            flatten_next = False
            continue
        if kind == "input":
            if layers:
                raise NeuromapError(f"{where}: an input layer must come first")
            shape = _shape(cfg, where)
            if "neuron" in cfg:
                transform = {"weight": float(_scalar(cfg["weight"])) if "weight" in cfg else 64.0,
                             "bias": float(_scalar(cfg["bias"])) if "bias" in cfg else 0.0}
                layers.append(Layer(name, "input", shape, _neuron(cfg["neuron"], where),
                                    transform=transform))
            else:
                layers.append(Layer(name, "input", shape))
            by_index[i] = layers[-1]
            continue
        if kind == "flatten":
            if not layers:
                raise NeuromapError(f"{where}: flatten cannot be the first layer")
            flatten_next = True
            continue
        if kind == "conv":
            src = _source(layers, cfg, where, conv=True)
            lay, edge = conv_layer(cfg, src, name, where)
        elif kind in ("dense", "dense_rec"):
            src = _source(layers, cfg, where, conv=False)
            if not layers:
                layers.append(src)
            lay, new_edges = dense_layer(cfg, src, name, where, flatten_next, recurrent=kind == "dense_rec")
            flatten_next = False
            layers.append(lay)
            edges.extend(new_edges)
            by_index[i] = lay
            continue
        else:  # average: host-side readout over equal groups of the previous layer
            if not layers:
                raise NeuromapError(f"{where}: average cannot be the first layer")
            src = layers[-1]
            n_out = int(np.prod(_shape(cfg, where)))
            if n_out <= 0 or src.size % n_out:
                raise NeuromapError(f"{where}: {src.size} inputs cannot be averaged into {n_out} "
                                    f"equal groups; fix the layer's shape")
            k = src.size // n_out
            weight = np.kron(np.eye(n_out), np.full((1, k), 1.0 / k))
            lay = Layer(name, "average", (n_out,))
            edge = Edge(src.name, name, "average", weight)
        layers.append(lay)
        edges.append(edge)
        by_index[i] = lay
    if len(layers) < 2:
        raise NeuromapError(f"{path} holds no synaptic layer; nothing to map")
    return validate(NetworkGraph(name=_graph_name(path), layers=tuple(layers), edges=tuple(edges), meta=meta))


def _graph_name(path: Path) -> str:
    """The file's stem as the graph name, made printable and short (it names reports)."""
    stem = "".join(c if c.isprintable() else "_" for c in path.stem)[:100]
    return stem if stem.strip() else "model"


def _source(layers: list[Layer], cfg: h5py.Group, where: str, conv: bool) -> Layer:
    """The layer feeding this one; a file without an input layer gets a source layer."""
    if layers:
        return layers[-1]
    if conv:
        raise NeuromapError(f"{where}: the file has no input layer, so the input's width and "
                            f"height are unknown; export an 'input' layer with its shape first")
    n_in = _whole(cfg["inFeatures"], where) if "inFeatures" in cfg else \
        int(np.prod(cfg["weight"].shape[1:]))
    return Layer("input", "input", (n_in,))


def conv_layer(cfg: h5py.Group, src: Layer, name: str, where: str) -> tuple[Layer, Edge]:
    """NetX's translation of one HDF5 conv layer group `cfg` reading layer `src`: the IR layer `name`
    and its in-edge (kernel flipped and transposed to Lava's order, `(y, x)` pairs as `(x, y)`).
    `where` names the layer in errors. The lowering of SLAYER blocks reads blocks through it too."""
    edge = _conv_edge(cfg, src, name, where)
    expected = conv_output_shape(src.shape, edge)
    shape = _shape(cfg, where)
    if tuple(shape) != expected:
        raise NeuromapError(f"{where}: declared shape {shape} does not match the convolution "
                            f"of {src.name} {src.shape}, which gives {expected}")
    neuron = _neuron(cfg["neuron"], where) if "neuron" in cfg else Neuron(**_default_neuron())
    lay = Layer(name, "conv", shape, neuron, _bias(cfg, shape, where))
    return lay, edge


def _conv_edge(cfg: h5py.Group, src: Layer, name: str, where: str, lag: int = 0) -> Edge:
    if len(src.shape) != 3:
        raise NeuromapError(f"{where}: a conv layer needs an (x, y, c) input but its input "
                            f"{src.name} has shape {src.shape}; add or fix the input shape")
    raw = _array(cfg, "weight", where)
    if raw.ndim < 4:
        raise NeuromapError(f"{where}: conv weight must be 4-D (out, in, ky, kx), got {raw.shape}")
    weight = raw[:, :, ::-1, ::-1].reshape(raw.shape[:4]).transpose((0, 3, 2, 1))
    groups = _whole(cfg["groups"], where) if "groups" in cfg else 1
    stride, padding, dilation = (_pair(cfg, k, where, d) for k, d in
                                 (("stride", 1), ("padding", 0), ("dilation", 1)))
    if groups < 1 or weight.shape[3] * groups != src.shape[2] or weight.shape[0] % groups:
        raise NeuromapError(f"{where}: weight {raw.shape} with groups={groups} does not fit "
                            f"{src.shape[2]} input channels from {src.name}")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise NeuromapError(f"{where}: stride/dilation must be >= 1 and padding >= 0")
    return Edge(src.name, name, "conv", weight, stride, padding, dilation, groups, lag=lag)


def dense_layer(cfg: h5py.Group, src: Layer, name: str, where: str, flatten: bool,
                recurrent: bool) -> tuple[Layer, list[Edge]]:
    """NetX's translation of one HDF5 dense layer group `cfg` reading layer `src`: the IR layer `name`
    and its in-edges (the recurrent one too when `recurrent`); `flatten` folds a NetX flatten of an
    (x, y, c) source, which reads (c, y, x), into the weight columns."""
    n_out = int(np.prod(_shape(cfg, where)))
    neuron = _neuron(cfg["neuron"], where) if "neuron" in cfg else Neuron(**_default_neuron())
    lay = Layer(name, "dense", (n_out,), neuron, _bias(cfg, (n_out,), where))
    edges = [_dense_edge(cfg, src, name, where, flatten, n_out)]
    if recurrent:
        rec = _array(cfg, "weight_rec", where).reshape(n_out, -1)
        if rec.shape != (n_out, n_out):
            raise NeuromapError(f"{where}: recurrent weight {rec.shape} must be ({n_out}, {n_out})")
        edges.append(Edge(name, name, "dense", rec))
    return lay, edges


def _dense_edge(cfg: h5py.Group, src: Layer, name: str, where: str, flatten: bool, n_out: int,
                lag: int = 0) -> Edge:
    if "weight" not in cfg or isinstance(cfg["weight"], h5py.Group):
        raise NeuromapError(f"{where}: complex or missing weights are not supported")
    weight = _array(cfg, "weight", where)
    if weight.ndim == 1:
        weight = weight.reshape(n_out, -1)
    weight = weight.reshape(weight.shape[0], -1)
    if weight.shape[0] != n_out or weight.shape[1] != src.size:
        raise NeuromapError(f"{where}: weight {weight.shape} does not connect {src.size} inputs "
                            f"from {src.name} to {n_out} neurons")
    delay = _array(cfg, "delay", where) if "delay" in cfg else None
    if delay is not None:
        delay = _expand_delay(delay, weight.shape, where)
    if flatten and len(src.shape) == 3:
        # NetX feeds dense layers the (c, y, x)-ordered flatten of an (x, y, c) layer;
        # re-index the columns to the source layer's own (x, y, c) neuron order.
        perm = np.arange(src.size).reshape(src.shape[::-1]).transpose(2, 1, 0).reshape(-1)
        weight = weight[:, perm]
        if delay is not None:
            delay = delay[:, perm]
    return Edge(src.name, name, "dense", weight, delay=delay, lag=lag)


def _graph_layer(cfg: h5py.Group, i: int, name: str, where: str, by_index: dict[int, Layer],
                 path: Path) -> tuple[Layer, list[Edge]]:
    """A graph-extension layer: neurons plus an `inputs` group, one subgroup per incoming edge."""
    kind = _string(cfg["layer"]) if "layer" in cfg else ""
    if kind not in ("conv", "dense"):
        raise NeuromapError(f"{where}: graph layer kind {kind!r} must be 'conv' or 'dense'; the file "
                            f"is corrupt, re-export it")
    shape = _shape(cfg, where)
    if (kind == "conv") != (len(shape) == 3):
        raise NeuromapError(f"{where}: a {kind} layer cannot have shape {shape}")
    neuron = _neuron(cfg["neuron"], where) if "neuron" in cfg else Neuron(**_default_neuron())
    lay = Layer(name, kind, shape, neuron, _bias(cfg, shape, where))
    inputs = cfg.get("inputs")
    if not isinstance(inputs, h5py.Group) or not len(inputs):
        raise NeuromapError(f"{where}: a graph layer needs an 'inputs' group with at least one input")
    keys = sorted(inputs.keys(), key=_int_key)
    if keys != [str(k) for k in range(len(keys))]:
        raise NeuromapError(f"{where}: inputs must be numbered 0..K-1, found {keys}")
    edges: list[Edge] = []
    for k in keys:
        ig = inputs[k]
        at = f"{where}, input {k}"
        if not isinstance(ig, h5py.Group) or "source" not in ig or "type" not in ig:
            raise NeuromapError(f"{at}: needs 'source' and 'type'; the file is corrupt")
        s = _whole(ig["source"], at)
        lag = _whole(ig["lag"], at) if "lag" in ig else 0
        etype = _string(ig["type"])
        if not 0 <= lag <= MAX_LAG:
            raise NeuromapError(f"{at}: lag {lag} is outside 0..{MAX_LAG}")
        if s == i:
            if etype != "dense" or kind != "dense" or lag:
                raise NeuromapError(f"{at}: layer {name} reads itself through a {etype} synapse with "
                                    f"lag {lag}; only a dense layer may be recurrent, without lag")
            rec = _array(ig, "weight", at).reshape(shape[0], -1)
            if rec.shape != (shape[0], shape[0]):
                raise NeuromapError(f"{at}: recurrent weight {rec.shape} must be {(shape[0], shape[0])}")
            edges.append(Edge(name, name, "dense", rec))
            continue
        if s > i:
            raise NeuromapError(f"{at}: layer {name} reads layer {s}, which comes after it (a cycle "
                                f"or wrong order); list layers in topological order")
        if s not in by_index:
            raise NeuromapError(f"{at}: layer {name} reads layer {s}, which does not exist or is a "
                                f"flatten; point 'source' at a neuron layer")
        src = by_index[s]
        if etype == "conv":
            if kind != "conv":
                raise NeuromapError(f"{at}: a conv input cannot feed dense layer {name}")
            edge = _conv_edge(ig, src, name, at, lag)
            got = conv_output_shape(src.shape, edge)
            if got != shape:
                others = ", ".join(e.src for e in edges if e.src != name) or "the layer"
                raise NeuromapError(f"{where}: shape mismatch at the join: input from {src.name} gives "
                                    f"{got} but {name} is {shape} (as for {others}); fix the synapse")
        elif etype == "dense":
            edge = _dense_edge(ig, src, name, at, len(src.shape) == 3, int(np.prod(shape)), lag)
        else:
            raise NeuromapError(f"{at}: input type {etype!r} must be 'conv' or 'dense'")
        edges.append(edge)
    if not any(e.src != name for e in edges):
        raise NeuromapError(f"{where}: layer {name} has no input other than itself")
    return lay, edges


def _graph_version(f: h5py.File, path: Path) -> None:
    version = f.attrs.get("netx_graph_version")
    if version is None:
        raise NeuromapError(f"{path}: has graph layers but no 'netx_graph_version' attribute; "
                            f"re-export it with neuromap")
    if int(version) not in GRAPH_VERSIONS:
        raise NeuromapError(f"{path}: graph format version {int(version)} is not supported (this "
                            f"neuromap reads {GRAPH_VERSIONS}); upgrade neuromap or re-export")


def _layer_names(f: h5py.File, count: int, path: Path) -> list[str]:
    """Layer names stored by neuromap's writer, else '' each (the loader then names kind+index)."""
    raw = f["neuromap"].attrs.get("layer_names") if "neuromap" in f else None
    if raw is None:
        return [""] * count
    try:
        names = json.loads(raw if isinstance(raw, str) else raw.decode())
    except (ValueError, TypeError, AttributeError):
        names = None
    ok = (isinstance(names, list) and len(names) == count
          and all(isinstance(n, str) and len(n) <= 200 for n in names))
    used = [n for n in names if n] if ok else []
    if not ok or len(set(used)) != len(used):
        raise NeuromapError(f"{path}: the stored layer names are not {count} unique strings; "
                            f"re-export the file")
    return names


def _expand_delay(delay: np.ndarray, wshape: tuple[int, int], where: str) -> np.ndarray:
    """Delays as NetX expands them: scalar, per output neuron, per input, or per synapse."""
    delay = np.clip(delay, 0, 62)
    if delay.size == 1:
        return np.full(wshape, float(delay.reshape(-1)[0]))
    if delay.ndim == 1 and delay.size == wshape[0]:
        return np.repeat(delay.reshape(-1, 1), wshape[1], axis=1)
    if delay.ndim == 1 and delay.size == wshape[1]:
        return np.repeat(delay.reshape(1, -1), wshape[0], axis=0)
    if delay.shape == wshape:
        return delay
    raise NeuromapError(f"{where}: delay of shape {delay.shape} does not fit weight {wshape}")


def _bias(cfg: h5py.Group, shape: tuple[int, ...], where: str) -> np.ndarray | None:
    if "bias" not in cfg:
        return None
    bias = _array(cfg, "bias", where).reshape(-1)
    if bias.size == 1:
        return np.full(shape, bias[0])
    if bias.size == int(np.prod(shape)):
        return bias.reshape(shape)
    if bias.size == shape[-1]:
        return np.broadcast_to(bias, shape).copy()
    raise NeuromapError(f"{where}: bias of {bias.size} values does not fit layer shape {shape}")


def _neuron(group: Any, where: str) -> Neuron:
    if not isinstance(group, h5py.Group) or "type" not in group:
        raise NeuromapError(f"{where}: neuron description has no type")
    params = {k: _scalar(group[k]) for k in group.keys() if isinstance(group[k], h5py.Dataset)}
    ntype = str(params.pop("type"))
    return Neuron(type=ntype, params=params)


def _default_neuron() -> dict[str, Any]:
    params = dict(DEFAULT_NEURON)
    return {"type": params.pop("type"), "params": params}


def _shape(cfg: h5py.Group, where: str) -> tuple[int, ...]:
    if "shape" not in cfg:
        raise NeuromapError(f"{where}: missing 'shape'")
    raw = np.asarray(cfg["shape"][()]).reshape(-1)
    if raw.size == 0 or raw.size > 3 or not np.issubdtype(raw.dtype, np.number):
        raise NeuromapError(f"{where}: shape {raw.tolist()} must be 1 to 3 positive integers")
    if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)) or np.any(np.abs(raw) > 2**31):
        raise NeuromapError(f"{where}: shape {raw.tolist()} must be 1 to 3 positive integers")
    shape = tuple(int(v) for v in raw[::-1])  # file stores (c, y, x); NetX uses (x, y, c)
    if min(shape) <= 0 or int(np.prod(shape, dtype=np.int64)) > MAX_ELEMENTS:
        raise NeuromapError(f"{where}: shape {shape} is empty or too large")
    check_neurons(int(np.prod(shape, dtype=np.int64)), where)
    return shape


def _array(cfg: h5py.Group, key: str, where: str) -> np.ndarray:
    ds = cfg.get(key)
    if not isinstance(ds, h5py.Dataset):
        raise NeuromapError(f"{where}: missing dataset '{key}'")
    if ds.size > MAX_ELEMENTS:
        raise NeuromapError(f"{where}: '{key}' has {ds.size} elements, more than the "
                            f"{MAX_ELEMENTS} neuromap accepts")
    arr = np.asarray(ds[()])
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise NeuromapError(f"{where}: '{key}' must hold finite numbers")
    return arr.astype(np.float64)


def _pair(cfg: h5py.Group, key: str, where: str, default: int) -> tuple[int, int]:
    if key not in cfg:
        return (default, default)
    raw = np.asarray(cfg[key][()]).reshape(-1)
    if not np.issubdtype(raw.dtype, np.number) or not np.all(np.isfinite(raw)) or \
            np.any(raw != np.round(raw)) or np.any(np.abs(raw) > 2**31):
        raise NeuromapError(f"{where}: '{key}' must be one or two whole numbers")
    if raw.size == 1:
        return (int(raw[0]), int(raw[0]))
    if raw.size == 2:
        return (int(raw[1]), int(raw[0]))  # file stores (y, x)
    raise NeuromapError(f"{where}: '{key}' must be one or two integers")


def _scalar(ds: h5py.Dataset) -> Any:
    value = ds[()]
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return value.tolist()
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _whole(ds: h5py.Dataset, where: str) -> int:
    """A dataset holding one whole number (a count, an index), else a NeuromapError."""
    value = _scalar(ds)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float)) or \
            not np.isfinite(value) or value != int(value) or abs(value) > 2**31:
        raise NeuromapError(f"{where}: '{ds.name.rsplit('/', 1)[-1]}' must be one whole number, "
                            f"got {str(value)[:40]}")
    return int(value)


def _string(ds: h5py.Dataset) -> str:
    return str(_scalar(ds))


def _int_key(k: str) -> int:
    return int(k) if k.isdigit() else -1
