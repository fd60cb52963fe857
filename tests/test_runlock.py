"""The apply lock: exclusive, says who holds it, waits, and takes over from dead processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rmsync.runlock import LockedError, held, lock_file_for


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
