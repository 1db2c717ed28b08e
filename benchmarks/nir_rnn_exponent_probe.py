"""What would make snnTorch's recurrent fixture exact: a probe, not neuromap's behaviour.

    python benchmarks/nir_rnn_exponent_probe.py

``tests/fixtures/nir/snntorch_rnn.nir`` has mixed-sign integer weights up to 127 and the threshold
160.25, whole only at a scale that is a multiple of 4, where the weights reach 508. lava-dl's
``optimize_weight_bits`` (which neuromap's Lava backend calls and its fast engine copies) clips a
mixed-sign matrix to -256..254, so the importer keeps the scale 1 and rounds the threshold to 160
(docs/nir.md). This script imports the file twice and runs the fast engine on the fixture's input:
as neuromap does, and with the scale forced to 4 and the fast engine's dense weight encoding
replaced, for this run only, by one that takes each matrix as an 8-bit signed mantissa times
``2**e`` (Loihi's weight exponent) instead of clipping. It prints the thresholds and per-layer
spike counts of both next to snnTorch's own."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import neuromap.interop.nir.importer as importer
import neuromap.sim.fast as fast
from neuromap.interop.nir import read_nir

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "nir"


def exponent_encoding(weight: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(encoded weights, weight bits, weight exponent) as the fast engine's dense synapse takes
    them: the mantissa ``w >> e`` (|.| <= 127) doubled, as lava-dl stores mixed-sign weights, and
    the exponent ``e - 1``."""
    w = np.asarray(weight, dtype=np.int64)
    e = 0
    while np.abs(w).max() >> e > 127 or np.any(w % (1 << e)):
        e += 1
    return 2 * (w >> e), 8, e - 1


def main() -> int:
    meta = json.loads((FIXTURES / "snntorch_rnn.json").read_text())
    x = np.moveaxis(np.asarray(meta["input"], dtype=np.int32), 0, -1)[None]
    runs = {"neuromap": None, "scale 4 with weight exponents": 4.0}
    for label, scale in runs.items():
        if scale is not None:
            importer.choose_scale = lambda *args, scale=scale, **kw: scale
            fast.optimize_weight_bits = exponent_encoding
        graph = read_nir(FIXTURES / "snntorch_rnn.nir")
        act = fast.simulate_fast(graph, x)
        vth = {lay.name: lay.neuron.params["vThMant"] for lay in graph.layers if lay.neuron}
        counts = {k: int(v.sum()) for k, v in act.events.items() if k in vth}
        print(f"{label}: vThMant {vth}, spikes {counts}")
    print(f"snnTorch: spikes {meta['counts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
