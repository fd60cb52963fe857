"""The access review: what an export will carry and what changed since the last one, by name.

Owns: deciding, purely, from an export's parameters and the role's access (as the tenant
reports it now, and as the lockfile recorded it when the export last started), which
entitlements the export will contain, which its parameters leave out and why, what a changed
parameter does, and what changed in the role: entitlements excluded, included again, in and
out, holders and members in counts. Must not: do I/O, read the clock, import HTTP or CLI
libraries, or know of any person: only entitlement names and counts pass through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, replace

from rmsync.models import (
    Access,
    Effect,
    Entitlement,
    ExportParams,
    Review,
    RoleChanges,
    Step,
)


def review(step: Step) -> Review | None:
    """The review of a step that will start an export (None: the step read no access)."""
    access = step.access
    if access is None:
        return None
    params = step.params
    carried, below, common = split(access, params)
    record = step.record
    effects: tuple[Effect, ...] = ()
    since = None
    if record is not None:
        effects = _effects(access, record.params, params)
        if record.access is not None:
            since = changes(record.access, access)
    return Review(
        members=access.members,
        carried=carried,
        below_popularity=below,
        common=common,
        excluded=access.excluded,
        effects=effects,
        since=since,
    )


def split(
    access: Access, params: ExportParams
) -> tuple[tuple[Entitlement, ...], tuple[Entitlement, ...], tuple[Entitlement, ...]]:
    """(carried, left out by min_entitlement_popularity, left out as common access). An
    entitlement both below the threshold and common counts as below the threshold."""
    carried, below, common = [], [], []
    for e in access.entitlements:
        if e.popularity < params.min_entitlement_popularity:
            below.append(e)
        elif e.common and not params.include_common_access:
            common.append(e)
        else:
            carried.append(e)
    return tuple(carried), tuple(below), tuple(common)


def _effects(access: Access, old: ExportParams, new: ExportParams) -> tuple[Effect, ...]:
    """For each parameter that changed, what changing it alone does to today's contents."""
    before = {e.id for e in split(access, old)[0]}
    found = []
    for f in fields(ExportParams):
        was, now = getattr(old, f.name), getattr(new, f.name)
        if was == now:
            continue
        after = {e.id for e in split(access, replace(old, **{f.name: now}))[0]}
        found.append(
            Effect(
                field=f.name,
                old=was,
                new=now,
                dropped=tuple(e for e in access.entitlements if e.id in before - after),
                added=tuple(e for e in access.entitlements if e.id in after - before),
            )
        )
    return tuple(found)


def changes(then: Access, now: Access) -> RoleChanges:
    """What changed in the role between two reads of its access."""
    then_in = {e.id: e for e in then.entitlements}
    then_out = {e.id: e for e in then.excluded}
    now_in = {e.id: e for e in now.entitlements}
    now_out = {e.id: e for e in now.excluded}
    known_then = then_in.keys() | then_out.keys()
    known_now = now_in.keys() | now_out.keys()
    holders = tuple(
        (e, then_in[e.id].holders)
        for e in now.entitlements
        if e.id in then_in and then_in[e.id].holders != e.holders
    )
    return RoleChanges(
        excluded=tuple(e for e in now.excluded if e.id in then_in),
        included_again=tuple(e for e in now.entitlements if e.id in then_out),
        added=_sorted(e for e in (*now.entitlements, *now.excluded) if e.id not in known_then),
        removed=_sorted(e for e in (*then.entitlements, *then.excluded) if e.id not in known_now),
        holders=holders,
        members=None if then.members == now.members else (then.members, now.members),
        members_by=_members_by(then, now),
    )


def _sorted(items: Iterable[Entitlement]) -> tuple[Entitlement, ...]:
    return tuple(sorted(items, key=lambda e: (e.name.casefold(), e.name, e.id)))


def _members_by(then: Access, now: Access) -> tuple[tuple[str, str, int, int], ...]:
    """(attribute, value, then, now) for every count that moved; an attribute the tenant gave
    only once (then or now) is left out: its absence says nothing about the members."""
    before = {key: dict(counts) for key, counts in then.members_by}
    after = {key: dict(counts) for key, counts in now.members_by}
    found = []
    for key in sorted(before.keys() & after.keys()):
        for value in sorted(before[key].keys() | after[key].keys()):
            old, new = before[key].get(value, 0), after[key].get(value, 0)
            if old != new:
                found.append((key, value, old, new))
    return tuple(found)
