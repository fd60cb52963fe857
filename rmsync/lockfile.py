"""The lockfile, `rmsync.lock.yaml`: what rmsync has started and seen, one record per export name.

Owns: the file's format (versioned, sorted, stable keys, a header; checked against
schemas/lockfile.schema.json, every problem reported at its line), pure dump and load, and
writing it through rmsync.atomic. Must not: decide what goes in a record (plan.py and
apply.py do) or talk to the tenant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from rmsync import atomic, bundled
from rmsync.errors import DocumentError, Problem
from rmsync.models import Download, Fingerprint, Lock, Record, Request, Status
from rmsync.yamlload import Located, inline_refs, load_text, schema_problems

VERSION = 2
HEADER = (
    "# This file is maintained by rmsync: do not edit it by hand.\n"
    "# It records every export rmsync started; commit it beside the manifest.\n"
)
END = "# end of rmsync.lock.yaml\n"  # from version 2: a file cut short lacks it and is refused


class LockfileError(DocumentError):
    """The lockfile cannot be read or trusted; nothing is written over it."""


def dumps(lock: Lock) -> str:
    """The lockfile text: header, version, records sorted by name, keys in a fixed order."""
    exports = {name: _record_dict(lock.records[name]) for name in sorted(lock.records)}
    body = yaml.safe_dump({"version": VERSION, "exports": exports}, sort_keys=False, width=1000)
    return HEADER + body + END


def _record_dict(r: Record) -> dict[str, Any]:
    optional = {"download": _download_dict(r.download), "error": r.error, "gone_at": r.gone_at}
    return {
        **r.request.fields(),
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
        if text and (text.startswith(HEADER) or HEADER.startswith(text)):  # only (part of) it
            raise _damaged([_cut_short(text, file)])
        return Lock()
    _refuse_newer(doc)
    problems = schema_problems(doc, _schema())
    if problems:
        raise _damaged(problems)
    if doc.data["version"] >= 2 and not text.replace("\r\n", "\n").endswith(END):
        raise _damaged([_cut_short(text, file)])
    return Lock({name: _record(name, body) for name, body in doc.data["exports"].items()})


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = inline_refs(bundled.schema("lockfile.schema.json"))
    return schema


def _refuse_newer(doc: Located) -> None:
    version = doc.data.get("version") if isinstance(doc.data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        message = f"lockfile version {version} is not {VERSION}; upgrade rmsync"
        raise LockfileError(
            [
                Problem(
                    file=doc.file, line=doc.line_of(("version",)), field="version", message=message
                )
            ]
        )


def _cut_short(text: str, file: str) -> Problem:
    message = (
        f"the file does not end with `{END.strip()}`: it was cut short (a killed write, a "
        "full disk, a copy cut off), so records may be missing"
    )
    return Problem(file=file, line=text.count("\n") + 1, field="", message=message)


def _damaged(problems: Iterable[Problem]) -> LockfileError:
    """rmsync writes the lockfile, so a damaged one is best restored, not repaired by hand."""
    hint = "restore the lockfile from Git"
    return LockfileError(replace(p, message=f"{p.message}; {hint}") for p in problems)


def _record(name: str, body: dict[str, Any]) -> Record:
    """A record from data the schema has passed: nothing is converted, only gathered."""
    role, saved = body["role"], body.get("download")
    return Record(
        name=name,
        request=Request.from_fields(body),
        export_id=body["export_id"],
        status=Status(body["status"]),
        started_at=body["started_at"],
        finished_at=body["finished_at"],
        role=Fingerprint(
            name=role["name"],
            identity_count=role["identity_count"],
            entitlement_count=role["entitlement_count"],
            excluded_entitlements=tuple(role["excluded_entitlements"]),
            modified=role["modified"],
        ),
        download=None if saved is None else Download(saved["path"], saved["sha256"], saved["size"]),
        error=body.get("error"),
        gone_at=body.get("gone_at"),
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
            [
                Problem(
                    file=str(path), line=1, field="", message=f"cannot read the lockfile: {reason}"
                )
            ]
        ) from None
    return loads(text, str(path))


def write(path: Path, lock: Lock) -> None:
    """Replace `path` with `lock` atomically (see rmsync.atomic): readers see the old file or
    the new, never half; an existing file keeps its mode, a new one gets the umask's."""
    try:
        atomic.write_text(path, dumps(lock))
    except OSError as exc:
        message = f"cannot write the lockfile: {exc.strerror}"
        raise LockfileError([Problem(file=str(path), line=1, field="", message=message)]) from None
