"""NIR files: :func:`write_nir` (atomic) and :func:`read_nir` (a missing, corrupt, linked or
oversized file is a one-line NeuromapError)."""
from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np

import nir

from ...errors import NeuromapError
from ...graph import NetworkGraph
from ...h5io import check_structure, read_error, require_hdf5
from ...outputs import atomic_path
from ...validate import validate
from .export import graph_to_nir
from .importer import nir_to_graph
from .layout import _graph_meta


def write_nir(graph: NetworkGraph, path: str | Path, dt: float = 1.0, plain: bool = True) -> Path:
    """Write ``graph`` as a NIR HDF5 file at ``path``, atomically (temp file, then rename);
    ``dt`` as in :func:`graph_to_nir`."""
    g = graph_to_nir(graph, dt, plain)
    path = Path(path).expanduser()
    with atomic_path(path) as tmp:
        nir.write(tmp, g)
    return path


def read_nir(path: str | Path, dt: float | None = None,
             convention: str | None = None) -> NetworkGraph:
    """Read a NIR HDF5 file (from :func:`write_nir` or another tool) into a NetworkGraph;
    ``dt`` and ``convention`` as in :func:`nir_to_graph`."""
    path = Path(path)
    require_hdf5(path, "NIR .nir file", "so it is not a NIR graph; re-export it")
    try:
        with h5py.File(path, "r") as f:
            _check_file(f, path)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # nir derives values while reading (e.g. dividing by a zero tau); what they become is
            # checked below, so its RuntimeWarnings would only add lines to a one-line error
            warnings.simplefilter("ignore", RuntimeWarning)
            g = nir.read(path, type_check=False)
    except NeuromapError:
        raise
    except Exception as exc:  # h5py and nir.read raise assorted errors (KeyError, TypeError...)
        raise read_error(path, "NIR graph", exc) from None
    if not isinstance(g, nir.NIRGraph):
        raise NeuromapError(f"{path} holds a single NIR {type(g).__name__}, not a graph; export "
                            f"the whole network")
    try:
        with np.errstate(all="ignore"):  # non-finite results are refused by the checks themselves
            graph = nir_to_graph(g, None, dt, convention)
    except NeuromapError:
        raise
    except MemoryError:
        raise NeuromapError(f"{path}: importing it ran out of memory; the graph declares more than "
                            f"fits, lower its size or raise the limits (--max-neurons)") from None
    except Exception as exc:  # hostile parameter values (strings, arrays) break the arithmetic
        raise read_error(path, "NIR graph", exc) from None
    if graph.name == "nir" and not _graph_meta(g.metadata or {}):
        name = "".join(c if c.isprintable() else "_" for c in path.stem)[:100] or "model"
        graph = NetworkGraph(name, graph.layers, graph.edges, {**graph.meta, "source": str(path)})
    return validate(graph)


def _check_file(f: h5py.File, path: Path) -> None:
    if "node" not in f or not isinstance(f["node"], h5py.Group):
        raise NeuromapError(f"{path} has no 'node' group, so it is not a NIR file; write it with "
                            f"nir.write or `python -m neuromap.export --to nir`")
    check_structure(f, path, "NIR file")
