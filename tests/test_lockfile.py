"""The lockfile: stable text, round trips, every problem at its line, and atomic writes."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from rmsync import lockfile
from rmsync.lockfile import LockfileError
from rmsync.models import Access, Content, Download, Entitlement, Lock, Status
from tests.builders import record
from tests.expect import check_reported

ROOT = Path(__file__).resolve().parents[1]
INVALID = sorted((Path(__file__).parent / "data" / "lockfiles" / "invalid").glob("*.yaml"))
EXPORT_IDS = {
    "alpha": "6513270e-269e-4d37-b2a7-4de452e6b438",
    "zeta": "d23f0824-128b-4f33-8c5c-7fd0a6a3a450",
}
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def sample() -> Lock:
    records = [record("zeta", 1, Status.QUEUED), record("alpha", 0)]
    return Lock({r.name: replace(r, export_id=EXPORT_IDS[r.name]) for r in records})


def test_dump_is_sorted_with_header_and_round_trips_without_churn() -> None:
    text = lockfile.dumps(sample())
    assert text.startswith("# This file is maintained by rmsync")
    assert text.index("  alpha:") < text.index("  zeta:")
    assert "\nversion: 3\n" in text
    assert text.endswith("\n# end of rmsync.lock.yaml\n")
    again = lockfile.loads(text, "rmsync.lock.yaml")
    assert again == sample()
    assert lockfile.dumps(again) == text
    assert text.endswith("\n")


def test_the_golden_lockfile_reads_and_writes_back_byte_for_byte() -> None:
    text = (ROOT / "tests" / "golden" / "apply" / "rmsync.lock.yaml").read_text(encoding="utf-8")
    assert lockfile.dumps(lockfile.loads(text, "rmsync.lock.yaml")) == text


def test_error_and_gone_at_are_written_only_when_set_after_the_download() -> None:
    alpha = sample().records["alpha"]
    assert (alpha.error, alpha.gone_at) == (None, None)
    assert "error:" not in lockfile.dumps(sample()) and "gone_at:" not in lockfile.dumps(sample())
    failed = replace(
        alpha,
        status=Status.ERROR,
        download=Download("exports/alpha.zip", SHA, 2048),
        error="Export failed: role has no identities",
        gone_at="2026-12-01T08:00:00Z",
    )
    text = lockfile.dumps(Lock({"alpha": failed}))
    assert text.endswith(
        "      modified: '2026-09-14T09:02:11.000Z'\n"
        "    download:\n"
        "      path: exports/alpha.zip\n"
        f"      sha256: {SHA}\n"
        "      size: 2048\n"
        "    error: 'Export failed: role has no identities'\n"
        "    gone_at: '2026-12-01T08:00:00Z'\n"
        "# end of rmsync.lock.yaml\n"
    )
    assert lockfile.loads(text, "rmsync.lock.yaml") == Lock({"alpha": failed})


def test_values_are_read_as_written_never_converted() -> None:
    text = lockfile.dumps(sample()).replace(
        "include_common_access: true", "include_common_access: 'no'"
    )
    with pytest.raises(LockfileError) as caught:
        lockfile.loads(text, "rmsync.lock.yaml")
    assert str(caught.value) == (
        "rmsync.lock.yaml:9: exports.alpha.include_common_access: must be true or false; "
        "restore the lockfile from Git\n"
        "rmsync.lock.yaml:24: exports.zeta.include_common_access: must be true or false; "
        "restore the lockfile from Git"
    )


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_broken_lockfile_reports_every_problem_at_its_line(path: Path) -> None:
    with pytest.raises(LockfileError) as caught:
        lockfile.read(path)
    check_reported(path, caught.value)


def test_an_empty_file_is_an_empty_lock() -> None:
    assert lockfile.loads("", "rmsync.lock.yaml") == Lock()
    assert lockfile.loads("# only a comment\n", "rmsync.lock.yaml") == Lock()


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.lock.yaml"
    lockfile.write(path, sample())
    lockfile.write(path, sample().drop("zeta"))
    assert lockfile.read(path) == sample().drop("zeta")
    assert os.listdir(tmp_path) == ["rmsync.lock.yaml"]


def test_a_new_lockfile_gets_the_umasks_mode_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    fresh, kept = tmp_path / "new.lock.yaml", tmp_path / "old.lock.yaml"
    kept.write_text("version: 1\nexports: {}\n")
    kept.chmod(0o640)
    previous = os.umask(0o022)
    try:
        lockfile.write(fresh, sample())
        lockfile.write(kept, sample())
    finally:
        os.umask(previous)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert lockfile.read(kept) == sample()


def test_failed_write_raises_and_cleans_up(tmp_path: Path) -> None:
    with pytest.raises(LockfileError, match="cannot write the lockfile: No such file"):
        lockfile.write(tmp_path / "missing-folder" / "rmsync.lock.yaml", sample())
    blocked = tmp_path / "rmsync.lock.yaml"
    (blocked / "occupied").mkdir(parents=True)  # a folder where the file should go: rename fails
    with pytest.raises(LockfileError, match="cannot write the lockfile"):
        lockfile.write(blocked, sample())
    assert sorted(os.listdir(tmp_path)) == ["rmsync.lock.yaml"]
    assert os.listdir(blocked) == ["occupied"]


def test_missing_file_is_an_empty_lock(tmp_path: Path) -> None:
    assert lockfile.read(tmp_path / "rmsync.lock.yaml") == Lock()


def test_with_status_sets_finished_once() -> None:
    queued = record("a", 0, Status.QUEUED)
    done = queued.with_status(Status.SUCCESS, "2026-11-02T00:00:00Z")
    assert (done.status, done.finished_at) == (Status.SUCCESS, "2026-11-02T00:00:00Z")
    assert (
        done.with_status(Status.SUCCESS, "2027-01-01T00:00:00Z").finished_at
        == "2026-11-02T00:00:00Z"
    )
    assert queued.with_status(Status.IN_PROGRESS, "x").finished_at is None


def test_a_lockfile_cut_short_anywhere_is_refused_never_read_with_records_missing() -> None:
    text = lockfile.dumps(sample())
    refused = 0
    for end in range(1, len(text)):
        try:
            found = lockfile.loads(text[:end], "rmsync.lock.yaml")
        except LockfileError as exc:
            assert "restore the lockfile from Git" in str(exc)
            refused += 1
            continue
        raise AssertionError(f"cut at {end} read as {sorted(found.records)}")
    assert refused == len(text) - 1


def test_the_end_marker_is_reported_at_the_last_line() -> None:
    text = lockfile.dumps(sample()).removesuffix("# end of rmsync.lock.yaml\n")
    with pytest.raises(LockfileError) as caught:
        lockfile.loads(text, "rmsync.lock.yaml")
    assert str(caught.value) == (
        f"rmsync.lock.yaml:{text.count(chr(10)) + 1}: the file does not end with "
        "`# end of rmsync.lock.yaml`: it was cut short (a killed write, a full disk, a "
        "copy cut off), so records may be missing; restore the lockfile from Git"
    )


def test_a_version_1_lockfile_is_still_read_and_is_written_back_as_version_3() -> None:
    old = lockfile.dumps(sample()).replace("version: 3", "version: 1")
    old = old.removesuffix("# end of rmsync.lock.yaml\n")
    assert lockfile.loads(old, "rmsync.lock.yaml") == sample()
    assert lockfile.dumps(lockfile.loads(old, "rmsync.lock.yaml")) == lockfile.dumps(sample())


def test_a_version_2_lockfile_is_still_read_and_is_written_back_as_version_3() -> None:
    old = lockfile.dumps(sample()).replace("version: 3", "version: 2")
    assert lockfile.loads(old, "rmsync.lock.yaml") == sample()
    assert "\nversion: 3\n" in lockfile.dumps(lockfile.loads(old, "rmsync.lock.yaml"))


def test_access_and_archive_content_round_trip_by_name_and_count() -> None:
    access = Access(
        members=6,
        entitlements=(
            Entitlement("e1", "CN=Finance Share RW", "Active Directory", 6, 100.0, 12.5),
            Entitlement("e2", "CN=All Staff", "Active Directory", 6, 100.0, 98.0, common=True),
        ),
        excluded=(Entitlement("e3", "Payroll Admin", "Workday", 1, 16.7, None),),
        members_by=(("department", (("Finance", 5), ("HR", 1))),),
    )
    base = sample().records["alpha"]
    content = Content(identities=6, entitlements=2, digest="sha256:" + "a" * 64, unread=("x",))
    saved = Download("exports/alpha.zip", "b" * 64, 2048, content)
    record = replace(base, access=access, download=saved)
    text = lockfile.dumps(Lock({"alpha": record}))
    assert "CN=Finance Share RW" in text and "digest: sha256:" in text
    assert lockfile.loads(text, "rmsync.lock.yaml") == Lock({"alpha": record})
    assert lockfile.dumps(lockfile.loads(text, "rmsync.lock.yaml")) == text
    broken = text.replace("holders: 6", "holders: -1", 1)
    with pytest.raises(LockfileError, match="holders: must be a whole number"):
        lockfile.loads(broken, "rmsync.lock.yaml")


def test_a_starting_record_has_no_export_id_and_round_trips() -> None:
    starting = replace(sample().records["alpha"], export_id=None, status=Status.STARTING)
    text = lockfile.dumps(Lock({"alpha": starting}))
    assert "    export_id: null\n    status: STARTING\n" in text
    assert lockfile.loads(text, "rmsync.lock.yaml") == Lock({"alpha": starting})
    for broken, message in (
        (text.replace("status: STARTING", "status: QUEUED"), "export_id: must be the tenant's"),
        (
            lockfile.dumps(sample()).replace("status: SUCCESS", "status: STARTING"),
            "export_id: must be null while the status is STARTING",
        ),
    ):
        with pytest.raises(LockfileError, match=message):
            lockfile.loads(broken, "rmsync.lock.yaml")


def test_a_lockfile_checked_out_with_crlf_line_ends_is_read() -> None:
    text = lockfile.dumps(sample()).replace("\n", "\r\n")
    assert lockfile.loads(text, "rmsync.lock.yaml") == sample()


def test_names_are_written_as_spelled_unless_a_character_would_hide_in_a_diff() -> None:
    """A reviewer reads `Comptabilité générale`, not `Comptabilit\\xE9 g\\xE9n\\xE9rale`; a name
    with a character that reorders or hides text (a bidi override) keeps the file escaped."""
    readable = sample().records["alpha"]
    readable = replace(readable, role=replace(readable.role, name="Comptabilité générale 経理"))
    text = lockfile.dumps(Lock({"alpha": readable}))
    assert "name: Comptabilité générale 経理\n" in text
    assert lockfile.loads(text, "rmsync.lock.yaml") == Lock({"alpha": readable})
    for hidden in ("\u202e", "\u200b", "\ufeff", "\u2028", "\x85"):
        sneaky = replace(readable, role=replace(readable.role, name=f"é{hidden}x"))
        text = lockfile.dumps(Lock({"alpha": readable, "b": replace(sneaky, name="b")}))
        assert text.isascii(), repr(hidden)
        assert lockfile.loads(text, "rmsync.lock.yaml").records["b"] == replace(sneaky, name="b")


HOSTILE = [
    "Café ünïcode 経理 👩💻",
    "x\n  evil: 1\n#",
    "carriage\rreturn, tab\t, ESC \x1b[2J, bell \x07",
    "line\u2028sep\u2029para \u202eevil \ufeffbom",
    "'single' \"double\" `back` \\ slash: colon, #hash [b] {c} & * ! | > % @",
    "yes",
    "0123",
    "1e3",
    "",
    " leading and trailing ",
    "a" * 2000,
]


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_libyaml_writes_the_same_bytes_as_the_python_emitter(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lockfile is byte-identical whichever emitter PyYAML has (libyaml is optional)."""
    base = sample().records["alpha"]
    odd = replace(base, role=replace(base.role, name=name), error=name or None)
    lock = Lock({"alpha": odd, "zeta": sample().records["zeta"]})
    fast = lockfile.dumps(lock)
    monkeypatch.setattr(lockfile, "DUMPER", yaml.SafeDumper)
    assert lockfile.dumps(lock) == fast
    assert lockfile.loads(fast, "rmsync.lock.yaml") == lock


def test_libyaml_is_what_dumps_uses_here() -> None:
    assert lockfile.DUMPER.__name__ == "CSafeDumper"  # CI's PyYAML wheel has it: the fast path runs


@pytest.mark.parametrize("emitter", ["CSafeDumper", "SafeDumper"])
def test_record_by_record_is_the_whole_document_dumped_at_once(
    emitter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """apply writes after every round; each record's lines are dumped once and reused. The
    file is the same bytes as the document dumped whole, as records come, change and go,
    and as one whose name must stay escaped makes the whole file escaped and back."""
    monkeypatch.setattr(lockfile, "DUMPER", getattr(yaml, emitter))
    base = sample().records["alpha"]
    lock = Lock({})
    for n, name in enumerate(HOSTILE * 2):
        odd = replace(base, name=f"r{n:02}", role=replace(base.role, name=name), error=name or None)
        lock = lock.put(odd)
        if n % 3 == 0:
            lock = lock.put(
                replace(lock.records["r00"], status=Status.ERROR if n % 2 else Status.SUCCESS)
            )
        if n == 8:
            lock = lock.drop("r03")  # the one with a line separator: readable again
        text = lockfile.dumps(lock)
        assert text == lockfile.HEADER + lockfile._whole(lock) + lockfile.END, n
        assert lockfile.loads(text, "rmsync.lock.yaml") == lock


def test_the_lines_kept_for_a_record_go_with_it() -> None:
    """A long apply replaces records thousands of times: what was kept for the old ones goes."""
    lock, before = sample(), len(lockfile._BLOCKS)
    for n in range(500):
        lock = lock.put(replace(lock.records["alpha"], error=f"try {n}"))
        lockfile.dumps(lock)
    assert len(lockfile._BLOCKS) <= before + len(lock.records)


def test_a_lockfile_that_is_not_utf8_is_refused_at_the_line_of_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.lock.yaml"
    path.write_bytes(lockfile.dumps(Lock()).encode() + b"# caf\xe9\n")
    with pytest.raises(LockfileError) as caught:
        lockfile.read(path)
    lines = lockfile.dumps(Lock()).count("\n") + 1
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:{lines}: cannot read the lockfile: not UTF-8 text (byte 0xe9); "
        "restore the lockfile from Git"
    ]
