"""Model registry, SNN/CNN twins, NetX export, checkpoints, and SLAYER == Lava spike equality."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from neuromap.data.digits import load_digits_split
from neuromap.data.encode import rate_encode
from neuromap.errors import NeuromapError
from neuromap.models import create_model, list_models
from neuromap.models.checkpoint import (
    load_snn_from_run,
    save_checkpoint,
    snn_output_counts,
    snn_output_spikes,
)
from neuromap.models.digitnet import ConvSpec, DenseSpec, FlattenSpec, digitnet_topology, layer_shapes
from neuromap.netx.export import export_netx, read_metadata

T = 16


@pytest.fixture(scope="module")
def spikes() -> np.ndarray:
    split = load_digits_split()
    return rate_encode(split.x_test[:6], split.max_level, T)


@pytest.fixture()
def snn() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("digitnet", kind="snn")


def _config() -> dict:
    return {"model": "digitnet", "kind": "snn", "num_classes": 10, "input_shape": [1, 8, 8],
            "model_kwargs": {}, "timesteps": T, "seed": 0}


def test_registry_lists_digitnet_and_rejects_unknown() -> None:
    assert "digitnet" in list_models()
    with pytest.raises(NeuromapError, match="digitnet"):
        create_model("resnet9000")
    with pytest.raises(NeuromapError, match="snn, cnn"):
        create_model("digitnet", kind="ann")


def test_topology_shapes() -> None:
    topo = digitnet_topology(10)
    assert [type(s) for s in topo] == [ConvSpec, ConvSpec, FlattenSpec, DenseSpec, DenseSpec]
    assert layer_shapes(topo, (1, 8, 8)) == [(8, 8, 8), (16, 4, 4), (256,), (64,), (10,)]
    with pytest.raises(ValueError):
        layer_shapes([DenseSpec(3)], (1, 8, 8))


def test_twins_share_topology(snn: torch.nn.Module) -> None:
    cnn = create_model("digitnet", kind="cnn")
    snn_convs = [b.synapse.weight.shape[:4] for b in snn.blocks if hasattr(b, "synapse") and b.synapse.weight.dim() == 5
                 and b.synapse.weight.shape[2] > 1]
    cnn_convs = [m.weight.shape for m in cnn.modules() if isinstance(m, torch.nn.Conv2d)]
    assert snn_convs == cnn_convs
    cnn_dense = [tuple(m.weight.shape) for m in cnn.modules() if isinstance(m, torch.nn.Linear)]
    assert cnn_dense == [(64, 256), (10, 64)]
    assert cnn(torch.rand(3, 1, 8, 8)).shape == (3, 10)


def test_snn_forward_shape_and_binary(snn: torch.nn.Module, spikes: np.ndarray) -> None:
    assert isinstance(snn.blocks, torch.nn.ModuleList)
    out = snn(torch.from_numpy(spikes.astype(np.float32)))
    assert out.shape == (len(spikes), 10, T)
    assert set(torch.unique(out).tolist()) <= {0.0, 1.0}
    counts = snn_output_counts(snn, spikes, batch_size=4)
    assert counts.shape == (len(spikes), 10) and counts.dtype == np.int64
    assert np.array_equal(counts, out.detach().sum(-1).numpy().astype(np.int64))
    assert counts.sum() > 0  # the random-init net is active, so the Lava check below means something


def test_export_layout_and_metadata(tmp_path: Path, snn: torch.nn.Module) -> None:
    path = export_netx(snn, tmp_path / "sub" / "m.net", {"dataset": "digits", "timesteps": T, "seed": 0})
    assert path == (tmp_path / "sub" / "m.net").resolve() and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["m.net"]  # no temp file left behind
    with h5py.File(path, "r") as f:
        layers = f["layer"]
        assert sorted(layers.keys(), key=int) == [str(i) for i in range(6)]
        assert layers["0"]["type"][0] == b"input" and list(layers["0"]["shape"][()]) == [1, 8, 8]
        assert [layers[str(i)]["type"][0] for i in range(1, 6)] == [b"conv", b"conv", b"flatten", b"dense", b"dense"]
        for i in (1, 2, 4, 5):
            w = layers[str(i)]["weight"][()]
            assert np.array_equal(w, np.round(w)) and np.all(w % 2 == 0)  # 8-bit, descaled to even ints
            assert w.min() >= -256 and w.max() <= 254
            assert int(layers[str(i)]["neuron"]["vThMant"][()]) == 80
        meta = json.loads(f["neuromap"].attrs["metadata"])
    assert meta["kind"] == "snn" and meta["input_shape"] == [1, 8, 8] and meta["num_classes"] == 10
    assert meta["dataset"] == "digits" and meta["lava_dl_version"] and meta["torch_version"]
    assert read_metadata(path) == meta


def test_export_rejects_cnn(tmp_path: Path) -> None:
    with pytest.raises(NeuromapError, match="kind='snn'"):
        export_netx(create_model("digitnet", kind="cnn"), tmp_path / "c.net", {})


def test_checkpoint_roundtrip(tmp_path: Path, snn: torch.nn.Module, spikes: np.ndarray) -> None:
    save_checkpoint(tmp_path, snn, _config())
    assert (tmp_path / "snn.pt").is_file() and (tmp_path / "config.json").is_file()
    loaded, config = load_snn_from_run(tmp_path)
    assert config["model"] == "digitnet" and not loaded.training
    assert np.array_equal(snn_output_spikes(loaded, spikes), snn_output_spikes(snn, spikes))


def test_checkpoint_errors(tmp_path: Path, snn: torch.nn.Module) -> None:
    with pytest.raises(NeuromapError, match="config.json"):
        load_snn_from_run(tmp_path)
    save_checkpoint(tmp_path, snn, _config())
    (tmp_path / "snn.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(NeuromapError, match="could not be loaded"):
        load_snn_from_run(tmp_path)
    # A pickle that would run code is refused by weights_only=True.
    import pickle

    class Evil:
        def __reduce__(self):  # pragma: no cover - never executed
            return (print, ("pwned",))

    (tmp_path / "snn.pt").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(NeuromapError):
        load_snn_from_run(tmp_path)


def _lava_output(path: Path, sample: np.ndarray, steps: int) -> np.ndarray:
    """Run one (C, H, W, T) spike sample through stock NetX on Lava's fixed-point simulator."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    net = netx.hdf5.Network(net_config=str(path))
    assert net.inp.shape == (8, 8, 1) and net.out.shape == (10,)  # NetX is (x, y, c) = (W, H, C)
    src = Source(data=sample.transpose(2, 1, 0, 3).astype(np.int32))
    sink = Sink(shape=net.out.shape, buffer=steps)
    src.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return sink.data.get().astype(np.uint8)
    finally:
        net.stop()


def test_lava_fixed_point_matches_slayer_spike_for_spike(tmp_path: Path, snn: torch.nn.Module,
                                                         spikes: np.ndarray) -> None:
    path = export_netx(snn, tmp_path / "m.net", {})
    extra = 3  # run past T to check nothing is shifted out of the window either
    padded = np.concatenate([spikes[:2], np.zeros(spikes[:2].shape[:-1] + (extra,), np.uint8)], axis=-1)
    reference = snn_output_spikes(snn, padded)
    for sample, ref in zip(padded, reference):
        out = _lava_output(path, sample, T + extra)
        assert ref.sum() > 0
        assert np.array_equal(out, ref)  # lag 0: Lava step s (1-based) == SLAYER index s-1
