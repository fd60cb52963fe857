"""The lockfile: stable text, round trips, refusals, and atomic writes that lose nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rmsync import lockfile
from rmsync.lockfile import Lock, LockfileError, Status
from tests.test_plan import record


def sample() -> Lock:
    return Lock({"zeta": record("zeta", 1, Status.QUEUED), "alpha": record("alpha", 0)})


def test_dump_is_sorted_with_header_and_round_trips_without_churn() -> None:
    text = lockfile.dumps(sample())
    assert text.startswith("# This file is maintained by rmsync")
    assert text.index("  alpha:") < text.index("  zeta:")
    assert "\nversion: 1\n" in text
    again = lockfile.loads(text, "rmsync.lock.yaml")
    assert again == sample()
    assert lockfile.dumps(again) == text
    assert text.endswith("\n")


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.lock.yaml"
    lockfile.write(path, sample())
    lockfile.write(path, sample().drop("zeta"))
    assert lockfile.read(path) == sample().drop("zeta")
    assert os.listdir(tmp_path) == ["rmsync.lock.yaml"]


def test_failed_write_raises_and_cleans_up(tmp_path: Path) -> None:
    with pytest.raises(LockfileError, match="cannot write the lockfile"):
        lockfile.write(tmp_path / "missing-folder" / "rmsync.lock.yaml", sample())
    blocked = tmp_path / "rmsync.lock.yaml"
    (blocked / "occupied").mkdir(parents=True)  # a folder where the file should go: rename fails
    with pytest.raises(LockfileError, match="cannot write the lockfile"):
        lockfile.write(blocked, sample())
    assert sorted(os.listdir(tmp_path)) == ["rmsync.lock.yaml"]
    assert os.listdir(blocked) == ["occupied"]


def test_missing_file_is_an_empty_lock(tmp_path: Path) -> None:
    assert lockfile.read(tmp_path / "rmsync.lock.yaml") == Lock()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\nexports: {}\n", "lockfile version 2 is not 1; upgrade rmsync"),
        ("version: x\nexports: {}\n", "restore it from Git"),
        ("- a\n- b\n", "not an rmsync lockfile"),
        (
            "version: 1\nexports:\n  a:\n    session_id: s\n",
            "exports.a: record is damaged (missing 'role')",
        ),
        ("version: 1\nexports: [\n", "not valid YAML"),
    ],
)
def test_untrustworthy_lockfiles_are_refused(text: str, message: str) -> None:
    with pytest.raises(LockfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lockfile.loads(text, "rmsync.lock.yaml")


def test_with_status_sets_finished_once() -> None:
    queued = record("a", 0, Status.QUEUED)
    done = queued.with_status(Status.SUCCESS, "2026-11-02T00:00:00Z")
    assert (done.status, done.finished_at) == (Status.SUCCESS, "2026-11-02T00:00:00Z")
    assert (
        done.with_status(Status.SUCCESS, "2027-01-01T00:00:00Z").finished_at
        == "2026-11-02T00:00:00Z"
    )
    assert queued.with_status(Status.IN_PROGRESS, "x").finished_at is None
