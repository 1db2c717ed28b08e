"""Export a SLAYER SNN to a NetX HDF5 file: lower it to the IR (neuromap.netx.lower), then write
the IR (neuromap.netx.write). Chains come out in lava-dl's own layout; graphs use the graph
extension of docs/netx-graph-format.md. A `neuromap` group holds the metadata as JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import h5py
import torch

from neuromap.errors import NeuromapError
from neuromap.netx.lower import lower_snn
from neuromap.netx.write import write_netx

METADATA_GROUP = "neuromap"
METADATA_ATTR = "metadata"


def export_netx(model: torch.nn.Module, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write the SLAYER SNN `model` (a zoo TwinNet, graphs included, or a model with `.blocks`)
    as NetX HDF5 at `path`, atomically. `metadata` is stored as JSON in the `neuromap` group
    (tool versions and the model's shape are filled in when missing)."""
    graph = lower_snn(model)  # refuses anything that is not a SLAYER SNN
    meta: dict[str, Any] = {
        "kind": "snn",
        "input_shape": [int(d) for d in model.input_shape],
        "num_classes": int(getattr(model, "num_classes", 0)) or None,
        "model": getattr(model, "name", type(model).__name__),
    }
    meta.update(dict(metadata or {}))
    return write_netx(graph, path, meta)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The neuromap metadata stored in a NetX file written by `export_netx`."""
    with h5py.File(path, "r") as handle:
        if METADATA_GROUP not in handle:
            raise NeuromapError(f"{path} has no '{METADATA_GROUP}' group; re-export it with neuromap")
        raw = handle[METADATA_GROUP].attrs[METADATA_ATTR]
    return json.loads(raw if isinstance(raw, str) else raw.decode())
