"""Atomic file writes: readers see the old file or the new one, never half of either.

Owns: the one way rmsync writes a file (a temporary file in the same folder, flush, fsync,
rename, fsync of the folder) and the mode it gets (an existing file keeps its own; a new one
gets what the umask gives, 0644 under 022, as `open()` would). Must not: know what it writes.
Failures are OSError: each caller says which file it was and what to do.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """Yield a binary handle (readable too, to check what was written); on a clean exit its
    bytes replace `path` atomically.

    On any exception (an interrupt included) the temporary file is removed and `path` is
    left exactly as it was."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)  # reopened by name, so that `handle.name` is the temporary file's path
    try:
        with Path(tmp).open("w+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(_mode_for(path))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8, newlines as given) atomically."""
    with replacing(path) as handle:
        handle.write(text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; a folder that cannot be opened is left to the OS."""
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
