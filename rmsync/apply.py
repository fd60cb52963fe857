"""Apply: carry out a plan's steps against the tenant, recording each result as it lands.

Owns: the order of work, what a record holds after each step, and writing the lockfile
after every recorded result, so an interrupted apply loses nothing. A failed step leaves
its old record as it was and the others go on. Must not: compute plans or print.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rmsync import lockfile
from rmsync.api import ApiError, Client
from rmsync.errors import RmsyncError
from rmsync.lockfile import Download, Lock, Record, Status
from rmsync.plan import Action, Plan, Step


@dataclass(frozen=True)
class Outcome:
    """What happened to one step."""

    step: Step
    error: str | None = None
    tracking_id: str | None = None
    export_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def apply_plan(
    plan: Plan,
    client: Client,
    lock: Lock,
    lock_path: Path,
    now: Callable[[], str],
    report: Callable[[Outcome], None] = lambda _: None,
    folder: Path | None = None,
) -> tuple[Lock, list[Outcome]]:
    """Run every step in order; write the lockfile after each success; report each outcome.
    Downloads are saved relative to `folder` (default: the lockfile's folder)."""
    outcomes = []
    base = folder if folder is not None else lock_path.parent
    for step in plan.steps:
        try:
            lock, export_id = _run(step, client, lock, now, base)
        except ApiError as exc:
            outcome = Outcome(step, str(exc), exc.tracking_id)
        else:
            lockfile.write(lock_path, lock)
            outcome = Outcome(step, export_id=export_id)
        outcomes.append(outcome)
        report(outcome)
    return lock, outcomes


def _run(
    step: Step, client: Client, lock: Lock, now: Callable[[], str], folder: Path
) -> tuple[Lock, str | None]:
    if step.action is Action.FORGET:
        return lock.drop(step.name), None
    if step.action is Action.DOWNLOAD:
        assert step.record is not None and step.status is not None and step.download is not None
        record = step.record.with_status(step.status, now())
        return lock.put(fetch(client, record, step.download, folder)), record.export_id
    if step.action is Action.UPDATE:
        assert step.record is not None and step.status is not None
        return lock.put(step.record.with_status(step.status, now())), step.record.export_id
    assert step.role is not None
    job = client.start_export(step.session_id, step.potential_role_id, step.params)
    started = now()
    record = Record(
        step.name,
        step.session_id,
        step.potential_role_id,
        step.params,
        job.export_id,
        job.status,
        started,
        started if job.status.final else None,
        step.role.fingerprint,
    )
    return lock.put(record), job.export_id


def fetch(client: Client, record: Record, relative: str, folder: Path) -> Record:
    """Stream the archive to a temporary file beside its place, check it is a zip, move it in."""
    dest = folder / relative
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise RmsyncError(f"{dest}: cannot write the archive: {exc.strerror}") from None
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as handle:

            def sink(chunk: bytes) -> None:
                nonlocal size
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)

            client.download(record.session_id, record.potential_role_id, record.export_id, sink)
            handle.flush()
            os.fsync(handle.fileno())
        _check_zip(Path(tmp), record)
        Path(tmp).replace(dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return replace(record, download=Download(relative, digest.hexdigest(), size))


def _check_zip(path: Path, record: Record) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError):
        broken = "(not a zip archive)"
    if broken is not None:
        raise ApiError(
            f"{record.name}: the archive of export {record.export_id} is damaged: {broken}"
        )


def download_ready(
    client: Client,
    lock: Lock,
    lock_path: Path,
    wanted: dict[str, str],
    folder: Path,
    report: Callable[[Outcome], None] = lambda _: None,
) -> tuple[Lock, list[str]]:
    """Save the archive of each wanted export that has succeeded and is not saved yet."""
    failed = []
    for name, relative in sorted(wanted.items()):
        record = lock.records.get(name)
        if record is None or record.status is not Status.SUCCESS:
            continue
        if record.download is not None and record.download.path == relative:
            continue
        try:
            lock = lock.put(fetch(client, record, relative, folder))
        except (ApiError, RmsyncError) as exc:
            failed.append(f"{name}: {exc}")
            continue
        lockfile.write(lock_path, lock)
        report(Outcome(_download_step(record, relative), export_id=record.export_id))
    return lock, failed


def _download_step(record: Record, relative: str) -> Step:
    return Step(
        Action.DOWNLOAD,
        record.name,
        ("the export succeeded",),
        (),
        record.session_id,
        record.potential_role_id,
        record.params,
        None,
        record,
        record.status,
        relative,
    )


def hash_files(folder: Path, relatives: list[str]) -> dict[str, str | None]:
    """The sha256 of each file under `folder`, or None where there is none."""
    found: dict[str, str | None] = {}
    for relative in relatives:
        try:
            with (folder / relative).open("rb") as handle:
                found[relative] = hashlib.file_digest(handle, "sha256").hexdigest()
        except FileNotFoundError:
            found[relative] = None
    return found


class WaitTimeout(RmsyncError):
    """Exports were still running when --timeout ran out; their last states are recorded."""


@dataclass(frozen=True)
class Progress:
    """One export's state change while waiting, and how many are still running."""

    name: str
    old: Status
    new: Status
    running: int
    total: int


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
    now: Callable[[], str],
    timing: Timing,
    report: Callable[[Progress], None] = lambda _: None,
) -> Lock:
    """Poll the named exports (backing off) until each ends; record every change as it is seen."""
    deadline = timing.clock() + timing.timeout
    delay = timing.first_delay
    watched = [n for n in names if n in lock.records and not lock.records[n].status.final]
    while True:
        running = [lock.records[n] for n in watched if not lock.records[n].status.final]
        if not running:
            return lock
        left = deadline - timing.clock()
        if left <= 0:
            listing = ", ".join(f"{r.name} ({r.status.value})" for r in running)
            raise WaitTimeout(
                f"timed out waiting for {len(running)} exports: {listing}; "
                "their states are recorded"
            )
        timing.sleep(min(delay, left))
        delay = min(delay * 2, timing.max_delay)
        jobs = client.live(
            [], [(r.session_id, r.potential_role_id, r.export_id) for r in running]
        ).exports
        for record in running:
            job = jobs.get(record.export_id)
            if job is None:
                raise ApiError(
                    f"{record.name}: the tenant no longer knows export {record.export_id}"
                )
            if job.status is not record.status:
                lock = lock.put(record.with_status(job.status, now()))
                lockfile.write(lock_path, lock)
                still = sum(not lock.records[n].status.final for n in watched)
                report(Progress(record.name, record.status, job.status, still, len(watched)))
