"""Shared fixtures: the NetX networks shipped in the lava-dl wheel, and tiny hand-made ones."""
from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from neuromap.sim.lava import ensure_lava_importable

# Lava sets the multiprocessing start method when its runtime is first imported and fails if
# anything (tqdm's lock, during training tests) set it before; import it first, whatever runs first.
ensure_lava_importable()

LAVA_DL_TESTS = Path(sysconfig.get_paths()["purelib"]) / "tests" / "lava" / "lib" / "dl" / "netx"


def lava_dl_net(rel: str) -> Path:
    path = LAVA_DL_TESTS / rel
    if not path.is_file():
        pytest.fail(f"lava-dl's shipped test network {rel} is missing from {LAVA_DL_TESTS}; "
                    f"reinstall lava-dl==0.6.0 (make env)")
    return path


SHIPPED = ["gts/pilotnet_lif/network.net", "gts/pilotnet_sdnn/network.net",
           "gts/pilotnet_sdnn/square_network.net", "gts/ntidigits/ntidigits.net",
           "mnist.net", "tiny.net"]
