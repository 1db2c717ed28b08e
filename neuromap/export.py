"""``python -m neuromap.export``: convert a network between NetX HDF5 and NIR.

    python -m neuromap.export --model X.net|X.nir [--dt S] [--from nir|rockpool] --to nir|netx --out PATH
                              [--out-dt S] [--out-neurons plain|cubalif]

The input format is recognised from the file's contents (a NetX file has a ``layer`` group, a
NIR file a ``node`` group). ``--dt`` is the time step of a NIR input's writer (snnTorch 1e-4 s,
Norse dt squared, Rockpool 1e-3 s; inferred where the file states it); ``--from`` how a NIR
input's neuron parameters are meant (``nir``: NIR's equations by forward Euler; ``rockpool``:
Rockpool's exponential update; default: Rockpool's files recognised by their node names and
``r``, NIR otherwise); ``--out-dt`` the time step
of the tool that will read the NIR output (time constants in its unit, unit input gains).
Writing is atomic: on any error nothing is left at ``--out``.

See docs/nir.md for how the IR maps onto NIR primitives and what does not translate."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .errors import CliParser, float_in, run_cli
from .interop.model_file import add_nir_options, read_model
from .interop.nir import write_nir
from .netx.write import write_netx
from .outputs import check_file
from .validate import add_limit_options, set_limits

FORMATS = ("nir", "netx")


def main(argv: Sequence[str] | None = None) -> int:
    parser = CliParser(prog="python -m neuromap.export", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--model", type=Path, required=True, help="NetX .net or NIR .nir file")
    parser.add_argument("--to", choices=FORMATS, required=True, help="output format")
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    add_nir_options(parser)
    parser.add_argument("--out-dt", type=float_in(1e-12, 1e6), default=1.0, metavar="SECONDS",
                        help="with --to nir: the reader's time step (default 1: time in steps)")
    parser.add_argument("--out-neurons", choices=("plain", "cubalif"), default="plain",
                        help="with --to nir: plain LIF/IF nodes where the current decay is full "
                             "(snnTorch, Sinabs) or CubaLIF everywhere (Norse)")
    add_limit_options(parser)
    args = parser.parse_args(argv)
    set_limits(args.max_neurons, args.max_synapses)
    check_file(args.out, "--out", [args.model])
    graph = read_model(args.model, args.dt, args.convention)
    if args.to == "nir":
        path = write_nir(graph, args.out, args.out_dt, args.out_neurons == "plain")
    else:
        path = write_netx(graph, args.out)
    print(f"wrote {path} ({args.to}: {len(graph.layers)} layers, {len(graph.edges)} edges, "
          f"{graph.num_neurons} neurons, {graph.num_synapses} synapses)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
