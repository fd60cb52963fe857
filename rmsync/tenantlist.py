"""Finding what to track: the tenant's sessions and a session's potential roles, as lists.

Owns: which manifest gives a listing its tenant settings (none is needed), finding a session
given by id or by name (exactly one, or an error naming the candidates: `rmsync roles` and
`rmsync import` share it), reading the lists through a run's client, their order, and how
they read as a table or as JSON (every tenant string through safetext). Must not: print
(commands do), or write a manifest (importer does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from rmsync import config, selection, where
from rmsync.api import Client
from rmsync.errors import RmsyncError
from rmsync.manifest import folder_of, load_manifest
from rmsync.models import (
    ApiVersion,
    Broken,
    Condition,
    Export,
    Lock,
    Manifest,
    Resolved,
    RoleSet,
    RoleSummary,
    Selector,
    Session,
    is_uuid,
)
from rmsync.safetext import quoted, visible

DEFAULT_MANIFEST = Path("rmsync.yaml")
SHOWN_CANDIDATES = 20  # a name that matches none or several lists at most this many sessions
_STAMP = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?Z")


MINED = "POTENTIAL_ROLES_CREATED"  # the state a session's roles can be trusted in


class SessionError(RmsyncError):
    """A session given by id or name that the tenant does not have exactly once."""


def settings(manifest_path: Path | None) -> Manifest:
    """The manifest whose tenant settings (api_version, base_url) a listing uses: the one
    given, else rmsync.yaml if there is one, else none (beta, no base URL)."""
    path = manifest_path or DEFAULT_MANIFEST
    if manifest_path is None and not path.exists():
        return Manifest(ApiVersion.BETA, None, (), (), Path())
    return load_manifest(path, exclude=config.lock_path(folder_of(path), None))


def find_session(client: Client, given: str, every: Sequence[Session] | None = None) -> Session:
    """The session `given` names: by id (a UUID), or by its name, exactly (else ignoring
    case), among `every` session (None: all the tenant's, read now). None or several: a
    SessionError listing the candidates, name and id."""
    if not given.strip():
        raise SessionError(
            f"{quoted(given)} names no session: give a session's id or its name "
            "(`rmsync sessions` lists them)"
        )
    if is_uuid(given):
        found = client.session(given.lower())
        if found is None:
            raise SessionError(f"the tenant has no role-mining session {given}")
        return found
    every = sorted_sessions(client.sessions() if every is None else every)
    named = [s for s in every if s.name == given] or [
        s for s in every if s.name is not None and s.name.casefold() == given.casefold()
    ]
    if len(named) == 1:
        return named[0]
    if named:
        raise SessionError(
            f"{len(named)} role-mining sessions are named {quoted(given)}; give the one you "
            f"mean by its id:{_listed(named)}"
        )
    if not every:
        raise SessionError(f"no role-mining session is named {quoted(given)}: the tenant has none")
    near = [s for s in every if s.name is not None and given.casefold() in s.name.casefold()]
    which = "sessions whose name contains it" if near else "the tenant's sessions"
    raise SessionError(
        f"no role-mining session is named {quoted(given)}; {which}:{_listed(near or every)}"
    )


def mined(session: Session, again: str) -> Session:
    """`session`, once its mining is done: one still mining (created, or re-run with new
    thresholds) has no roles yet, or not all, and nothing may be judged by them (a
    SessionError saying to `again` once it is done)."""
    if session.state not in (None, MINED):
        raise SessionError(
            f"session {session_label(session)} is still mining ({session.state}): its potential "
            f"roles are not all there yet; {again} again once it is done"
        )
    return session


def sessions(client: Client, name: str | None = None) -> list[Session]:
    """The tenant's sessions (with `name`: those whose name starts with it), sorted."""
    chosen = f"name sw {where.text_literal(name)}" if name else None
    return sorted_sessions(client.sessions(chosen))


def roles(
    client: Client, session: Session, conditions: Sequence[Condition] = ()
) -> list[RoleSummary]:
    """The session's potential roles that meet every condition (the tenant filters), sorted
    by name, then id."""
    found = client.roles(session.id, where.filters(conditions))
    return sorted(found, key=lambda r: (r.name.casefold(), r.name, r.id))


def sorted_sessions(found: Iterable[Session]) -> list[Session]:
    """By name (ignoring case; unnamed ones last), then id."""
    return sorted(found, key=lambda s: (s.name is None, (s.name or "").casefold(), s.name, s.id))


def session_label(session: Session) -> str:
    """`Finance Q3 2026 (9f36f5e5-…)`: how a session is named in a line."""
    name = visible(session.name) if session.name is not None else "(unnamed)"
    return f"{name} ({visible(session.id)})"


def _listed(found: Sequence[Session]) -> str:
    lines = [f"\n  {session_label(s)}" for s in found[:SHOWN_CANDIDATES]]
    more = len(found) - SHOWN_CANDIDATES
    if more > 0:
        lines.append(f"\n  … and {more} more (`rmsync sessions` lists them all)")
    return "".join(lines)


# -- selectors: the roles a manifest names -----


class _Tenant:
    """What resolving a manifest's selectors reads, each once: the sessions (only if one is
    named), each session, and each session's roles."""

    def __init__(self, client: Client, listed: dict[str, list[RoleSummary]] | None) -> None:
        self.client = client
        self.every: list[Session] | None = None
        self.found: dict[str, Session] = {}
        self.listed: dict[str, list[RoleSummary]] = {} if listed is None else listed

    def session(self, selector: Selector) -> Session:
        """The session, once its mining is done: a session still mining (created, or re-run
        with new thresholds) has no roles yet, or not all, and nothing may be judged by them."""
        given = selector.session_id or selector.session_name or ""
        if given not in self.found:
            if selector.session_name is not None and self.every is None:
                self.every = self.client.sessions()
            self.found[given] = find_session(self.client, given, self.every)
        return mined(self.found[given], "plan")

    def roles(self, session: Session) -> list[RoleSummary]:
        if session.id not in self.listed:
            found = self.client.roles(session.id)
            self.listed[session.id] = sorted(found, key=lambda r: (r.name, r.id))
        return self.listed[session.id]


def resolve(
    client: Client,
    manifest: Manifest,
    lock: Lock | None = None,
    targets: frozenset[str] | None = None,
    read: dict[str, list[RoleSummary]] | None = None,
) -> tuple[Manifest, tuple[Broken, ...]]:
    """The manifest with every `potential_role:` selector resolved to ids (and `resolved`
    saying to what and how) and every set's members as exports; and what could not be found,
    each a problem of its own: an export whose selector found no role or several, and a set
    whose session is not there (its recorded members are then kept as they are). Exports
    given by ids are left as they are. With `targets`, only what they name is looked up (a
    set, when one of its recorded members or `sets.NAME` is a target): the rest is not read.
    Each session's whole listing it reads is left in `read` (session id -> its roles), for
    the plan to compare the roles from, not to read them again."""
    lock = lock or Lock()
    if targets is not None:
        manifest = replace(manifest, sets=_targeted_sets(manifest, lock, targets))
    if not any(e.selector for e in manifest.exports) and not manifest.sets:
        return manifest, ()
    tenant = _Tenant(client, read)
    exports, broken = [], []
    for export in manifest.exports:
        if export.selector is None or (targets is not None and export.name not in targets):
            exports.append(export)
            continue
        try:
            exports.append(_resolved(tenant, export, export.selector))
        except SessionError as exc:
            exports.append(export)  # kept: its record is neither forgotten nor touched
            field = f"exports.{export.name}.potential_role"
            broken.append(Broken(export.name, export.file, export.line, field, str(exc)))
    listed: dict[str, selection.Listed | str] = {}
    for chosen in manifest.sets:
        try:
            session = tenant.session(chosen.session)
            roles = tenant.client.roles(session.id, where.filters(chosen.conditions))
            listed[chosen.name] = selection.Listed(session, tuple(roles))
        except SessionError as exc:
            listed[chosen.name] = str(exc)
    return selection.combine(manifest, exports, broken, listed, lock)


def _targeted_sets(manifest: Manifest, lock: Lock, targets: frozenset[str]) -> tuple[RoleSet, ...]:
    return tuple(
        chosen
        for chosen in manifest.sets
        if f"sets.{chosen.name}" in targets
        or any(selection.member_of(r, chosen) for n, r in lock.records.items() if n in targets)
    )


def _resolved(tenant: _Tenant, export: Export, selector: Selector) -> Export:
    session = tenant.session(selector)
    roles = tenant.roles(session)
    if selector.role_id is not None:
        named = [r for r in roles if r.id.lower() == selector.role_id]
        if not named:
            elsewhere = tenant.client.role(selector.role_id)  # one read, on this error only
            if elsewhere is not None and elsewhere.session_id not in (None, session.id):
                raise SessionError(
                    f"potential role {selector.role_id} ({visible(elsewhere.name)}) belongs to "
                    f"session {elsewhere.session_id}, not {session_label(session)}"
                )
            raise SessionError(
                f"session {session_label(session)} has no potential role {selector.role_id} "
                "(a re-run session mints new ids: name the role instead)"
            )
    else:
        wanted = selector.role_name or ""
        named = [r for r in roles if r.name == wanted] or [
            r for r in roles if r.name.casefold() == wanted.casefold()
        ]
        if len(named) != 1:
            raise SessionError(_no_role(session, wanted, named, roles))
    role = named[0]
    request = replace(export.request, session_id=session.id, potential_role_id=role.id)
    how = Resolved(session_name=session.name, role_name=role.name, how=selector.how)
    return replace(export, request=request, resolved=how)


def _no_role(
    session: Session, wanted: str, named: Sequence[RoleSummary], roles: Sequence[RoleSummary]
) -> str:
    where = f"session {session_label(session)}"
    if named:
        return (
            f"{len(named)} potential roles of {where} are named {quoted(wanted)}; give the one "
            "you mean by its id (potential_role: {session: ..., id: ...}):"
            + "".join(f"\n  {_role_label(r)}" for r in named[:SHOWN_CANDIDATES])
        )
    near = [r for r in roles if wanted.casefold() in r.name.casefold()] or list(roles)
    which = "roles whose name contains it" if near != list(roles) else "its roles"
    return (
        f"{where} has no potential role named {quoted(wanted)}; {which}:"
        + "".join(f"\n  {_role_label(r)}" for r in near[:SHOWN_CANDIDATES])
        if near
        else f"{where} has no potential roles"
    )


def _role_label(role: RoleSummary) -> str:
    return f"{visible(role.name)} ({visible(role.id)}, {role.identity_count} identities)"


# -- how the lists read -----


def sessions_table(found: Sequence[Session]) -> list[str]:
    """The sessions as aligned columns, a header first. SCOPE is the search that chose a
    session's identities or, where there is none to show, its scoping method (AUTO_RM: the
    tenant chose them; MANUAL: a scope rmsync withholds, as it may name a person)."""
    head = ("NAME", "ID", "STATE", "SAVED", "SCOPE", "ROLES", "CREATED")
    rows = [
        (
            _cell(s.name, "(unnamed)"),
            visible(s.id),
            _cell(s.state),
            "yes" if s.saved else "no",
            _cell(s.scope, s.scoping_method or "-", limit=60),
            str(s.potential_role_count),
            _when(s.created),
        )
        for s in found
    ]
    return table(head, rows, right={5})


def roles_table(found: Sequence[RoleSummary]) -> list[str]:
    """The potential roles and their metrics as aligned columns, a header first."""
    head = (
        "NAME",
        "ID",
        "IDENTITIES",
        "ENTITLEMENTS",
        "QUALITY",
        "DENSITY",
        "FRESHNESS",
        "SAVED",
        "TYPE",
        "CREATED",
    )
    rows = [
        (
            _cell(r.name, "(unnamed)"),
            visible(r.id),
            str(r.identity_count),
            str(r.entitlement_count),
            _number(r.quality),
            _number(r.density),
            _number(r.freshness),
            "yes" if r.saved else "no",
            _cell(r.type),
            _when(r.created),
        )
        for r in found
    ]
    return table(head, rows, right={2, 3, 4, 5, 6})


def table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]], right: set[int]) -> list[str]:
    """Columns two spaces apart, the `right` ones aligned right; no trailing spaces."""
    every = [head, *rows]
    widths = [max(len(row[i]) for row in every) for i in range(len(head))]
    return [
        "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in every
    ]


def sessions_json(found: Sequence[Session]) -> str:
    return json.dumps({"sessions": [asdict(s) for s in found]}, indent=2, ensure_ascii=False)


def roles_json(
    session: Session, conditions: Sequence[Condition], found: Sequence[RoleSummary]
) -> str:
    doc = {
        "session": asdict(session),
        "where": [where.shown(c) for c in conditions],
        "filters": where.filters(conditions),
        "roles": [asdict(r) for r in found],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _cell(text: str | None, none: str = "-", limit: int = 0) -> str:
    if text is None:
        return none
    shown = visible(text)
    return shown[: limit - 1] + "…" if limit and len(shown) > limit else shown


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _when(stamp: str | None) -> str:
    """`2026-09-14T09:02:11.000Z` → `2026-09-14 09:02` (UTC, as the tenant gives it)."""
    if stamp is None:
        return "-"
    match = _STAMP.fullmatch(stamp)
    return f"{match[1]} {match[2]}" if match else visible(stamp)
