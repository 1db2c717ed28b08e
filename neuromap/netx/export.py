"""Export a SLAYER SNN to a NetX HDF5 file (lava-dl's layout plus a `neuromap` metadata group)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np
import torch

from neuromap.errors import NeuromapError
from neuromap.provenance import versions as _versions

METADATA_GROUP = "neuromap"
METADATA_ATTR = "metadata"


def _write_input_layer(group: h5py.Group, input_shape: tuple[int, ...]) -> None:
    """Shape-only NetX input layer; `shape` is (C, H, W) so NetX reads (x, y, c) = shape[::-1]."""
    group.create_dataset("type", (1,), "S10", [b"input"])
    group.create_dataset("shape", data=np.array(input_shape, dtype=np.int64))


def export_netx(model: torch.nn.Module, path: str | Path, metadata: Mapping[str, Any]) -> Path:
    """Write `model` (an SNN with `.blocks` and `.input_shape`) as NetX HDF5 at `path`, atomically.

    Layout: group `layer` with "0" = shape-only input layer (C, H, W), then one
    subgroup per SLAYER block ("1", "2", ...) written by the block's own
    `export_hdf5`; group `neuromap` with attribute `metadata` = JSON of
    `metadata` (tool versions and model shape filled in when missing).
    """
    blocks = getattr(model, "blocks", None)
    input_shape = getattr(model, "input_shape", None)
    if blocks is None or input_shape is None:
        raise NeuromapError(
            f"cannot export {type(model).__name__} to NetX: it is not a SLAYER SNN "
            "(needs .blocks and .input_shape); build it with create_model(..., kind='snn')"
        )
    path = Path(path).expanduser().resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NeuromapError(f"cannot create folder {path.parent} for the NetX file ({exc.strerror}); "
                            "pass another export path") from None

    meta: dict[str, Any] = {
        "kind": "snn",
        "input_shape": [int(d) for d in input_shape],
        "num_classes": int(getattr(model, "num_classes", 0)) or None,
        "model": getattr(model, "name", type(model).__name__),
    }
    meta.update(dict(metadata))
    versions = _versions()
    meta.setdefault("neuromap_version", versions["neuromap"])
    meta.setdefault("torch_version", versions["torch"])
    meta.setdefault("lava_dl_version", versions["lava-dl"])
    meta.setdefault("lava_nc_version", versions["lava-nc"])
    try:
        meta_json = json.dumps(meta, sort_keys=True)
    except TypeError as exc:
        raise NeuromapError(f"export metadata must be JSON-serialisable: {exc}") from exc

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), h5py.File(tmp, "w") as handle:
            layer = handle.create_group("layer")
            _write_input_layer(layer.create_group("0"), tuple(int(d) for d in input_shape))
            for i, block in enumerate(blocks):
                block.export_hdf5(layer.create_group(f"{i + 1}"))
            group = handle.create_group(METADATA_GROUP)
            group.attrs[METADATA_ATTR] = meta_json
        os.replace(tmp, path)
    except OSError as exc:
        raise NeuromapError(f"cannot write NetX file {path} ({exc}); pass another export path") from None
    finally:
        model.train(was_training)
        if tmp.exists():
            tmp.unlink()
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The neuromap metadata stored in a NetX file written by `export_netx`."""
    with h5py.File(path, "r") as handle:
        if METADATA_GROUP not in handle:
            raise NeuromapError(f"{path} has no '{METADATA_GROUP}' group; re-export it with neuromap")
        raw = handle[METADATA_GROUP].attrs[METADATA_ATTR]
    return json.loads(raw if isinstance(raw, str) else raw.decode())
