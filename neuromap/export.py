"""``python -m neuromap.export``: convert a network between NetX HDF5 and NIR.

    python -m neuromap.export --model X.net|X.nir --to nir|netx --out PATH

The input format is recognised from the file's contents (a NetX file has a ``layer`` group, a
NIR file a ``node`` group). Writing is atomic: on any error nothing is left at ``--out``.

See docs/nir.md for how the IR maps onto NIR primitives and what does not translate."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import h5py

from .errors import CliParser, NeuromapError, run_cli
from .graph import NetworkGraph
from .h5io import read_error, require_hdf5
from .outputs import check_file
from .validate import add_limit_options, set_limits

FORMATS = ("nir", "netx")


def main(argv: Sequence[str] | None = None) -> int:
    parser = CliParser(prog="python -m neuromap.export", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--model", type=Path, required=True, help="NetX .net or NIR .nir file")
    parser.add_argument("--to", choices=FORMATS, required=True, help="output format")
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    add_limit_options(parser)
    args = parser.parse_args(argv)
    set_limits(args.max_neurons, args.max_synapses)
    check_file(args.out, "--out", [args.model])
    graph = read_model(args.model)
    if args.to == "nir":
        from .interop.nir import write_nir
        path = write_nir(graph, args.out)
    else:
        from .netx.write import write_netx
        path = write_netx(graph, args.out)
    print(f"wrote {path} ({args.to}: {len(graph.layers)} layers, {len(graph.edges)} edges, "
          f"{graph.num_neurons} neurons, {graph.num_synapses} synapses)")
    return 0


def read_model(path: Path) -> NetworkGraph:
    """Read a NetX or NIR file, telling them apart by their top-level groups."""
    require_hdf5(path, "NetX .net or NIR .nir file", "pass a NetX .net or NIR .nir file")
    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
    except Exception as exc:  # h5py raises OSError, RuntimeError... on corrupt files
        raise read_error(path, "NetX or NIR file", exc) from None
    if "node" in keys and "layer" not in keys:
        from .interop.nir import read_nir
        return read_nir(path)
    if "layer" in keys:
        from .netx.load import load_netx
        return load_netx(path)
    raise NeuromapError(f"{path} is neither a NetX network (no 'layer' group) nor a NIR graph "
                        f"(no 'node' group); re-export it")


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
