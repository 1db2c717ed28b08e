"""Current and voltage of every PilotNet LIF layer at every step: the fast engine against Lava 0.10
and against the arrays Intel ships with the network.

Lava runs lava-dl's stock ``netx.hdf5.Network`` (reset interval 16, the shipped image.npy as the input
layer's bias) one step at a time for --steps steps, reading every layer's ``u`` and ``v`` after each
step; the fast engine traces the same stream. Prints, per layer, the values that differ between the
two engines and between each engine and the shipped ``*-u.npy`` / ``*-v.npy`` arrays.

    .venv/bin/python benchmarks/pilotnet_state.py [--steps 24]

Slow: Lava needs about a quarter of a minute per PilotNet step on 2 cores.
"""
from __future__ import annotations

import argparse
import sysconfig
from pathlib import Path

import numpy as np

from neuromap.netx.load import load_netx
from neuromap.sim.fast import trace_fast
from neuromap.sim.lava import ensure_lava_importable

NET = Path(sysconfig.get_paths()["purelib"]) / "tests/lava/lib/dl/netx/gts/pilotnet_lif/network.net"
GT = ["input-s"] + [f"conv-{i}" for i in range(5)] + [f"fc-{i}" for i in range(4)]


def lava_states(steps: int, image: np.ndarray) -> dict[str, np.ndarray]:
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    net = Network(net_config=str(NET), reset_interval=16)
    net.layers[0].neuron.bias_mant.init = image.astype(np.int32)
    out: dict[str, list[np.ndarray]] = {}
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    try:
        for _ in range(steps):
            net.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
            for i, layer in enumerate(net.layers):
                for key in ("u", "v"):
                    out.setdefault(f"{i}_{key}", []).append(getattr(layer.neuron, key).get().reshape(-1).copy())
    finally:
        net.stop()
    return {k: np.stack(v) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=24)
    args = p.parse_args()
    ensure_lava_importable()
    graph = load_netx(NET)
    image = np.load(NET.parent / "image.npy")
    trace = trace_fast(graph, image[None], steps=16, total=args.steps)
    lava = lava_states(args.steps, image)
    print("| layer | state | values | fast vs Lava | Lava vs shipped | fast vs shipped |")
    print("|---|---|---|---|---|---|")
    for i, (layer, name) in enumerate(zip(graph.layers, GT)):
        for key in ("u", "v"):
            ours = getattr(trace, key)[layer.name].astype(np.int64)
            ref = lava[f"{i}_{key}"].astype(np.int64)
            shipped = NET.parent / f"{name}-{key}.npy"
            cells = ["-", "-"]
            if shipped.exists():
                gt = np.load(shipped).astype(np.int64).reshape(layer.size, -1)[:, :args.steps].T
                cells = [f"{int((ref != gt).sum()):,}", f"{int((ours != gt).sum()):,}"]
            print(f"| {layer.name} | {key} | {ours.size:,} | {int((ours != ref).sum()):,} | {cells[0]} | {cells[1]} |",
                  flush=True)


if __name__ == "__main__":
    main()
