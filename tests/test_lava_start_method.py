"""Lava must run even when something (tqdm's multiprocessing lock) fixed the start method first."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def test_lava_runs_after_start_method_was_fixed(tmp_path):
    script = textwrap.dedent(f"""
        import multiprocessing as mp
        mp.set_start_method("spawn")          # what a library may do before Lava is imported
        import numpy as np
        import sys
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})
        from helpers import small_conv_net
        from neuromap.netx.load import load_netx
        from neuromap.sim.lava import simulate_lava
        g = load_netx(small_conv_net(__import__('pathlib').Path({str(tmp_path)!r}) / "s.net"))
        x = (np.random.default_rng(0).random((1, 6, 6, 2, 4)) < 0.5).astype(np.int32)
        act = simulate_lava(g, x)
        print("ok", act.events["dense3"].shape, mp.get_start_method())
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ok (1, 4, 5) fork" in proc.stdout
