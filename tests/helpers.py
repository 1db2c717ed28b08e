"""Builders for tiny IR graphs and NetX files used across tests."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from neuromap.graph import Edge, Layer, NetworkGraph, Neuron

CUBA = Neuron("CUBA", {"vThMant": 80, "iDecay": 4096, "vDecay": 0, "refDelay": 1})


def dense_graph(weight: np.ndarray) -> NetworkGraph:
    n_out, n_in = weight.shape
    return NetworkGraph("tiny_dense", (Layer("input0", "input", (n_in,)),
                                       Layer("dense1", "dense", (n_out,), CUBA)),
                        (Edge("input0", "dense1", "dense", weight),))


def conv_graph(in_shape: tuple[int, int, int], weight: np.ndarray, stride=(1, 1), padding=(0, 0),
               dilation=(1, 1), groups: int = 1) -> NetworkGraph:
    from neuromap.graph import conv_output_shape
    edge = Edge("input0", "conv1", "conv", weight, stride, padding, dilation, groups)
    out = conv_output_shape(in_shape, edge)
    return NetworkGraph("tiny_conv", (Layer("input0", "input", in_shape),
                                      Layer("conv1", "conv", out, CUBA)), (edge,))


def write_net(path: Path, layers: list[dict]) -> Path:
    """Write a NetX file: each dict maps dataset names (``neuron/vThMant`` ...) to values."""
    with h5py.File(path, "w") as f:
        for i, spec in enumerate(layers):
            g = f.create_group(f"layer/{i}")
            for key, value in spec.items():
                if key == "type":
                    g.create_dataset("type", (1,), "S10", [value.encode()])
                elif isinstance(value, str):
                    g.create_dataset(key, data=value.encode())
                else:
                    g.create_dataset(key, data=value)
    return path


def small_conv_net(path: Path, seed: int = 0) -> Path:
    """input (c=2, y=6, x=6) -> conv 3x3 s1 p1 (4 ch) -> flatten -> dense 5."""
    rng = np.random.default_rng(seed)
    neuron = {"neuron/type": "CUBA", "neuron/vThMant": 40, "neuron/iDecay": 1024,
              "neuron/vDecay": 256, "neuron/refDelay": 1, "neuron/gradedSpike": False}
    return write_net(path, [
        {"type": "input", "shape": np.array([2, 6, 6])},
        {"type": "conv", "shape": np.array([4, 6, 6]), "weight": rng.integers(-20, 60, (4, 2, 3, 3)).astype(float),
         "stride": np.array([1, 1]), "padding": np.array([1, 1]), "dilation": np.array([1, 1]),
         "groups": 1, "inChannels": 2, "outChannels": 4, "kernelSize": np.array([3, 3]), **neuron},
        {"type": "flatten", "shape": np.array([144, 1, 1])},
        {"type": "dense", "shape": np.array([5]), "weight": rng.integers(-30, 60, (5, 144)).astype(float),
         "inFeatures": 144, "outFeatures": 5, **neuron},
    ])


def run_deploy(net: Path, out: Path, samples: int | None, *extra: str) -> tuple[int, dict]:
    """`python -m neuromap.deploy --target sim` on `net` (all samples when `samples` is None),
    reports under `out`; (exit code, summary)."""
    import json

    from neuromap import deploy
    from neuromap.errors import run_cli

    summary = out / "summary.json"
    count = [] if samples is None else ["--samples", str(samples)]
    code = run_cli(deploy.main, ["--target", "sim", "--model", str(net), *count, "--quiet",
                                 "--out", str(out / "reports"), "--summary-json", str(summary), *extra])
    return code, (json.loads(summary.read_text()) if code == 0 else {})


def assert_lava_equals_slayer(model, graph: NetworkGraph, spikes: np.ndarray, max_silent: int = 2) -> None:
    """Run `spikes` (N, C, H, W, T) through Lava and check that every layer of `graph` spikes exactly as
    the SLAYER `model` does, with at most `max_silent` silent layers (else the check means little)."""
    from neuromap.netx.lower import lava_mismatches
    from neuromap.sim.lava import simulate_lava

    act = simulate_lava(graph, spikes.transpose(0, 3, 2, 1, 4))
    checks = lava_mismatches(model, graph, spikes, act)
    assert list(checks) == [lay.name for lay in graph.layers[1:]]
    for name, (mismatches, _) in checks.items():
        assert mismatches == 0, f"{name}: {mismatches} spikes differ between Lava and SLAYER"
    silent = [name for name, (_, n) in checks.items() if n == 0]
    assert len(silent) <= max_silent, f"too many silent layers for a meaningful check: {silent}"


def h5_datasets(path: Path) -> dict[str, bytes]:
    """Every dataset of an HDF5 file by name, as raw bytes (two files written alike compare equal)."""
    out: dict[str, bytes] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, np.asarray(o[()]).tobytes())
                     if isinstance(o, h5py.Dataset) else None)
    return out
