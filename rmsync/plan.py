"""The plan: desired (manifest) + recorded (lockfile) + live (tenant) → ordered actions.

Owns: deciding, purely, what apply must do and why: export, re-export, update or forget,
each with its reasons and field changes; and every reference error at once.
Must not: do I/O, read the clock, or import HTTP or CLI libraries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from rmsync.errors import DocumentError, Problem
from rmsync.models import (
    Action,
    Broken,
    Change,
    Export,
    Fingerprint,
    Live,
    Lock,
    Manifest,
    Move,
    Options,
    Plan,
    Record,
    Role,
    Status,
    Step,
    param_names,
)
from rmsync.safetext import visible


class PlanError(DocumentError):
    """The command line names exports there are not (every one is listed). A role the tenant
    does not have is a problem of its export alone: Plan.broken."""


def make_plan(
    manifest: Manifest,
    lock: Lock,
    live: Live,
    options: Options | None = None,
    files: Mapping[str, str | None] | None = None,
    unresolved: Sequence[Broken] = (),
    offline: bool = False,
) -> Plan:
    """The plan for `manifest` given what the lockfile records, the tenant reports and, for
    exports with a `download`, the sha256 of each file on disk (None: missing). `offline`:
    the tenant was not asked (`live` is empty): roles are not compared, statuses are the
    recorded ones, and an export whose role is not known yet is planned without it."""
    options = options or Options()
    options = following_moves(manifest, lock, options)
    options = with_members(manifest, lock, options)
    lock, moved_from = renamed(manifest, lock)
    unresolved = (*unresolved, *_moves_nowhere(manifest, lock))
    exports, records = _targeted(manifest, lock, options)
    known = {e.name for e in manifest.exports} | set(lock.records)
    covered = {e.name for e in exports} | (set(records) - {e.name for e in manifest.exports})
    whole = options.targets is None  # a set's own problem (no member named) counts only then
    problems = {  # selectors (and sets) that found nothing: theirs alone, records kept
        b.name: b
        for b in unresolved
        if b.name in covered or (whole and b.name not in known and b.name not in options.excluded)
    }
    problems.update(
        (e.name, Broken(e.name, p.file, p.line, p.field, p.message))
        for e in exports
        if not offline and e.name not in problems and (p := _reference_problem(e, live)) is not None
    )
    broken = tuple(  # in the manifest's order, as a reader finds them
        sorted(problems.values(), key=lambda b: (b.file, b.line, b.name))
    )
    steps: list[Step] = []
    unchanged: list[str] = []
    for export in exports:
        if export.name in problems:  # a problem of this export alone: the others are planned
            continue
        role = live.roles.get(export.potential_role_id)
        assert role is not None or offline  # _reference_problem reported every missing role
        record = records.get(export.name)
        if record is None:
            step: Step | None = _new(export, role, lock)
        else:
            step = _step(export, record, role, live, options, files or {})
        if export.name in moved_from:
            step = _moved(export, step, record, role, moved_from[export.name])
        if step is not None and export.selector is not None:
            step = _selected(export, step, record)
        if step is not None and role is not None and role.provisioned:
            step = replace(step, reasons=(*step.reasons, provisioned(role)))
        if step is None:
            unchanged.append(export.name)
        else:
            steps.append(step)
    wanted = {e.name for e in manifest.exports} | set(problems)  # a broken one is kept
    sets = {s.how for s in manifest.sets}
    owners = {e.potential_role_id: e.name for e in manifest.exports if e.potential_role_id}
    steps += [
        _forget(record, sets, owners.get(record.potential_role_id))
        for name, record in records.items()
        if name not in wanted
    ]
    ordered = tuple(sorted(steps, key=lambda s: s.name))
    return Plan(ordered, tuple(sorted(unchanged)), broken=broken, offline=offline)


def renamed(manifest: Manifest, lock: Lock) -> tuple[Lock, dict[str, str]]:
    """The lock as the manifest's `moved:` list renames it (each record under its new name,
    still holding its old one), and new name → old name for each rename it made. A move is
    made only while the lockfile holds the old name and not the new one: once applied, the
    entry does nothing."""
    records = dict(lock.records)
    moved: dict[str, str] = {}
    for move, end, ends_live, passed in _chains(manifest, lock):
        if ends_live and end not in records and not passed & set(records):
            records[end] = records.pop(move.old)
            moved[end] = move.old
    return (Lock(records), moved) if moved else (lock, {})


def _chains(manifest: Manifest, lock: Lock) -> list[tuple[Move, str, bool, set[str]]]:
    """For each `moved:` entry whose old name the lockfile holds (and no export uses again):
    the name its chain (a → b → c) ends at, whether that is an export, and the names it
    passes on the way."""
    live = {e.name for e in manifest.exports}  # a set's member may have the old name again
    onward = {m.old: m.new for m in manifest.moved}
    found = []
    for move in manifest.moved:
        if move.old not in lock.records or move.old in live:
            continue  # applied already, or the old name is in use again
        end, seen = move.new, {move.old}
        while end in onward and end not in live and end not in seen:
            seen.add(end)
            end = onward[end]
        found.append((move, end, end in live, seen - {move.old}))
    return found


def provisioned(role: Role) -> str:
    """Why a provisioned potential role deserves a reviewer's eye (plan and check say it)."""
    return (
        f"the potential role {role.id} is provisioned in the tenant (provisionState "
        f"{role.provision_state}): it is a role now, and its export describes the candidate it "
        "was; remove the export from the manifest once its archive is no longer needed"
    )


def with_members(manifest: Manifest, lock: Lock, options: Options) -> Options:
    """The options with `sets.NAME` (in --target or --exclude) standing for the set's members
    too: those the tenant listed now and those the lockfile records (a set whose session is
    gone, or still mining, has only those)."""

    def also(names: frozenset[str]) -> frozenset[str]:
        chosen = {s.how for s in manifest.sets if f"sets.{s.name}" in names}
        if not chosen:
            return names
        listed = {e.name for e in manifest.exports if e.resolved and e.resolved.how in chosen}
        kept = {n for n, r in lock.records.items() if r.resolved and r.resolved.how in chosen}
        return names | listed | kept

    return replace(
        options,
        targets=None if options.targets is None else also(options.targets),
        excluded=also(options.excluded),
    )


def following_moves(manifest: Manifest, lock: Lock, options: Options) -> Options:
    """The options with each name the manifest's `moved:` renames (and the lockfile still
    holds) given by its new name: on the command line, the old name means the new."""
    new_of = {old: new for new, old in renamed(manifest, lock)[1].items()}
    if not new_of:
        return options

    def follow(names: frozenset[str]) -> frozenset[str]:
        return frozenset(new_of.get(n, n) for n in names)

    return replace(
        options,
        targets=None if options.targets is None else follow(options.targets),
        replace=follow(options.replace),
        excluded=follow(options.excluded),
    )


def _moves_nowhere(manifest: Manifest, lock: Lock) -> list[Broken]:
    """A recorded name a `moved:` entry moves to no export (a set's member that is not
    there): its record is kept, and the entry is a problem, not a silent forget."""
    return [
        Broken(
            move.old,
            move.file,
            move.line,
            "moved",
            f"moves {move.old!r} to {end!r}, which is no export (nor a set's member)",
        )
        for move, end, ends_live, _ in _chains(manifest, lock)
        if not ends_live
    ]


def _moved(
    export: Export, step: Step | None, record: Record | None, role: Role | None, old: str
) -> Step:
    """The step of a renamed export: its own changes, if any, and the rename; a rename alone
    is a lockfile update that starts nothing."""
    why = f"renamed from {old} (moved: in {export.file}); nothing is started for the rename"
    if step is not None:
        return replace(step, moved_from=old, reasons=(why, *step.reasons))
    assert record is not None  # a move is made only for a recorded name
    return Step(
        action=Action.UPDATE,
        name=export.name,
        reasons=(why,),
        request=export.request,
        role=role,
        record=record,
        status=record.status,
        download=export.download,
        moved_from=old,
    )


_IDS = frozenset({"session_id", "potential_role_id"})
_PARAMS_CHANGED = "the export parameters changed"
_ROLE_CHANGED = "the role changed since it was exported"


def _selected(export: Export, step: Step, record: Record | None) -> Step:
    """The step of an export that names its role: what the selector found, and a re-resolution
    (another role than the lockfile's) said as such, not as changed parameters."""
    step = replace(step, selector=export.selector, resolved=export.resolved)
    if record is None or record.request == export.request:
        return step
    moved = {c.field for c in step.changes} & _IDS
    if not moved:
        return step
    found = export.resolved.role_name if export.resolved else "a role"
    how = export.resolved.how if export.resolved else ""
    by = how if how.startswith("set ") else str(export.selector)
    before = record.resolved.role_name if record.resolved else None
    cause = "a re-run session mints new ids" if before in (None, found) else f"was {before!r}"
    why = (  # the names as they are: the plan's readers escape what they show
        f"{by} now finds another role than the lockfile's: {export.potential_role_id} "
        f'"{found}" ({cause})'
    )
    params = {c.field for c in step.changes} & set(param_names())
    # The tenant's doing only if the manifest still names what the lockfile pinned (a set's
    # member always does); else the manifest was edited to name another role, whose state
    # is no change of the recorded one's.
    edited = not how.startswith("set ") and not (
        export.selector is not None and export.selector.names_pinned(record)
    )
    dropped = {_PARAMS_CHANGED} if not params else set()
    if edited:
        dropped.add(_ROLE_CHANGED)
    reasons = [r for r in step.reasons if r not in dropped]
    drift = tuple(d for d in step.drift if d not in dropped) if edited else (why, *step.drift)
    return replace(step, reasons=(why, *reasons), drift=drift)


def _targeted(
    manifest: Manifest, lock: Lock, options: Options
) -> tuple[list[Export], dict[str, Record]]:
    """The exports and records the plan covers (--target's, less --exclude's); unknown
    --target, --replace or --exclude names are errors."""
    known = {e.name for e in manifest.exports} | set(lock.records)
    known |= {f"sets.{s.name}" for s in manifest.sets}  # --exclude sets.NAME: a set's problem
    sets = {s.name for s in manifest.sets}
    problems = [
        Problem(
            file="<command line>",
            line=1,
            field=flag,
            message=f"{name!r} is not an export in the manifest or the lockfile"
            + (f" (a set is named sets.{name})" if name in sets else ""),
        )
        for flag, names in (
            ("--target", options.targets or frozenset()),
            ("--replace", options.replace),
            ("--exclude", options.excluded),
        )
        for name in sorted(names - known)
    ]
    if problems:
        raise PlanError(problems)

    def covered(name: str) -> bool:
        chosen = options.targets
        return (chosen is None or name in chosen) and name not in options.excluded

    exports = [e for e in manifest.exports if covered(e.name)]
    records = {n: r for n, r in lock.records.items() if covered(n)}
    return exports, records


def _reference_problem(export: Export, live: Live) -> Problem | None:
    role = live.roles.get(export.potential_role_id)
    field = f"exports.{export.name}.potential_role_id"
    if role is None:
        message = (
            f"the tenant has no potential role {export.potential_role_id} (check the id; a "
            "re-run session mints new ids: `potential_role:` by name follows them)"
        )
        return Problem(file=export.file, line=export.line, field=field, message=message)
    if role.session_id is not None and role.session_id != export.session_id:
        message = (
            f"potential role {export.potential_role_id} ({visible(role.name)}) belongs to session "
            f"{role.session_id}, not {export.session_id}"
        )
        return Problem(
            file=export.file,
            line=export.line,
            field=f"exports.{export.name}.session_id",
            message=message,
        )
    return None


def _new(export: Export, role: Role | None, lock: Lock) -> Step:
    """A new export; a set's new member is the tenant's doing (drift) once the set has
    members on record: its role newly meets the set's conditions."""
    how = export.resolved.how if export.resolved else ""
    grew = how.startswith("set ") and any(
        r.resolved is not None and r.resolved.how == how for r in lock.records.values()
    )
    why = f"{how} newly selects its role (not in the lockfile)" if grew else "not in the lockfile"
    # A set's member not on record is the tenant's doing for `check` even when the set has
    # none on record yet: on the branch the scheduled check reads, the set was applied when
    # it merged (or its apply failed), so a person looks before it is exported unseen.
    fresh = f"{how} selects a role not in the lockfile (a new member, or the set is not applied)"
    drift = (why,) if grew else (fresh,) if how.startswith("set ") else ()
    return Step(
        action=Action.EXPORT,
        name=export.name,
        reasons=(why,),
        request=export.request,
        role=role,
        download=export.download,
        drift=drift,
    )


def _forget(
    record: Record, sets: frozenset[str] | set[str] = frozenset(), owner: str | None = None
) -> Step:
    """A record no export names now. A set's member whose role an export of the manifest's
    own now names is the manifest's doing, said with the `moved:` that would keep it."""
    how = record.resolved.how if record.resolved else None
    if how in sets and owner is not None:
        why = (
            f"its role is now export {owner}'s own, which starts an export of it; to keep this "
            f"record instead, add moved: {{from: {record.name}, to: {owner}}} (nothing is "
            "deleted on the tenant)"
        )
    elif how in sets:
        why = (
            f"{how} no longer selects its role (the role is gone with a re-run, or no longer "
            "meets the set's conditions; nothing is deleted on the tenant)"
        )
    else:
        why = "no longer in the manifest (nothing is deleted on the tenant)"
    return Step(
        action=Action.FORGET,
        name=record.name,
        drift=(why,) if how in sets and owner is None else (),
        reasons=(
            why,
            *(
                (f"an interrupted run may have started an export for it at {record.started_at}",)
                if record.unconfirmed
                else ()
            ),
        ),
        request=record.request,
        record=record,
    )


def _step(
    export: Export,
    record: Record,
    role: Role | None,
    live: Live,
    options: Options,
    files: Mapping[str, str | None],
) -> Step | None:
    changes = _diff(record.request.fields(), export.request.fields())
    role_changes = (  # offline (no role read), the recorded role is all there is
        _diff(*_role_states(record.role, role), "role.") if role else ()
    )
    status = _live_status(record, live)
    reasons, drift = [], []
    if record.unconfirmed:
        reasons.append(
            f"an interrupted run may have started an export for {export.name} at "
            f"{record.started_at} (the tenant never confirmed it, and cannot be asked); "
            "starting another"
        )
    if changes:
        reasons.append("the export parameters changed")
    if role_changes:
        drift.append(_ROLE_CHANGED)
    # An export goes when it expires, or with its role when a re-run session mints new ones.
    rerun = export.selector is not None and record.potential_role_id != export.potential_role_id
    why = "its role went when the session was re-run" if rerun else "exports expire"
    if record.gone_at is not None:
        drift.append(
            f"the tenant no longer has export {record.export_id} (it answered 404 at "
            f"{record.gone_at}; {why})"
        )
    elif status is None:
        drift.append(f"the tenant no longer has export {record.export_id} (it answered 404; {why})")
    elif status is Status.ERROR:
        detail = _live_detail(record, live) or record.error
        drift.append("the recorded export ended in ERROR" + (f": {detail}" if detail else ""))
    reasons += drift
    if export.name in options.replace:
        reasons.append("a replacement was asked for (--replace)")
    if (stale := _stale(export, record, options.now)) is not None:
        reasons.append(stale)
    status_change = (
        ()
        if status in (None, record.status)
        else (Change("status", record.status.value, status.value),)
    )
    fetch = None if reasons else _fetch_reason(export, record, status, files, options)
    if fetch is not None:
        reasons.append(fetch)
        if fetch.endswith(_ALTERED):
            drift.append(fetch)
        action: Action | None = Action.DOWNLOAD
    else:
        action = Action.REEXPORT if reasons else Action.UPDATE if status_change else None
    if action is None:
        return None
    if action is Action.UPDATE:
        reasons.append(
            f"the export moved on: {record.status.value} → {status.value if status else ''}"
        )
    return Step(
        action=action,
        name=export.name,
        reasons=tuple(reasons),
        request=export.request,
        changes=(*changes, *role_changes, *status_change),
        role=role,
        record=record,
        status=status,
        download=export.download,
        detail=_live_detail(record, live) if status is Status.ERROR else None,
        drift=tuple(drift),
    )


_ALTERED = "was altered (its sha256 differs from the recorded one)"


def _fetch_reason(
    export: Export,
    record: Record,
    status: Status | None,
    files: Mapping[str, str | None],
    options: Options,
) -> str | None:
    """Why the archive must be (re)downloaded, if the export wants one and has succeeded. A
    recorded archive missing on disk is a reason only with `download_missing`: archives list
    people and stay out of Git, so a fresh checkout has none; an altered one always is."""
    if export.download is None or status is not Status.SUCCESS:
        return None
    saved = record.download
    if saved is None:
        return f"the archive is not saved yet (download: {export.download})"
    if saved.path != export.download:
        return f"the download path changed: {saved.path} → {export.download}"
    found = files.get(export.download)
    if found is None:
        return f"{export.download} is missing" if options.download_missing else None
    if found != saved.sha256:
        return f"{export.download} {_ALTERED}"
    return None


def _stale(export: Export, record: Record, now: datetime | None) -> str | None:
    """Why a successful export is too old to keep, per the export's refresh_after."""
    if now is None or export.refresh_after is None or record.status is not Status.SUCCESS:
        return None
    done = datetime.fromisoformat((record.finished_at or record.started_at).replace("Z", "+00:00"))
    age = now - done
    if age.total_seconds() <= export.refresh_after.seconds:
        return None
    return f"the export is {_age(age)} old (refresh_after {export.refresh_after.text})"


def _age(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    return f"{hours} hours" if hours >= 2 else f"{int(age.total_seconds() // 60)} minutes"


def _live_status(record: Record, live: Live) -> Status | None:
    """The export's status now: what the tenant reports if it was asked (None: it no longer
    knows the export), else the recorded one (a final status is not asked again)."""
    if record.export_id is not None and record.export_id in live.exports:
        job = live.exports[record.export_id]
        return job.status if job else None
    return record.status


def _live_detail(record: Record, live: Live) -> str | None:
    job = live.exports.get(record.export_id) if record.export_id is not None else None
    return job.detail if job else None


def exports_to_read(
    manifest: Manifest,
    lock: Lock,
    files: Mapping[str, str | None],
    targets: frozenset[str] | None = None,
    download_missing: bool = False,
    excluded: frozenset[str] = frozenset(),
) -> list[tuple[str, str, str]]:
    """The recorded exports whose live state a plan needs: those still running, and those
    that succeeded but whose archive must still be fetched (the tenant may have let it go)."""
    wanted = []
    by_name = {e.name: e for e in manifest.exports}  # not Manifest.export: one search per record
    for name, record in sorted(lock.records.items()):
        export = by_name.get(name)
        if export is None or (targets is not None and name not in targets) or name in excluded:
            continue
        chosen = Options(download_missing=download_missing)
        fetching = _fetch_reason(export, record, Status.SUCCESS, files, chosen) is not None
        if record.running or (record.status is Status.SUCCESS and fetching):
            wanted.append(record.address)
    return wanted


_SUMMARY_FIELDS = ("identity_count", "entitlement_count")  # what a session's summaries carry


def _role_states(recorded: Fingerprint, role: Role) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recorded and live states to compare: all of them for a role read whole; for one
    read from its session's summaries (partial), only the counts they carry: a change that
    moves no count (an exclusion whose entitlement the count keeps) waits for `--refresh
    full`, or for the check, which reads roles whole."""
    old, new = _role_state(recorded), _role_state(role.fingerprint)
    if role.partial:
        old = {k: v for k, v in old.items() if k in _SUMMARY_FIELDS}
        new = {k: v for k, v in new.items() if k in _SUMMARY_FIELDS}
    return old, new


def _role_state(fingerprint: Fingerprint) -> dict[str, Any]:
    """The parts of a role's fingerprint whose change means its export is stale (not its name)."""
    return {k: v for k, v in fingerprint.as_dict().items() if k != "name"}


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> tuple[Change, ...]:
    """Each field whose value differs, by name; a list differs only in its members, not their
    order. Most records are unchanged: plain equality answers for them, and only a record
    that differs is handed to DeepDiff, which compares nested values regardless of order."""
    if old == new:
        return ()
    from deepdiff import DeepDiff  # slow to load and to run: only for what differs

    keys = DeepDiff(old, new, ignore_order=True).affected_root_keys
    return tuple(Change(prefix + str(k), old.get(k), new.get(k)) for k in sorted(keys, key=str))


def refresh_plan(lock: Lock, live: Live, targets: frozenset[str] | None = None) -> Plan:
    """Lockfile updates only, for `refresh`: every recorded export still running whose state
    moved on, or that the tenant no longer has. Nothing is started or forgotten."""
    steps = []
    for name, record in sorted(lock.records.items()):
        if record.status.final or (targets is not None and name not in targets):
            continue
        if record.export_id not in live.exports:
            continue
        status = _live_status(record, live)
        if status is record.status:
            continue
        moved = status.value if status else "gone (the tenant answered 404)"
        steps.append(
            Step(
                action=Action.UPDATE,
                name=name,
                reasons=(f"the export moved on: {record.status.value} → {moved}",),
                request=record.request,
                changes=(Change("status", record.status.value, status.value if status else None),),
                record=record,
                status=status,
                detail=_live_detail(record, live),
            )
        )
    return Plan(tuple(steps), ())
