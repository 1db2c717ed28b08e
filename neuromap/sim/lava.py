"""Lava backend: build Lava processes from the IR, run them in the CPU simulator
(``Loihi2SimCfg(select_tag="fixed_pt")``) and return an Activity.

This is the only module that imports Lava. It builds lava-dl NetX blocks (Input, Conv,
Dense; a recurrent dense layer as a Dense block plus a Lava Dense loop) from the IR with
the same parameter translation as
``lava.lib.dl.netx.hdf5.Network``, so a file behaves as it would under stock NetX, except
for dense weights that lava-dl's encoding would clip or zero (mixed signs beyond -256..254,
one sign beyond 255): ``sim.weights.encode_dense`` gives those Loihi's weight exponent, as
the fast engine does.

Timing. Every Lava synapse adds one step, so a layer at depth ``d`` (synaptic hops from
the input) sees sample ``k``'s input during steps ``k*T + d + 1 .. (k+1)*T + d`` (Lava
counts steps from 1). Each layer's reset (CUBA/LOIHI neurons) is phased to that window,
so samples run back to back in one runtime without leaking state, and the Activity of a
layer is its window, aligned with SLAYER's ``delay_shift`` output of the same sample.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import sys
import warnings
from typing import Any

import numpy as np

from ..errors import NeuromapError
from ..graph import Edge, Layer, NetworkGraph
from .activity import RESETTABLE, Activity, depths, is_binary, prepare_inputs, progress_bar
from .weights import encode_dense


def simulate_lava(graph: NetworkGraph, inputs: np.ndarray, steps: int | None = None,
                  progress: bool = False) -> Activity:
    """Run ``inputs`` through the network in Lava.

    ``inputs`` is either ``(S, *input_shape, T)``: per-step input to the input layer
    (binary spikes for a source layer, currents into the neurons of a NetX input layer), or
    ``(S, *input_shape)``: a static drive held for ``steps`` steps as the input neurons'
    bias (PilotNet's convention). Returns events for every layer, ``(S, T, n)`` each.
    """
    # Lava and lava-dl print banners and warnings at import: keep the CLI output clean.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        ensure_lava_importable()
        from lava.lib.dl.netx.blocks import process as nxp
        from lava.lib.dl.netx.hdf5 import Network
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.io.sink import RingBuffer as Sink
        from lava.proc.io.source import RingBuffer as Source
        _widen_conv_groups()

    inp = graph.input_layer
    inputs, static, T = prepare_inputs(graph, inputs, steps)
    n_samples = inputs.shape[0]

    depth = depths(graph)
    resettable = all(lay.neuron is None or lay.neuron.type in RESETTABLE for lay in graph.layers)
    reset_interval = T if resettable else None
    max_depth = max(depth.values())
    total = n_samples * T + max_depth + 1

    def neuron_params(lay: Layer, is_input: bool) -> dict[str, Any]:
        cfg = {"type": lay.neuron.type, **lay.neuron.params}
        return Network.get_neuron_params(cfg, input=is_input, reset_interval=reset_interval,
                                         reset_offset=(depth[lay.name] + 1) % T)

    data = None
    if not static:
        data = np.zeros((inp.size, total), dtype=np.int32)
        for k in range(n_samples):
            data[:, k * T:(k + 1) * T] = _int(inputs[k]).reshape(inp.size, T)

    blocks: dict[str, Any] = {}
    outs: dict[str, Any] = {}  # each layer's spike output port
    in_bits: dict[str, int] = {}
    for lay in graph.layers:
        if lay.kind == "input":
            if lay.neuron is not None:
                blk = nxp.Input(shape=lay.shape, neuron_params=neuron_params(lay, True),
                                transform=dict(lay.transform or {}),
                                bias=_int(inputs[0]) if static else None)
                blocks[lay.name] = blk
                outs[lay.name] = blk.out
                in_bits[lay.name] = blk.output_message_bits
                if data is not None:
                    # NetX's Input block leaves its `inp` port unconnected (input goes through
                    # the neuron's bias), so per-step input is fed straight into the neurons.
                    target = blk.neuron.a_in
                    Source(data=data.reshape(tuple(target.shape) + (total,))).s_out.connect(target)
            else:
                # IR neuron order is C order over the shape, so the source's shape takes it as is
                outs[lay.name] = Source(data=data.reshape(tuple(lay.shape) + (total,))).s_out
                in_bits[lay.name] = 0 if is_binary(inputs) else 24
            continue
        if lay.kind == "average":
            continue
        edges = [e for e in graph.in_edges(lay.name) if e.src != lay.name]
        rec = [e for e in graph.in_edges(lay.name) if e.src == lay.name]
        want = "conv" if lay.kind == "conv" else "dense"
        primary = next((e for e in edges if e.kind == want), None)
        if primary is None or any(e.kind not in ("conv", "dense") for e in edges):
            raise NeuromapError(f"layer {lay.name}: the Lava backend needs a {want} input edge and "
                                f"conv/dense edges only; fix the graph")
        src = graph.layer(primary.src)
        bias = None if lay.bias is None else _int(lay.bias)
        common = dict(neuron_params=neuron_params(lay, False), input_message_bits=in_bits[src.name])
        rec_enc = None
        if lay.kind == "conv":
            blk = nxp.Conv(input_shape=src.shape, shape=lay.shape, weight=_int(primary.weight),
                           stride=np.array(primary.stride), padding=np.array(primary.padding),
                           dilation=np.array(primary.dilation), groups=primary.groups,
                           **({"bias": bias} if bias is not None else {}), **common)
        else:
            blk, rec_enc = _dense_block(nxp, lay, primary, rec, bias, common)
        blocks[lay.name] = blk
        outs[lay.name] = blk.out
        in_bits[lay.name] = blk.output_message_bits
        _connect(graph, outs, primary, blk.inp)
        if rec_enc is not None:
            # the layer's own spikes back into its neurons through a plain Lava Dense, which
            # sends the sum it buffered on the previous step first, so the loop cannot deadlock
            rec_syn = _recurrent_synapse(rec_enc, blk.output_message_bits)
            blk.out.connect(rec_syn.s_in)
            rec_syn.a_out.connect(blk.neuron.a_in)
        for edge in edges:
            if edge is primary:
                continue
            syn = _synapse(graph, edge, in_bits[edge.src])
            _connect(graph, outs, edge, syn.s_in)
            port = syn.a_out
            if tuple(port.shape) != tuple(blk.neuron.a_in.shape):
                port = port.reshape(blk.neuron.a_in.shape)
            port.connect(blk.neuron.a_in)  # in-ports add up what their connections send

    sinks = {name: Sink(shape=blk.out.shape, buffer=total) for name, blk in blocks.items()}
    for name, sink in sinks.items():
        blocks[name].out.connect(sink.a_in)

    from .lava_procs import PySpikeDelayModel, SpikeDelay  # Lava: imported only when a run starts
    cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={SpikeDelay: PySpikeDelayModel})
    runner = next(iter(blocks.values()))
    raw: dict[str, np.ndarray] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bar = progress_bar(n_samples, progress, "lava")
            for k in range(n_samples):
                if static and k > 0:
                    blocks[inp.name].neuron.bias_mant.set(_int(inputs[k]))
                runner.run(condition=RunSteps(num_steps=T), run_cfg=cfg)
                bar.update(1)
            runner.run(condition=RunSteps(num_steps=total - n_samples * T), run_cfg=cfg)
            bar.close()
            for name, sink in sinks.items():
                raw[name] = sink.data.get()
    finally:
        runner.stop()

    events: dict[str, np.ndarray] = {}
    for lay in graph.layers:
        if lay.name in raw:
            flat = raw[lay.name].reshape(lay.size, total)
            d = depth[lay.name]
            events[lay.name] = np.stack([flat[:, k * T + d: (k + 1) * T + d].T
                                         for k in range(n_samples)]).astype(np.int32)
        elif lay.kind == "input":
            events[lay.name] = np.moveaxis(_int(inputs).reshape(n_samples, lay.size, T), 1, 2)
    for edge in graph.edges:
        if edge.kind == "average":
            events[edge.dst] = events[edge.src] @ edge.weight.T
    return Activity(events=events, steps=T)


def _widen_conv_groups() -> None:
    """Work around a Lava 0.10 bug: the Conv process model stores ``groups`` as int8, so a
    grouped (depthwise) conv with 128 or more groups wraps to a negative count and computes
    silently wrong currents. Widen that one field to int32 before anything is compiled."""
    from lava.magma.core.model.py.type import LavaPyType
    from lava.proc.conv import models as conv_models
    conv_models.AbstractPyConvModel.groups = LavaPyType(np.ndarray, np.int32, precision=32)


def ensure_lava_importable() -> None:
    """Import Lava's message infrastructure even if the multiprocessing start method is set.

    Lava calls ``multiprocessing.set_start_method('fork')`` without ``force`` when that module
    is first imported, which fails once anything in the process (tqdm's lock, for one) has
    fixed the start method. Lava needs 'fork'; let it set it."""
    import multiprocessing as mp
    name = "lava.magma.runtime.message_infrastructure.multiprocessing"
    if name in sys.modules or mp.get_start_method(allow_none=True) is None:
        importlib.import_module(name)
        return
    original = mp.set_start_method

    def tolerant(method: str, force: bool = False) -> None:
        if mp.get_start_method(allow_none=True) != method:
            original(method, force=True)

    mp.set_start_method = tolerant  # type: ignore[assignment]
    try:
        importlib.import_module(name)
    finally:
        mp.set_start_method = original  # type: ignore[assignment]


def _connect(graph: NetworkGraph, outs: dict[str, Any], edge: Edge, target: Any) -> None:
    """Source layer's spikes -> (lag steps of delay) -> `target` (a synapse's input port)."""
    port = outs[edge.src]
    src = graph.layer(edge.src)
    if edge.kind == "dense" and len(src.shape) > 1:
        port = port.flatten()  # the IR's dense columns are in the source's C order
    if edge.lag:
        from .lava_procs import SpikeDelay  # Lava: imported only when a run starts
        delay = SpikeDelay(shape=tuple(port.shape), lag=int(edge.lag))
        port.connect(delay.s_in)
        port = delay.s_out
    port.connect(target)


def _synapse(graph: NetworkGraph, edge: Edge, message_bits: int) -> Any:
    """A standalone Lava synapse for an extra input edge of a layer (a residual or routed input)."""
    from lava.proc.conv.process import Conv as ConvSynapse
    from lava.proc.dense.process import DelayDense, Dense as DenseSynapse

    src = graph.layer(edge.src)
    if edge.kind == "conv":
        return ConvSynapse(input_shape=src.shape, weight=_int(edge.weight), stride=np.array(edge.stride),
                           padding=np.array(edge.padding), dilation=np.array(edge.dilation),
                           groups=edge.groups, num_message_bits=message_bits)
    w, bits, exp = encode_dense(edge.weight)
    if edge.delay is not None:
        return DelayDense(weights=w, delays=edge.delay.astype(int), weight_exp=exp, max_delay=62,
                          num_weight_bits=bits, num_message_bits=message_bits)
    return DenseSynapse(weights=w, weight_exp=exp, num_weight_bits=bits, num_message_bits=message_bits)


def _dense_block(nxp: Any, lay: Layer, edge: Edge, rec: list[Edge],
                 bias: np.ndarray | None, common: dict[str, Any]) -> tuple[Any, Any]:
    """NetX's Dense block for ``edge``, plus for a recurrent layer the encoded weights of its
    recurrent edge (``_recurrent_synapse`` makes the Lava synapse).

    NetX's own RecurrentDense has no process model in lava-dl 0.6 (its recurrent synapse is
    never connected), so a recurrent layer is a Dense block plus a standalone Lava Dense
    with the weight encoding RecurrentDense would use: both matrices optimised together (one
    weight exponent and bit width)."""
    weight = edge.weight
    params: dict[str, Any] = dict(shape=lay.shape, **common)
    rec_enc = None
    if rec:
        both = np.hstack((weight, rec[0].weight))
        both, bits, exp = encode_dense(both)
        params.update(weight=both[:, :weight.shape[1]])
        rec_enc = (both[:, weight.shape[1]:], bits, exp, rec[0].delay)
    else:
        w, bits, exp = encode_dense(weight)
        params.update(weight=w)
    params.update(num_weight_bits=bits, weight_exponent=exp, sparse_synapse=False)
    if edge.delay is not None:
        params["delay"] = edge.delay
    if bias is not None:
        params["bias"] = bias
    return nxp.Dense(**params), rec_enc


def _recurrent_synapse(rec_enc: tuple[Any, ...], message_bits: int) -> Any:
    """The Lava Dense of a recurrent edge; it carries the layer's own output messages."""
    from lava.proc.dense.process import DelayDense, Dense as DenseSynapse

    w, bits, exp, delay = rec_enc
    if delay is not None:
        return DelayDense(weights=w, delays=np.asarray(delay).astype(int), weight_exp=exp,
                          max_delay=62, num_weight_bits=bits, num_message_bits=message_bits)
    return DenseSynapse(weights=w, weight_exp=exp, num_weight_bits=bits,
                        num_message_bits=message_bits)


def _int(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).round().astype(np.int32)
