"""neuromap's NIR exports, loaded and run by the peers: step 1 of 2, in neuromap's environment.

    python benchmarks/nir_exports_for_peers.py --out /tmp/nir_to_peers
    /work/peers-venv/bin/python benchmarks/nir_peers_run_exports.py --dir /tmp/nir_to_peers

Builds three small networks in the IR (dense: a CUBA layer with current decay, then a layer with
full current decay; conv: a conv layer then a dense one; iaf: a conv and a dense layer of
integrate-and-fire neurons, which is all Sinabs reads, with even weights and odd thresholds so
that its ``v >= threshold`` and Lava's ``v > threshold`` agree), with integer weights and no
bias (the peers read no bias), runs each in neuromap's fast engine on fixed random input spikes,
and writes for every peer its file (snnTorch: --out-dt 1e-4 and plain LIF nodes; Norse and
Rockpool: --out-dt 1e-3 and CubaLIF nodes, as their importers default and Rockpool reads no LIF;
Sinabs: time in steps, plain nodes) plus ``<net>.json`` with the input and neuromap's per-layer
spike counts. Step 2 (``nir_peers_run_exports.py``, in the peers'
environment, see tests/fixtures/nir/requirements-peers.txt) runs each file in the peer and
prints both counts."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from neuromap.graph import Edge, Layer, NetworkGraph, Neuron, conv_output_shape
from neuromap.interop.nir import write_nir
from neuromap.sim.fast import simulate_fast

T = 24
#: (reader's dt, plain LIF/IF nodes)
PEERS = {"snntorch": (1e-4, True), "norse": (1e-3, False), "sinabs": (1.0, True),
         "rockpool": (1e-3, False)}


def cuba(i_decay: int, v_decay: int, vth: int) -> Neuron:
    return Neuron("CUBA", {"iDecay": i_decay, "vDecay": v_decay, "vThMant": vth, "refDelay": 1,
                           "gradedSpike": False})


def networks(rng: np.random.Generator) -> dict[str, NetworkGraph]:
    def w(shape, lo, hi, even=False):
        a = rng.integers(lo, hi + 1, shape).astype(float)
        if even:
            a = 2 * np.floor(a / 2)
        a.reshape(-1)[0] = 126.0 if even else 127.0
        return a

    dense = NetworkGraph("dense", (
        Layer("in", "input", (12,)),
        Layer("syn", "dense", (10,), cuba(1024, 512, 200)),
        Layer("lif", "dense", (4,), cuba(4096, 512, 150))),
        (Edge("in", "syn", "dense", w((10, 12), -40, 90)),
         Edge("syn", "lif", "dense", w((4, 10), -30, 80))))
    src = Layer("in", "input", (5, 6, 2))
    conv_edge = Edge("in", "c", "conv", w((3, 3, 3, 2), -30, 70), padding=(1, 1))
    c = Layer("c", "conv", conv_output_shape(src.shape, conv_edge), cuba(4096, 512, 180))
    conv = NetworkGraph("conv", (src, c, Layer("fc", "dense", (5,), cuba(1024, 512, 250))),
                        (conv_edge, Edge("c", "fc", "dense", w((5, c.size), -20, 60))))
    iaf_edge = Edge("in", "c", "conv", w((3, 3, 3, 2), -30, 80, True), padding=(1, 1))
    c = Layer("c", "conv", conv_output_shape(src.shape, iaf_edge), cuba(4096, 0, 181))
    iaf = NetworkGraph("iaf", (src, c, Layer("fc", "dense", (5,), cuba(4096, 0, 301))),
                       (iaf_edge, Edge("c", "fc", "dense", w((5, c.size), -20, 60, True))))
    return {"dense": dense, "conv": conv, "iaf": iaf}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for name, graph in networks(rng).items():
        shape = graph.input_layer.shape
        x = (rng.random((1, *shape, T)) < 0.3).astype(np.int32)
        act = simulate_fast(graph, x)
        counts = {lay.name: int(act.events[lay.name].sum()) for lay in graph.layers[1:]}
        peer_x = x[0]
        if len(shape) == 3:  # IR (x, y, c, T) -> peer (T, C, H, W)
            peer_x = peer_x.transpose(3, 2, 1, 0)
        else:
            peer_x = peer_x.T
        for peer, (dt, plain) in PEERS.items():
            write_nir(graph, args.out / f"{name}_{peer}.nir", dt, plain)
        (args.out / f"{name}.json").write_text(json.dumps(
            {"steps": T, "seed": args.seed, "input": peer_x.tolist(), "counts": counts,
             "dt": {p: d for p, (d, _) in PEERS.items()}}) + "\n")
        print(name, counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
