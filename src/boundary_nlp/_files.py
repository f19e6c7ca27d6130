"""Writing files safely: a temporary file beside the target, renamed at the end; outputs
that would overwrite an input are refused; SIGTERM becomes a clean abort.

Every file the library writes (batch output, error lists, plots, model cards, models) goes
through :func:`atomic_write` or :func:`atomic_path`, so an interrupted run leaves the
previous file untouched and no half-written file under the real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import BoundaryNLPError

PARTIAL_SUFFIX = ".partial"

PathLike = str | os.PathLike[str]


class SameFileError(BoundaryNLPError, ValueError):
    """An output path names the same file as an input (or as another output)."""


class Terminated(KeyboardInterrupt):
    """Raised by the SIGTERM handler of :func:`sigterm_raises`; ``signum`` is the signal."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


def partial_path(path: PathLike) -> Path:
    """Where an interrupted write keeps its partial file when asked to: ``out.csv.partial``."""
    path = Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


def _fsync_folder(folder: Path) -> None:
    # makes the rename itself durable; not possible on every platform (Windows), so best effort
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _default_mode(temporary: str) -> None:
    # mkstemp creates 0600; give the file the mode an ordinary open() would (0666 & ~umask)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)


@contextlib.contextmanager
def atomic_path(path: PathLike, keep_partial: bool = False, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; rename it over ``path`` on success.

    For writers that want a file name (``savefig``, ``joblib.dump``). The caller writes and
    closes the file; it is fsynced and renamed with ``os.replace`` when the block ends. On any
    exception, ``KeyboardInterrupt`` and :class:`Terminated` included, the temporary file is
    removed (or, with ``keep_partial``, renamed to :func:`partial_path`) and ``path`` is left as
    it was. ``mode`` sets the permission bits (default ``0o666 & ~umask``). The folder must
    exist: a missing one raises ``FileNotFoundError`` before anything is written.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot write {target}: no folder {target.parent}")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    os.close(handle)
    try:
        yield Path(temporary)
        with open(temporary, "rb+") as fh:
            os.fsync(fh.fileno())
        if mode is None:
            _default_mode(temporary)
        else:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        if keep_partial and os.path.exists(temporary):
            with contextlib.suppress(OSError):
                os.replace(temporary, partial_path(target))
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(target.parent)


@contextlib.contextmanager
def atomic_write(
    path: PathLike,
    mode: str = "w",
    *,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    keep_partial: bool = False,
    permissions: int | None = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success fsync it and rename it
    over ``path``.

    ``mode`` is ``"w"`` (text, then ``encoding``, ``errors`` and ``newline`` apply) or
    ``"wb"``. On an exception, ``KeyboardInterrupt`` or :class:`Terminated` the temporary file
    is removed and ``path`` is untouched; with ``keep_partial`` what was written is kept as
    ``path + ".partial"`` instead, a name that says it is incomplete.
    ``permissions`` sets the file's mode bits (default ``0o666 & ~umask``, as ``open`` gives).

        with atomic_write("out.csv", encoding="utf-8-sig", newline="") as fh:
            fh.write(...)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path, keep_partial=keep_partial, mode=permissions) as temporary:
        if mode == "wb":
            opened = open(temporary, "wb")
        else:
            opened = open(temporary, "w", encoding=encoding or "utf-8", errors=errors, newline=newline)
        with opened as fh:
            yield fh
            fh.flush()


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`); returns the path."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def escape_formula(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run: text starting with ``= + - @``, tab or CR
    gets a leading ``'`` (the OWASP rule for CSV injection). Numbers, and text that is just a
    number such as ``-5``, are left alone; so is anything that is not a str."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    return value if _NUMBER.fullmatch(value) else "'" + value


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_same_file(outputs: Iterable[PathLike | None], inputs: Iterable[PathLike | None]) -> None:
    """Raise :class:`SameFileError` when an output is the same file as an input or another output.

    ``None`` and ``"-"`` (stdin/stdout) are skipped. Existing files are compared with
    ``os.path.samefile`` (hard links, symlinks, ``./x`` and ``x``); outputs that do not exist yet
    by their resolved paths. Call it before reading anything, so nothing is written.
    """
    outs = [Path(p) for p in outputs if p is not None and str(p) != "-"]
    ins = [Path(p) for p in inputs if p is not None and str(p) != "-"]
    for position, output in enumerate(outs):
        for source in ins:
            if _same(output, source):
                raise SameFileError(
                    f"refusing to write {output}: it is the input file {source}; choose another output path"
                )
        for other in outs[:position]:
            if _same(output, other):
                raise SameFileError(f"refusing to write {output} twice (also given as {other})")


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``), so
    ``finally`` blocks and :func:`atomic_write` clean up as they do on Ctrl-C. Only in the
    main thread; elsewhere a no-op."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def file_sha256(path: str | Path) -> str:
    """The sha256 hex digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
