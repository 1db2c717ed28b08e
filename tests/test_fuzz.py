"""The fast subset of benchmarks/fuzz.py (no simulator): hostile NetX / NIR files, profiles, names,
option values and output paths against map, export and deploy's checks in main. Every case must
end in a one-line refusal or a usable result, with no input or outside file touched."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fuzz  # noqa: E402


def test_fast_fuzz_subset(tmp_path: Path) -> None:
    fuzz.setup_work(tmp_path)
    results = fuzz.run_all(tmp_path, seed=0, fast=True, limit=240)
    assert len(results) == 240
    counts = {o: sum(r.outcome == o for r in results) for o in fuzz.OUTCOMES}
    bad = [f"{r.outcome}: [{r.case.category}] {r.case.cli} {r.case.name}: {r.detail}"
           for r in results if r.outcome not in ("refused", "ok")]
    assert not bad, "\n".join(bad[:20])
    # the subset covers every category the fast mode has, and most inputs are refused
    assert {r.case.category for r in results} >= {"h5-bitflip", "h5-zeros", "h5-truncate", "h5-structure",
                                                  "netx-values", "nir-values", "names", "profile",
                                                  "cli-numbers", "cli-paths"}
    assert counts["refused"] > counts["ok"] > 0


def test_fuzz_generates_over_a_thousand_cases(tmp_path: Path) -> None:
    seeds = fuzz.make_seeds(tmp_path / "seeds")
    cases = fuzz.build_cases(seeds, 0)
    assert len(cases) >= 1000
    cats = {c.category for c in cases}
    assert cats == {"h5-bitflip", "h5-zeros", "h5-truncate", "h5-structure", "netx-values", "nir-values",
                    "names", "npy", "profile", "cli-numbers", "cli-paths", "pickle"}
