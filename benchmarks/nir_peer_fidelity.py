"""The peer-written NIR files of tests/fixtures/nir against the peers' own simulations.

    python benchmarks/nir_peer_fidelity.py [--lava]

For every fixture (made by tests/fixtures/nir/make_peer_files.py in the peers' environment, which
stores the input spikes and the peer's per-layer spike counts next to each file): imports it as
``neuromap.map`` and ``deploy`` do (``--dt`` where the file needs it), maps it with the loihi2
profile, runs the fixture's input through the fast engine (and with ``--lava`` through Lava too,
which must agree spike for spike) and prints one markdown row per file: the import (dt, where it
came from, convention), each layer's threshold mantissa (the peer's threshold times the scale the
importer chose), the peer's and neuromap's spike counts. docs/nir.md's fidelity table is its
output."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from neuromap.hw.profile import load_profile
from neuromap.interop.nir import read_nir
from neuromap.mapper import map_network
from neuromap.sim.fast import simulate_fast

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "nir"
#: fixture -> --dt to give (None: inferred): Norse writes tau in seconds squared
DT = {"norse_dense": "dt^2"}
#: the peer counts compared, per fixture, with their label (Rockpool: run with Loihi's reset applied
#: by hand and with its own subtracting reset)
COUNTS = {"rockpool_dense": {"counts_loihi_reset": "Loihi's reset", "counts": "Rockpool's reset"}}


def layer_counts(events: dict[str, np.ndarray], peer: dict[str, int]) -> list[int]:
    """neuromap's count for each peer layer (snnTorch names a recurrent layer's neuron node
    ``<layer>.lif``)."""
    return [int(np.sum(events[k if k in events else f"{k}.lif"])) for k in peer]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lava", action="store_true", help="also run Lava and check it equals the fast engine")
    args = ap.parse_args(argv)
    if args.lava:
        from neuromap.sim.lava import simulate_lava  # Lava: only with --lava
    print("| file | import | vThMant | spikes per layer, peer | neuromap |")
    print("|---|---|---|---|---|")
    for path in sorted(FIXTURES.glob("*.nir")):
        name = path.stem
        meta = json.loads(path.with_suffix(".json").read_text())
        dt = meta["dt"] ** 2 if DT.get(name) == "dt^2" else None
        graph = read_nir(path, dt)
        map_network(graph, load_profile("loihi2"), "layerwise")
        x = np.moveaxis(np.asarray(meta["input"], dtype=np.int32), 0, -1)
        if x.ndim == 4:  # peer (C, H, W) -> IR (x, y, c)
            x = x.transpose(2, 1, 0, 3)
        events = simulate_fast(graph, x[None]).events
        if args.lava:
            lava = simulate_lava(graph, x[None]).events
            for k, v in events.items():
                if not np.array_equal(lava[k], v):
                    print(f"{name}: Lava and the fast engine differ at layer {k}", file=sys.stderr)
                    return 1
        info = graph.meta["nir_import"]
        how = f"dt {info['dt']:.3g} ({info['dt_from'].split(' ')[0]})"
        if "convention" in info:
            how += f", {info['convention']}'s convention"
        scales = ", ".join(f"{lay.neuron.params['vThMant']}" for lay in graph.layers if lay.neuron)
        for key, label in COUNTS.get(name, {"counts": ""}).items():
            peer = meta[key]
            print(f"| `{name}`{f' ({label})' if label else ''} | {how} | {scales} | {', '.join(str(v) for v in peer.values())} "
                  f"| {', '.join(str(v) for v in layer_counts(events, peer))} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
