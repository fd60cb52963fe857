"""Apply: carry out a plan's steps against the tenant, recording each result as it lands.

Owns: the order of work, what a record holds after each step, and writing the lockfile
after every recorded result, so an interrupted apply loses nothing: starting exports and
recording them is one critical section, a round of starts (their intents in one write, their
answers in another), that a first Ctrl-C or SIGTERM waits for. A round is ROUND starts, more
(to MAX_ROUND) when writing the lockfile takes over WRITE_SHARE of a round's time: a large
lockfile costs a bounded share of an apply, never the square of its exports. A failed
step leaves its old record as it was (but an unconfirmed start, which is recorded as
STARTING in its place) and the others go on. Must not: compute plans or print.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rmsync import archive, interrupts, lockfile
from rmsync.api import ApiError, Client
from rmsync.downloads import ArchiveError, ArchiveGone, fetch
from rmsync.models import (
    EXPORTING,
    Action,
    ContentChange,
    ExportJob,
    Lock,
    Outcome,
    Plan,
    Progress,
    Record,
    Status,
    Step,
)

Now = Callable[[], str]
_log = logging.getLogger("rmsync.http")  # rmsync.debuglog says where its lines go


def apply_plan(
    plan: Plan,
    client: Client,
    lock: Lock,
    lock_path: Path,
    now: Now,
    report: Callable[[Outcome], None] = lambda _: None,
    folder: Path | None = None,
    follow: Follow | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[Lock, list[Outcome]]:
    """Run every step in order; write the lockfile after each result; report each outcome.
    Downloads are saved relative to `folder` (default: the lockfile's folder). With `follow`,
    the exports it starts are followed from their start, asked about between rounds of
    starts when the rate limit has room to spare."""
    outcomes = []
    base = folder if folder is not None else lock_path.parent
    # the starts go in rounds wherever they stand among the other steps (which the plan
    # sorts by name): each round is the next starts in the plan's order, taken when the
    # first of them comes up
    waiting = deque(s for s in plan.steps if s.action in EXPORTING)
    # what only changes records (a status seen, an export forgotten) is one write in all
    records_only = [s for s in plan.steps if s.action in _RECORDS_ONLY]
    size = ROUND
    for step in plan.steps:
        if step.action in _RECORDS_ONLY:
            if not records_only or records_only[0] is not step:
                continue  # recorded with the first of them
            with interrupts.deferred():
                lock, done = _record_all(records_only, lock, lock_path, now)
            records_only = []
        elif step.action in EXPORTING:
            if not waiting or waiting[0] is not step:
                continue  # started in an earlier round
            starts = [waiting.popleft() for _ in range(min(size, len(waiting)))]
            began = clock()
            with interrupts.firm():  # cut short, it would lose the answers of starts sent
                lock, done, writing = _start_round(starts, client, lock, lock_path, now, clock)
            if writing > WRITE_SHARE * (clock() - began):  # the file outgrows the round
                size = min(2 * size, MAX_ROUND)
            if follow is not None:  # followed from when they started
                follow.watch(
                    [o.step.name for o in done if o.ok and lock.records[o.step.name].running]
                )
        else:
            with interrupts.deferred():
                lock, outcome = _attempt(step, client, lock, lock_path, now, base)
            done = [outcome]
        for outcome in done:
            outcomes.append(outcome)
            report(outcome)
        if step.action in EXPORTING and follow is not None:  # after the round's own lines
            lock = follow.between_starts(lock, min(size, len(waiting)))
    return lock, outcomes


_RECORDS_ONLY = (Action.UPDATE, Action.FORGET)


def _record_all(
    steps: list[Step], lock: Lock, lock_path: Path, now: Now
) -> tuple[Lock, list[Outcome]]:
    """Carry out steps that ask the tenant nothing (a status already read, a forget) and
    record them all in one write: refresh and apply no longer rewrite the lockfile once for
    each of thousands of records."""
    outcomes = []
    for step in steps:
        lock, export_id = _changed(step, lock, now)
        lock = _renamed(lock, step)
        outcomes.append(Outcome(step, export_id=export_id))
    lockfile.write(lock_path, lock)
    return lock, outcomes


ROUND = 25  # starts recorded together: at most this many STARTING records after a crash
MAX_ROUND = 1000  # ... however large the lockfile
WRITE_SHARE = 0.1  # of a round's time, the most its two lockfile writes should take


def _attempt(
    step: Step, client: Client, lock: Lock, lock_path: Path, now: Now, folder: Path
) -> tuple[Lock, Outcome]:
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
    if step.action is Action.DOWNLOAD:
        assert step.record is not None and step.download is not None
        record = _moved(step.record, step.status or step.record.status, None, now)
        return lock.put(fetch(client, record, step.download, folder, now)), record.export_id
    return _changed(step, lock, now)


def _changed(step: Step, lock: Lock, now: Now) -> tuple[Lock, str | None]:
    """The lock after a step that asks the tenant nothing: a forget, or a status seen."""
    if step.action is Action.FORGET:
        return lock.drop(step.name), None
    assert step.action is Action.UPDATE and step.record is not None, step.action
    if step.status is None:
        return lock.put(replace(step.record, gone_at=now())), step.record.export_id
    return lock.put(_moved(step.record, step.status, step.detail, now)), step.record.export_id


def _start_round(
    steps: list[Step],
    client: Client,
    lock: Lock,
    lock_path: Path,
    now: Now,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[Lock, list[Outcome], float]:
    """Start a round of exports: every intent recorded in one write before the first start
    is asked for, every answer in one write after the last. The tenant has no idempotency
    key and cannot list a role's exports, so a start whose answer is lost cannot be looked
    up: a crash in between, or an answer that never came, leaves a STARTING record that the
    next plan names, never an export nobody knows about. Also returns the seconds the two
    writes took."""
    kept = {}  # what each step's records were, to put back if the tenant refuses its start
    intents = []
    for step in steps:
        assert step.role is not None
        kept[step.name] = (lock.get(step.name), lock.get(step.moved_from or ""))
        intent = _intent(step, now)
        lock = lock.drop(step.moved_from) if step.moved_from else lock
        lock = lock.put(intent)
        intents.append((step, intent))
    began = clock()
    lockfile.write(lock_path, lock)
    writing = clock() - began
    came: dict[int, ExportJob | ApiError] = {}
    try:
        answers = client.start_exports(  # on Ctrl-C, what was not sent goes back as it was
            [(step.session_id, step.potential_role_id, step.params) for step in steps],
            stop=interrupts.stopping,
            answered=came.__setitem__,
        )
    except BaseException:  # cut short all the same: every answer that came is still recorded
        for i, (step, intent) in enumerate(intents):
            if i in came:  # one without an answer stays STARTING: the tenant may have it
                lock, _ = _answered(step, intent, came[i], lock, now, kept[step.name])
        lockfile.write(lock_path, lock)
        raise
    outcomes = []
    for (step, intent), answer in zip(intents, answers, strict=True):
        lock, outcome = _answered(step, intent, answer, lock, now, kept[step.name])
        outcomes.append(outcome)
    began = clock()
    lockfile.write(lock_path, lock)
    return lock, outcomes, writing + clock() - began


def _answered(
    step: Step,
    intent: Record,
    answer: ExportJob | ApiError,
    lock: Lock,
    now: Now,
    kept: tuple[Record | None, Record | None],
) -> tuple[Lock, Outcome]:
    """The lock with the tenant's answer to the start whose intent is recorded."""
    if isinstance(answer, ApiError):
        exc = answer
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
        export_id=answer.export_id,
        status=answer.status,
        finished_at=intent.started_at if answer.status.final else None,
    )
    return lock.put(_moved(record, answer.status, answer.detail, now)), Outcome(
        step, export_id=answer.export_id
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
    """Poll the named exports until each ends, the tenant forgets it, or the timeout runs out
    (`Follow.until_done`). Returns the lock and the names still running when time ran out."""
    return Follow(client, lock_path, now, timing, report).until_done(lock, names)


MIN_DELAY = 0.25  # seconds between two polls of one export, at the least


class Follow:
    """When to ask the tenant about each running export: its own backoff, from `first_delay`
    after it started (or was first watched), doubling to `max_delay` while it runs. One
    slow export never holds the others back, nor do they make it asked about more often.

    `poll` asks about the given exports side by side, records every change in one lockfile
    write, and reports each; `between_starts` lets apply ask about the due ones while it is
    still starting others, as many as go at once and only with the rate limit's room to
    spare: a round waits for them one answer's time at most."""

    def __init__(
        self,
        client: Client,
        lock_path: Path,
        now: Now,
        timing: Timing,
        report: Callable[[Progress], None] = lambda _: None,
    ) -> None:
        self._client, self._lock_path, self._now = client, lock_path, now
        self._timing, self._report = timing, report
        self._due: dict[str, tuple[float, float]] = {}  # name -> (when, delay)
        self._watched: list[str] = []
        self.stopped: str | None = None  # why following stopped before the time ran out

    def until_done(self, lock: Lock, names: list[str]) -> tuple[Lock, list[str]]:
        """Poll the named exports, each when it is due, until each ends, the tenant forgets
        it, or the timeout (from now) runs out; at the deadline, one last look at those still
        running. Record every change as it is seen. Returns the lock and the names still
        running when time ran out, or when asking failed (`stopped` says why)."""
        timing = self._timing
        deadline = timing.clock() + timing.timeout
        watched = [n for n in names if n in lock.records and lock.records[n].running]
        self.watch(watched)
        while True:
            running = [n for n in watched if lock.records[n].running]
            if not running:
                return lock, []
            at = timing.clock()
            due = self.next_due(running)
            if at < deadline and due > at:  # nothing to ask yet: sleep until the first is due
                timing.sleep(min(due, deadline) - at)
                at = max(timing.clock(), min(due, deadline))  # as far as it slept, at least
            last = at >= deadline  # the time ran out: a last look at every one still running
            try:
                lock = self.poll(lock, running if last else self.due(running, at))
            except ApiError as exc:  # what was seen is recorded; the rest is for `refresh`
                self.stopped = str(exc)
                last = True
            if last:
                return lock, [n for n in running if lock.records[n].running]

    def watch(self, names: list[str]) -> None:
        """Follow `names` too (those already followed keep their turn)."""
        at = self._timing.clock()
        for name in names:
            if name not in self._due:
                self._due[name] = (at + self._timing.first_delay, self._timing.first_delay)
                self._watched.append(name)

    def next_due(self, names: list[str]) -> float:
        return min(self._due[n][0] for n in names)

    def due(self, names: list[str], at: float) -> list[str]:
        return [n for n in names if self._due[n][0] <= at]

    def between_starts(self, lock: Lock, room_for_starts: int) -> Lock:
        """Ask about the running exports that are due, the longest due first, as many as go
        out side by side at once (a round's starts wait for one answer's time, at most), if
        the rate limit has room for them and for the next `room_for_starts` starts; else
        leave them for later."""
        running = [n for n in self._watched if n in lock.records and lock.records[n].running]
        due = self.due(running, self._timing.clock()) if running else []
        due = sorted(due, key=lambda n: self._due[n][0])[: self._client.workers]
        if not due or self._client.headroom() < len(due) + room_for_starts:
            return lock
        try:
            return self.poll(lock, due)
        except ApiError as exc:  # only a look ahead: the wait after the starts asks again
            _log.debug(f"asking about exports between rounds of starts failed: {exc}")
            return lock

    def poll(self, lock: Lock, names: list[str]) -> Lock:
        """Ask about `names` (running exports); record and report what moved on."""
        if not names:
            return lock
        running = [lock.records[n] for n in names]
        jobs = self._client.live([], [r.address for r in running])
        at = self._timing.clock()
        moved = []
        for record in running:
            when, delay = self._due[record.name]
            delay = min(max(delay * 2, MIN_DELAY), self._timing.max_delay)
            self._due[record.name] = (max(at, when) + delay, delay)  # always later than before
            job = jobs.exports.get(record.address[2])
            if job is not None and job.status is record.status:
                continue
            new = (
                replace(record, gone_at=self._now())
                if job is None
                else _moved(record, job.status, job.detail, self._now)
            )
            moved.append((record, new))
        if not moved:
            return lock
        with interrupts.deferred():  # one write a round: every change of the round at once
            records = dict(lock.records)
            records.update((new.name, new) for _, new in moved)
            lock = Lock(records)
            lockfile.write(self._lock_path, lock)
        still = sum(lock.records[n].running for n in self._watched if n in lock.records)
        for before, after in moved:
            new_status = None if after.gone_at and not before.gone_at else after.status
            self._report(
                Progress(
                    name=before.name,
                    old=before.status,
                    new=new_status,
                    running=still,
                    total=len(self._watched),
                )
            )
        return lock
