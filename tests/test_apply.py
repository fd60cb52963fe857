"""Apply against the real sandbox: records land one by one, failures don't stop the rest."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rmsync import lockfile
from rmsync.api import Client
from rmsync.apply import Timing, apply_plan, wait_for
from rmsync.downloads import ArchiveError, fetch
from rmsync.manifest import load_manifest
from rmsync.models import (
    Action,
    Credentials,
    ExportParams,
    Lock,
    Manifest,
    Outcome,
    Plan,
    Progress,
    Status,
)
from rmsync.plan import make_plan
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from tests.builders import record
from tests.conftest import FakeClock

ROOT = Path(__file__).resolve().parents[1]
CREDS = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


def fixed_now() -> str:
    return "2026-11-23T12:00:00Z"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", tmp_path / "rmsync.yaml")
    return tmp_path / "rmsync.yaml"


def planned(client: Client, manifest: Manifest, lock: Lock) -> Plan:
    pending = [r.address for r in lock.records.values() if r.running]
    return make_plan(
        manifest, lock, client.live([e.potential_role_id for e in manifest.exports], pending)
    )


def test_apply_records_every_export_and_the_lockfile_matches_golden(
    make_sandbox: Callable[..., Sandbox],
    clock: FakeClock,
    example: Path,
    golden: Callable[[str, str], None],
) -> None:
    sandbox = make_sandbox(id_seed=7)
    lock_path = example.parent / "rmsync.lock.yaml"
    manifest = load_manifest(example)
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock) as client:
        plan = planned(client, manifest, Lock())
        lock, outcomes = apply_plan(plan, client, Lock(), lock_path, fixed_now)
        assert all(o.ok for o in outcomes)
        golden("apply/rmsync.lock.yaml", lock_path.read_text())
        assert lockfile.read(lock_path) == lock
        assert {r.status for r in lock.records.values()} == {Status.QUEUED}
        clock.advance(5)
        again = planned(client, manifest, lock)
        assert [s.action for s in again.steps] == [Action.UPDATE] * 5
        lock, _ = apply_plan(again, client, lock, lock_path, fixed_now)
        assert not planned(client, manifest, lock).changed
    assert {r.status for r in lockfile.read(lock_path).records.values()} == {Status.SUCCESS}


def test_a_failure_does_not_stop_the_others_and_keeps_the_old_record(
    sandbox: Sandbox, clock: FakeClock, example: Path
) -> None:
    lock_path = example.parent / "rmsync.lock.yaml"
    manifest = load_manifest(example)
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock) as client:
        lock, _ = apply_plan(
            planned(client, manifest, Lock()), client, Lock(), lock_path, fixed_now
        )
        before = lock.records["payroll"]
        plan = planned(client, manifest, lock.drop("accounting-core"))
        bad = next(s for s in plan.steps if s.name == "accounting-core")
        # A step the tenant refuses (popularity out of range), among good ones.
        broken = replace(bad, request=replace(bad.request, params=ExportParams(101, True)))
        clock.advance(5)
        mixed = Plan((broken, *planned(client, manifest, lock).steps), ())
        seen: list[Outcome] = []
        lock2, outcomes = apply_plan(mixed, client, lock, lock_path, fixed_now, seen.append)
    assert [o.ok for o in outcomes] == [False] + [True] * (len(outcomes) - 1)
    assert outcomes[0].tracking_id and "400" in (outcomes[0].error or "")
    assert seen == outcomes
    assert "accounting-core" in lock2.records  # the old record stays
    assert lock2.records["payroll"].export_id == before.export_id
    assert lockfile.read(lock_path) == lock2


def test_interrupted_apply_keeps_what_landed(
    sandbox: Sandbox, clock: FakeClock, example: Path
) -> None:
    lock_path = example.parent / "rmsync.lock.yaml"
    manifest = load_manifest(example)

    def interrupt_at_the_first(outcome: Outcome) -> None:
        raise KeyboardInterrupt

    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock) as client:
        plan = planned(client, manifest, Lock())
        with pytest.raises(KeyboardInterrupt):
            apply_plan(plan, client, Lock(), lock_path, fixed_now, interrupt_at_the_first)
    kept = lockfile.read(lock_path)
    # the starts are one round: each landed before the first was reported, and is recorded
    assert sorted(kept.records) == [s.name for s in plan.steps]
    made = {e.id for e in sandbox.created_exports()}
    assert {r.export_id for r in kept.records.values()} == made


def test_a_round_of_starts_is_two_writes_not_two_each(
    sandbox: Sandbox, clock: FakeClock, example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock_path = example.parent / "rmsync.lock.yaml"
    manifest = load_manifest(example)
    written: list[Lock] = []
    write = lockfile.write

    def counted(path: Path, lock: Lock) -> None:
        written.append(lock)
        write(path, lock)

    monkeypatch.setattr(lockfile, "write", counted)
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock) as client:
        apply_plan(planned(client, manifest, Lock()), client, Lock(), lock_path, fixed_now)
    assert len(written) == 2  # every intent, then every answer
    assert {r.status for r in written[0].records.values()} == {Status.STARTING}
    assert {r.status for r in written[1].records.values()} == {Status.QUEUED}


def test_wait_records_every_state_change_until_all_end(
    sandbox: Sandbox, clock: FakeClock, example: Path
) -> None:
    lock_path = example.parent / "rmsync.lock.yaml"
    manifest = load_manifest(example)
    seen: list[Progress] = []
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock) as client:
        lock, _ = apply_plan(
            planned(client, manifest, Lock()), client, Lock(), lock_path, fixed_now
        )
        names = sorted(lock.records)
        timing = Timing(timeout=600, clock=clock, sleep=sleep, first_delay=0.25)
        lock, late = wait_for(client, lock, lock_path, names, fixed_now, timing, seen.append)
    assert late == []
    assert {r.status for r in lock.records.values()} == {Status.SUCCESS}
    assert lockfile.read(lock_path) == lock
    assert slept == [0.25, 0.5, 1.0]  # backing off: QUEUED until 0.5 s, IN_PROGRESS until 1.5 s
    assert [(p.old, p.new) for p in seen if p.name == "payroll"] == [
        (Status.QUEUED, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Status.SUCCESS),
    ]
    assert seen[-1].running == 0 and seen[-1].total == 5


def test_wait_times_out_with_states_recorded(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, example: Path
) -> None:
    sandbox = make_sandbox(schedule=Schedule(queued=1, running=3600))
    lock_path = example.parent / "rmsync.lock.yaml"
    manifest = load_manifest(example)
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock) as client:
        lock, _ = apply_plan(
            planned(client, manifest, Lock()), client, Lock(), lock_path, fixed_now
        )
        timing = Timing(timeout=60, clock=clock, sleep=clock.advance)
        _, late = wait_for(client, lock, lock_path, sorted(lock.records), fixed_now, timing)
    assert late == sorted(lock.records)
    assert {r.status for r in lockfile.read(lock_path).records.values()} == {Status.IN_PROGRESS}


class _JunkTenant(BaseHTTPRequestHandler):
    """A real server that hands out a token and then a 'zip' that is not one."""

    def do_POST(self) -> None:  # /oauth/token
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(b'{"access_token": "t", "expires_in": 600}', "application/json")

    def do_GET(self) -> None:  # .../download
        self._send(b"PK\x03\x04 this is not really a zip archive", "application/zip")

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_damaged_archive_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JunkTenant)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with Client(base, CREDS) as client, pytest.raises(ArchiveError, match="is damaged"):
            fetch(client, record("accounting-core", 0), "exports/a.zip", tmp_path, fixed_now)
    finally:
        server.shutdown()
        server.server_close()
    assert [p.name for p in (tmp_path / "exports").iterdir()] == []


@pytest.mark.parametrize(
    ("blocker", "why"),
    [("exports/a.zip/", "it is a folder"), ("exports", "a part of its path is a file")],
)
def test_an_archive_that_cannot_be_saved_is_a_clear_error(
    make_sandbox: Callable[..., Sandbox], example: Path, blocker: str, why: str
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    manifest = load_manifest(example)
    folder = example.parent
    with Client(sandbox.base_url, CREDS, manifest.api_version) as client:
        lock, _ = apply_plan(
            planned(client, manifest, Lock()), client, Lock(), folder / "lock.yaml", fixed_now
        )
        done = lock.records["payroll"].with_status(Status.SUCCESS, fixed_now())
        if blocker.endswith("/"):
            (folder / blocker).mkdir(parents=True)
        else:
            (folder / blocker).write_text("in the way")
        with pytest.raises(ArchiveError) as error:
            fetch(client, done, "exports/a.zip", folder, fixed_now)
    assert str(error.value).startswith(
        f"download: exports/a.zip: cannot save the archive there: {why}"
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["rmsync.yaml", "lock.yaml", blocker.split("/")[0]]
    )


PAYROLL_ID = "bdc9548b-639e-509d-9d12-29fb77b8beb9"
SRE_ID = "1c776213-1173-567a-bcce-4113a36bacb6"


def test_in_a_round_a_refused_start_keeps_the_old_record_and_an_unanswered_one_is_starting(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, example: Path
) -> None:
    lock_path = example.parent / "rmsync.lock.yaml"
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    manifest = load_manifest(example)
    with Client(sandbox.base_url, CREDS, manifest.api_version, clock=clock) as client:
        first, _ = apply_plan(
            planned(client, manifest, Lock()), client, Lock(), lock_path, fixed_now
        )
        text = example.read_text().replace(
            "  min_entitlement_popularity: 0\n", "  min_entitlement_popularity: 5\n", 1
        )
        example.write_text(text)  # a new default: payroll and sre-on-call are re-exported
        manifest = load_manifest(example)
        sandbox.set_faults(
            {
                "faults": [
                    {"path": f"**/{PAYROLL_ID}/export-async", "method": "POST", "status": 400},
                    {"path": f"**/{SRE_ID}/export-async", "method": "POST", "status": 503},
                ]
            }
        )
        again = planned(client, manifest, first)
        assert {s.name for s in again.steps} >= {"payroll", "sre-on-call"}
        lock, outcomes = apply_plan(again, client, first, lock_path, fixed_now)
    failed = {o.step.name for o in outcomes if not o.ok}
    assert failed == {"payroll", "sre-on-call"}
    assert lock.records["payroll"] == first.records["payroll"]  # refused: as it was
    assert lock.records["sre-on-call"].status is Status.STARTING  # the tenant may have it
    assert lockfile.read(lock_path) == lock
