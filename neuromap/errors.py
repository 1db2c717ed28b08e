"""One error type for user-facing failures; CLIs print it on one line and exit 2."""
from __future__ import annotations
import sys
from typing import Callable, Sequence

class NeuromapError(Exception):
    """A problem with the user's input or environment, with the fix in the message."""

def run_cli(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    try:
        return main(argv)
    except NeuromapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
