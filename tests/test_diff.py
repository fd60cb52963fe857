"""`rmsync diff NAME`: the real command, in this process, on real archives on disk; a terminal
through a pty; and the whole way from a sandbox's exports through apply to the comparison."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from rmsync import archive, lockfile
from rmsync.models import Download, Lock
from rmsync.sandbox import Sandbox, Schedule
from tests.builders import ACCOUNTING, FINANCE, S1, R, record, tenant_env
from tests.conftest import api_client
from tests.run import RMSYNC, drain, rmsync
from tests.test_archive import (
    ALICE,
    CAROL,
    PLAIN_ENTITLEMENTS,
    PLAIN_IDENTITIES,
    Rows,
    csv_text,
    make_zip,
)

MANIFEST = f"""\
version: 1
exports:
  acme:
    session_id: {FINANCE}
    potential_role_id: {ACCOUNTING}
    download: exports/acme.zip
  bare:
    session_id: {S1}
    potential_role_id: {R[1]}
"""
ENV = {"PATH": os.environ.get("PATH", "")}
NEW_IDENTITIES = [PLAIN_IDENTITIES[0], PLAIN_IDENTITIES[2], [CAROL, "Carol Cook", "c@x", ""]]
NEW_ENTITLEMENTS = [
    PLAIN_ENTITLEMENTS[0],
    ["ent-1", "GL Post", "role", "", "src-1", "SAP", "100", "5", "3", "false"],
    ["ent-3", "Vault read", "secret", "", "src-2", "Vault", "10", "1", "1", "false"],
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "rmsync.yaml").write_text(MANIFEST)
    (tmp_path / "exports").mkdir()
    return tmp_path


def save(path: Path, identities: Rows, entitlements: Rows) -> Path:
    return make_zip(
        path,
        {"identities.csv": csv_text(identities), "entitlements.csv": csv_text(entitlements)},
    )


def both(project: Path) -> None:
    """The previous archive and the current one: Alice left, Carol came, ent-2 went, ent-3
    came, and ent-1 went from 2 holders to 3."""
    save(project / "exports/acme.previous.zip", PLAIN_IDENTITIES, PLAIN_ENTITLEMENTS)
    save(project / "exports/acme.zip", NEW_IDENTITIES, NEW_ENTITLEMENTS)


def test_diff_lists_people_by_id_and_access_by_name(project: Path) -> None:
    both(project)
    ran = rmsync("diff", "acme", cwd=project, env=ENV)
    assert (ran.code, ran.err) == (0, "")
    assert ran.out == (
        "rmsync diff acme: exports/acme.previous.zip → exports/acme.zip\n"
        "\n"
        "Identities: 2 → 2 (1 in, 1 out)\n"
        f"  + {CAROL}\n"
        f"  - {ALICE}\n"
        "Entitlements: 2 → 2 (1 in, 1 out)\n"
        "  + ent-3  Vault read (Vault)\n"
        "  - ent-2  AP Approve (SAP)\n"
        "Holder counts: 1 moved\n"
        "  ~ ent-1  GL Post: 2 → 3\n"
    )
    for name in ("Alice", "Carol"):  # people only by id without --names
        assert name not in ran.out


def test_diff_of_the_same_content_says_so(project: Path) -> None:
    save(project / "exports/acme.previous.zip", PLAIN_IDENTITIES, PLAIN_ENTITLEMENTS)
    reordered = [PLAIN_IDENTITIES[0], *PLAIN_IDENTITIES[:0:-1]]
    save(project / "exports/acme.zip", reordered, PLAIN_ENTITLEMENTS)
    ran = rmsync("diff", "acme", cwd=project, env=ENV)
    assert ran.code == 0
    assert (
        "No changes: both list the same 2 identities and 2 entitlements, with the same holder "
        "counts.\n"
    ) in ran.out


def test_without_a_previous_archive_there_is_nothing_to_compare_yet(project: Path) -> None:
    save(project / "exports/acme.zip", PLAIN_IDENTITIES, PLAIN_ENTITLEMENTS)
    ran = rmsync("diff", "acme", cwd=project, env=ENV)
    assert (ran.code, ran.err) == (0, "")
    assert ran.out == (
        "no previous archive of acme to compare with: exports/acme.previous.zip is kept when "
        "a new download replaces exports/acme.zip\n"
    )
    as_json = json.loads(rmsync("diff", "acme", "--json", cwd=project, env=ENV).out)
    assert as_json == {
        "export": "acme",
        "previous": None,
        "current": {
            "path": "exports/acme.zip",
            "identities": 2,
            "entitlements": 2,
            "unread": [],
        },
    }


def test_json_gives_people_by_id_only(project: Path) -> None:
    both(project)
    ran = rmsync("diff", "acme", "--json", cwd=project, env=ENV)
    assert (ran.code, ran.err) == (0, "")
    doc = json.loads(ran.out)
    assert doc["identities"] == {"in": [{"id": CAROL}], "out": [{"id": ALICE}]}
    assert doc["entitlements"] == {
        "in": [{"id": "ent-3", "name": "Vault read", "source": "Vault", "holders": 1}],
        "out": [{"id": "ent-2", "name": "AP Approve", "source": "SAP", "holders": 1}],
    }
    assert doc["holders_moved"] == [{"id": "ent-1", "name": "GL Post", "old": 2, "new": 3}]
    assert doc["previous"]["path"] == "exports/acme.previous.zip"
    assert doc["current"]["identities"] == 2
    assert "Carol" not in ran.out and "Alice" not in ran.out


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["text", "json"])
def test_names_are_refused_where_they_could_land_in_a_log(project: Path, extra: list[str]) -> None:
    both(project)
    ran = rmsync("diff", "acme", "--names", *extra, cwd=project, env=ENV)
    assert ran.code == 1
    assert ran.out == ""
    if extra:
        assert ran.err == (
            "Error: --names with --json gives people's names to a program: write them to a "
            "file with --out FILE, or leave out --names for ids only\n"
        )
    else:
        assert ran.err == (
            "Error: --names shows people's names, so only on a terminal or in a file: stdout is "
            "not a terminal here (it may be a log); add --out FILE, or leave out --names for "
            "ids only\n"
        )


@pytest.mark.parametrize("kind", ["link", "device", "folder", "dash"])
def test_out_is_a_regular_file_or_nothing_is_written(project: Path, kind: str) -> None:
    both(project)
    target = project / "names.txt"
    if kind == "link":
        (project / "real.txt").write_text("kept\n")
        target.symlink_to(project / "real.txt")
    elif kind == "folder":
        target.mkdir()
    out = {"device": "/dev/null", "dash": "-"}.get(kind, str(target))
    ran = rmsync("diff", "acme", "--names", "--out", out, cwd=project, env=ENV)
    assert ran.code == 1 and ran.out == ""
    if kind == "dash":  # `-` is stdout, and stdout here is no terminal
        assert "--names shows people's names, so only on a terminal or in a file" in ran.err
    elif kind == "folder":  # click's own check
        assert "Invalid value for '--out'" in ran.err and "is a directory" in ran.err
    else:
        assert f"Error: --out {out}: not written: it is " in ran.err
    if kind == "link":
        assert target.is_symlink() and (project / "real.txt").read_text() == "kept\n"


def test_names_go_to_a_file_named_with_out(project: Path) -> None:
    both(project)
    ran = rmsync("diff", "acme", "--names", "--out", "diff.txt", cwd=project, env=ENV)
    assert (ran.code, ran.err) == (0, "")
    assert ran.out == "Wrote the comparison of acme to diff.txt.\n"
    written = (project / "diff.txt").read_text()
    assert f"  + {CAROL}  Carol Cook\n" in written
    assert f"  - {ALICE}  Alice Archer\n" in written
    assert "  + ent-3  Vault read (Vault)\n" in written
    assert "  ~ ent-1  GL Post: 2 → 3\n" in written
    assert [p.name for p in project.iterdir() if p.name.endswith(".tmp")] == []
    assert (project / "diff.txt").stat().st_mode & 0o777 == 0o600  # it names people


def test_names_in_json_go_to_a_file_too(project: Path) -> None:
    both(project)
    ran = rmsync("diff", "acme", "--names", "--json", "--out", "d.json", cwd=project, env=ENV)
    assert ran.code == 0
    doc = json.loads((project / "d.json").read_text())
    assert doc["identities"]["in"] == [{"id": CAROL, "name": "Carol Cook"}]
    assert doc["entitlements"]["out"] == [
        {"id": "ent-2", "holders": 1, "name": "AP Approve", "source": "SAP"}
    ]
    assert doc["holders_moved"] == [{"id": "ent-1", "name": "GL Post", "old": 2, "new": 3}]


def test_names_are_shown_on_a_terminal(project: Path) -> None:
    # A process: --names checks that stdout is a terminal (a pty).
    both(project)
    main_fd, terminal = pty.openpty()
    proc = subprocess.Popen(
        [*RMSYNC, "diff", "acme", "--names"],
        cwd=project,
        env=ENV,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    chunks = [drain(main_fd)]
    _, err = proc.communicate(timeout=60)
    os.close(main_fd)
    out = b"".join(chunks).decode().replace("\r\n", "\n")
    assert proc.returncode == 0, err
    assert f"  + {CAROL}  Carol Cook\n" in out
    assert "  - ent-2  AP Approve (SAP)\n" in out


def test_what_an_archive_says_is_shown_safely(project: Path) -> None:
    sly = [
        ["id", "name"],
        ["id-\x1b[2J", "Eve\u202eevil"],  # clears the screen; reverses what follows
    ]
    save(project / "exports/acme.previous.zip", PLAIN_IDENTITIES[:1], PLAIN_ENTITLEMENTS)
    save(project / "exports/acme.zip", sly, PLAIN_ENTITLEMENTS)
    rmsync("diff", "acme", "--names", "--out", "d.txt", cwd=project, env=ENV)
    written = (project / "d.txt").read_text()
    assert "  + id-\\x1b[2J  Eve\\u202eevil\n" in written
    assert "\x1b" not in written and "\u202e" not in written


def test_an_unknown_name_is_an_error_saying_which_there_are(project: Path) -> None:
    ran = rmsync("diff", "acne", cwd=project, env=ENV)
    assert ran.code == 1
    assert ran.err == (
        "Error: 'acne' is not an export of rmsync.yaml (its exports: acme, bare); name one of "
        "them\n"
    )


def test_an_export_without_a_download_has_nothing_to_compare(project: Path) -> None:
    ran = rmsync("diff", "bare", cwd=project, env=ENV)
    assert ran.code == 1
    assert ran.err == (
        "Error: rmsync.yaml:7: bare has no `download:`, so rmsync keeps no archive of it; add "
        "`download: exports/bare.zip` and run `rmsync apply --wait`\n"
    )


def test_a_missing_current_archive_is_an_error_saying_what_to_do(project: Path) -> None:
    ran = rmsync("diff", "acme", cwd=project, env=ENV)
    assert ran.code == 1
    assert ran.err == (
        "Error: exports/acme.zip: no archive of acme there yet; run `rmsync apply --wait` to "
        "download it\n"
    )


def test_a_file_that_is_not_a_zip_is_an_error_not_a_traceback(project: Path) -> None:
    save(project / "exports/acme.previous.zip", PLAIN_IDENTITIES, PLAIN_ENTITLEMENTS)
    (project / "exports/acme.zip").write_text("id,name\n")
    ran = rmsync("diff", "acme", cwd=project, env=ENV)
    assert ran.code == 1
    assert ran.err == "Error: exports/acme.zip: not a zip archive rmsync can read\n"


def test_an_archive_changed_since_it_was_saved_is_noted(project: Path) -> None:
    both(project)
    recorded = replace(
        record("acme", 0),
        export_id=R[2],
        download=Download("exports/acme.zip", "0" * 64, 1),
    )
    lockfile.write(project / "rmsync.lock.yaml", Lock({"acme": recorded}))
    ran = rmsync("diff", "acme", cwd=project, env=ENV)
    assert ran.code == 0
    assert ran.err == (
        "note: exports/acme.zip is not the archive rmsync.lock.yaml records for acme (its "
        "sha256 differs): it changed since rmsync saved it\n"
    )


def test_diff_is_listed_and_loads_nothing_heavy_for_help(project: Path) -> None:
    ran = rmsync("--help", cwd=project, env=ENV)
    assert "  diff " in ran.out
    ran = rmsync("diff", "--help", cwd=project, env=ENV)
    assert "--names" in ran.out and "--out FILE" in ran.out


# -- the whole way: a sandbox's exports, apply, the lockfile, diff -----------------------------


@pytest.mark.parametrize("layout", ["rmsync", "titled"])
def test_apply_records_content_keeps_the_previous_archive_and_diff_reports_the_change(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], layout: str
) -> None:
    # Both of the sandbox's layouts: its own, and a title-case one (the real one is undocumented)
    sandbox = make_sandbox(schedule=Schedule(0, 0), archive_layout=layout)
    env = tenant_env(sandbox.base_url)
    (tmp_path / "rmsync.yaml").write_text(
        f"version: 1\nexports:\n  acme:\n    session_id: {FINANCE}\n"
        f"    potential_role_id: {ACCOUNTING}\n    download: exports/acme.zip\n"
    )
    first = rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=env)
    assert first.code == 0, first.err
    current = tmp_path / "exports/acme.zip"
    before = archive.read(current)
    assert before.identities and before.entitlements
    assert all(e.holders is not None for e in before.entitlements)
    # the people's attributes are expected; only the titled layout's Risk Score is unknown
    unknown = () if layout == "rmsync" else ("Entitlements.csv: 1 column not read: Risk Score",)
    assert before.unread == unknown
    saved = lockfile.read(tmp_path / "rmsync.lock.yaml").get("acme")
    assert saved is not None and saved.download is not None
    assert saved.download.content == archive.summary(before)
    nothing = rmsync("diff", "acme", cwd=tmp_path, env=env)
    assert nothing.code == 0 and nothing.out.startswith("no previous archive of acme")

    dropped = before.entitlements[0]
    edit = f"/beta/role-mining-sessions/{FINANCE}/potential-roles/{ACCOUNTING}/edit-entitlements"
    with api_client(sandbox.base_url) as api:
        answer = api.post(edit, json={"ids": [dropped.id], "exclude": True})
    assert answer.status_code == 201, answer.text
    second = rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=env)
    assert second.code == 0, second.err
    entitlements = len(before.entitlements) - 1
    started = lockfile.read(tmp_path / "rmsync.lock.yaml").get("acme")
    assert started is not None
    assert (  # apply's line says how the content moved, in counts
        f"acme: download done (export {started.export_id}): "
        f"{len(before.identities)} identities, {entitlements} entitlements; since the archive it "
        "replaced: identities +0 -0, entitlements +0 -1 (`rmsync diff acme` lists them)\n"
    ) in second.out

    previous = tmp_path / "exports/acme.previous.zip"
    assert archive.read(previous) == before
    after = archive.read(current)
    recorded = lockfile.read(tmp_path / "rmsync.lock.yaml").get("acme")
    assert recorded is not None and recorded.download is not None
    assert recorded.download.content == archive.summary(after)
    assert recorded.download.content.entitlements == len(before.entitlements) - 1
    ran = rmsync("diff", "acme", "--json", cwd=tmp_path, env=env)
    assert (ran.code, ran.err) == (0, "")
    doc = json.loads(ran.out)
    assert doc["entitlements"] == {
        "in": [],
        "out": [
            {
                "id": dropped.id,
                "name": dropped.name,
                "source": dropped.source,
                "holders": dropped.holders,
            }
        ],
    }
    assert doc["identities"] == {"in": [], "out": []}
    with zipfile.ZipFile(previous) as z:  # the archive kept is whole
        assert z.testzip() is None


def test_two_archives_with_nothing_readable_are_not_called_equal(project: Path) -> None:
    for name in ("acme.previous.zip", "acme.zip"):
        with zipfile.ZipFile(project / "exports" / name, "w") as z:
            z.writestr("readme.txt", "no CSV here\n")
    ran = rmsync("diff", "acme", cwd=project, env=ENV)
    assert ran.code == 0
    assert "Nothing to compare: rmsync could read no identity or entitlement in either." in ran.out
    assert "No changes" not in ran.out
