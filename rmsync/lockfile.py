"""The lockfile, `rmsync.lock.yaml`: what rmsync has started and seen, one record per export name.

Owns: the file's format (versioned, sorted, stable keys, a header), pure dump and load, and
the atomic write (temp file in the same folder, fsync, rename). Must not: decide what goes
in a record (plan.py and apply.py do) or talk to the tenant.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from rmsync.manifest import ExportParams
from rmsync.yamlload import DocumentError, Located, Problem, load_text

VERSION = 1
HEADER = (
    "# This file is maintained by rmsync: do not edit it by hand.\n"
    "# It records every export rmsync started; commit it beside the manifest.\n"
)


class LockfileError(DocumentError):
    """The lockfile cannot be read or trusted; nothing is written over it."""


class Status(Enum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"

    @property
    def final(self) -> bool:
        return self in (Status.SUCCESS, Status.ERROR)


@dataclass(frozen=True)
class Fingerprint:
    """What identifies the state of a potential role: if any of it changes, the role changed."""

    name: str
    identity_count: int
    entitlement_count: int
    excluded_entitlements: tuple[str, ...]
    modified: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "identity_count": self.identity_count,
            "entitlement_count": self.entitlement_count,
            "excluded_entitlements": list(self.excluded_entitlements),
            "modified": self.modified,
        }


@dataclass(frozen=True)
class Download:
    """An export's saved archive: path (relative to the manifest's folder), sha256, size."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Record:
    """One export rmsync started, as last seen."""

    name: str
    session_id: str
    potential_role_id: str
    params: ExportParams
    export_id: str
    status: Status
    started_at: str
    finished_at: str | None
    role: Fingerprint
    download: Download | None = None

    def with_status(self, status: Status, now: str) -> Record:
        finished = self.finished_at or (now if status.final else None)
        return replace(self, status=status, finished_at=finished)


@dataclass(frozen=True)
class Lock:
    """Every record, by name."""

    records: Mapping[str, Record] = field(default_factory=dict)

    def get(self, name: str) -> Record | None:
        return self.records.get(name)

    def put(self, record: Record) -> Lock:
        return Lock({**self.records, record.name: record})

    def drop(self, name: str) -> Lock:
        return Lock({k: v for k, v in self.records.items() if k != name})


def dumps(lock: Lock) -> str:
    """The lockfile text: header, version, records sorted by name, keys in a fixed order."""
    exports = {name: _record_dict(lock.records[name]) for name in sorted(lock.records)}
    body = yaml.safe_dump({"version": VERSION, "exports": exports}, sort_keys=False, width=1000)
    return HEADER + body


def _record_dict(r: Record) -> dict[str, Any]:
    return {
        "session_id": r.session_id,
        "potential_role_id": r.potential_role_id,
        "min_entitlement_popularity": r.params.min_entitlement_popularity,
        "include_common_access": r.params.include_common_access,
        "export_id": r.export_id,
        "status": r.status.value,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "role": r.role.as_dict(),
        **(
            {
                "download": {
                    "path": r.download.path,
                    "sha256": r.download.sha256,
                    "size": r.download.size,
                }
            }
            if r.download
            else {}
        ),
    }


def loads(text: str, file: str) -> Lock:
    """Parse lockfile text; raise LockfileError naming the line of anything wrong."""
    try:
        doc = load_text(text, file)
    except DocumentError as exc:
        raise LockfileError(exc.problems) from None
    if doc.problems:
        raise LockfileError(doc.problems)
    data = doc.data
    if data is None:
        return Lock()
    if not isinstance(data, dict) or not isinstance(data.get("exports", {}), dict):
        raise LockfileError([Problem(file, 1, "", "not an rmsync lockfile (restore it from Git)")])
    version = data.get("version")
    if version != VERSION:
        hint = (
            "upgrade rmsync"
            if isinstance(version, int) and version > VERSION
            else "restore it from Git"
        )
        message = f"lockfile version {version!r} is not {VERSION}; {hint}"
        raise LockfileError([Problem(file, doc.line_of(("version",)), "version", message)])
    records = {}
    for name, body in (data.get("exports") or {}).items():
        records[name] = _record(doc, name, body)
    return Lock(records)


def _record(doc: Located, name: str, body: Any) -> Record:
    try:
        role = body["role"]
        return Record(
            name,
            str(body["session_id"]),
            str(body["potential_role_id"]),
            ExportParams(
                int(body["min_entitlement_popularity"]), bool(body["include_common_access"])
            ),
            str(body["export_id"]),
            Status(body["status"]),
            str(body["started_at"]),
            None if body.get("finished_at") is None else str(body["finished_at"]),
            Fingerprint(
                str(role["name"]),
                int(role["identity_count"]),
                int(role["entitlement_count"]),
                tuple(str(x) for x in role.get("excluded_entitlements") or ()),
                None if role.get("modified") is None else str(role["modified"]),
            ),
            _download(body.get("download")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        line = doc.line_of(("exports", name))
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        message = f"record is damaged ({detail}); restore the lockfile from Git"
        raise LockfileError([Problem(doc.file, line, f"exports.{name}", message)]) from None


def _download(body: Any) -> Download | None:
    if body is None:
        return None
    return Download(str(body["path"]), str(body["sha256"]), int(body["size"]))


def read(path: Path) -> Lock:
    """The lock at `path`; a missing file is an empty lock."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise LockfileError(
            [Problem(str(path), 1, "", f"cannot read the lockfile: {reason}")]
        ) from None
    return loads(text, str(path))


def write(path: Path, lock: Lock) -> None:
    """Replace `path` with `lock` atomically: readers see the old file or the new, never half."""
    text = dumps(lock)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LockfileError(
            [Problem(str(path), 1, "", f"cannot write the lockfile: {exc.strerror}")]
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            message = f"cannot write the lockfile: {exc.strerror}"
            raise LockfileError([Problem(str(path), 1, "", message)]) from None
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
