"""Output paths and atomic writes shared by every CLI.

Every CLI checks its output paths with :func:`check_file` / :func:`check_folder` in ``main()``
before any work starts, and writes through :func:`atomic_path` (a temp file in the same folder,
renamed over the target when complete). So a bad path is refused before minutes of work, an
output is never one of the inputs, a failed or killed run leaves no partial or temp file, and
every file written gets the same mode: ``FILE_MODE`` (0644) less the process umask, folders
``DIR_MODE`` (0755) less the umask.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .errors import NeuromapError

FILE_MODE = 0o644
DIR_MODE = 0o755
#: Longest report-folder name derived from a model file name.
MAX_NAME = 100

_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    return FILE_MODE & ~_umask()


def dir_mode() -> int:
    return DIR_MODE & ~_umask()


def safe_name(name: str, default: str = "model") -> str:
    """A single, visible folder-name component from an arbitrary string (a model's file stem):
    separators and other unsafe characters become '_', leading dots are dropped (so never '.',
    '..' or a hidden name), at most MAX_NAME characters; ``default`` if nothing is left."""
    out = _UNSAFE.sub("_", name).lstrip(".")[:MAX_NAME]
    return out if out.strip("._-") else default


def _resolved(p: Path) -> Path:
    return Path(os.path.abspath(p.expanduser())).resolve()


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return _resolved(a) == _resolved(b)


def _writable_parent(path: Path, flag: str) -> None:
    """The nearest existing ancestor of ``path`` is a folder we can create entries in."""
    parent = _resolved(path).parent
    while not parent.exists():
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise NeuromapError(f"{flag} {path}: {parent} is not a folder; pass a path inside a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise NeuromapError(f"{flag} {path}: folder {parent} is not writable; pass another path")


def check_file(path: Path | None, flag: str, inputs: Iterable[Path | None] = (),
               not_inside: Path | None = None) -> Path | None:
    """Refuse an output file path that is a folder or a special file, sits under a file or an
    unwritable folder, is one of ``inputs``, or lies in ``not_inside`` (a folder another output
    replaces as a whole). Creates nothing."""
    if path is None:
        return None
    path = Path(path)
    if str(path) in ("", "."):
        raise NeuromapError(f"{flag} needs a file path (got {str(path)!r})")
    if path.is_dir():
        raise NeuromapError(f"{flag} {path} is a folder; pass a file path")
    if path.exists() and not path.is_file():
        raise NeuromapError(f"{flag} {path} is not a regular file; pass a file path")
    for src in inputs:
        if src is not None and _same(path, Path(src)):
            raise NeuromapError(f"{flag} {path} is also an input file ({src}); writing it would "
                                f"destroy the input, pass another path")
    if not_inside is not None:
        root = _resolved(Path(not_inside))
        if _resolved(path) == root or root in _resolved(path).parents:
            raise NeuromapError(f"{flag} {path} lies in {not_inside}, which the report replaces as "
                                f"a whole; pass a path outside it")
    _writable_parent(path, flag)
    return path


def check_folder(path: Path, flag: str, inputs: Iterable[Path | None] = (),
                 replaced: bool = False) -> Path:
    """Refuse an output folder that is a file or cannot be created. With ``replaced`` (the folder
    is replaced as a whole), also refuse it if it is or holds one of ``inputs``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NeuromapError(f"{flag} {path} exists and is not a folder; pass a folder path")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise NeuromapError(f"{flag} {path}: folder is not writable; pass another folder")
    else:
        _writable_parent(path, flag)
    if replaced:
        root = _resolved(path)
        for src in inputs:
            if src is None:
                continue
            s = _resolved(Path(src))
            if s == root or root in s.parents:
                raise NeuromapError(f"{flag} {path} holds the input {src}, which writing the "
                                    f"output would delete; pass another output folder")
    return path


@contextlib.contextmanager
def _parents(folder: Path) -> Iterator[None]:
    """Create ``folder`` and its missing parents; remove the ones created if the body fails."""
    made: list[Path] = []
    p = folder
    while not p.exists():
        made.append(p)
        if p == p.parent:
            break
        p = p.parent
    try:
        for d in reversed(made):
            d.mkdir(mode=DIR_MODE)
    except OSError as exc:
        _rmdirs(made)
        raise NeuromapError(f"cannot create folder {folder} ({exc.strerror}); pass another path") \
            from None
    try:
        yield
    except BaseException:
        _rmdirs(made)
        raise


def _rmdirs(made: list[Path]) -> None:
    for d in made:  # deepest first
        with contextlib.suppress(OSError):
            d.rmdir()


@contextlib.contextmanager
def atomic_path(path: Path | str, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp path next to ``path``; when the body returns, give it ``file_mode()`` and
    rename it onto ``path``. On any failure the temp file (and folders made for it) are removed."""
    path = Path(path).expanduser()
    with _parents(path.parent):
        try:
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:60]}.", suffix=suffix)
        except OSError as exc:
            raise NeuromapError(f"cannot write {path} ({exc.strerror}); pass another path") from None
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            os.chmod(tmp, file_mode())
            os.replace(tmp, path)
        except OSError as exc:
            raise NeuromapError(f"cannot write {path} ({exc.strerror or exc}); pass another path") \
                from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_bytes(path: Path | str, data: bytes) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def json_text(obj: Any, default: Callable[[Any], Any] | None = None, **kw: Any) -> str:
    """Strict JSON (no NaN / Infinity, which JSON does not have); a non-finite number is a bug
    or a bad input upstream, reported by key."""
    try:
        return json.dumps(obj, indent=2, default=default, allow_nan=False, **kw) + "\n"
    except ValueError:
        where = _nonfinite(obj, "")
        raise NeuromapError(f"refusing to write {where or 'a value'} = NaN or inf into JSON; "
                            f"check the inputs (model, profile, --input) for non-finite "
                            f"numbers") from None


def _nonfinite(obj: Any, at: str) -> str | None:
    if isinstance(obj, float) and not math.isfinite(obj):
        return at or "value"
    if isinstance(obj, dict):
        for k, v in obj.items():
            hit = _nonfinite(v, f"{at}.{k}" if at else str(k))
            if hit:
                return hit
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            hit = _nonfinite(v, f"{at}[{i}]")
            if hit:
                return hit
    try:
        import numpy as np
        if isinstance(obj, (np.floating, np.ndarray)) and not np.all(np.isfinite(obj)):
            return at or "value"
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        pass
    return None


def write_json(path: Path | str, obj: Any, default: Callable[[Any], Any] | None = None,
               **kw: Any) -> Path:
    return write_bytes(path, json_text(obj, default, **kw).encode())


def replace_folder(folder: Path, fill: Callable[[Path], None]) -> Path:
    """Build a folder's new contents in a temp folder (``fill(tmp)``), then swap it in for
    ``folder`` as a whole; on failure the old folder stays and nothing else is left."""
    folder = Path(folder)
    with _parents(folder.parent):
        try:
            tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        except OSError as exc:
            raise NeuromapError(f"cannot write {folder} ({exc.strerror}); pass another --out") \
                from None
        old = None
        try:
            fill(tmp)
            for f in tmp.iterdir():
                os.chmod(f, file_mode())
            os.chmod(tmp, dir_mode())
            if folder.exists():
                old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old."))
                os.replace(folder, old / "x")
            os.replace(tmp, folder)
        except OSError as exc:
            if old is not None and (old / "x").exists() and not folder.exists():
                os.replace(old / "x", folder)
            raise NeuromapError(f"cannot write {folder} ({exc.strerror or exc}); pass another "
                                f"--out") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    return folder
