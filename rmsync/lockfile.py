"""The lockfile, `rmsync.lock.yaml`: what rmsync has started and seen, one record per export name.

Owns: the file's format (versioned, sorted, stable keys, a header; checked against
schemas/lockfile.schema.json, every problem reported at its line), pure dump and load, and
writing it through rmsync.atomic. Must not: decide what goes in a record (plan.py and
apply.py do) or talk to the tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from rmsync import atomic, bundled
from rmsync.manifest import ExportParams
from rmsync.yamlload import (
    DocumentError,
    Located,
    Problem,
    inline_refs,
    load_text,
    schema_problems,
)

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
    error: str | None = None  # the tenant's reason for an export that ended in ERROR
    gone_at: str | None = None  # when the tenant first answered 404 for it: it no longer has it

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
    optional = {"download": _download_dict(r.download), "error": r.error, "gone_at": r.gone_at}
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
        **{key: value for key, value in optional.items() if value is not None},
    }


def _download_dict(download: Download | None) -> dict[str, Any] | None:
    if download is None:
        return None
    return {"path": download.path, "sha256": download.sha256, "size": download.size}


def loads(text: str, file: str) -> Lock:
    """Parse lockfile text; raise LockfileError listing every problem, each at its line.

    A file from a newer rmsync is refused on its version alone, not drowned in problems."""
    try:
        doc = load_text(text, file)
    except DocumentError as exc:
        raise _damaged(exc.problems) from None
    if doc.data is None:
        return Lock()
    _refuse_newer(doc)
    problems = schema_problems(doc, _schema())
    if problems:
        raise _damaged(problems)
    return Lock({name: _record(name, body) for name, body in doc.data["exports"].items()})


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = inline_refs(bundled.schema("lockfile.schema.json"))
    return schema


def _refuse_newer(doc: Located) -> None:
    version = doc.data.get("version") if isinstance(doc.data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        message = f"lockfile version {version} is not {VERSION}; upgrade rmsync"
        raise LockfileError([Problem(doc.file, doc.line_of(("version",)), "version", message)])


def _damaged(problems: Iterable[Problem]) -> LockfileError:
    """rmsync writes the lockfile, so a damaged one is best restored, not repaired by hand."""
    hint = "restore the lockfile from Git"
    return LockfileError(replace(p, message=f"{p.message}; {hint}") for p in problems)


def _record(name: str, body: dict[str, Any]) -> Record:
    """A record from data the schema has passed: nothing is converted, only gathered."""
    role, saved = body["role"], body.get("download")
    return Record(
        name,
        body["session_id"],
        body["potential_role_id"],
        ExportParams(body["min_entitlement_popularity"], body["include_common_access"]),
        body["export_id"],
        Status(body["status"]),
        body["started_at"],
        body["finished_at"],
        Fingerprint(
            role["name"],
            role["identity_count"],
            role["entitlement_count"],
            tuple(role["excluded_entitlements"]),
            role["modified"],
        ),
        Download(saved["path"], saved["sha256"], saved["size"]) if saved is not None else None,
        body.get("error"),
        body.get("gone_at"),
    )


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
    """Replace `path` with `lock` atomically (see rmsync.atomic): readers see the old file or
    the new, never half; an existing file keeps its mode, a new one gets the umask's."""
    try:
        atomic.write_text(path, dumps(lock))
    except OSError as exc:
        message = f"cannot write the lockfile: {exc.strerror}"
        raise LockfileError([Problem(str(path), 1, "", message)]) from None
