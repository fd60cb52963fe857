"""Apply: carry out a plan's steps against the tenant, recording each result as it lands.

Owns: the order of work, what a record holds after each step, and writing the lockfile
after every recorded result, so an interrupted apply loses nothing: starting exports and
recording them is one critical section, a round of up to ROUND starts (their intents in one
write, their answers in another), that a first Ctrl-C or SIGTERM waits for. A failed
step leaves its old record as it was (but an unconfirmed start, which is recorded as
STARTING in its place) and the others go on. Must not: compute plans or print.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rmsync import archive, interrupts, lockfile
from rmsync.api import ApiError, Client
from rmsync.downloads import ArchiveError, ArchiveGone, fetch
from rmsync.models import (
    Action,
    ContentChange,
    Lock,
    Outcome,
    Plan,
    Progress,
    Record,
    Status,
    Step,
)

Now = Callable[[], str]


def apply_plan(
    plan: Plan,
    client: Client,
    lock: Lock,
    lock_path: Path,
    now: Now,
    report: Callable[[Outcome], None] = lambda _: None,
    folder: Path | None = None,
) -> tuple[Lock, list[Outcome]]:
    """Run every step in order; write the lockfile after each result; report each outcome.
    Downloads are saved relative to `folder` (default: the lockfile's folder)."""
    outcomes = []
    base = folder if folder is not None else lock_path.parent
    steps = list(plan.steps)
    while steps:
        starts = _starts(steps)
        if starts:  # a round of starts: two lockfile writes for all of them, not two each
            del steps[: len(starts)]
            with interrupts.deferred():
                lock, done = _start_round(starts, client, lock, lock_path, now)
        else:
            step = steps.pop(0)
            with interrupts.deferred():
                lock, outcome = _attempt(step, client, lock, lock_path, now, base)
            done = [outcome]
        for outcome in done:
            outcomes.append(outcome)
            report(outcome)
    return lock, outcomes


ROUND = 25  # starts recorded together: at most this many STARTING records after a crash


def _starts(steps: list[Step]) -> list[Step]:
    """The starts at the head of `steps`, ROUND at most."""
    found = []
    for step in steps[:ROUND]:
        if step.action not in (Action.EXPORT, Action.REEXPORT):
            break
        found.append(step)
    return found


def _attempt(
    step: Step, client: Client, lock: Lock, lock_path: Path, now: Now, folder: Path
) -> tuple[Lock, Outcome]:
    if step.action in (Action.EXPORT, Action.REEXPORT):
        return _start(step, client, lock, lock_path, now)
    replacing = step.action is Action.DOWNLOAD and _archive_there(folder, step.download)
    try:
        new, export_id = _run(step, client, lock, now, folder)
    except ArchiveGone as gone:
        lock = _renamed(lock.put(gone.record), step)
        lockfile.write(lock_path, lock)
        return lock, Outcome(step, str(gone), export_id=gone.record.export_id)
    except (ApiError, ArchiveError) as exc:
        return lock, Outcome(step, str(exc), getattr(exc, "tracking_id", None))
    new = _renamed(new, step)
    lockfile.write(lock_path, new)
    saved = new.records[step.name].download if step.name in new.records else None
    if step.action is not Action.DOWNLOAD or saved is None:
        return new, Outcome(step, export_id=export_id)
    change = _change(folder / saved.path) if replacing else None
    return new, Outcome(step, export_id=export_id, content=saved.content, change=change)


def _renamed(lock: Lock, step: Step) -> Lock:
    """The lock with a renamed export's record (written under its old name) under its new."""
    old = step.moved_from
    if old is None or old not in lock.records:
        return lock
    # what the new name's selector found (a set's member that became an export of its own
    # is no longer the set's): the record must not keep claiming the old name's
    return lock.drop(old).put(replace(lock.records[old], name=step.name, resolved=step.resolved))


def _archive_there(folder: Path, relative: str | None) -> bool:
    return relative is not None and (folder / relative).is_file()


def _change(path: Path) -> ContentChange | None:
    """How the archive at `path` differs from the one it replaced (kept beside it), in counts;
    None if either cannot be read (`rmsync diff` says why)."""
    try:
        changes = archive.compare(archive.read(archive.previous_path(path)), archive.read(path))
    except (archive.ArchiveUnreadable, OSError):
        return None
    return ContentChange(
        identities_in=len(changes.identities_in),
        identities_out=len(changes.identities_out),
        entitlements_in=len(changes.entitlements_in),
        entitlements_out=len(changes.entitlements_out),
        holders_moved=len(changes.holders_moved),
    )


def _run(step: Step, client: Client, lock: Lock, now: Now, folder: Path) -> tuple[Lock, str | None]:
    if step.action is Action.FORGET:
        return lock.drop(step.name), None
    if step.action is Action.DOWNLOAD:
        assert step.record is not None and step.download is not None
        record = _moved(step.record, step.status or step.record.status, None, now)
        return lock.put(fetch(client, record, step.download, folder, now)), record.export_id
    if step.action is Action.UPDATE:
        assert step.record is not None
        if step.status is None:
            return lock.put(replace(step.record, gone_at=now())), step.record.export_id
        return lock.put(_moved(step.record, step.status, step.detail, now)), step.record.export_id
    raise AssertionError(f"{step.action} is carried out by _start")  # pragma: no cover


def _start(
    step: Step, client: Client, lock: Lock, lock_path: Path, now: Now
) -> tuple[Lock, Outcome]:
    """Record the intent, ask the tenant, record its answer. The tenant has no idempotency key
    and cannot list a role's exports, so a start whose answer is lost cannot be looked up:
    a run killed in between, or an answer that never came, leaves a STARTING record that
    the next plan names, never an export nobody knows about."""
    lock, (outcome,) = _start_round([step], client, lock, lock_path, now)
    return lock, outcome


def _start_round(
    steps: list[Step], client: Client, lock: Lock, lock_path: Path, now: Now
) -> tuple[Lock, list[Outcome]]:
    """`_start` for a round of steps: every intent recorded in one write before the first
    start is asked for, every answer in one write after the last. A crash in between leaves
    the round's records STARTING, each named by the next plan; nothing started goes
    unrecorded."""
    kept = {}  # what each step's records were, to put back if the tenant refuses its start
    intents = []
    for step in steps:
        assert step.role is not None
        kept[step.name] = (lock.get(step.name), lock.get(step.moved_from or ""))
        intent = _intent(step, now)
        lock = lock.drop(step.moved_from) if step.moved_from else lock
        lock = lock.put(intent)
        intents.append((step, intent))
    lockfile.write(lock_path, lock)
    outcomes = []
    for step, intent in intents:
        lock, outcome = _answered(step, intent, client, lock, now, kept[step.name])
        outcomes.append(outcome)
    lockfile.write(lock_path, lock)
    return lock, outcomes


def _answered(
    step: Step,
    intent: Record,
    client: Client,
    lock: Lock,
    now: Now,
    kept: tuple[Record | None, Record | None],
) -> tuple[Lock, Outcome]:
    """Ask the tenant to start the export whose intent is recorded; the lock with its answer."""
    try:
        job = client.start_export(step.session_id, step.potential_role_id, step.params)
    except ApiError as exc:
        if _refused(exc):  # the tenant did not start it: the records go back as they were
            own, moved = kept
            lock = lock.put(own) if own is not None else lock.drop(step.name)
            lock = lock.put(moved) if moved is not None and step.moved_from else lock
            return lock, Outcome(step, str(exc), exc.tracking_id)
        lock = lock.put(replace(intent, error=f"the start was not confirmed: {exc}"))
        maybe = (
            f"{exc}; the tenant may have started the export all the same: recorded as STARTING, "
            "and the next plan says so"
        )
        return lock, Outcome(step, maybe, exc.tracking_id)
    record = replace(
        intent,
        export_id=job.export_id,
        status=job.status,
        finished_at=intent.started_at if job.status.final else None,
    )
    return lock.put(_moved(record, job.status, job.detail, now)), Outcome(
        step, export_id=job.export_id
    )


def _intent(step: Step, now: Now) -> Record:
    assert step.role is not None
    return Record(
        name=step.name,
        request=step.request,
        export_id=None,
        status=Status.STARTING,
        started_at=now(),
        finished_at=None,
        role=step.role.fingerprint,
        access=step.access,
        resolved=step.resolved,
    )


def _refused(exc: ApiError) -> bool:
    """The request never left (no token, no connection), or the tenant answered that it did
    not act (4xx). A 5xx, a dropped connection or an unreadable answer leaves that open."""
    return not exc.sent or (exc.status is not None and 400 <= exc.status < 500)


def _moved(record: Record, status: Status, detail: str | None, now: Now) -> Record:
    """`record` at `status`; an ERROR keeps the tenant's reason, if it gave one."""
    moved = record.with_status(status, now())
    return replace(moved, error=detail or record.error) if status is Status.ERROR else moved


def download_ready(
    client: Client,
    lock: Lock,
    lock_path: Path,
    wanted: dict[str, str],
    folder: Path,
    now: Now,
    report: Callable[[Outcome], None] = lambda _: None,
) -> tuple[Lock, list[Outcome]]:
    """Save the archive of each wanted export that has succeeded and is not saved yet."""
    outcomes = []
    for name, relative in sorted(wanted.items()):
        record = lock.records.get(name)
        if record is None or record.status is not Status.SUCCESS or record.gone_at:
            continue
        if record.download is not None and record.download.path == relative:
            continue
        step = _download_step(record, relative)
        with interrupts.deferred():
            lock, outcome = _attempt(step, client, lock, lock_path, now, folder)
        outcomes.append(outcome)
        report(outcome)
    return lock, outcomes


def _download_step(record: Record, relative: str) -> Step:
    return Step(
        action=Action.DOWNLOAD,
        name=record.name,
        reasons=("the export succeeded",),
        request=record.request,
        record=record,
        status=record.status,
        download=relative,
    )


@dataclass(frozen=True)
class Timing:
    """How long to wait and how: injectable so tests need not sleep."""

    timeout: float = 1800.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    first_delay: float = 1.0
    max_delay: float = 15.0


def wait_for(
    client: Client,
    lock: Lock,
    lock_path: Path,
    names: list[str],
    now: Now,
    timing: Timing,
    report: Callable[[Progress], None] = lambda _: None,
) -> tuple[Lock, list[str]]:
    """Poll the named exports (backing off) until each ends, the tenant forgets it, or the
    timeout runs out; record every change as it is seen. Returns the lock and the names still
    running when time ran out."""
    deadline = timing.clock() + timing.timeout
    delay = timing.first_delay
    watched = [n for n in names if n in lock.records and lock.records[n].running]
    while True:
        running = [lock.records[n] for n in watched if lock.records[n].running]
        left = deadline - timing.clock()
        if not running or left <= 0:
            return lock, [r.name for r in running]
        timing.sleep(min(delay, left))
        delay = min(delay * 2, timing.max_delay)
        jobs = client.live([], [r.address for r in running])
        moved = []
        for record in running:
            job = jobs.exports.get(record.address[2])
            if job is not None and job.status is record.status:
                continue
            new = (
                replace(record, gone_at=now())
                if job is None
                else _moved(record, job.status, job.detail, now)
            )
            moved.append((record, new))
        if not moved:
            continue
        with interrupts.deferred():  # one write a round: every change of the round at once
            records = dict(lock.records)
            records.update((new.name, new) for _, new in moved)
            lock = Lock(records)
            lockfile.write(lock_path, lock)
        still = sum(lock.records[n].running for n in watched)
        for before, after in moved:
            new_status = None if after.gone_at and not before.gone_at else after.status
            report(
                Progress(
                    name=before.name,
                    old=before.status,
                    new=new_status,
                    running=still,
                    total=len(watched),
                )
            )
