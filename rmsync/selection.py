"""What a manifest's selectors and sets come to, once the tenant has listed what they name.

Owns: which roles are a set's members and the names they are exported under (stable across
re-runs: a recorded member keeps its name, found by id, else by role name), which exports
take a member's record or ask for the same export twice, and the notes a plan shows about
sets. Must not: do I/O, read the clock, or talk to the tenant (tenantlist reads, then calls
this).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from rmsync.models import (
    Broken,
    Export,
    Lock,
    Manifest,
    Record,
    Request,
    Resolved,
    RoleSet,
    RoleSummary,
    Selector,
    Session,
    slug,
)


@dataclass(frozen=True)
class Listed:
    """What the tenant listed for a set: its session, and the roles that meet its conditions."""

    session: Session
    roles: tuple[RoleSummary, ...]


def combine(
    manifest: Manifest,
    exports: Sequence[Export],
    broken: Sequence[Broken],
    listed: Mapping[str, Listed | str],
    lock: Lock,
) -> tuple[Manifest, tuple[Broken, ...]]:
    """The manifest whose exports are `exports` (selectors resolved) and its sets' members,
    with what the plan should say (a set that matches nothing, names a template no longer
    makes); and every problem: `broken` (selectors not found), sets whose session is gone,
    exports that take a member's record, and exports that ask for the same thing twice."""
    found, missed = members(manifest, exports, listed, lock)
    every = tuple(sorted((*exports, *found), key=lambda e: e.name))
    taken = _taken_over(exports, lock)
    empty = tuple(  # a set of none is not an error, but a reviewer should know
        f"set {s.name}: no potential role of its session meets its conditions"
        for s in manifest.sets
        if not isinstance(given := listed[s.name], str) and not given.roles
    )
    resolved = replace(manifest, exports=every, notes=(*empty, *_kept_names(manifest, found)))
    return resolved, (*broken, *missed, *taken, *_twice(every))


def members(
    manifest: Manifest, exports: Sequence[Export], listed: Mapping[str, Listed | str], lock: Lock
) -> tuple[list[Export], list[Broken]]:
    """Each set's members, named from its template: a role already recorded as a member keeps
    its recorded name (names stay stable as roles come and go); a new one gets its slug, made
    unique. A role an explicit export (or an earlier set) already asks for is left out.
    `listed` holds, for each set, what the tenant listed for it, or why its session could not
    be found (its recorded members are then kept, each a problem of its own)."""
    taken = {e.name for e in exports}
    asked = {(e.session_id, e.potential_role_id) for e in exports}
    found, missed = [], []
    for chosen in manifest.sets:
        given = listed[chosen.name]
        if isinstance(given, str):
            field = f"sets.{chosen.name}.session"
            kept = [n for n, r in sorted(lock.records.items()) if member_of(r, chosen)]
            missed += [Broken(n, chosen.file, chosen.line, field, given) for n in kept]
            if not kept:
                missed.append(Broken(f"sets.{chosen.name}", chosen.file, chosen.line, field, given))
            continue
        session = given.session
        mine = {n: r for n, r in lock.records.items() if member_of(r, chosen)}
        # a role recorded as another set's member stays that set's (overlapping sets)
        elsewhere = {
            r.potential_role_id
            for r in lock.records.values()
            if r.resolved and r.resolved.how.startswith("set ") and r.resolved.how != chosen.how
        }
        recorded = {r.potential_role_id: n for n, r in mine.items()}
        roles = [  # the roles recorded by id first: their names are theirs
            r
            for r in sorted(given.roles, key=lambda r: (r.id not in recorded, r.name, r.id))
            if (session.id, r.id) not in asked and r.id not in elsewhere
        ]
        # a member moved (moved:) to an export of the manifest's own is that export's now
        staying = {n: r for n, r in mine.items() if _moved_to(n, manifest) not in taken - {n}}
        by_name, unclear = _by_name(staying, roles)
        missed += [
            Broken(
                n,
                chosen.file,
                chosen.line,
                f"sets.{chosen.name}",
                f"{members} of the lockfile's members of set {chosen.name} ({', '.join(alike)}) "
                f'were for roles named "{role_name}", and session {session.name or session.id} '
                f"now has {len(ids)} role(s) of that name ({', '.join(sorted(ids))}): which "
                "member follows which role cannot be told by name after a re-run. Say it: give "
                "one role an export of its own (by id) and move its member there with moved:, "
                "and the other follows by name; or leave them out with --exclude "
                f"sets.{chosen.name}",
            )
            for role_name, (alike, ids) in sorted(unclear.items())
            for members in [len(alike)]
            for n in alike
        ]
        for role in roles:
            if role.name in unclear and role.id not in recorded:
                continue  # which member it is cannot be told: a problem above, nothing started
            # its recorded name: by id, else by name (a re-run session mints new ids), and
            # where the manifest's moved: renames that name, the name it moves to
            name = recorded.get(role.id) or by_name.get(role.name)
            if name is not None and (moved := _moved_to(name, manifest)) not in taken:
                name = moved  # never onto an export of the manifest's own: a live member stays
            if name is not None and name in taken:
                continue  # an explicit export holds its recorded name: said there, not twice
            if name is None:
                base = chosen.template.format(slug=slug(role.name), set=chosen.name)
                name, n = base, 2
                while name in taken or name in lock.records:  # never a recorded name
                    name, n = f"{base}-{n}", n + 1
            taken.add(name)
            asked.add((session.id, role.id))
            found.append(
                Export(
                    name=name,
                    request=Request(session.id, role.id, chosen.params),
                    file=chosen.file,
                    line=chosen.line,
                    refresh_after=chosen.refresh_after,
                    download=chosen.download.format(name=name) if chosen.download else None,
                    selector=Selector(session_id=session.id, role_id=role.id),
                    resolved=Resolved(
                        session_name=session.name, role_name=role.name, how=chosen.how
                    ),
                )
            )
    return found, missed


def _by_name(
    mine: Mapping[str, Record], roles: Sequence[RoleSummary]
) -> tuple[dict[str, str], dict[str, tuple[list[str], list[str]]]]:
    """Role name → the recorded member it follows (a re-run minted the role a new id), where
    the name tells: one recorded member whose role is gone has it, and one role without a
    recorded member has it now. And role name → (those members, the ids of the roles that
    have it now), where it does not tell (two roles, or two members, share the name)."""
    listed = {r.id for r in roles}
    gone = {n: r for n, r in mine.items() if r.potential_role_id not in listed and r.resolved}
    recorded = {r.potential_role_id for r in mine.values()}
    new = [r for r in roles if r.id not in recorded]
    members_named = Counter(r.resolved.role_name for r in gone.values() if r.resolved)
    roles_named = Counter(r.name for r in new)
    by_name: dict[str, str] = {}
    unclear: dict[str, tuple[list[str], list[str]]] = {}
    for name, record in sorted(gone.items()):
        assert record.resolved is not None
        role_name = record.resolved.role_name
        if roles_named[role_name] == 0:
            continue  # vanished: forgotten
        if members_named[role_name] == 1 and roles_named[role_name] == 1:
            by_name[role_name] = name
        else:
            ids = [r.id for r in new if r.name == role_name]
            unclear.setdefault(role_name, ([], ids))[0].append(name)
    return by_name, unclear


def _moved_to(name: str, manifest: Manifest) -> str:
    """The name `moved:` renames `name` to, through a chain (a → b → c), else `name`."""
    onward = {m.old: m.new for m in manifest.moved}
    seen = {name}
    while name in onward and onward[name] not in seen:
        name = onward[name]
        seen.add(name)
    return name


def member_of(record: Record, chosen: RoleSet) -> bool:
    return record.resolved is not None and record.resolved.how == chosen.how


def _kept_names(manifest: Manifest, members: Sequence[Export]) -> list[str]:
    """A set whose template changed: its recorded members keep their names (stable names are
    the point), and the plan says so, so that the change is not read as a no-op."""
    notes = []
    for chosen in manifest.sets:
        old = [
            e.name
            for e in members
            if e.resolved
            and e.resolved.how == chosen.how
            and not _fits(
                e.name, chosen.template.format(slug=slug(e.resolved.role_name), set=chosen.name)
            )
        ]
        if old:
            notes.append(
                f"set {chosen.name}: {len(old)} recorded member(s) keep their names "
                f"({', '.join(old[:5])}{', …' if len(old) > 5 else ''}), which its name template "
                "no longer makes; rename them with moved: if you want the new names"
            )
    return notes


def _fits(name: str, made: str) -> bool:
    """`name` is `made`, or `made` with the -2, -3... a taken slug gets."""
    return name == made or (name.startswith(made + "-") and name[len(made) + 1 :].isdigit())


def _taken_over(exports: Sequence[Export], lock: Lock) -> list[Broken]:
    """An export of the manifest's own whose name the lockfile records as a set's member:
    the record is the member's, so taking it over would silently re-export another role."""
    found = []
    for export in exports:
        record = lock.get(export.name)
        how = record.resolved.how if record and record.resolved else ""
        if how.startswith("set "):
            assert record is not None and record.resolved is not None
            found.append(
                Broken(
                    export.name,
                    export.file,
                    export.line,
                    f"exports.{export.name}",
                    f"the lockfile records {export.name!r} as a member of {how} (role "
                    f'"{record.resolved.role_name}"); give this export another name, or '
                    "move the record with moved:",
                )
            )
    return found


def _twice(exports: Sequence[Export]) -> list[Broken]:
    """An export whose selector found what another export asks for already (the same role
    and parameters) would start the same export twice: it is a problem of its own."""
    seen: dict[Request, Export] = {}
    found = []
    for export in sorted(exports, key=lambda e: (e.file, e.line, e.name)):
        if not export.potential_role_id:  # not found: its problem is said already
            continue
        first = seen.setdefault(export.request, export)
        if first is not export and (export.selector or first.selector):
            found.append(
                Broken(
                    export.name,
                    export.file,
                    export.line,
                    f"exports.{export.name}.potential_role",
                    f"asks for the same export as {first.name!r} ({first.file}:{first.line}): "
                    "the same role and parameters; keep one",
                )
            )
    return found


# -- offline: what the lockfile pinned, when the tenant cannot be asked -----


def pinned(manifest: Manifest, lock: Lock) -> Manifest:
    """The manifest as far as the lockfile alone can resolve it (`plan --offline`): an export
    whose selector still names what its record pinned gets the record's ids; one the lockfile
    cannot answer for (new, or its selector changed) keeps no ids, and the plan says the
    tenant finds its role at apply. A set's members are its recorded ones, with the set's
    parameters now; a role that newly meets its conditions cannot be known offline."""
    exports = []
    for export in manifest.exports:
        record = lock.get(export.name)
        named = export.selector
        if named is not None and record is not None and named.names_pinned(record):
            export = replace(export, request=replace(record.request, params=export.params))
            export = replace(export, resolved=record.resolved)
        exports.append(export)
    taken = {e.name for e in exports}
    for each in manifest.sets:
        for name, record in sorted(lock.records.items()):
            if name in taken or not member_of(record, each):
                continue
            taken.add(name)
            exports.append(
                Export(
                    name=name,
                    request=replace(record.request, params=each.params),
                    file=each.file,
                    line=each.line,
                    refresh_after=each.refresh_after,
                    download=each.download.format(name=name) if each.download else None,
                    selector=Selector(
                        session_id=record.session_id, role_id=record.potential_role_id
                    ),
                    resolved=record.resolved,
                )
            )
    return replace(manifest, exports=tuple(sorted(exports, key=lambda e: e.name)))
