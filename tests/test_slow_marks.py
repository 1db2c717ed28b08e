"""Every entry of conftest.SLOW names a test module or a test that exists, so the list of slow
tests that `make test-fast` leaves out cannot silently go stale."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import SLOW

TESTS = Path(__file__).resolve().parent


def test_every_slow_entry_names_an_existing_test() -> None:
    missing = []
    for entry in sorted(SLOW):
        module, _, name = entry.partition("::")
        path = TESTS / f"{module}.py"
        if not path.is_file():
            missing.append(entry)
            continue
        if name and name not in {n.name for n in ast.parse(path.read_text()).body
                                 if isinstance(n, ast.FunctionDef)}:
            missing.append(entry)
    assert missing == []
