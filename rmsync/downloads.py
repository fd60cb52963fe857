"""Archives: fetching an export's zip to its place, checking it, and hashing saved files.

Owns: streaming an archive through rmsync.atomic (a temporary file beside its place, moved in
only once it is a whole, valid zip), its sha256 and size, the reason a place cannot hold it,
and hashing the files already saved. Must not: decide which archives to fetch (plan and
apply do), write the lockfile, or print.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from rmsync import atomic
from rmsync.api import Client, NotFoundError
from rmsync.errors import RmsyncError
from rmsync.models import Download, Record

Now = Callable[[], str]


class ArchiveError(RmsyncError):
    """An archive could not be fetched or saved; the record says whether to re-export."""


class ArchiveGone(ArchiveError):
    """The tenant answered 404 for an archive: the export expired or was forgotten."""

    def __init__(self, record: Record) -> None:
        super().__init__(
            f"the tenant no longer has export {record.export_id} (its download answered 404); "
            "recorded: the next plan re-exports it"
        )
        self.record = record


def fetch(client: Client, record: Record, relative: str, folder: Path, now: Now) -> Record:
    """Stream the archive to a temporary file beside its place, check it is a zip, move it in.
    A 404 raises ArchiveGone carrying the record marked gone; nothing is left half-written."""
    dest = folder / relative
    digest, size = hashlib.sha256(), 0
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic.replacing(dest) as handle:

            def sink(chunk: bytes) -> None:
                nonlocal size
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)

            try:
                client.download(record.session_id, record.potential_role_id, record.export_id, sink)
            except NotFoundError:
                raise ArchiveGone(replace(record, gone_at=now())) from None
            handle.flush()
            _check_zip(handle, record)
    except OSError as exc:
        raise ArchiveError(_unwritable(relative, folder, exc)) from None
    return replace(record, download=Download(relative, digest.hexdigest(), size))


def _unwritable(relative: str, folder: Path, exc: OSError) -> str:
    dest = folder / relative
    if dest.is_dir():
        why = "it is a folder; name a file such as exports/<name>.zip"
    elif any(p.is_file() for p in dest.parents):
        why = "a part of its path is a file, not a folder"
    else:
        why = exc.strerror or type(exc).__name__
    return f"download: {relative}: cannot save the archive there: {why}"


def _check_zip(handle: BinaryIO, record: Record) -> None:
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError):
        broken = "(not a zip archive)"
    if broken is not None:
        raise ArchiveError(
            f"the archive of export {record.export_id} is damaged: {broken}; nothing was saved"
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
