"""A run: manifest → live state → plan → apply → lockfile, with one API client for all of it.

Owns: the order in which the stages run for plan (`prepare`), apply (`execute`, and
`execute_saved` for a saved plan) and `refresh_recorded`, and the steps they are made of
(`connect`, `make_job`, `apply`, which the demo strings together itself); the apply lock around
every run that writes the lockfile; which exports each run reads from the tenant; and the
run's `Result`, judged from what the lockfile recorded. Must not: print or exit (the
commands do, through `Ui`), nor open a second client: every request of a run shares one
token and one rate limiter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rmsync import atomic, lockfile, planfile, runlock, selection, tenantlist
from rmsync.api import ApiError, Client
from rmsync.apply import Follow, Timing, apply_plan, download_ready
from rmsync.check import Check, assess
from rmsync.config import Inputs
from rmsync.downloads import hash_files
from rmsync.errors import DocumentError, Problem, RmsyncError
from rmsync.interrupts import Interrupted
from rmsync.manifest import load_manifest
from rmsync.models import (
    EXPORTING,
    Action,
    Broken,
    Live,
    Lock,
    Manifest,
    Options,
    Outcome,
    Plan,
    Provenance,
    Role,
    RoleSummary,
    Status,
    Step,
    Subject,
    Target,
    Ui,
)
from rmsync.plan import (
    exports_to_read,
    following_moves,
    make_plan,
    refresh_plan,
    renamed,
    with_members,
)
from rmsync.planfile import PlanFileError


class Unplannable(RmsyncError):
    """Some exports could not be planned (their problems are listed with the plan)."""

    def __init__(self, broken: tuple[Broken, ...], started: bool = True) -> None:
        n = len(broken)
        names = ", ".join(b.name for b in broken)
        what = "export could not be planned" if n == 1 else "exports could not be planned"
        done = "" if started else "; nothing was started"
        sets = sorted({b.field.split(".")[1] for b in broken if b.field.startswith("sets.")})
        how = "--exclude NAME" + (
            f" (a set and its members: {', '.join(f'--exclude sets.{s}' for s in sets)})"
            if sets
            else ""
        )
        mining = all("is still mining" in b.message for b in broken)
        fix = "wait until the session's mining is done" if mining else "fix the manifest"
        super().__init__(
            f"{n} {what} ({names}; listed above){done}: {fix}, or leave "
            f"{'it' if n == 1 else 'them'} out with {how}"
        )
        self.broken = broken


Where = Callable[[Manifest], Target]  # the tenant and credentials, once the manifest is read


@dataclass(frozen=True)
class Job:
    """What plan computes and apply carries out."""

    manifest: Manifest
    lock_path: Path
    lock: Lock
    plan: Plan
    options: Options
    live: Live = field(default_factory=Live)  # what the tenant said: roles, export statuses


@contextmanager
def connect(target: Target, manifest: Manifest) -> Iterator[Client]:
    """The run's one client."""
    version = manifest.api_version
    with Client(target.base_url, target.credentials, version, limit=target.limit) as client:
        yield client


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def options(
    targets: tuple[str, ...] = (),
    replace_: tuple[str, ...] = (),
    download_missing: bool = False,
    excluded: tuple[str, ...] = (),
    refresh: str = "summary",
) -> Options:
    return Options(
        now=datetime.now(UTC),
        replace=frozenset(replace_),
        targets=frozenset(targets) if targets else None,
        download_missing=download_missing,
        excluded=frozenset(excluded),
        full=refresh == "full",
    )


def prepare(inputs: Inputs, where: Where, chosen: Options) -> Job:
    """`plan`: the manifest, the lockfile and the live state it needs, and the plan."""
    manifest = inputs.manifest()
    with connect(where(manifest), manifest) as client:
        return make_job(client, inputs, manifest, chosen)


def execute(
    inputs: Inputs, where: Where, chosen: Options, ui: Ui, wait: float | None, lock_timeout: float
) -> Result:
    """`apply`: plan afresh under the apply lock, confirm, carry it out, record every result."""
    with runlock.held(inputs.lock_path, lock_timeout), _recorded(inputs.lock_path):
        manifest = inputs.manifest()
        _sweep(inputs.lock_path, manifest)
        with connect(where(manifest), manifest) as client:
            return apply(client, make_job(client, inputs, manifest, chosen), ui, wait)


def execute_saved(
    plan_file: Path, where: Where, ui: Ui, wait: float | None, lock_timeout: float
) -> Result:
    """`apply PLAN`: carry out exactly a saved plan, once its inputs and roles are unchanged."""
    doc = planfile.read(plan_file)
    lock_path = Path(planfile.checked_provenance(plan_file, doc).lockfile)  # before any write
    with runlock.held(lock_path, lock_timeout), _recorded(lock_path):
        manifest = saved_manifest(plan_file, doc)
        _sweep(lock_path, manifest)
        with connect(where(manifest), manifest) as client:
            return apply(client, saved_job(client, plan_file, doc, manifest), ui, wait)


def refresh_recorded(
    inputs: Inputs,
    where: Where,
    targets: tuple[str, ...],
    ui: Ui,
    wait: float | None,
    lock_timeout: float,
) -> Result:
    """`refresh`: under the apply lock, update the recorded exports still running."""
    with runlock.held(inputs.lock_path, lock_timeout), _recorded(inputs.lock_path):
        manifest = inputs.manifest()
        lock = lockfile.read(inputs.lock_path)
        known = {e.name for e in manifest.exports} | set(lock.records)
        unknown = sorted(set(targets) - known)
        if unknown:
            raise DocumentError(
                Problem(
                    file="<command line>",
                    line=1,
                    field="--target",
                    message=f"{n!r} is not an export",
                )
                for n in unknown
            )
        chosen = frozenset(targets) if targets else None
        _sweep(inputs.lock_path, manifest)
        with connect(where(manifest), manifest) as client:
            return refresh(client, inputs, manifest, lock, chosen, ui, wait)


def subject(inputs: Inputs, where: Where, name: str, recorded: bool) -> Subject:
    """`report`: one export of the manifest (or, gone from it, of the lockfile), its record
    and its role's access: read from the tenant (a role and three lists), or with `recorded`
    as the lockfile kept it when the export last started (no tenant asked)."""
    manifest = inputs.manifest()
    lock = lockfile.read(inputs.lock_path)
    export, record = manifest.export(name), lock.get(name)
    if export is None and record is None:
        known = ", ".join(sorted({e.name for e in manifest.exports} | set(lock.records)))
        raise RmsyncError(f"{name!r} is not an export in the manifest or the lockfile ({known})")
    request = export.request if export is not None else record.request if record else None
    assert request is not None
    if recorded:
        if record is None or record.access is None:
            raise RmsyncError(
                f"{name}: the lockfile holds no access for it (not exported yet, or by an older "
                "rmsync); leave out --recorded to read the tenant"
            )
        when = f"as recorded when the export started, {record.started_at}"
        # what that export asked for, which the manifest may since have changed
        return Subject(name, record.request, record, None, record.access, when)
    with connect(where(manifest), manifest) as client:
        if export is not None and export.selector is not None:
            found, missed = tenantlist.resolve(client, manifest, lock)
            mine = [b for b in missed if b.name == name]
            if mine:
                raise RmsyncError(f"{name}: {mine[0].message}")
            resolved = found.export(name)
            assert resolved is not None
            request = resolved.request
        role = client.role(request.potential_role_id)
        if role is None:
            raise RmsyncError(
                f"{name}: the tenant has no potential role {request.potential_role_id}"
            )
        access = client.access(request.session_id, role)
    return Subject(name, request, record, role, access, "as the tenant reports it now")


def _sweep(lock_path: Path, manifest: Manifest) -> None:
    """Remove the temporary files a killed run left beside the lockfile and the archives:
    under the apply lock, no other run is writing them."""
    places = [lock_path, *(manifest.folder / e.download for e in manifest.exports if e.download)]
    for place in places:
        for left in atomic.leftovers(place):
            left.unlink(missing_ok=True)


class _recorded:
    """Say, when a run is interrupted, that every result so far is in the lockfile."""

    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, Interrupted) and not exc.note:
            exc.note = f"every result so far is recorded in {self.lock_path}"


def make_job(
    client: Client,
    inputs: Inputs,
    manifest: Manifest,
    chosen: Options,
    *,
    every_export: bool = False,
    access: bool = True,
) -> Job:
    """Plan: find the roles the manifest names, read the lockfile and the live state the plan
    needs, then decide. `every_export` asks the tenant about every recorded export, finished
    ones too (an expired one is found); without `access`, no role's access is read."""
    lock_path = inputs.lock_path
    lock = lockfile.read(lock_path)  # once: the names resolved and the plan see one lockfile
    chosen = following_moves(manifest, lock, chosen)  # an old name means its new one
    listed: dict[str, list[RoleSummary]] = {}  # the sessions' listings, read once for both
    manifest, unresolved = tenantlist.resolve(client, manifest, lock, chosen.targets, listed)
    chosen = following_moves(manifest, lock, chosen)  # ...a set's member's too
    source = _source(inputs, manifest, chosen)  # as given: sets.NAME, not its members
    chosen = with_members(manifest, lock, chosen)  # sets.NAME stands for its members too
    files = hash_files(manifest.folder, [e.download for e in manifest.exports if e.download])
    targets, excluded = chosen.targets, chosen.excluded
    roles = [
        e.potential_role_id
        for e in manifest.exports
        if (targets is None or e.name in targets)
        and e.name not in excluded
        and e.potential_role_id  # a selector that found no role: nothing to read
    ]
    as_named = renamed(manifest, lock)[0]  # a renamed record's export is read under its new name
    reading = exports_to_read(manifest, as_named, files, targets, chosen.download_missing, excluded)
    if every_export:
        reading = [
            r.address
            for n, r in as_named.records.items()
            if r.export_id and (targets is None or n in targets) and n not in excluded
        ]
    full = chosen.full or every_export
    live = _read_live(client, manifest, roles, reading, full, {} if full else listed)
    made = make_plan(manifest, lock, live, chosen, files, unresolved)
    acting = sorted(  # an update or a forget records what the tenant said of the export alone
        {s.role.id for s in made.steps if s.role and s.role.partial and s.action in EXPORTING}
    )
    if acting:  # a role that will be exported is read whole: the record and the review need it
        whole = client.live(acting, [])
        live = Live({**live.roles, **whole.roles}, live.exports)
        made = make_plan(manifest, lock, live, chosen, files, unresolved)
    plan = replace(made, provenance=source, notes=manifest.notes)
    plan = with_access(client, plan) if access else plan
    return Job(manifest, lock_path, lock, plan, chosen, live)


def _source(inputs: Inputs, manifest: Manifest, chosen: Options) -> Provenance:
    lock_path = inputs.lock_path
    return Provenance(
        manifest=str(inputs.manifest_path),
        manifest_digest=planfile.digest_manifest(inputs.manifest_path, exclude=lock_path),
        lockfile=str(lock_path),
        lockfile_digest=planfile.digest_lockfile(lock_path),
        api_version=manifest.api_version.value,
        targets=None if chosen.targets is None else tuple(sorted(chosen.targets)),
        replace=tuple(sorted(chosen.replace)),
        excluded=tuple(sorted(chosen.excluded)),
    )


def prepare_offline(inputs: Inputs, chosen: Options) -> Job:
    """`plan --offline`: the manifest against the lockfile alone; the tenant is not asked
    (a fork's pull request has no credentials). Selectors and sets are what the lockfile
    pinned; roles are not compared; statuses are the recorded ones."""
    manifest = inputs.manifest()
    lock = lockfile.read(inputs.lock_path)
    chosen = following_moves(manifest, lock, chosen)
    manifest = selection.pinned(manifest, lock)
    chosen = following_moves(manifest, lock, chosen)
    files = hash_files(manifest.folder, [e.download for e in manifest.exports if e.download])
    made = make_plan(manifest, lock, Live(), chosen, files, offline=True)
    plan = replace(made, provenance=_source(inputs, manifest, chosen), notes=manifest.notes)
    return Job(manifest, inputs.lock_path, lock, plan, chosen)


def _read_live(
    client: Client,
    manifest: Manifest,
    role_ids: list[str],
    reading: list[tuple[str, str, str]],
    whole: bool,
    listed: dict[str, list[RoleSummary]],
) -> Live:
    """The roles the plan compares and the exports it asks about. Unless `whole`, roles are
    read by the page from their sessions' summaries (250 a request, not one each; a session
    with one role wanted is not listed, and one already `listed` to resolve names is not
    listed again); a role its session's listing lacks (another session, or gone) is asked
    for alone, which says why."""
    wanted = set(role_ids)
    found: dict[str, Role | None] = {
        r.id: r.as_role() for roles in listed.values() for r in roles if r.id in wanted
    }
    if not whole and wanted:
        per_session: dict[str, set[str]] = {}
        for e in manifest.exports:
            if e.potential_role_id in wanted and e.session_id:
                per_session.setdefault(e.session_id, set()).add(e.potential_role_id)
        # one role is one request either way: a listing pays from two roles of a session on
        for session_id in sorted(s for s, ids in per_session.items() if len(ids) > 1):
            if session_id in listed:
                continue  # its whole listing was read to resolve names: what it has is found
            mine = frozenset(per_session[session_id])
            try:  # read until the page that brings the last of them, not further
                summaries = client.roles(session_id, wanted=mine)
            except ApiError:  # a session the tenant lacks: each role alone says why
                continue
            found.update((r.id, r.as_role()) for r in summaries if r.id in wanted)
    rest = client.live(sorted(wanted - set(found)), reading)
    return Live({**found, **rest.roles}, rest.exports)


def check(inputs: Inputs, where: Where, chosen: Options) -> tuple[Check, Job]:
    """`check`: the plan with every recorded export asked about (no access read, nothing
    started), sorted into drift and changes."""
    manifest = inputs.manifest()
    with connect(where(manifest), manifest) as client:
        job = make_job(client, inputs, manifest, chosen, every_export=True, access=False)
    broken = {b.name for b in job.plan.broken}
    chosen = job.options  # with each sets.NAME's members
    roles = {
        e.name: job.live.roles.get(e.potential_role_id)
        for e in job.manifest.exports
        if (chosen.targets is None or e.name in chosen.targets)
        and e.name not in chosen.excluded
        and e.name not in broken
    }
    return assess(job.plan, roles, frozenset(job.lock.records)), job


def _as_declared(step: Step, manifest: Manifest) -> Step:
    """A saved step with what its export's selector resolved to now (the lockfile pins it)."""
    export = manifest.export(step.name)
    if export is None or export.selector is None:
        return step
    return replace(step, selector=export.selector, resolved=export.resolved)


_READS_ACCESS = (Action.EXPORT, Action.REEXPORT)


def with_access(client: Client, plan: Plan) -> Plan:
    """The plan with each export that will start carrying its role's access, read now (three
    reads per role); an unchanged export, an update or a forget costs nothing more."""
    starting = [(s.session_id, s.role) for s in plan.steps if s.action in _READS_ACCESS and s.role]
    if not starting:
        return plan
    found = client.accesses(starting)
    steps = tuple(
        replace(s, access=found.get(s.role.id)) if s.action in _READS_ACCESS and s.role else s
        for s in plan.steps
    )
    return replace(plan, steps=steps)


def saved_manifest(path: Path, doc: Mapping[str, Any]) -> Manifest:
    """The manifest a saved plan was made from, once its files are here and unchanged."""
    source = planfile.provenance(doc)
    stale = planfile.stale_inputs(source)
    if stale:
        raise PlanFileError(
            f"{path} is stale: {'; '.join(stale)} since it was made; run plan again"
        )
    return load_manifest(Path(source.manifest), exclude=Path(source.lockfile))


def saved_job(client: Client, path: Path, doc: Mapping[str, Any], manifest: Manifest) -> Job:
    """A saved plan to apply, once the manifest and lockfile back each of its actions and the
    tenant's roles and updated exports are still as the plan saw them."""
    source = planfile.provenance(doc)
    lock_path = Path(source.lockfile)
    lock = lockfile.read(lock_path)
    manifest, unresolved = tenantlist.resolve(client, manifest, lock)  # ids as they are now
    acted = {str(a.get("name")) for a in doc["actions"]}
    # what the plan does not act on (left out, or unchanged) may be broken: it is not applied
    unresolved = tuple(b for b in unresolved if b.name in acted)
    if unresolved:
        raise PlanFileError(
            f"{path} is stale: the tenant changed since it was made:\n  "
            + "\n  ".join(str(b).replace("\n", "\n    ") for b in unresolved)
            + "\nrun plan again"
        )
    moved = [  # a name that now finds another role: the tenant changed, not the file
        f"{a['name']}: {e.selector} now finds {e.potential_role_id}, not {a['potential_role_id']}"
        for a in doc["actions"]
        if (e := manifest.export(a["name"])) is not None
        and e.selector is not None
        and e.potential_role_id != str(a["potential_role_id"]).lower()
    ]
    if moved:
        raise PlanFileError(
            f"{path} is stale: the tenant changed since it was made (a session re-run?):\n  "
            + "\n  ".join(moved)
            + "\nrun plan again"
        )
    planfile.check_actions(path, doc, manifest, lock)
    saved = planfile.rebuild(doc, lock)
    updated = [s.record.address for s in saved.steps if s.action is Action.UPDATE and s.record]
    exporting = [s.potential_role_id for s in saved.steps if s.role and s.action in EXPORTING]
    live = client.live(exporting, updated)
    moved = planfile.changed_roles(saved, live.roles) + planfile.moved_exports(saved, live.exports)
    if moved:
        raise PlanFileError(
            f"{path} is stale: the tenant changed since it was made:\n  " + "\n  ".join(moved)
        )
    saved = planfile.with_live(saved, live)
    fresh = with_access(client, saved)  # what is recorded is what the tenant says, not the file
    moved = [
        f"{was.name}: what its role holds changed since the plan was made (or the plan file "
        "was edited)"
        for was, now in zip(saved.steps, fresh.steps, strict=True)
        if was.access != now.access
    ]
    if moved:
        raise PlanFileError(f"{path} is stale:\n  " + "\n  ".join(moved) + "\nrun plan again")
    saved = replace(fresh, steps=tuple(_as_declared(s, manifest) for s in fresh.steps))
    targets = frozenset(source.targets) if source.targets is not None else None
    chosen = Options(
        replace=frozenset(source.replace), targets=targets, excluded=frozenset(source.excluded)
    )
    return Job(manifest, lock_path, lock, saved, chosen)


_STARTS = (Action.EXPORT, Action.REEXPORT, Action.UPDATE)


def apply(
    client: Client, job: Job, ui: Ui, wait: float | None, timing: Timing | None = None
) -> Result:
    """Carry out the plan, then (with `wait`, a timeout in seconds) follow what runs, then fetch
    the archives that are ready."""
    ui.show(job.plan)
    if job.plan.broken:  # a plan with a hole in it is not applied, not even in part
        raise Unplannable(job.plan.broken, started=False)
    if job.plan.changed:
        ui.confirm(job.plan)
    follow = None
    if wait is not None:  # followed from their start: the wait's clock runs from after them
        timing = timing or Timing(timeout=wait)
        follow = Follow(client, job.lock_path, now_text, timing, ui.progress)
    lock, outcomes = apply_plan(
        job.plan, client, job.lock, job.lock_path, now_text, ui.report, job.manifest.folder, follow
    )
    chosen, excluded = job.options.targets, job.options.excluded
    names = sorted(n for n in lock.records if (chosen is None or n in chosen) and n not in excluded)
    wanted = {s.name: s.download for s in job.plan.steps if s.download and s.action in _STARTS}
    return _finish(client, job, lock, outcomes, names, wanted, ui, wait, timing, follow=follow)


def refresh(
    client: Client,
    inputs: Inputs,
    manifest: Manifest,
    lock: Lock,
    targets: frozenset[str] | None,
    ui: Ui,
    wait: float | None,
    timing: Timing | None = None,
) -> Result:
    """Read only the recorded exports still running; record what moved on; start nothing."""
    running = [
        r
        for n, r in sorted(lock.records.items())
        if r.running and (targets is None or n in targets)
    ]
    job = Job(manifest, inputs.lock_path, lock, Plan((), ()), Options(None, frozenset(), targets))
    live = client.live([], [r.address for r in running])
    updates = refresh_plan(lock, live, targets)
    lock, outcomes = apply_plan(updates, client, lock, inputs.lock_path, now_text, ui.report)
    names = [r.name for r in running]
    exports = {e.name: e.download for e in manifest.exports if e.download}
    wanted = {n: exports[n] for n in names if n in exports}
    return _finish(
        client, job, lock, outcomes, names, wanted, ui, wait, timing, running=len(running)
    )


def _finish(
    client: Client,
    job: Job,
    lock: Lock,
    outcomes: list[Outcome],
    names: list[str],
    wanted: dict[str, str],
    ui: Ui,
    wait: float | None,
    timing: Timing | None,
    running: int | None = None,
    follow: Follow | None = None,
) -> Result:
    late: list[str] = []
    if wait is not None:
        timing = timing or Timing(timeout=wait)
        follow = follow or Follow(client, job.lock_path, now_text, timing, ui.progress)
        lock, late = follow.until_done(lock, names)
    stopped = follow.stopped if follow is not None else None
    lock, fetched = download_ready(
        client, lock, job.lock_path, wanted, job.manifest.folder, now_text, ui.report
    )
    return Result(
        lock_path=job.lock_path,
        before=job.lock,
        after=lock,
        outcomes=(*outcomes, *fetched),
        timed_out=tuple(late),
        wait=wait,
        running=running,
        wait_failed=stopped,
    )


@dataclass(frozen=True)
class Result:
    """What a run did, judged from the lockfile before and after it, never from hopes."""

    lock_path: Path
    before: Lock
    after: Lock
    outcomes: tuple[Outcome, ...]
    timed_out: tuple[str, ...] = ()
    wait: float | None = None
    running: int | None = None  # refresh: how many recorded exports it found still running
    wait_failed: str | None = None  # why the wait stopped before its time ran out

    def still_running(self) -> int:
        """How many of the exports running before the run are running still."""
        return sum(
            r.running
            for n, r in self.after.records.items()
            if n in self.before.records and self.before.records[n].running
        )

    def counts(self) -> dict[Action, int]:
        done = {a: 0 for a in Action}
        for outcome in self.outcomes:
            if outcome.ok:
                done[outcome.step.action] += 1
        if self.running is not None:  # refresh: each record that moved on, read or waited for
            done[Action.UPDATE] = sum(
                (r.status, r.gone_at) != (was.status, was.gone_at)
                for n, r in self.after.records.items()
                if (was := self.before.records.get(n)) is not None
            )
        return done

    def failures(self) -> dict[str, str]:
        """Name → what went wrong: a failed step, an export that ended in ERROR or that the
        tenant no longer has (seen in this run), or one still running when the wait ended."""
        found: dict[str, str] = {}
        for outcome in self.outcomes:
            if not outcome.ok:
                verb = outcome.step.action.verb
                found.setdefault(outcome.step.name, f"{verb} failed: {outcome.error}")
        for name, record in sorted(self.after.records.items()):
            if record == self.before.records.get(name) or name in found:
                continue
            if record.gone_at is not None:
                found[name] = (
                    f"the tenant no longer has export {record.export_id} (404); "
                    "the next plan re-exports it"
                )
            elif record.status is Status.ERROR:
                why = record.error or "the tenant gave no reason"
                found[name] = f"export {record.export_id} ended in ERROR: {why}"
        for name in self.timed_out:
            status = self.after.records[name].status.value
            why = (
                f"still {status} when the --timeout ran out"
                if self.wait_failed is None
                else f"still {status} when following stopped, on this failure: {self.wait_failed}"
            )
            found.setdefault(name, f"{why} (`rmsync refresh --wait` follows it)")
        return dict(sorted(found.items()))
