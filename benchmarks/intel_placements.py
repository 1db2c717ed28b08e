"""Intel's published Loihi 2 placements against neuromap's layer-wise mapper.

Intel's compiler printed its per-layer placement (tile, cores, per-core registers) in lava-dl's
tutorials; the tables below copy the tiles and core counts:

* PilotNet LIF, ``netx/pilotnet_snn/benchmark.ipynb``: 74 cores (the network ships with lava-dl:
  ``tests/lava/lib/dl/netx/gts/pilotnet_lif/network.net``);
* PilotNet SDNN, ``netx/pilotnet_sdnn/benchmark.ipynb``: 61 cores, the same topology with
  sigma-delta neurons and the 200 x 66 x 3 input kept off the cores (built here from the LIF
  file: only shapes and neuron types matter to the mapper);
* YOLO-KP, ``netx/yolo_kp/run.ipynb``: 574 cores, sigma-delta neurons, 448 x 448 x 3 input on
  the host; its trained weights are not published, so the topology is built here with random
  8-bit weights (the model reads shapes, not values).

    python benchmarks/intel_placements.py [--profile loihi2] [--write-yolo yolo_kp.net]

prints, per network and layer, Intel's tile and cores next to neuromap's and the totals.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from neuromap.graph import Edge, Layer, NetworkGraph, Neuron, conv_output_shape

SDNN = Neuron("SDNN", {"activation": "relu", "vThMant": 16})

#: (layer, tile (x, y, c) or neurons per core for a flat layer, cores) as Intel printed them.
#: PilotNet's dense 100 prints "8" neurons per core: the floor of the average (11 cores of 9
#: and one of 1, the split its synapse count also implies); neuromap reports the largest, 9.
INTEL_PILOTNET_LIF = [
    ("input0", (16, 66, 3), 13), ("conv1", (4, 32, 24), 25), ("conv2", (4, 15, 36), 13),
    ("conv3", (8, 7, 48), 3), ("conv4", (8, 4, 64), 3), ("conv5", (16, 2, 64), 2),
    ("dense7", 9, 12), ("dense8", 50, 1), ("dense9", 10, 1), ("dense10", 1, 1)]
INTEL_PILOTNET_SDNN = INTEL_PILOTNET_LIF[1:]
#: YOLO-KP's ten convolutions: (width = height, channels, kernel, stride), then Intel's tile, cores
YOLO_KP_LAYERS = [(224, 16, 3, 2), (112, 32, 3, 2), (56, 64, 3, 2), (28, 128, 3, 2), (28, 256, 3, 1),
                  (14, 256, 3, 2), (14, 512, 3, 1), (14, 256, 1, 1), (14, 512, 3, 1), (14, 48, 1, 1)]
INTEL_YOLO_KP = [
    ("conv1", (8, 28, 16), 224), ("conv2", (8, 14, 32), 112), ("conv3", (4, 14, 64), 56),
    ("conv4", (4, 7, 128), 28), ("conv5", (4, 7, 128), 56), ("conv6", (8, 7, 64), 16),
    ("conv7", (8, 7, 64), 32), ("conv8", (2, 7, 256), 14), ("conv9", (8, 7, 64), 32),
    ("conv10", (4, 14, 48), 4)]
TOTALS = {"pilotnet_lif": 74, "pilotnet_sdnn": 61, "yolo_kp": 574}


def yolo_kp_graph(seed: int = 0) -> NetworkGraph:
    """YOLO-KP (lava-dl's ``yolo_kp`` NetX printout): a 448 x 448 x 3 host input, then ten
    sigma-delta convolutions (3 x 3 with padding 1, or 1 x 1), random 8-bit weights."""
    rng = np.random.default_rng(seed)
    layers = [Layer("input0", "input", (448, 448, 3))]
    edges = []
    c_prev, shape = 3, (448, 448, 3)
    for i, (side, ch, k, s) in enumerate(YOLO_KP_LAYERS, start=1):
        w = rng.integers(-128, 128, (ch, k, k, c_prev)).astype(float)
        e = Edge(layers[-1].name, f"conv{i}", "conv", w, (s, s), (k // 2, k // 2))
        shape = conv_output_shape(shape, e)
        if shape != (side, side, ch):
            raise AssertionError(f"conv{i}: built {shape}, Intel printed {(side, side, ch)}")
        layers.append(Layer(f"conv{i}", "conv", shape, SDNN))
        edges.append(e)
        c_prev = ch
    return NetworkGraph("yolo_kp", tuple(layers), tuple(edges))


def pilotnet_sdnn_graph(lif: NetworkGraph) -> NetworkGraph:
    """Intel's PilotNet SDNN placement's topology: PilotNet LIF's layers with sigma-delta neurons,
    the input layer kept off the cores (host input)."""
    first = lif.layers[0]
    layers = [Layer(first.name, "input", first.shape)]
    layers += [Layer(lay.name, lay.kind, lay.shape, SDNN) for lay in lif.layers[1:]]
    return NetworkGraph("pilotnet_sdnn_200x66", tuple(layers), lif.edges)


def compare(res, intel) -> list[tuple[str, object, int, object, int]]:
    """(layer, Intel tile, Intel cores, neuromap tile, neuromap cores) per layer."""
    rows = {r["name"]: r for r in res.summary()["per_layer"]}
    out = []
    for name, tile, cores in intel:
        r = rows[name]
        mine = r["neurons_per_core"] if isinstance(tile, int) else tuple(r["tile"])
        out.append((name, tile, cores, mine, r["cores"]))
    return out


def main(argv=None) -> int:
    from neuromap.hw.profile import load_profile
    from neuromap.mapper import map_network
    from neuromap.netx.load import load_netx
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="loihi2")
    ap.add_argument("--write-yolo", type=Path, help="also write YOLO-KP as a NetX file and map that file")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import lava_dl_net  # the lava-dl test networks' location
    prof = load_profile(args.profile)
    lif = load_netx(lava_dl_net("gts/pilotnet_lif/network.net"))
    yolo = yolo_kp_graph()
    if args.write_yolo:
        from neuromap.netx.write import write_netx
        from neuromap.validate import set_limits
        set_limits(max_synapses=10**9)      # YOLO-KP holds more than the loader's default 400 M
        yolo = load_netx(write_netx(yolo, args.write_yolo))
    nets = [("pilotnet_lif", lif, INTEL_PILOTNET_LIF), ("pilotnet_sdnn", pilotnet_sdnn_graph(lif), INTEL_PILOTNET_SDNN),
            ("yolo_kp", yolo, INTEL_YOLO_KP)]
    exit_code = 0
    for key, graph, intel in nets:
        res = map_network(graph, prof, "layerwise")
        print(f"{key} on {prof.name}: Intel {TOTALS[key]} cores, neuromap {res.n_cores} cores "
              f"({res.seconds:.2f} s, validated)")
        print(f"  {'layer':<8} {'Intel tile':<14} {'cores':>6}   {'neuromap tile':<14} {'cores':>6}")
        for name, it, ic, mt, mc in compare(res, intel):
            flag = "" if (it, ic) == (mt, mc) else "  <- differs"
            exit_code |= bool(flag)
            print(f"  {name:<8} {str(it):<14} {ic:>6}   {str(mt):<14} {mc:>6}{flag}")
    return int(exit_code)


if __name__ == "__main__":
    raise SystemExit(main())
