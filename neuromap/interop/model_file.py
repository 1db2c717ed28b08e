"""Read a network file of either format a CLI takes: NetX HDF5 (``.net``) or NIR (``.nir``),
told apart by their top-level groups (``layer`` = NetX, ``node`` = NIR); and the options every
CLI that reads one shares for a NIR file (:func:`add_nir_options`)."""
from __future__ import annotations

import argparse
from pathlib import Path

import h5py

from ..errors import NeuromapError, float_in
from ..graph import NetworkGraph
from ..h5io import read_error, require_hdf5
from ..netx.load import load_netx
from .nir import CONVENTIONS, read_nir


def add_nir_options(parser: argparse.ArgumentParser) -> None:
    """``--dt SECONDS`` and ``--from nir|rockpool`` (``args.dt``, ``args.convention``), the two
    arguments of :func:`read_model` after the path, as ``map``, ``deploy`` and ``export`` take
    them."""
    parser.add_argument("--dt", type=float_in(1e-12, 1e6), metavar="SECONDS",
                        help="a NIR model's time step in its writer's unit (default: inferred, "
                             "else 1 step; docs/nir.md)")
    parser.add_argument("--from", dest="convention", choices=CONVENTIONS,
                        help="how a NIR model's neuron parameters are meant (default: Rockpool's "
                             "files recognised, NIR's Euler convention otherwise)")


def read_model(path: Path, dt: float | None = None, convention: str | None = None) -> NetworkGraph:
    """Read a NetX or NIR file into a NetworkGraph; ``dt`` (seconds) is a NIR writer's time
    step and ``convention`` how its neuron parameters are meant (see ``interop.nir.nir_to_graph``);
    both are refused for a NetX file, whose time is in steps and whose neurons are Lava's."""
    path = Path(path)
    require_hdf5(path, "NetX .net or NIR .nir file", "pass a NetX .net or NIR .nir file")
    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
    except Exception as exc:  # h5py raises OSError, RuntimeError... on corrupt files
        raise read_error(path, "NetX or NIR file", exc) from None
    if "node" in keys and "layer" not in keys:
        return read_nir(path, dt, convention)
    if "layer" in keys:
        if dt is not None:
            raise NeuromapError(f"{path} is a NetX network, whose time is in steps; --dt is for "
                                f"NIR files, drop it")
        if convention is not None:
            raise NeuromapError(f"{path} is a NetX network, whose neurons are Lava's; --from is "
                                f"for NIR files, drop it")
        return load_netx(path)
    raise NeuromapError(f"{path} is neither a NetX network (no 'layer' group) nor a NIR graph "
                        f"(no 'node' group); re-export it")
