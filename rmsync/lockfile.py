"""The lockfile, `rmsync.lock.yaml`: what rmsync has started and seen, one record per export name.

Owns: the file's format (versioned, sorted, stable keys, a header; checked against
schemas/lockfile.schema.json, every problem reported at its line), dump and load (no I/O;
each record's lines kept while the record lives, so that a write re-dumps only what changed),
and reading and writing it (through rmsync.atomic). Must not: decide what goes in a record
(plan.py and apply.py do) or talk to the tenant.
"""

from __future__ import annotations

import io
import re
import unicodedata
import weakref
from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from rmsync import atomic, bundled, fastyaml, schemacheck
from rmsync.errors import DocumentError, Problem
from rmsync.models import (
    Access,
    Content,
    Download,
    Entitlement,
    ExportParams,
    Fingerprint,
    Lock,
    Record,
    Request,
    Resolved,
    Status,
    param_names,
)
from rmsync.yamlload import Located, decode, inline_refs, load_text, schema_problems

VERSION = 3
HEADER = (
    "# This file is maintained by rmsync: do not edit it by hand.\n"
    "# It records every export rmsync started; commit it beside the manifest.\n"
)
END = "# end of rmsync.lock.yaml\n"  # from version 2: a file cut short lacks it and is refused


class LockfileError(DocumentError):
    """The lockfile cannot be read or trusted; nothing is written over it."""


def dumps(lock: Lock) -> str:
    """The lockfile text: header, version, records sorted by name, keys in a fixed order.

    Each record's lines are dumped once and kept while the record lives (records are frozen):
    apply writes the file after every round, and re-dumping every record each time made a
    long apply's cost grow with the square of its exports. The text is the same, byte for
    byte, as dumping the whole document at once (tests hold it so)."""
    if not lock.records or any(r.name != name for name, r in lock.records.items()):
        return HEADER + _whole(lock) + END
    blocks = [_block(lock.records[name]) for name in sorted(lock.records)]
    readable = not any(hidden for hidden, _ in blocks)
    texts = (_text(lock.records[name], readable) for name in sorted(lock.records))
    return HEADER + f"version: {VERSION}\nexports:\n" + "".join(texts) + END


def _whole(lock: Lock) -> str:
    """The document dumped at once: what `dumps` writes, record by record."""
    exports = {name: _record_dict(lock.records[name]) for name in sorted(lock.records)}
    doc = {"version": VERSION, "exports": exports}
    return _dump(doc, not any(_hidden(text) for text in _strings(doc)))


_Texts = dict[tuple[bool, type[yaml.SafeDumper]], str]
# id(record) -> (the record, weakly; whether it holds a character that must stay escaped;
# its lines, by readable or not and the emitter). An entry goes when its record does, before
# its id can be another's.
_BLOCKS: dict[int, tuple[weakref.ref[Record], bool, _Texts]] = {}


def _block(record: Record) -> tuple[bool, _Texts]:
    found = _BLOCKS.get(id(record))
    if found is None or found[0]() is not record:
        hidden = any(_hidden(text) for text in _strings({record.name: _record_dict(record)}))
        found = _BLOCKS[id(record)] = (weakref.ref(record), hidden, {})
        weakref.finalize(record, _BLOCKS.pop, id(record), None)
    return found[1], found[2]


def _text(record: Record, readable: bool) -> str:
    """The record's lines under `exports:`, as dumping the whole document writes them."""
    _, texts = _block(record)
    key = (readable, DUMPER)
    if key not in texts:
        whole = _dump({"exports": {record.name: _record_dict(record)}}, readable)
        texts[key] = whole[len("exports:\n") :]
    return texts[key]


def _dump(doc: dict[str, Any], readable: bool) -> str:
    return yaml.dump(doc, Dumper=DUMPER, sort_keys=False, width=1000, allow_unicode=readable)


# libyaml's emitter where PyYAML has it (about 5x faster; tests hold its bytes to the pure
# Python emitter's, which is used where libyaml is missing)
DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# Characters a reviewer cannot see in a diff, or that reorder what is shown (Trojan Source):
# controls, format characters (bidi overrides, zero-width ones, BOM), line and paragraph
# separators, and code points that are unassigned, private or surrogates.
_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def _hidden(text: str) -> bool:
    """Whether `text` holds a character that must stay escaped (see _HIDDEN), or one beyond
    the Basic Multilingual Plane (an emoji), which PyYAML's two emitters write differently:
    then the whole file is written escaped (\\uXXXX), the same bytes from either; else
    names read as the tenant spells them."""
    return any(
        ord(c) > 126 and (unicodedata.category(c) in _HIDDEN or ord(c) > 0xFFFF) for c in text
    )


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def dumps_json(lock: Lock) -> str:
    """The lockfile's document as JSON: the same keys and values (schemas/lockfile.schema.json
    describes both), keys in the lockfile's order, final newline."""
    import json

    exports = {name: _record_dict(lock.records[name]) for name in sorted(lock.records)}
    doc = {"version": VERSION, "exports": exports}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def record_json(r: Record) -> dict[str, Any]:
    """A record as the lockfile writes it (its keys and values), for JSON documents."""
    return _record_dict(r)


def _record_dict(r: Record) -> dict[str, Any]:
    optional = {
        "download": _download_dict(r.download),
        "error": r.error,
        "gone_at": r.gone_at,
        "resolved": None if r.resolved is None else _resolved_dict(r.resolved),
        "access": None if r.access is None else access_dict(r.access),
    }
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
    found = {"path": download.path, "sha256": download.sha256, "size": download.size}
    if download.content is not None:
        found["content"] = content_dict(download.content)
    return found


def _resolved_dict(resolved: Resolved) -> dict[str, Any]:
    return {"session": resolved.session_name, "role": resolved.role_name, "how": resolved.how}


def content_dict(content: Content) -> dict[str, Any]:
    found: dict[str, Any] = {
        "identities": content.identities,
        "entitlements": content.entitlements,
        "digest": content.digest,
    }
    if content.unread:
        found["unread"] = list(content.unread)
    return found


def access_dict(access: Access) -> dict[str, Any]:
    """An Access as plain data, keys in a fixed order (also the plan document's form)."""
    found: dict[str, Any] = {"members": access.members}
    if access.members_by:
        found["members_by"] = {key: dict(counts) for key, counts in access.members_by}
    found["entitlements"] = [_entitlement_dict(e) for e in access.entitlements]
    if access.excluded:
        found["excluded"] = [_entitlement_dict(e) for e in access.excluded]
    return found


def _entitlement_dict(e: Entitlement) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": e.id,
        "name": e.name,
        "source": e.source,
        "holders": e.holders,
        "popularity": e.popularity,
    }
    if e.popularity_in_org is not None:
        found["popularity_in_org"] = e.popularity_in_org
    if e.common:
        found["common"] = True
    return found


class _Pool:
    """One object for each part of a record said again and again, while a lockfile is read
    the quick way: its records count members by the same departments and locations, and ask
    with the same parameters, thousands of times. Only parts the schema has passed are
    pooled, so values that compare equal are of one type too (a count is an int, never 1.0
    or true): sharing them changes nothing a record says."""

    def __init__(self) -> None:
        self.tuples: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.params: dict[tuple[Any, ...], ExportParams] = {}

    def one(self, made: tuple[Any, ...]) -> tuple[Any, ...]:
        return self.tuples.setdefault(made, made)

    def export_params(self, values: tuple[Any, ...]) -> ExportParams:
        found = self.params.get(values)
        if found is None:
            found = self.params[values] = ExportParams(*values)
        return found


def _fresh(made: tuple[Any, ...]) -> tuple[Any, ...]:
    return made


def access_from(data: dict[str, Any], pool: _Pool | None = None) -> Access:
    """An Access from data its schema has passed (the lockfile's or the plan document's)."""
    one = pool.one if pool is not None else _fresh
    members_by = tuple(
        one((key, one(tuple(one(item) for item in sorted(counts.items())))))
        for key, counts in sorted(data.get("members_by", {}).items())
    )
    return Access(
        members=data["members"],
        entitlements=tuple(_entitlement_from(e) for e in data["entitlements"]),
        excluded=tuple(_entitlement_from(e) for e in data.get("excluded", ())),
        members_by=one(members_by),
    )


def _entitlement_from(data: dict[str, Any]) -> Entitlement:
    return Entitlement(
        id=data["id"],
        name=data["name"],
        source=data["source"],
        holders=data["holders"],
        popularity=data["popularity"],
        popularity_in_org=data.get("popularity_in_org"),
        common=data.get("common", False),
    )


def _download(saved: dict[str, Any]) -> Download:
    content = saved.get("content")
    return Download(
        path=saved["path"],
        sha256=saved["sha256"],
        size=saved["size"],
        content=None
        if content is None
        else Content(
            identities=content["identities"],
            entitlements=content["entitlements"],
            digest=content["digest"],
            unread=tuple(content.get("unread", ())),
        ),
    )


def loads(text: str, file: str) -> Lock:
    """Parse lockfile text; raise LockfileError listing every problem, each at its line.

    A file from a newer rmsync is refused on its version alone, not drowned in problems.
    A file as rmsync writes it is read the quick way (rmsync.fastyaml); anything else, and
    any problem, the careful way, which says where."""
    quick = _quick(io.StringIO(text))  # split at "\n" alone, as fastyaml reads
    return quick if quick is not None else _careful(text, file)


def _careful(text: str, file: str) -> Lock:
    """`loads` by rmsync.yamlload: every value's line known, every problem found and placed."""
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


def _quick(lines: Iterable[str]) -> Lock | None:
    """The lock, if `lines` are a lockfile of this version as rmsync writes it (in
    rmsync.fastyaml's subset) and the schema passes it; else None. Read record by record,
    each parsed, checked and made a Record before the next is read: a large lockfile is
    never held whole, as text or as data."""
    found = iter(lines)
    if any(next(found, None) != line for line in _START):
        return None
    try:
        conforms = schemacheck.checker(_schema()["properties"]["exports"])
    except schemacheck.Unsupported:
        return None
    records: dict[str, Record] = {}
    shared: dict[str, Any] = {}  # one object for each value said again and again
    pool = _Pool()  # ... and for each part of a record made of them

    def add(block: list[str]) -> bool:
        doc = fastyaml.load("".join(block), shared=shared)
        if not isinstance(doc, dict) or len(doc) != 1:
            return False
        ((name, data),) = doc.items()
        if name in records or not conforms({name: data}):
            return False
        records[name] = _record(name, data, pool)
        return True

    block: list[str] = []
    for line in found:
        if line == END:
            ended = next(found, None) is None  # the end line, and nothing after it
            return Lock(records) if ended and block and add(block) else None
        if _RECORD.match(line):  # a record's first line: its name, two columns in
            if block and not add(block):
                return None
            block = []
        elif not block:
            return None  # the first record's lines, without its name
        block.append(line)
    return None  # no end line: cut short, and the careful way says so


_START = [*HEADER.splitlines(keepends=True), f"version: {VERSION}\n", "exports:\n"]
_RECORD = re.compile(r"  [^ ]")


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


def _record(name: str, body: dict[str, Any], pool: _Pool | None = None) -> Record:
    """A record from data the schema has passed: nothing is converted, only gathered."""
    role, saved = body["role"], body.get("download")
    values = tuple(body.get(n, getattr(_DEFAULT, n)) for n in param_names())
    params = ExportParams(*values) if pool is None else pool.export_params(values)
    return Record(
        name=name,
        request=Request(body["session_id"], body["potential_role_id"], params),
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
        download=None if saved is None else _download(saved),
        error=body.get("error"),
        gone_at=body.get("gone_at"),
        access=access_from(body["access"], pool) if "access" in body else None,
        resolved=None
        if "resolved" not in body
        else Resolved(
            session_name=body["resolved"]["session"],
            role_name=body["resolved"]["role"],
            how=body["resolved"]["how"],
        ),
    )


_DEFAULT = ExportParams()


def read(path: Path) -> Lock:
    """The lock at `path`; a missing file is an empty lock. The file as rmsync writes it is
    read as it streams in; any other is read whole, the careful way."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            quick = _quick(handle)  # newline="": a \r stays, for the careful way to read
        text = path.read_text(encoding="utf-8") if quick is None else ""
    except FileNotFoundError:
        return Lock()
    except UnicodeDecodeError:  # said at the line of the first byte that is not, and which
        try:
            decode(path.read_bytes(), str(path), "cannot read the lockfile: ")
        except DocumentError as exc:
            raise _damaged(exc.problems) from None
        except OSError:
            pass
        message = "cannot read the lockfile: not UTF-8 text"
        raise _damaged([Problem(str(path), 1, "", message)]) from None
    except OSError as exc:
        raise LockfileError(
            [
                Problem(
                    file=str(path),
                    line=1,
                    field="",
                    message=f"cannot read the lockfile: {exc.strerror}",
                )
            ]
        ) from None
    return quick if quick is not None else _careful(text, str(path))


def write(path: Path, lock: Lock) -> None:
    """Replace `path` with `lock` atomically (see rmsync.atomic): readers see the old file or
    the new, never half; an existing file keeps its mode, a new one gets the umask's. A
    lockfile that is a link is written where it leads (the link stays), as an editor would."""
    try:
        atomic.write_text(path.resolve() if path.is_symlink() else path, dumps(lock))
    except OSError as exc:
        message = f"cannot write the lockfile: {exc.strerror}"
        raise LockfileError([Problem(file=str(path), line=1, field="", message=message)]) from None
