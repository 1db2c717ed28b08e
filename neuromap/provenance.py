"""What every output records about the software that produced it."""
from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("numpy", "torch", "lava-nc", "lava-dl", "h5py", "scikit-learn", "matplotlib")


def versions() -> dict[str, str]:
    """Python and installed package versions ('unknown' for one that is not installed)."""
    import neuromap

    out = {"python": platform.python_version(), "neuromap": neuromap.__version__}
    for dist in PACKAGES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out
