"""What every output records about the software that produced it."""
from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import neuromap

PACKAGES = ("numpy", "torch", "lava-nc", "lava-dl", "h5py", "scikit-learn", "matplotlib", "jinja2")


def versions() -> dict[str, str]:
    """Python and installed package versions ('unknown' for one that is not installed)."""
    out = {"python": platform.python_version(), "neuromap": neuromap.__version__}
    for dist in PACKAGES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def training_fingerprint() -> str:
    """sha256 over the neuromap sources and the versions of the packages training depends on:
    two runs with the same fingerprint, config, seed and thread count give the same weights, so
    a results table is rebuilt only from runs whose fingerprint is the current one."""
    import hashlib
    from pathlib import Path

    root = Path(neuromap.__file__).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    v = versions()
    for k in ("python", "numpy", "torch", "lava-dl"):
        h.update(f"{k}={v[k]}\0".encode())
    return h.hexdigest()[:16]


def file_sha256(path: str | Path) -> str | None:
    """sha256 of a file's bytes (None when the file cannot be read), read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()
