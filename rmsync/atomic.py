"""Atomic file writes: readers see the old file or the new one, never half of either.

Owns: the one way rmsync writes a file (a temporary file in the same folder, flush, fsync,
rename, fsync of the folder), the mode it gets (an existing file keeps its own; a new one
gets what the umask gives, 0644 under 022, as `open()` would), and, when asked, that the
folder it goes to still lies inside another (checked again just before the temporary file is
made and just before the rename, so that a folder swapped for a link meanwhile is refused).
Must not: know what it writes. Failures are OSError (OutsideError for a folder that leads
outside): each caller says which file it was and what to do.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class OutsideError(OSError):
    """The folder a file was to be written in now leads outside the folder it must stay in."""


def check_inside(path: Path, root: Path) -> None:
    """Refuse (OutsideError) if `path`'s folder, every link in it followed, is not inside
    `root` (its links followed too). A folder not made yet is judged by the part that is."""
    try:
        folder, top = path.parent.resolve(), root.resolve()
    except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13)
        raise OutsideError(f"{path.parent} is a loop of links") from None
    if not folder.is_relative_to(top):
        raise OutsideError(f"{path.parent} leads to {folder}, outside {top}")


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
def replacing(path: Path, inside: Path | None = None, private: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary handle (readable too, to check what was written); on a clean exit its
    bytes replace `path` atomically. With `inside`, `path`'s folder must lie inside it (see
    check_inside) both when the temporary file is made and just before the rename. With
    `private` (personal data), the file is readable by its owner only (0600), whatever it was.

    On any exception (an interrupt included) the temporary file is removed and `path` is
    left exactly as it was."""
    folder = path.parent
    if inside is not None:
        check_inside(path, inside)
    import tempfile  # only when writing: validate, which writes nothing, starts faster

    fd, tmp = tempfile.mkstemp(prefix=_prefix(path), suffix=".tmp", dir=folder)
    os.close(fd)  # reopened by name, so that `handle.name` is the temporary file's path
    try:
        with Path(tmp).open("w+b") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), 0o600 if private else _mode_for(path))
            os.fsync(handle.fileno())
        if inside is not None:
            check_inside(path, inside)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def _prefix(path: Path) -> str:
    return f".{path.name}."


def leftovers(path: Path) -> list[Path]:
    """The temporary files a killed writer of `path` left beside it (`.NAME.*.tmp`). Only a
    caller that holds the right to write `path` (the apply lock) may remove them."""
    import glob  # only here: validate, which writes nothing, starts faster

    try:
        found = sorted(path.parent.glob(f"{glob.escape(_prefix(path))}*.tmp"))
    except OSError:
        return []
    return [p for p in found if p.is_file() and not p.is_symlink()]


def not_a_file(path: Path) -> str | None:
    """Why `path`, named by a user for output, is no place to write a file: it exists and is
    a link (rmsync would replace the link, not write through it), a device such as
    /dev/stdout, a folder or anything but a regular file. None: it is one, or is not there."""
    try:
        found = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if stat.S_ISLNK(found.st_mode):
        return "it is a link (name the file itself)"
    if not stat.S_ISREG(found.st_mode):
        return "it is not a regular file (a folder, a device or a pipe)"
    return None


def write_text(path: Path, text: str, private: bool = False) -> None:
    """Replace `path` with `text` (UTF-8, newlines as given) atomically; `private`: 0600."""
    with replacing(path, private=private) as handle:
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
