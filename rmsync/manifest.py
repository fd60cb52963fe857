"""The manifest: the exports a team wants, read from `rmsync.yaml` or a folder of YAML files.

Owns: reading manifests safely, checking them against schemas/manifest.schema.json and
across files (a name defined twice), reporting every problem at once with file:line, and
returning frozen records. Must not: talk to the tenant or read the lockfile.
"""

from __future__ import annotations

import re
import string
import sys
from pathlib import Path
from typing import Any

from rmsync import bundled, where
from rmsync.errors import DocumentError, Problem
from rmsync.models import (
    ApiVersion,
    Condition,
    Duration,
    Export,
    ExportParams,
    Manifest,
    Move,
    Request,
    RoleSet,
    Selector,
)
from rmsync.safetext import visible
from rmsync.yamlload import Located, inline_refs, load_file, schema_problems


class ManifestError(DocumentError):
    """The manifest has problems; every one is listed as file:line: field: message."""


def schema() -> dict[str, Any]:
    """The manifest JSON schema (also shipped for editors as schemas/manifest.schema.json)."""
    return bundled.schema("manifest.schema.json")


LOCK_NAMES = frozenset({"rmsync.lock.yaml", "rmsync.lock.yml"})


def manifest_files(path: Path, exclude: Path | None = None) -> list[Path]:
    """`path` itself, or every *.yaml / *.yml directly in it, sorted, but the lockfile: one
    of the usual name, or `exclude` (a `--lockfile` kept in the folder)."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    skip = exclude.resolve() if exclude is not None else None
    return [p for p in files if p.name not in LOCK_NAMES and p.resolve() != skip]


def folder_of(path: Path) -> Path:
    """The folder a manifest lives in: the path itself for a folder of manifests."""
    return path if path.is_dir() else path.parent


def load_manifest(path: Path, exclude: Path | None = None) -> Manifest:
    """Read the manifest at `path` (a file or a folder, less the lockfile `exclude`); raise
    ManifestError with every problem."""
    if not path.exists():
        hint = "pass --manifest, or run `rmsync import` to start one"
        raise ManifestError(
            [Problem(file=str(path), line=1, field="", message=f"no such file or folder ({hint})")]
        )
    files = manifest_files(path, exclude)
    if not files:
        raise ManifestError(
            [
                Problem(
                    file=str(path),
                    line=1,
                    field="",
                    message="no *.yaml or *.yml manifest files in this folder",
                )
            ]
        )
    problems: list[Problem] = []
    docs = []
    for file in files:
        try:
            doc = load_file(file)
        except DocumentError as exc:
            problems += exc.problems
            continue
        if doc.data is None:
            problems.append(
                Problem(
                    file=doc.file,
                    line=1,
                    field="",
                    message="the file is empty; a manifest starts with: version: 1",
                )
            )
            continue
        found = schema_problems(doc, inline_refs(schema()))
        problems += found
        if not found:
            docs.append(doc)
    exports, tenant = _merge(docs, problems)
    sets = _sets(docs, problems)
    moved = _moves(docs, {e.name for e in exports}, problems, bool(sets))
    folder = folder_of(path)
    problems += _download_problems(exports, folder)
    if problems:
        raise ManifestError(problems)
    return Manifest(
        api_version=ApiVersion(tenant.get("api_version", "beta")),
        base_url=tenant.get("base_url"),
        exports=tuple(sorted(exports, key=lambda e: e.name)),
        files=tuple(str(f) for f in files),
        folder=folder,
        moved=moved,
        sets=sets,
    )


_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def _template_problem(
    template: str, set_name: str, allowed: tuple[str, ...], path: bool = False
) -> tuple[str, str] | None:
    """(field, why) if a set's template can make a wrong name: a placeholder other than
    `allowed` (plain {x} only: no index, attribute or format), or, filled in, not an export
    name (a path: not a relative one)."""
    field = "download" if path else "name"
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return (
            field,
            f"{visible(template)} is not a template: {exc} (write a literal {{ or }} twice)",
        )
    names = {p[1] for p in parts if p[1] is not None}
    odd = sorted(n for n in names if n not in allowed)
    if odd or any(p[2] or p[3] for p in parts if p[1] is not None):
        known = ", ".join(f"{{{a}}}" for a in allowed)
        return field, f"{visible(template)} may hold only {known} (plain, no format)"
    if not path and not _NAME.fullmatch(template.format(slug="role-1", set=set_name)):
        return field, (
            f"{visible(template)} does not make an export name (lower-case letters, digits, "
            "'-' and '_', starting with a letter or digit), such as finance-{slug}"
        )
    return None


def _sets(docs: list[Located], problems: list[Problem]) -> tuple[RoleSet, ...]:
    """Every `sets:` entry of every file, its conditions read (each problem at its line); a
    set name may be given once."""
    found: dict[str, RoleSet] = {}
    for doc in docs:
        defaults = doc.data.get("defaults") or {}
        base = ExportParams.from_fields(defaults)
        for name, body in (doc.data.get("sets") or {}).items():
            line = doc.line_of(("sets", name))
            if name in found:
                first = found[name]
                message = f"set {name!r} is also defined at {first.file}:{first.line}; keep one"
                problems.append(Problem(doc.file, line, f"sets.{name}", message))
                continue
            conditions, wrong_where = _conditions(doc, name, body.get("where") or {})
            if wrong_where:
                problems += wrong_where
                continue
            session = body["session"]
            refresh = body.get("refresh_after", defaults.get("refresh_after"))
            wrong = _template_problem(body.get("name", "{set}-{slug}"), name, ("slug", "set"))
            if wrong is None and body.get("download"):
                wrong = _template_problem(body["download"], name, ("name",), path=True)
            if wrong is not None:
                field, message = wrong
                at = ("sets", name, field)
                problems.append(Problem(doc.file, doc.line_of(at), f"sets.{name}.{field}", message))
                continue
            found[name] = RoleSet(
                name=name,
                session=Selector(
                    session_id=session["id"].lower() if "id" in session else None,
                    session_name=session.get("name"),
                ),
                conditions=conditions,
                template=body.get("name", "{set}-{slug}"),
                params=ExportParams.from_fields(body, defaults=base),
                file=doc.file,
                line=line,
                refresh_after=Duration.parse(refresh) if refresh else None,
                download=body.get("download"),
            )
    return tuple(found[n] for n in sorted(found))


def _conditions(doc: Located, name: str, given: Any) -> tuple[tuple[Condition, ...], list[Problem]]:
    """A set's `where`, each field read on its own so that every wrong one is said, each at
    its line as `sets.NAME.where.FIELD: what is wrong`."""
    place = f"sets.{name}.where"
    fields = list(given.items()) if isinstance(given, dict) else [(None, given)]
    found: list[Condition] = []
    problems = []
    for key, value in fields:
        try:
            found += where.from_mapping(given if key is None else {key: value}, place)
        except where.WhereError as exc:
            at = ("sets", name, "where", *((exc.field,) if exc.field else ()))
            head, sep, rest = str(exc).partition(": ")
            field, message = (head, rest) if sep and head.startswith(place) else (place, str(exc))
            problems.append(Problem(doc.file, doc.line_of(at), field, message))
    return tuple(found), problems


def _moves(
    docs: list[Located], names: set[str], problems: list[Problem], sets: bool = False
) -> tuple[Move, ...]:
    """Every `moved:` entry of every file; each must move a name that is no longer an export
    to one that is (or, with sets, may be a member: the plan checks), or to the old name of
    another entry (a chain: a → b, then b → c, as renames pile up), and no name may move
    twice, be moved to twice, or come round again."""
    given = [
        (Move(item["from"], item["to"], doc.file, doc.line_of(("moved", n))), n)
        for doc in docs
        for n, item in enumerate(doc.data.get("moved") or ())
    ]
    olds = {move.old for move, _ in given}
    found: list[Move] = []
    for move, n in given:
        message = _move_problem(move, names, olds, found, sets)
        if message is None:
            found.append(move)
        else:
            problems.append(Problem(move.file, move.line, f"moved[{n}]", message))
    onward = {m.old: m for m in found}
    for move in found:  # a chain must end at an export, not come round again
        seen, at = {move.old}, move.new
        while at in onward and at not in seen:
            seen.add(at)
            at = onward[at].new
        if at in seen:
            message = f"the moves from {move.old!r} come round to it again; break the circle"
            problems.append(Problem(move.file, move.line, "moved", message))
            return ()
    return tuple(found)


def _move_problem(
    move: Move, names: set[str], olds: set[str], found: list[Move], sets: bool
) -> str | None:
    if move.old == move.new:
        return f"{move.old!r} is moved to itself; remove the entry"
    # with sets, the name may be a set's member: known only once the tenant is asked (plan)
    if move.new not in names and move.new not in olds and not sets:
        return f"there is no export {move.new!r} in the manifest to move {move.old!r} to"
    if move.old in names:
        return (
            f"{move.old!r} is still an export: rename it in `exports:` (a record moves from a "
            "name the manifest no longer has)"
        )
    if any(m.old == move.old for m in found):
        return f"{move.old!r} is moved twice; keep one entry"
    if any(m.new == move.new for m in found):
        return f"two names are moved to {move.new!r}; keep one entry"
    return None


def _merge(docs: list[Located], problems: list[Problem]) -> tuple[list[Export], dict[str, Any]]:
    exports: dict[str, Export] = {}
    tenant: dict[str, Any] = {}
    tenant_from: dict[str, str] = {}
    for doc in docs:
        for key, value in (doc.data.get("tenant") or {}).items():
            where = f"{doc.file}:{doc.line_of(('tenant', key))}"
            if key in tenant and tenant[key] != value:
                message = (
                    f"{value!r} conflicts with {tenant[key]!r} at {tenant_from[key]}; set it once"
                )
                problems.append(
                    Problem(
                        file=doc.file,
                        line=doc.line_of(("tenant", key)),
                        field=f"tenant.{key}",
                        message=message,
                    )
                )
                continue
            tenant[key], tenant_from[key] = value, where
        for export in _exports(doc):
            first = exports.get(export.name)
            if first is not None:
                message = (
                    f"export {export.name!r} is also defined at {first.file}:{first.line}; "
                    "names must be unique"
                )
                problems.append(_at(export, f"exports.{export.name}", message))
                continue
            exports[export.name] = export
    problems += _same_work(list(exports.values()))
    return list(exports.values()), tenant


def _at(export: Export, field: str, message: str) -> Problem:
    """A problem at the line where `export` is declared."""
    return Problem(file=export.file, line=export.line, field=field, message=message)


def _download_problems(exports: list[Export], folder: Path) -> list[Problem]:
    """Download paths must stay inside the manifest's folder and belong to one export each."""
    problems = []
    owner: dict[Path, Export] = {}
    root = folder.resolve()
    for export in sorted(exports, key=lambda e: (e.file, e.line)):
        if export.download is None:
            continue
        field = f"exports.{export.name}.download"
        if "previous" in Path(export.download).name.casefold().split(".")[1:]:
            message = (
                f"{visible(export.download)} is where rmsync keeps the archive a new download "
                "replaced (NAME.previous.zip, for `rmsync diff`); choose another name"
            )
            problems.append(_at(export, field, message))
            continue
        try:
            target = (folder / export.download).resolve()
            blocked = _unwritable(folder, export.download)
        except (OSError, ValueError) as exc:  # a NUL, a name too long for the file system
            why = exc.strerror if isinstance(exc, OSError) else "it holds a NUL character"
            message = f"{visible(export.download)} is not a path this system can save ({why})"
            problems.append(_at(export, field, message))
            continue
        if not target.is_relative_to(root):
            message = f"{export.download} leads outside {folder} (through a link); save inside it"
            problems.append(_at(export, field, message))
        elif blocked is not None:
            problems.append(_at(export, field, blocked))
        first = owner.setdefault(target, export)
        if first is not export:
            message = f"{export.download} is also the download of {first.name!r}; use one file each"
            problems.append(_at(export, field, message))
    return problems


def _unwritable(folder: Path, relative: str) -> str | None:
    """Why an archive could never be saved at `relative`, if something on disk is in the way."""
    path = folder / relative
    if path.is_dir():
        return f"{relative} is a folder, not a file; remove it or name another file"
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        where = blocking.relative_to(folder) if blocking.is_relative_to(folder) else blocking
        return f"{where} is a file, so nothing can be saved below it; rename one of them"
    return None


def _same_work(exports: list[Export]) -> list[Problem]:
    """Two names asking for the very same export would only export it twice."""
    seen: dict[Request, Export] = {}
    problems = []
    for export in sorted(exports, key=lambda e: (e.file, e.line)):
        if export.selector is not None:  # its ids are not known before the tenant is asked
            continue
        first = seen.setdefault(export.request, export)
        if first is not export:
            message = (
                f"asks for the same export as {first.name!r} ({first.file}:{first.line}): "
                "same role and parameters; keep one"
            )
            problems.append(_at(export, f"exports.{export.name}", message))
    return problems


def _exports(doc: Located) -> list[Export]:
    defaults = doc.data.get("defaults") or {}
    base = ExportParams.from_fields(defaults)
    exports = []
    for name, body in (doc.data.get("exports") or {}).items():
        refresh = body.get("refresh_after", defaults.get("refresh_after"))
        selector = _selector(body.get("potential_role"))
        request = Request(  # a selector's ids are found in the tenant: none yet
            "" if selector else sys.intern(body["session_id"].lower()),  # one per session
            "" if selector else body["potential_role_id"].lower(),
            ExportParams.from_fields(body, defaults=base),
        )
        exports.append(
            Export(
                name=name,
                request=request,
                file=doc.file,
                line=doc.line_of(("exports", name)),
                refresh_after=Duration.parse(refresh) if refresh else None,
                download=body.get("download"),
                selector=selector,
            )
        )
    return exports


def _selector(given: Any) -> Selector | None:
    """`potential_role: {session: {id|name}, id|name}`, as the schema has checked it."""
    if given is None:
        return None
    session, role_id = given["session"], given.get("id")
    return Selector(
        session_id=session["id"].lower() if "id" in session else None,
        session_name=session.get("name"),
        role_id=role_id.lower() if role_id else None,
        role_name=given.get("name"),
    )
