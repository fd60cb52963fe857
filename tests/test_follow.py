"""The allowed rate, fully used (issue 13): a round's starts go side by side, exports are
followed each on its own backoff, and asked about between rounds of starts only with the
rate limit's room to spare. Real sandbox, real HTTP; only the clock is faked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from rmsync import apply, lockfile
from rmsync.api import Client
from rmsync.apply import Follow, Timing, apply_plan, wait_for
from rmsync.manifest import load_manifest
from rmsync.models import (
    Action,
    Credentials,
    Limit,
    Lock,
    Manifest,
    Outcome,
    Plan,
    Progress,
    Status,
)
from rmsync.plan import make_plan
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from rmsync.sandbox.generate import generate_seed
from rmsync.sandbox.seed import load_seed
from tests.conftest import FakeClock

CREDS = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
NOW = "2026-11-23T12:00:00Z"


def now() -> str:
    return NOW


def tenant(
    make_sandbox: Callable[..., Sandbox],
    folder: Path,
    roles: int,
    schedule: Schedule,
    **more: object,
) -> tuple[Sandbox, Manifest, Plan]:
    """A sandbox with `roles` roles in one session (no rate limit of its own), a manifest
    naming each of them, and the plan that starts them all."""
    doc = generate_seed(roles=roles, sessions=1, identities=20, seed=7)
    (folder / "seed.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    sandbox = make_sandbox(
        seed=load_seed(folder / "seed.yaml"), rate_limit=None, schedule=schedule, **more
    )
    lines = ["version: 1", "exports:"]
    for session in doc["sessions"]:
        for n, role in enumerate(session["potential_roles"]):
            lines += [
                f"  r{n:03}:",
                f"    session_id: {session['id']}",
                f"    potential_role_id: {role['id']}",
            ]
    (folder / "rmsync.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = load_manifest(folder / "rmsync.yaml")
    return sandbox, manifest, planned(sandbox.base_url, manifest)


def planned(base_url: str, manifest: Manifest, lock: Lock | None = None) -> Plan:
    lock = lock or Lock()
    pending = [r.address for r in lock.records.values() if r.running]
    with Client(base_url, CREDS, manifest.api_version, limit=None) as reader:
        live = reader.live([e.potential_role_id for e in manifest.exports], pending)
    return make_plan(manifest, lock, live)


def test_exports_started_earlier_are_followed_while_later_ones_start(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, tmp_path: Path
) -> None:
    # every export is QUEUED 20 s, then IN_PROGRESS 10 s; each start's report takes the clock
    # on by 1 s, as slow starts would: the first round ends while the third is still to start
    schedule = Schedule(queued=20, running=10)
    sandbox, manifest, plan = tenant(make_sandbox, tmp_path, 60, schedule)
    lock_path, events, totals = tmp_path / "rmsync.lock.yaml", [], []

    def started(outcome: Outcome) -> None:
        assert outcome.ok, outcome.error
        events.append(f"start {outcome.step.name}")
        clock.advance(1)

    def moved(progress: Progress) -> None:
        events.append(f"{progress.new.value if progress.new else 'gone'} {progress.name}")
        totals.append((progress.total, sum(e.startswith("start") for e in events)))

    timing = Timing(timeout=600, clock=clock, sleep=clock.advance, first_delay=1)
    with Client(  # every due poll at once between rounds: 50 side by side
        sandbox.base_url, CREDS, manifest.api_version, clock=clock, limit=None, workers=50
    ) as client:
        follow = Follow(client, lock_path, now, timing, moved)
        lock, _ = apply_plan(
            plan, client, Lock(), lock_path, now, started, follow=follow, clock=clock
        )
        assert "SUCCESS r000" in events  # seen ending before the last round was reported
        lock, late = follow.until_done(lock, sorted(lock.records))
    assert late == []
    assert {r.status for r in lock.records.values()} == {Status.SUCCESS}
    assert lockfile.read(lock_path) == lock
    first_round = [f"SUCCESS r{n:03}" for n in range(25)]
    third_round = [f"start r{n:03}" for n in range(50, 60)]
    assert max(map(events.index, first_round)) < min(map(events.index, third_round))
    # what a round's polls saw is said after the round's own lines: a progress line never
    # counts an export whose start was not said yet
    assert all(total <= said for total, said in totals), totals
    # each export is asked about on its own backoff, from its own start: the second round
    # (started at 25 s: IN_PROGRESS from 45 s, done at 55 s) is seen at 50 s and at 60 s
    second = [line for line in events if line.endswith("r030")]
    assert second == ["start r030", "IN_PROGRESS r030", "SUCCESS r030"]


def test_polls_wait_while_the_rate_limit_is_busy_with_starts(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, tmp_path: Path
) -> None:
    # every export is QUEUED for a second, and due to be asked about at once
    sandbox, manifest, plan = tenant(make_sandbox, tmp_path, 60, Schedule(queued=1, running=0))
    lock_path, events = tmp_path / "rmsync.lock.yaml", []
    timing = Timing(timeout=600, clock=clock, sleep=clock.advance, first_delay=0)
    # room for the token and the 60 starts, and a little more: never for a round's polls too
    limit = Limit(70, 60)
    with Client(  # 25 side by side: the limit, not the workers, keeps the polls back
        sandbox.base_url,
        CREDS,
        manifest.api_version,
        clock=clock,
        sleep=clock.advance,
        limit=limit,
        workers=25,
    ) as client:
        follow = Follow(client, lock_path, now, timing, lambda p: events.append(f"moved {p.name}"))
        lock, outcomes = apply_plan(
            plan,
            client,
            Lock(),
            lock_path,
            now,
            lambda o: events.append(f"start {o.step.name}"),
            follow=follow,
            clock=clock,
        )
        assert all(o.ok for o in outcomes)
        assert {r.status for r in lock.records.values()} == {Status.QUEUED}
        assert client.requests == 61  # the token and the starts: not one poll among them
        lock, late = follow.until_done(lock, sorted(lock.records))
    assert late == [] and {r.status for r in lock.records.values()} == {Status.SUCCESS}


def test_a_rounds_starts_are_sent_side_by_side(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    # each start's answer is held until all four starts have arrived: sent one after
    # another, the first would be held until the gate gives up
    arrived, gave_up, gate = [0], [0], threading.Event()
    guard = threading.Lock()

    def hold(line: str) -> None:
        if line.startswith("POST") and "export-async" in line:
            with guard:
                arrived[0] += 1
                if arrived[0] >= 4:
                    gate.set()
            if not gate.wait(30):
                gave_up[0] += 1

    sandbox, manifest, plan = tenant(
        make_sandbox, tmp_path, 4, Schedule(0, 0, 0), clock=time.time, log=hold
    )
    with Client(sandbox.base_url, CREDS, manifest.api_version, limit=None) as client:
        lock, outcomes = apply_plan(plan, client, Lock(), tmp_path / "rmsync.lock.yaml", now)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert arrived == [4] and gave_up == [0]
    assert len(lock.records) == 4


def test_a_poll_between_rounds_that_fails_stops_nothing(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, tmp_path: Path
) -> None:
    # the tenant answers every status read with 503: a look ahead between rounds, not a step
    failing = {"faults": [{"path": "**/export-async/*", "method": "GET", "status": 503}]}
    sandbox, manifest, plan = tenant(
        make_sandbox, tmp_path, 60, Schedule(queued=1, running=0), faults=failing
    )
    lock_path = tmp_path / "rmsync.lock.yaml"
    timing = Timing(timeout=600, clock=clock, sleep=clock.advance, first_delay=0)
    with Client(
        sandbox.base_url, CREDS, manifest.api_version, clock=clock, sleep=clock.advance, limit=None
    ) as client:
        follow = Follow(client, lock_path, now, timing)
        lock, outcomes = apply_plan(
            plan, client, Lock(), lock_path, now, follow=follow, clock=clock
        )
    assert len(outcomes) == 60 and all(o.ok for o in outcomes)
    assert lockfile.read(lock_path) == lock and len(lock.records) == 60


def test_the_wait_takes_a_last_look_when_its_time_runs_out(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, tmp_path: Path
) -> None:
    # done at 4 s; asked about at 1 s and 3 s, next due at 7 s: after the 5 s timeout
    sandbox, manifest, plan = tenant(make_sandbox, tmp_path, 1, Schedule(queued=1, running=3))
    lock_path, slept = tmp_path / "rmsync.lock.yaml", []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    timing = Timing(timeout=5, clock=clock, sleep=sleep, first_delay=1)
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock, limit=None) as client:
        lock, _ = apply_plan(plan, client, Lock(), lock_path, now)
        lock, late = wait_for(client, lock, lock_path, sorted(lock.records), now, timing)
    assert slept == [1, 2, 2]  # the last sleep ends at the deadline, and a last look follows
    assert late == [] and {r.status for r in lock.records.values()} == {Status.SUCCESS}


def test_a_wait_ends_even_when_its_clock_stands_still(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, tmp_path: Path
) -> None:
    # a sleep that moves no clock: each export's next turn is still later than its last,
    # so the turns pass the deadline and the wait ends, with a bounded number of polls
    log: list[str] = []
    sandbox, manifest, plan = tenant(
        make_sandbox, tmp_path, 2, Schedule(queued=1, running=3600), log=log.append
    )
    lock_path = tmp_path / "rmsync.lock.yaml"
    for first in (0.0, 1.0):
        timing = Timing(timeout=30, clock=clock, sleep=lambda _: None, first_delay=first)
        with Client(
            sandbox.base_url, CREDS, manifest.api_version, clock=clock, limit=None
        ) as client:
            lock, _ = apply_plan(plan, client, Lock(), lock_path, now)
            log.clear()
            lock, late = wait_for(client, lock, lock_path, sorted(lock.records), now, timing)
        assert late == sorted(lock.records)
        polls = sum(line.startswith("GET") and "/export-async/" in line for line in log)
        assert 2 <= polls <= 2 * 10, polls


def test_rounds_grow_while_writing_the_lockfile_would_take_over_their_time(
    make_sandbox: Callable[..., Sandbox],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a slow disk: each lockfile write takes a second, the starts no time at all; a round
    # doubles while its writes take over a tenth of it, to MAX_ROUND
    sandbox, manifest, plan = tenant(make_sandbox, tmp_path, 200, Schedule(0, 0, 0))
    lock_path, rounds = tmp_path / "rmsync.lock.yaml", []
    write = lockfile.write

    def slow(path: Path, lock: Lock) -> None:
        starting = sum(r.status is Status.STARTING for r in lock.records.values())
        if starting:
            rounds.append(starting)  # an intent write: the round's size
        write(path, lock)
        clock.advance(1)

    monkeypatch.setattr(lockfile, "write", slow)
    monkeypatch.setattr(apply, "MAX_ROUND", 60)
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock, limit=None) as client:
        lock, outcomes = apply_plan(plan, client, Lock(), lock_path, now, clock=clock)
    assert rounds == [25, 50, 60, 60, 5] and all(o.ok for o in outcomes)
    assert lockfile.read(lock_path) == lock and len(lock.records) == 200
    rounds.clear()  # writes that take no time: rounds stay as they start

    def quick(path: Path, lock: Lock) -> None:
        slow(path, lock)
        clock.advance(-1)

    monkeypatch.setattr(lockfile, "write", quick)
    (tmp_path / "rmsync.lock.yaml").unlink()
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock, limit=None) as client:
        apply_plan(plan, client, Lock(), lock_path, now, clock=clock)
    assert rounds == [25] * 8


def test_starts_go_in_rounds_wherever_they_stand_among_other_steps(
    make_sandbox: Callable[..., Sandbox],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every other export was started by an earlier apply and has ended since: the plan,
    # sorted by name, alternates an update and a start, thirty times
    sandbox, manifest, plan = tenant(make_sandbox, tmp_path, 60, Schedule(queued=1, running=0))
    lock_path = tmp_path / "rmsync.lock.yaml"
    earlier = replace(plan, steps=plan.steps[::2])
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock, limit=None) as client:
        lock, _ = apply_plan(earlier, client, Lock(), lock_path, now, clock=clock)
        clock.advance(2)
        mixed = planned(sandbox.base_url, manifest, lock)
        assert [s.action for s in mixed.steps[:4]] == [Action.UPDATE, Action.EXPORT] * 2
        intents: list[int] = []
        writes = []
        write = lockfile.write

        def counted(path: Path, lock: Lock) -> None:
            starting = sum(r.status is Status.STARTING for r in lock.records.values())
            intents.extend([starting] if starting else [])
            writes.append(path)
            write(path, lock)

        monkeypatch.setattr(lockfile, "write", counted)
        lock, outcomes = apply_plan(mixed, client, lock, lock_path, now, clock=clock)
    assert intents == [25, 5]  # two rounds, not thirty rounds of one
    assert len(writes) == 1 + 2 * 2  # the thirty updates in one write, each round in two
    assert all(o.ok for o in outcomes) and len(lock.records) == 60
    assert {r.status for r in lock.records.values()} == {Status.QUEUED, Status.SUCCESS}
    # each kind when the first of it comes up in the plan: the updates, then the starts
    assert [o.step.name for o in outcomes][:2] == ["r000", "r002"]
    assert [o.step.name for o in outcomes][30:32] == ["r001", "r003"]


def test_between_rounds_no_more_polls_go_than_the_client_sends_side_by_side(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, tmp_path: Path
) -> None:
    # sixty exports QUEUED for a while and due at once; four requests side by side: each
    # look between rounds asks about the four longest due, so a round waits one answer's
    # time for them at most
    sandbox, manifest, plan = tenant(make_sandbox, tmp_path, 60, Schedule(queued=9, running=0))
    lock_path = tmp_path / "rmsync.lock.yaml"
    timing = Timing(timeout=600, clock=clock, sleep=clock.advance, first_delay=0)
    with Client(
        sandbox.base_url, CREDS, manifest.api_version, clock=clock, limit=None, workers=4
    ) as client:
        follow = Follow(client, lock_path, now, timing)
        _, outcomes = apply_plan(plan, client, Lock(), lock_path, now, follow=follow, clock=clock)
        assert all(o.ok for o in outcomes)
        assert client.requests == 1 + 60 + 3 * 4  # the token, the starts, three looks of four


def test_the_last_look_comes_after_the_deadline_even_when_a_poll_ran_past_it(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, tmp_path: Path
) -> None:
    # every status read takes the tenant 0.2 s: the polls due at 1 s end past the 1.1 s
    # deadline, and the last look comes after them
    log: list[str] = []
    slow = {"faults": [{"path": "**/export-async/*", "method": "GET", "latency": 0.2}]}
    sandbox, manifest, plan = tenant(
        make_sandbox, tmp_path, 2, Schedule(queued=100), faults=slow, sleep=clock.advance,
        log=log.append,
    )  # fmt: skip
    lock_path = tmp_path / "rmsync.lock.yaml"
    timing = Timing(timeout=1.1, clock=clock, sleep=clock.advance, first_delay=1)
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock, limit=None) as client:
        lock, _ = apply_plan(plan, client, Lock(), lock_path, now)
        log.clear()
        _, late = wait_for(client, lock, lock_path, sorted(lock.records), now, timing)
    assert late == sorted(lock.records)
    reads = [line for line in log if line.startswith("GET") and line.endswith(" 200")]
    assert len(reads) == 2 * 2, log  # when due, and once more when the time has run out
