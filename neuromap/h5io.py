"""Checks shared by every reader of HDF5 model files (NetX, NIR).

Model files are data from elsewhere. Before a loader reads anything, :func:`check_structure`
walks the file once with hard bounds and refuses what a model file never needs and a hostile
one could use: soft and external links, datasets stored outside the file (external raw storage,
virtual datasets), objects reachable by more than one path (a few hard links can make a tiny
file look like millions of layers), nesting deeper than ``MAX_DEPTH``, more than ``MAX_OBJECTS``
links, and datasets of more than ``MAX_ELEMENTS`` elements or of non-numeric, non-text types.
The walk stops at the first bound it meets, so a hostile file is refused in milliseconds.
"""
from __future__ import annotations

from pathlib import Path
import h5py

from .errors import NeuromapError

#: Deepest group nesting accepted (NetX files nest 4 levels, NIR files about 6).
MAX_DEPTH = 16
#: Most links (groups, datasets) accepted in one file; the largest zoo model has a few thousand.
MAX_OBJECTS = 100_000
#: Largest dataset accepted, in elements (a hostile file could declare terabytes).
MAX_ELEMENTS = 200_000_000
#: Dataset element kinds a model file holds: numbers, booleans, text.
PLAIN_KINDS = "biufcSU"


def require_hdf5(path: Path, what: str, fix: str) -> None:
    """`path` exists and is HDF5, else a NeuromapError naming `what` it should be and the `fix`."""
    if not path.is_file():
        raise NeuromapError(f"model file {path} does not exist; pass an existing {what}")
    try:
        ok = h5py.is_hdf5(path)
    except (OSError, RuntimeError, ValueError) as exc:
        raise NeuromapError(f"{path} could not be read ({exc}); pass a readable {what}") from None
    if not ok:
        raise NeuromapError(f"{path} is not an HDF5 file (corrupt or wrong file); {fix}")


def check_structure(f: h5py.File, path: Path, what: str) -> None:
    """Walk ``f`` breadth-first within the bounds above; NeuromapError on the first violation."""
    seen: set[tuple[int, int]] = set()
    total = 0
    level: list[tuple[str, h5py.Group]] = [("", f)]
    depth = 0
    while level:
        if depth > MAX_DEPTH:
            raise NeuromapError(f"{path}: groups nest deeper than {MAX_DEPTH} levels; a {what} "
                                f"never does, the file is corrupt or hostile")
        nxt: list[tuple[str, h5py.Group]] = []
        for prefix, group in level:
            total += group.id.get_num_objs()  # counted before listing the group's links
            if total > MAX_OBJECTS:
                raise NeuromapError(f"{path}: more than {MAX_OBJECTS:,} objects; a {what} is far "
                                    f"smaller, the file is corrupt or hostile")
            for name in group:
                full = f"{prefix}/{name}"
                link = group.get(name, getlink=True)
                if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                    raise NeuromapError(f"{path}: contains links ({full}); a {what} must be "
                                        f"self-contained, re-export it")
                obj = group.get(name)
                info = h5py.h5o.get_info(obj.id)
                key = (info.fileno, info.addr)
                if info.rc > 1 or key in seen:
                    raise NeuromapError(f"{path}: object {full} is reachable by more than one path "
                                        f"(hard links); a {what} never shares objects, re-export it")
                seen.add(key)
                if isinstance(obj, h5py.Dataset):
                    _check_dataset(obj, full, path, what)
                elif isinstance(obj, h5py.Group):
                    nxt.append((full, obj))
                else:
                    raise NeuromapError(f"{path}: {full} is a {type(obj).__name__}, not a group or "
                                        f"dataset; re-export the {what}")
        level = nxt
        depth += 1


def _check_dataset(ds: h5py.Dataset, name: str, path: Path, what: str) -> None:
    if ds.external:
        raise NeuromapError(f"{path}: dataset {name} stores its data in another file "
                            f"(external storage); a {what} must be self-contained, re-export it")
    if ds.is_virtual:
        raise NeuromapError(f"{path}: dataset {name} is a virtual dataset (its data lives in other "
                            f"files); a {what} must be self-contained, re-export it")
    if ds.size is not None and ds.size > MAX_ELEMENTS:
        raise NeuromapError(f"{path}: dataset {name} declares {ds.size:,} elements, more than the "
                            f"{MAX_ELEMENTS:,} neuromap reads; the file is corrupt or hostile")
    kind = ds.dtype.kind
    if kind not in PLAIN_KINDS and not h5py.check_string_dtype(ds.dtype):
        raise NeuromapError(f"{path}: dataset {name} holds {ds.dtype} values, not numbers or text; "
                            f"re-export the {what}")


def read_error(path: Path, what: str, exc: BaseException) -> NeuromapError:
    """The one line for a file h5py or a reader failed on (corrupt blocks, flipped bits, a
    truncated file): h5py raises OSError, RuntimeError, KeyError, ValueError and others."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return NeuromapError(f"{path} could not be read as a {what} ({exc.__class__.__name__}: "
                         f"{text}); the file is corrupt or truncated, re-export it")

