"""Archives: fetching an export's zip to its place, checking it, and hashing saved files.

Owns: streaming an archive through rmsync.atomic (a temporary file beside its place, started
afresh on every attempt, moved in only once it is a whole, valid zip, and only if its folder
still lies inside the manifest's), its sha256 and size, the bounds on what is fetched and
checked (MAX_ARCHIVE_BYTES, or RMSYNC_MAX_ARCHIVE_BYTES, or `fetch(max_bytes=)`; what it may
unpack to), the reason a place cannot hold it, and hashing the files already saved; reading a
fetched archive's content (through rmsync.archive) before it is moved in, and keeping the
archive it replaces as `<stem>.previous<suffix>` beside it (the place is never without a
file: the old one is linked or copied there first; if that fails, nothing moves). Must not:
decide which archives to fetch (plan and apply do), write the lockfile, or print.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from rmsync import archive, atomic
from rmsync.api import ApiError, Client, NotFoundError
from rmsync.archive import MAX_MEMBERS, MAX_UNPACKED_BYTES, UNREADABLE
from rmsync.errors import RmsyncError
from rmsync.models import Content, Download, Record

Now = Callable[[], str]

ENV_MAX = "RMSYNC_MAX_ARCHIVE_BYTES"
MAX_ARCHIVE_BYTES = 1 << 30  # 1 GiB: the most an archive may be, unless ENV_MAX says otherwise
# What the zip check may unpack (testzip reads every byte of every member): at most
# MAX_RATIO times the archive's size, but always 16 MiB, and never more than 4 GiB. Role
# exports are CSV, which deflate packs some 5-20 times; a zip bomb packs 1000 times.
MAX_RATIO = 100
MIN_UNPACKED_BYTES = 16 << 20  # and MAX_UNPACKED_BYTES, MAX_MEMBERS: archive.py's, shared


class ArchiveError(RmsyncError):
    """An archive could not be fetched or saved; the record says whether to re-export."""

    def __init__(self, message: str, tracking_id: str | None = None) -> None:
        super().__init__(message)
        self.tracking_id = tracking_id


class ArchiveGone(ArchiveError):
    """The tenant answered 404 for an archive: the export expired or was forgotten."""

    def __init__(self, record: Record) -> None:
        super().__init__(
            f"the tenant no longer has export {record.export_id} (its download answered 404); "
            "recorded: the next plan re-exports it"
        )
        self.record = record


def max_archive_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """The most an archive may be: RMSYNC_MAX_ARCHIVE_BYTES (a whole number of bytes) if set."""
    text = environ.get(ENV_MAX, "").strip()
    if not text:
        return MAX_ARCHIVE_BYTES
    if not (text.isascii() and text.isdigit() and len(text) <= 18 and int(text) > 0):
        raise ArchiveError(
            f"{ENV_MAX}={text[:40]!r} is not a number of bytes "
            "(a whole number above 0, such as 1073741824)"
        )
    return int(text)


class _Saving:
    """The sink a download streams into: the temporary file, its sha256 and size, all three
    started afresh on every attempt, and refused the moment the archive is over `limit`."""

    def __init__(self, handle: BinaryIO, limit: int, export_id: str | None) -> None:
        self.handle, self.limit, self.export_id = handle, limit, export_id
        self.digest, self.size = hashlib.sha256(), 0

    def restart(self, length: int | None) -> None:
        if length is not None and length > self.limit:
            raise self._too_large()
        self.handle.seek(0)
        self.handle.truncate()
        self.digest, self.size = hashlib.sha256(), 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise self._too_large()
        self.handle.write(chunk)
        self.digest.update(chunk)

    def _too_large(self) -> ArchiveError:
        return ArchiveError(
            f"the archive of export {self.export_id} is larger than {self.limit:,} bytes, "
            f"the most rmsync saves (set {ENV_MAX} to allow more); nothing was saved"
        )


def fetch(
    client: Client,
    record: Record,
    relative: str,
    folder: Path,
    now: Now,
    *,
    max_bytes: int | None = None,
) -> Record:
    """Stream the archive to a temporary file beside its place, check it is a zip within
    bounds, read what it lists, keep the archive already there (if any) as its previous
    version, move the new one in. A 404 raises ArchiveGone carrying the record marked gone;
    anything else that goes wrong is an ArchiveError, and nothing is left half-written. The
    place's folder must lie inside `folder` when the download starts and when it is moved in."""
    limit = max_archive_bytes() if max_bytes is None else max_bytes
    dest = folder / relative
    try:
        atomic.check_inside(dest, folder)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic.replacing(dest, inside=folder) as handle:
            sink = _Saving(handle, limit, record.export_id)
            _download(client, record, sink, now)
            handle.flush()
            _check_zip(handle, record, sink.size)
            content = _content(handle, record)
            _keep_previous(dest, relative, folder)
    except atomic.OutsideError:
        raise ArchiveError(_outside(relative)) from None
    except OSError as exc:
        raise ArchiveError(_unwritable(relative, folder, exc)) from None
    saved = Download(relative, sink.digest.hexdigest(), sink.size, content=content)
    return replace(record, download=saved)


def _content(handle: BinaryIO, record: Record) -> Content:
    """What the checked archive lists, in counts (rmsync.archive reads it by its headers)."""
    try:
        return archive.summary(archive.read(handle))
    except archive.ArchiveUnreadable as exc:
        raise ArchiveError(
            f"the archive of export {record.export_id} cannot be read: {exc}; nothing was saved"
        ) from None


def _keep_previous(dest: Path, relative: str, folder: Path) -> None:
    """Keep the archive at `dest` (if one is there) as archive.previous_path(dest), before the
    new one replaces it: hard-linked (else copied) to a temporary name beside it, then renamed
    over the previous one. `dest` itself is not touched, so it is never missing; if this fails,
    the previous version stays as it was and the download stops with nothing moved. (If the
    new archive's own rename fails after this, the kept one is the current archive: `rmsync
    diff` then finds no change, never a wrong one.) The
    temporary name is one of `dest`'s (`.NAME.*.tmp`), so a killed run's is swept with them."""
    if dest.is_symlink() or not dest.is_file():
        return
    previous = archive.previous_path(dest)
    held = dest.with_name(f".{dest.name}.previous-{secrets.token_hex(8)}.tmp")
    try:
        try:
            os.link(dest, held)
        except OSError:  # no hard links on this file system: a copy, flushed to disk
            with dest.open("rb") as old, held.open("xb") as copy:
                shutil.copyfileobj(old, copy)
                copy.flush()
                os.fsync(copy.fileno())
        atomic.check_inside(previous, folder)
        held.replace(previous)
    except atomic.OutsideError:
        held.unlink(missing_ok=True)
        raise
    except OSError as exc:
        held.unlink(missing_ok=True)
        kept = archive.previous_path(Path(relative)).as_posix()
        why = "it is a folder" if previous.is_dir() else (exc.strerror or type(exc).__name__)
        raise ArchiveError(
            f"download: {relative}: cannot keep the archive there as {kept}: {why}; "
            "nothing was saved"
        ) from None
    except BaseException:
        held.unlink(missing_ok=True)
        raise


def _download(client: Client, record: Record, sink: _Saving, now: Now) -> None:
    try:
        client.download(*record.address, sink)
    except NotFoundError:
        raise ArchiveGone(replace(record, gone_at=now())) from None
    except ApiError as exc:
        raise ArchiveError(
            f"the archive of export {record.export_id} could not be fetched: {exc}; "
            "nothing was saved",
            exc.tracking_id,
        ) from None


def _outside(relative: str) -> str:
    where = Path(relative).parent.as_posix()
    return (
        f"download: {relative}: refused: {where} now leads outside the manifest's folder "
        "(through a link); nothing was saved"
    )


def _unwritable(relative: str, folder: Path, exc: OSError) -> str:
    dest = folder / relative
    if dest.is_dir():
        why = "it is a folder; name a file such as exports/<name>.zip"
    elif any(p.is_file() for p in dest.parents):
        why = "a part of its path is a file, not a folder"
    else:
        why = exc.strerror or type(exc).__name__
    return f"download: {relative}: cannot save the archive there: {why}"


def _check_zip(handle: BinaryIO, record: Record, packed: int) -> None:
    """A whole zip whose members read back with their CRCs, once its central directory
    shows that reading them is bounded work."""
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            _check_bounds(archive.infolist(), packed, record)
            broken = archive.testzip()
    except zipfile.BadZipFile:
        broken = "(not a zip archive)"
    except UNREADABLE:
        broken = "(a member cannot be read)"
    if broken is not None:
        raise ArchiveError(
            f"the archive of export {record.export_id} is damaged: {broken}; nothing was saved"
        )


def _check_bounds(members: list[zipfile.ZipInfo], packed: int, record: Record) -> None:
    """Refuse a zip bomb from its central directory, before a byte of it is unpacked: too many
    members, or more to unpack than MAX_RATIO times the archive (at least MIN_UNPACKED_BYTES,
    at most MAX_UNPACKED_BYTES). A member cannot unpack to more than its declared size."""
    what = f"the archive of export {record.export_id}"
    if len(members) > MAX_MEMBERS:
        raise ArchiveError(
            f"{what} has {len(members):,} members, more than rmsync checks ({MAX_MEMBERS:,}); "
            "nothing was saved"
        )
    unpacked = sum(m.file_size for m in members)
    allowed = min(MAX_UNPACKED_BYTES, max(MIN_UNPACKED_BYTES, MAX_RATIO * packed))
    if unpacked > allowed:
        raise ArchiveError(
            f"{what} would unpack to {unpacked:,} bytes from {packed:,}, more than rmsync "
            f"checks ({allowed:,}); nothing was saved"
        )


def hash_files(folder: Path, relatives: list[str]) -> dict[str, str | None]:
    """The sha256 of each file under `folder`, or None where there is none (or no file)."""
    found: dict[str, str | None] = {}
    for relative in relatives:
        try:
            with (folder / relative).open("rb") as handle:
                found[relative] = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError:
            found[relative] = None
    return found
