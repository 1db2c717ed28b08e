"""One error type for user-facing failures; CLIs print it on one line and exit 2."""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Sequence, TextIO

#: Exit status when the reader of our stdout went away (``... | head``): 128 + SIGPIPE, as a
#: process killed by the broken pipe would report it in a shell.
BROKEN_PIPE_STATUS = 141
#: Printed on stderr by torch.utils.cpp_extension when lava-dl's SLAYER is imported on a machine
#: with a CUDA toolkit folder but no CUDA runtime; harmless here (neuromap runs on the CPU).
CUDA_BANNER = "No CUDA runtime is found"


class NeuromapError(Exception):
    """A problem with the user's input or environment, with the fix in the message."""


class _DropBanner:
    """A stderr wrapper that drops torch's CUDA banner line and passes everything else on."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._dropping = False

    def write(self, text: str) -> int:
        if text.startswith(CUDA_BANNER):
            self._dropping = not text.endswith("\n")
            return len(text)
        if self._dropping and text == "\n":
            self._dropping = False
            return len(text)
        self._dropping = False
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run_cli(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a CLI's ``main``: a NeuromapError becomes one ``error:`` line on stderr and status 2,
    a closed stdout (``| head``) ends quietly, and torch's CUDA banner is not shown."""
    stderr = sys.stderr
    sys.stderr = _DropBanner(stderr)  # type: ignore[assignment]
    try:
        code = main(argv)
        sys.stdout.flush()  # surface a broken pipe here, not at interpreter exit
        return code
    except NeuromapError as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    except BrokenPipeError:
        # the reader is gone: point stdout at /dev/null so the final flush cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE_STATUS
    finally:
        sys.stderr = stderr
