"""The apply lock: exclusive, says who holds it, waits, and takes over from dead processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rmsync.runlock import LockedError, _process_id, held, lock_file_for


def test_exclusive_and_released(tmp_path: Path) -> None:
    lockfile = tmp_path / "rmsync.lock.yaml"
    with held(lockfile):
        holder = json.loads(lock_file_for(lockfile).read_text())
        assert (holder["host"], holder["pid"]) == (socket.gethostname(), os.getpid())
        with pytest.raises(LockedError) as caught, held(lockfile):
            pass
        assert f"pid {os.getpid()}" in str(caught.value)
        assert "--lock-timeout" in str(caught.value)
    assert not lock_file_for(lockfile).exists()
    with held(lockfile):  # free again
        pass


def test_released_even_when_the_block_fails(tmp_path: Path) -> None:
    lockfile = tmp_path / "rmsync.lock.yaml"
    with pytest.raises(RuntimeError), held(lockfile):
        raise RuntimeError("boom")
    assert not lock_file_for(lockfile).exists()


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    lockfile = tmp_path / "rmsync.lock.yaml"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    info = {"host": socket.gethostname(), "pid": int(dead.stdout), "since": "2026-01-01T00:00:00Z"}
    lock_file_for(lockfile).write_text(json.dumps(info))
    with held(lockfile):
        assert json.loads(lock_file_for(lockfile).read_text())["pid"] == os.getpid()


def test_lock_from_another_host_is_never_taken_over(tmp_path: Path) -> None:
    lockfile = tmp_path / "rmsync.lock.yaml"
    info = {"host": "ci-runner-7", "pid": 1, "since": "2026-01-01T00:00:00Z"}
    lock_file_for(lockfile).write_text(json.dumps(info))
    with (
        pytest.raises(LockedError, match="host ci-runner-7, pid 1, since 2026-01-01T00:00:00Z"),
        held(lockfile),
    ):
        pass


def test_waits_up_to_the_timeout_for_the_holder(tmp_path: Path) -> None:
    lockfile = tmp_path / "rmsync.lock.yaml"
    info = {"host": "elsewhere", "pid": 1, "since": "2026-01-01T00:00:00Z"}
    lock_file_for(lockfile).write_text(json.dumps(info))
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds
        if now[0] >= 2.0:  # the other run finishes after two seconds
            lock_file_for(lockfile).unlink(missing_ok=True)

    with held(lockfile, timeout=60, clock=lambda: now[0], sleep=sleep):
        assert now[0] == 2.0
    assert waits == [0.5, 0.5, 0.5, 0.5]
    lock_file_for(lockfile).write_text(json.dumps(info))
    with (
        pytest.raises(LockedError),
        held(
            lockfile,
            timeout=3,
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        ),
    ):
        pass


def test_a_lock_whose_pid_now_belongs_to_a_later_process_is_taken_over(tmp_path: Path) -> None:
    lockfile = tmp_path / "rmsync.lock.yaml"
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            real = _process_id(live.pid)
            assert real is not None  # Linux: /proc tells a process's start time
            info = {"host": socket.gethostname(), "pid": live.pid, "since": "2026-01-01T00:00:00Z"}
            # The same pid, but the process that took the lock started at another time.
            lock_file_for(lockfile).write_text(json.dumps(info | {"process": real + "0"}))
            with held(lockfile):
                assert json.loads(lock_file_for(lockfile).read_text())["pid"] == os.getpid()
            # The very process that holds it: never taken over.
            lock_file_for(lockfile).write_text(json.dumps(info | {"process": real}))
            with pytest.raises(LockedError), held(lockfile):
                pass
        finally:
            live.kill()


def test_an_empty_lock_is_taken_over_only_once_it_is_old(tmp_path: Path) -> None:
    lockfile = tmp_path / "rmsync.lock.yaml"
    lock_file_for(lockfile).write_text("")
    with pytest.raises(LockedError, match="an unreadable lock"), held(lockfile):
        pass  # it may be a run that has just created it and not yet written it
    old = time.time() - 60
    os.utime(lock_file_for(lockfile), (old, old))
    with held(lockfile):
        assert json.loads(lock_file_for(lockfile).read_text())["pid"] == os.getpid()


def test_the_message_names_both_commands_and_the_wait(tmp_path: Path) -> None:
    lockfile = tmp_path / "rmsync.lock.yaml"
    ticks = iter(range(100))
    clock = lambda: float(next(ticks))  # noqa: E731
    with (
        held(lockfile),
        pytest.raises(LockedError) as caught,
        held(lockfile, timeout=2, clock=clock, sleep=lambda _: None),
    ):
        pass
    assert "another rmsync run (apply or refresh) holds the lock" in str(caught.value)
    assert "after waiting 2s" in str(caught.value)
