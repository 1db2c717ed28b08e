"""One error type for user-facing failures; CLIs print it on one line and exit 2."""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any, Callable, NoReturn, Sequence, TextIO

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
        text = " ".join(str(exc).split())  # one line, whatever a wrapped library message held
        print(f"error: {text}", file=stderr)
        return 2
    except BrokenPipeError:
        # the reader is gone: point stdout at /dev/null so the final flush cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE_STATUS
    finally:
        sys.stderr = stderr


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written and appends each option's default to its help, unless the
    help already names it or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default == argparse.SUPPRESS \
                or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class CliParser(argparse.ArgumentParser):
    """argparse that reports a bad option as one NeuromapError line (exit 2), not usage + error,
    and shows defaults in --help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        raise NeuromapError(f"{message} (see `{self.prog} --help`)")


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number in lo..hi."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number in {lo}..{hi}, got {text!r}") \
                from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected a whole number in {lo}..{hi}, got {text!r}")
        return value
    return parse


def float_in(lo: float, hi: float) -> Callable[[str], float]:
    """An argparse type: a finite number in lo..hi (NaN and inf refused)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in {lo:g}..{hi:g}, got {text!r}") \
                from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected a finite number in {lo:g}..{hi:g}, got "
                                             f"{text!r}")
        return value
    return parse
