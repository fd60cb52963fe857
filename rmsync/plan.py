"""The plan: desired (manifest) + recorded (lockfile) + live (tenant) → ordered actions.

Owns: deciding, purely, what apply must do and why: export, re-export, update or forget,
each with its reasons and field changes; and every reference error at once.
Must not: do I/O, read the clock, or import HTTP or CLI libraries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from deepdiff import DeepDiff

from rmsync.lockfile import Lock, Record, Status
from rmsync.manifest import Export, ExportParams, Manifest
from rmsync.models import Live, Role
from rmsync.yamlload import DocumentError, Problem


class PlanError(DocumentError):
    """The manifest names roles the tenant does not have (every one is listed)."""


class Action(Enum):
    """What apply does for one export name; the value is the symbol users see."""

    EXPORT = "+"
    REEXPORT = "-/+"
    UPDATE = "~"
    DOWNLOAD = "<="
    FORGET = "-"

    @property
    def verb(self) -> str:
        verbs = {"+": "export", "-/+": "re-export", "~": "update", "<=": "download", "-": "forget"}
        return verbs[self.value]


@dataclass(frozen=True)
class Change:
    """One field that differs: recorded value → wanted or live value."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Step:
    """One action on one export name, with everything render and apply need."""

    action: Action
    name: str
    reasons: tuple[str, ...]
    changes: tuple[Change, ...]
    session_id: str
    potential_role_id: str
    params: ExportParams
    role: Role | None
    record: Record | None
    status: Status | None = None
    download: str | None = None  # where to save the archive once the export is SUCCESS
    detail: str | None = None  # the tenant's reason, when the export moved on to ERROR


@dataclass(frozen=True)
class Provenance:
    """What a saved plan was made from, so that apply can refuse it once that has changed."""

    manifest: str
    manifest_digest: str
    lockfile: str
    lockfile_digest: str | None
    api_version: str
    targets: tuple[str, ...] | None = None
    replace: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    unchanged: tuple[str, ...]
    provenance: Provenance | None = None

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    def counts(self) -> dict[Action, int]:
        found = Counter(step.action for step in self.steps)
        return {action: found[action] for action in Action}


@dataclass(frozen=True)
class Options:
    """How to plan: the time (for refresh_after), names to re-export anyway, names to limit to."""

    now: datetime | None = None
    replace: frozenset[str] = frozenset()
    targets: frozenset[str] | None = None


def make_plan(
    manifest: Manifest,
    lock: Lock,
    live: Live,
    options: Options = Options(),
    files: Mapping[str, str | None] | None = None,
) -> Plan:
    """The plan for `manifest` given what the lockfile records, the tenant reports and, for
    exports with a `download`, the sha256 of each file on disk (None: missing)."""
    exports, records = _targeted(manifest, lock, options)
    problems = [p for e in exports if (p := _reference_problem(e, live)) is not None]
    if problems:
        raise PlanError(problems)
    steps: list[Step] = []
    unchanged: list[str] = []
    for export in exports:
        role = live.roles[export.potential_role_id]
        assert role is not None  # _reference_problem reported every missing role
        record = records.get(export.name)
        if record is None:
            step: Step | None = _new(export, role)
        else:
            step = _step(export, record, role, live, options, files or {})
        if step is None:
            unchanged.append(export.name)
        else:
            steps.append(step)
    wanted = {e.name for e in manifest.exports}
    steps += [_forget(record) for name, record in records.items() if name not in wanted]
    return Plan(tuple(sorted(steps, key=lambda s: s.name)), tuple(sorted(unchanged)))


def _targeted(
    manifest: Manifest, lock: Lock, options: Options
) -> tuple[list[Export], dict[str, Record]]:
    """The exports and records the plan covers; unknown --target or --replace names are errors."""
    known = {e.name for e in manifest.exports} | set(lock.records)
    problems = [
        Problem(
            "<command line>", 1, flag, f"{name!r} is not an export in the manifest or the lockfile"
        )
        for flag, names in (
            ("--target", options.targets or frozenset()),
            ("--replace", options.replace),
        )
        for name in sorted(names - known)
    ]
    if problems:
        raise PlanError(problems)
    chosen = options.targets
    exports = [e for e in manifest.exports if chosen is None or e.name in chosen]
    records = {n: r for n, r in lock.records.items() if chosen is None or n in chosen}
    return exports, records


def _reference_problem(export: Export, live: Live) -> Problem | None:
    role = live.roles.get(export.potential_role_id)
    field = f"exports.{export.name}.potential_role_id"
    if role is None:
        message = f"the tenant has no potential role {export.potential_role_id} (check the id)"
        return Problem(export.file, export.line, field, message)
    if role.session_id is not None and role.session_id != export.session_id:
        message = (
            f"potential role {export.potential_role_id} ({role.name}) belongs to session "
            f"{role.session_id}, not {export.session_id}"
        )
        return Problem(export.file, export.line, f"exports.{export.name}.session_id", message)
    return None


def _new(export: Export, role: Role) -> Step:
    return Step(
        Action.EXPORT,
        export.name,
        ("not in the lockfile",),
        (),
        export.session_id,
        export.potential_role_id,
        export.params,
        role,
        None,
        download=export.download,
    )


def _forget(record: Record) -> Step:
    reason = "no longer in the manifest (nothing is deleted on the tenant)"
    return Step(
        Action.FORGET,
        record.name,
        (reason,),
        (),
        record.session_id,
        record.potential_role_id,
        record.params,
        None,
        record,
    )


def _step(
    export: Export,
    record: Record,
    role: Role,
    live: Live,
    options: Options,
    files: Mapping[str, str | None],
) -> Step | None:
    changes = _diff(_wanted(record), _wanted(export))
    role_changes = _diff(
        _role_state(record.role.as_dict()), _role_state(role.fingerprint.as_dict()), "role."
    )
    status = _live_status(record, live)
    reasons = []
    if changes:
        reasons.append("the export parameters changed")
    if role_changes:
        reasons.append("the role changed since it was exported")
    if record.gone_at is not None:
        reasons.append(
            f"the tenant no longer has export {record.export_id} (it answered 404 at "
            f"{record.gone_at}; exports expire)"
        )
    elif status is None:
        reasons.append(
            f"the tenant no longer has export {record.export_id} (it answered 404; exports expire)"
        )
    elif status is Status.ERROR:
        detail = _live_detail(record, live) or record.error
        reasons.append("the recorded export ended in ERROR" + (f": {detail}" if detail else ""))
    if export.name in options.replace:
        reasons.append("a replacement was asked for (--replace)")
    if (stale := _stale(export, record, options.now)) is not None:
        reasons.append(stale)
    status_change = (
        ()
        if status in (None, record.status)
        else (Change("status", record.status.value, status.value),)
    )
    fetch = None if reasons else _fetch_reason(export, record, status, files)
    if fetch is not None:
        reasons.append(fetch)
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
        action,
        export.name,
        tuple(reasons),
        (*changes, *role_changes, *status_change),
        export.session_id,
        export.potential_role_id,
        export.params,
        role,
        record,
        status,
        export.download,
        _live_detail(record, live) if status is Status.ERROR else None,
    )


def _fetch_reason(
    export: Export, record: Record, status: Status | None, files: Mapping[str, str | None]
) -> str | None:
    """Why the archive must be (re)downloaded, if the export wants one and has succeeded."""
    if export.download is None or status is not Status.SUCCESS:
        return None
    saved = record.download
    if saved is None:
        return f"the archive is not saved yet (download: {export.download})"
    if saved.path != export.download:
        return f"the download path changed: {saved.path} → {export.download}"
    found = files.get(export.download)
    if found is None:
        return f"{export.download} is missing"
    if found != saved.sha256:
        return f"{export.download} was altered (its sha256 differs from the recorded one)"
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
    if record.export_id in live.exports:
        job = live.exports[record.export_id]
        return job.status if job else None
    return record.status


def _live_detail(record: Record, live: Live) -> str | None:
    job = live.exports.get(record.export_id)
    return job.detail if job else None


def exports_to_read(
    manifest: Manifest,
    lock: Lock,
    files: Mapping[str, str | None],
    targets: frozenset[str] | None = None,
) -> list[tuple[str, str, str]]:
    """The recorded exports whose live state a plan needs: those still running, and those
    that succeeded but whose archive must still be fetched (the tenant may have let it go)."""
    wanted = []
    for name, record in sorted(lock.records.items()):
        export = manifest.export(name)
        if export is None or (targets is not None and name not in targets):
            continue
        fetching = _fetch_reason(export, record, Status.SUCCESS, files) is not None
        if not record.status.final or (record.status is Status.SUCCESS and fetching):
            wanted.append((record.session_id, record.potential_role_id, record.export_id))
    return wanted


def _wanted(source: Record | Export) -> dict[str, Any]:
    """What an export is asked for, as comparable fields (the recorded or the desired one)."""
    return {
        "session_id": source.session_id,
        "potential_role_id": source.potential_role_id,
        "min_entitlement_popularity": source.params.min_entitlement_popularity,
        "include_common_access": source.params.include_common_access,
    }


def _role_state(fingerprint: dict[str, Any]) -> dict[str, Any]:
    """The parts of a role's fingerprint whose change means its export is stale (not its name)."""
    return {k: v for k, v in fingerprint.items() if k != "name"}


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> tuple[Change, ...]:
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
                Action.UPDATE,
                name,
                (f"the export moved on: {record.status.value} → {moved}",),
                (Change("status", record.status.value, status.value if status else None),),
                record.session_id,
                record.potential_role_id,
                record.params,
                None,
                record,
                status,
                None,
                _live_detail(record, live),
            )
        )
    return Plan(tuple(steps), ())
