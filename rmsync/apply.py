"""Apply: carry out a plan's steps against the tenant, recording each result as it lands.

Owns: the order of work, what a record holds after each step, and writing the lockfile
after every recorded result, so an interrupted apply loses nothing. A failed step leaves
its old record as it was and the others go on. Must not: compute plans or print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rmsync import lockfile
from rmsync.api import ApiError, Client
from rmsync.lockfile import Lock, Record
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
) -> tuple[Lock, list[Outcome]]:
    """Run every step in order; write the lockfile after each success; report each outcome."""
    outcomes = []
    for step in plan.steps:
        try:
            lock, export_id = _run(step, client, lock, now)
        except ApiError as exc:
            outcome = Outcome(step, str(exc), exc.tracking_id)
        else:
            lockfile.write(lock_path, lock)
            outcome = Outcome(step, export_id=export_id)
        outcomes.append(outcome)
        report(outcome)
    return lock, outcomes


def _run(step: Step, client: Client, lock: Lock, now: Callable[[], str]) -> tuple[Lock, str | None]:
    if step.action is Action.FORGET:
        return lock.drop(step.name), None
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
