"""Checks shared by every reader of HDF5 model files (NetX, NIR): model files are data from
elsewhere, so a missing, non-HDF5 or link-carrying file is refused with one clear line."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py

from .errors import NeuromapError


def require_hdf5(path: Path, what: str, fix: str) -> None:
    """`path` exists and is HDF5, else a NeuromapError naming `what` it should be and the `fix`."""
    if not path.is_file():
        raise NeuromapError(f"model file {path} does not exist; pass an existing {what}")
    if not h5py.is_hdf5(path):
        raise NeuromapError(f"{path} is not an HDF5 file (corrupt or wrong file); {fix}")


def refuse_links(f: h5py.File, path: Path, what: str) -> None:
    """External and soft links could make a data file read other files: refuse them."""
    bad: list[str] = []

    def visit(name: str, link: Any) -> None:
        if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
            bad.append(name)

    f.visititems_links(visit)
    if bad:
        raise NeuromapError(f"{path}: contains links ({', '.join(bad[:3])}); a {what} must be "
                            f"self-contained, re-export it")
