"""The real `rmsync` command: sandbox serving, signals, seeds and error exits.

Most tests run it in this process (`tests.run.rmsync`, through `main()`); a subprocess only
where a test needs a real process: signals, a terminal, serving until stopped, the launchers.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from rmsync.cli import main
from rmsync.sandbox import DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from tests import builders
from tests.conftest import TLS, FakeClock, token
from tests.run import RMSYNC, drain, rmsync


def _serve(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `rmsync sandbox` on a free port as a process; return it and the lines it printed
    first. It serves until a signal stops it, so it cannot run in the test's process."""
    proc = subprocess.Popen(
        [*RMSYNC, "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(5)]
    return proc, lines


def test_sandbox_prints_url_and_credentials_then_serves_until_interrupted() -> None:
    # A process: it serves until interrupted, and the test sends it SIGINT.
    proc, lines = _serve()
    try:
        assert lines[0].startswith(
            "rmsync sandbox: the acme-sandbox tenant is serving at http://127.0.0.1:"
        )
        base_url = lines[1].strip().removeprefix("export SAIL_BASE_URL=")
        assert lines[2].strip() == "export SAIL_CLIENT_ID=rmsync-sandbox"
        assert lines[3].strip() == f"export SAIL_CLIENT_SECRET={DEFAULT_CLIENT_SECRET}"
        bearer = token(base_url)
        sessions = httpx.get(
            f"{base_url}/beta/role-mining-sessions",
            headers={"Authorization": f"Bearer {bearer}"},
            verify=TLS,
        )
        assert sessions.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "stopped" in out
    assert "GET /beta/role-mining-sessions 200" in err
    assert DEFAULT_CLIENT_SECRET not in err  # the request log never shows credentials
    assert bearer not in out + err


def test_sandbox_stops_on_sigterm_too() -> None:
    # A process: the test sends it SIGTERM.
    proc, _ = _serve("--quiet")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert (proc.returncode, err) == (0, "")


def test_sandbox_stops_cleanly_on_a_sigterm_right_after_its_first_line() -> None:
    # A process: the test sends it SIGTERM while it starts serving.
    proc = subprocess.Popen(
        [*RMSYNC, "sandbox", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("rmsync sandbox:")  # the handlers are in place
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert (proc.returncode, err) == (0, "")
    assert out.endswith("rmsync sandbox: stopped.\n")


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = rmsync("sandbox", "--port", str(port), cwd=tmp_path, env=dict(os.environ))
    assert result.code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.err
    assert "Traceback" not in result.err


def test_broken_seed_is_reported_with_file_and_line(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("version: 1\nclients: []\nsessions: nope\n")
    result = rmsync("sandbox", "--seed", str(seed), cwd=tmp_path, env=dict(os.environ))
    assert result.code == 1
    assert f"{seed}:2: clients: [] should be non-empty" in result.err
    assert f"{seed}:3: sessions: 'nope' is not of type 'array'" in result.err
    assert "Traceback" not in result.err


def test_generated_seed_is_served(tmp_path: Path) -> None:
    out = tmp_path / "big.yaml"
    result = rmsync(
        "sandbox",
        "generate-seed",
        "--roles",
        "300",
        "--identities",
        "50",
        "-o",
        str(out),
        cwd=tmp_path,
        env=dict(os.environ),
    )
    assert result.code == 0, result.err
    # A process: it serves the seed until the test stops it (SIGTERM).
    proc, lines = _serve("--seed", str(out), "--quiet")
    try:
        assert lines[3].strip() == "export SAIL_CLIENT_SECRET=<as in your seed file>"
        base_url = lines[1].strip().removeprefix("export SAIL_BASE_URL=")
        headers = {"Authorization": f"Bearer {token(base_url)}"}
        listing = httpx.get(
            f"{base_url}/beta/role-mining-potential-roles",
            params={"count": "true", "limit": 1},
            headers=headers,
            verify=TLS,
        )
        assert listing.headers["X-Total-Count"] == "300"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_usage_errors_exit_1_not_2(tmp_path: Path) -> None:
    result = rmsync("sandbox", "--port", "-3", cwd=tmp_path, env=dict(os.environ))
    assert result.code == 1
    assert "Invalid value for '--port'" in result.err
    unknown = rmsync("frobnicate", cwd=tmp_path, env=dict(os.environ))
    assert unknown.code == 1


def test_main_exits_0_for_help() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0


def test_python_m_rmsync_runs_the_command(tmp_path: Path) -> None:
    # A process: `python -m rmsync` (rmsync/__main__.py) is what is tested.
    result = subprocess.run(
        [*RMSYNC, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Usage: rmsync [OPTIONS] COMMAND [ARGS]...\n")
    assert "  validate  " in result.stdout


# -- plan, apply, validate, show, demo -----

EXAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "manifests" / "by-ids.yaml"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLE, tmp_path / "rmsync.yaml")
    return tmp_path


@pytest.fixture
def tenant_env(make_sandbox: Callable[..., Sandbox]) -> dict[str, str]:
    return builders.tenant_env(make_sandbox(schedule=Schedule(0, 0)).base_url)


def test_plan_apply_plan_round_trip(project: Path, tenant_env: dict[str, str]) -> None:
    first = rmsync("plan", "--detailed-exitcode", cwd=project, env=tenant_env)
    assert first.code == 2, first.err
    assert first.out.endswith("Plan: 5 to export, 0 to re-export, 0 to update, 0 to forget.\n")
    assert '"Accounting core" (6 identities, 9 entitlements)' in first.out
    refused = rmsync("apply", cwd=project, env=tenant_env)
    assert refused.code == 1
    assert "pass --auto-approve" in refused.err
    assert not (project / "rmsync.lock.yaml").exists()
    applied = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env)
    assert applied.code == 0, applied.err
    assert (
        "Apply complete: 5 exported, 0 re-exported, 0 updated, 0 forgotten, 0 failed."
        in applied.out
    )
    again = rmsync("plan", "--detailed-exitcode", cwd=project, env=tenant_env)
    assert (again.code, again.out) == (
        0,
        "No changes. The lockfile matches the manifest and the tenant.\n",
    )
    shown = rmsync("show", cwd=project, env=tenant_env)
    assert shown.out.splitlines()[0].split() == [
        "NAME",
        "STATUS",
        "EXPORT",
        "ID",
        "ROLE",
        "STARTED",
        "FINISHED",
    ]
    assert len(shown.out.splitlines()) == 6
    secret = tenant_env["SAIL_CLIENT_SECRET"]
    assert all(
        secret not in text
        for text in (
            first.out,
            applied.out,
            applied.err,
            (project / "rmsync.lock.yaml").read_text(),
        )
    )


def test_changed_parameters_and_removed_exports_are_planned(
    project: Path, tenant_env: dict[str, str]
) -> None:
    assert rmsync("apply", "--auto-approve", cwd=project, env=tenant_env).code == 0
    manifest = project / "rmsync.yaml"
    text = manifest.read_text().replace(
        "min_entitlement_popularity: 10 ", "min_entitlement_popularity: 40 "
    )
    start = text.index("  sre-on-call:")
    manifest.write_text(text[:start] + text[text.index('  # "Legacy') :])
    plan = rmsync("plan", "--no-color", cwd=project, env=tenant_env)
    assert "-/+ re-export accounting-core" in plan.out
    assert "~ min_entitlement_popularity = 10 → 40" in plan.out
    assert "  - forget sre-on-call" in plan.out
    assert plan.out.endswith("Plan: 0 to export, 1 to re-export, 0 to update, 1 to forget.\n")
    as_json = json.loads(rmsync("plan", "--json", cwd=project, env=tenant_env).out)
    assert [a["action"] for a in as_json["actions"]] == ["re-export", "forget"]
    applied = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env)
    assert applied.code == 0
    lock = (project / "rmsync.lock.yaml").read_text()
    assert "sre-on-call" not in lock
    assert "min_entitlement_popularity: 40" in lock


def test_unknown_roles_are_problems_of_their_exports_alone(
    project: Path, tenant_env: dict[str, str]
) -> None:
    manifest = project / "rmsync.yaml"
    text = manifest.read_text()
    text = text.replace(
        "e0cc5d7d-bf7f-4f81-b2af-8885b09d9923", "00000000-0000-4000-8000-000000000000"
    )
    text = text.replace(
        "c7affc9a-ec78-55b6-8a8e-d584dceea31d", "9f36f5e5-1e81-4eca-b087-548959d91c71"
    )
    manifest.write_text(text)
    result = rmsync("plan", "--detailed-exitcode", cwd=project, env=tenant_env)
    assert result.code == 1
    assert "Plan: 3 to export, 0 to re-export, 0 to update, 0 to forget.\n" in result.out
    assert result.out.endswith(
        "\nrmsync could not plan 2 exports; the rest of the plan stands:\n"
        "  rmsync.yaml:19: exports.accounting-core.potential_role_id: the tenant has no "
        "potential role 00000000-0000-4000-8000-000000000000 (check the id; a re-run session "
        "mints new ids: `potential_role:` by name follows them)\n"
        "  rmsync.yaml:33: exports.account-executives.session_id: potential role "
        "741f3176-43f2-5fd5-bde9-0f92061f62d7 (Account executives) belongs to session "
        "c7affc9a-ec78-55b6-8a8e-d584dceea31d, not 9f36f5e5-1e81-4eca-b087-548959d91c71\n"
    )
    assert result.err == (
        "Error: 2 exports could not be planned (accounting-core, account-executives; listed "
        "above): fix the manifest, or leave them out with --exclude NAME\n"
    )
    refused = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env)
    assert refused.code == 1 and "; nothing was started: fix the manifest" in refused.err
    assert not (project / "rmsync.lock.yaml").exists()
    left_out = ("--exclude", "accounting-core", "--exclude", "account-executives")
    applied = rmsync("apply", "--auto-approve", *left_out, cwd=project, env=tenant_env)
    assert applied.code == 0, applied.err
    assert "Apply complete: 3 exported" in applied.out
    unknown = rmsync("plan", "--exclude", "nope", cwd=project, env=tenant_env)
    assert unknown.code == 1 and "--exclude: 'nope' is not an export" in unknown.err


def test_missing_credentials_and_url_are_explained(
    project: Path, tenant_env: dict[str, str]
) -> None:
    no_creds = {
        k: v for k, v in tenant_env.items() if k not in ("SAIL_CLIENT_ID", "SAIL_CLIENT_SECRET")
    }
    result = rmsync("apply", "--auto-approve", cwd=project, env=no_creds)
    assert result.code == 1
    assert "no credentials: set SAIL_CLIENT_ID and SAIL_CLIENT_SECRET" in result.err
    half = no_creds | {"SAIL_CLIENT_ID": "someone"}  # half a pair is a mistake, not offline
    assert "SAIL_CLIENT_SECRET is not set" in rmsync("plan", cwd=project, env=half).err
    no_url = {k: v for k, v in tenant_env.items() if k != "SAIL_BASE_URL"}
    assert "no tenant URL" in rmsync("plan", cwd=project, env=no_url).err
    bad_secret = tenant_env | {"SAIL_CLIENT_SECRET": "hunter2-wrong"}
    refused = rmsync("plan", cwd=project, env=bad_secret)
    assert refused.code == 1
    assert "hunter2-wrong" not in refused.err + refused.out


def test_validate_is_offline_and_reports_problems(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAIL_")}
    ok = rmsync("validate", cwd=project, env=env)
    assert (ok.code, ok.out) == (
        0,
        "Valid: 5 exports in 1 manifest file; 0 records in the lockfile.\n",
    )
    broken = Path(__file__).parent / "data" / "manifests" / "invalid" / "types.yaml"
    bad = rmsync("validate", "--manifest", str(broken), cwd=project, env=env)
    assert bad.code == 1
    assert f"{broken}:12: tenant.api_version: must be one of" in bad.err
    assert "Traceback" not in bad.err


def test_the_installed_console_script_runs_the_command(project: Path) -> None:
    # A process: the `rmsync` script pip installed beside this Python is what is tested.
    script = Path(sys.executable).parent / "rmsync"
    assert script.exists(), f"{script} is missing: pip install -e . installs it"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAIL_")}
    result = subprocess.run(
        [str(script), "validate"], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "Valid: 5 exports in 1 manifest file; 0 records in the lockfile.\n",
        "",
    )


def test_demo_runs_the_loop_on_the_embedded_default(tmp_path: Path) -> None:
    result = rmsync("demo", "--keep", cwd=tmp_path, env=dict(os.environ))
    assert result.code == 0, result.err
    out, _, kept_line = result.out.rpartition("\nThe demo's folder is kept: ")
    kept = Path(kept_line.split(" ", 1)[0])
    try:
        assert (kept / "rmsync.lock.yaml").is_file()
        assert (kept / "exports" / "accounting-core.zip").is_file()
        shown = rmsync("show", "--manifest", str(kept), cwd=tmp_path, env=dict(os.environ))
        assert shown.code == 0 and "accounting-core" in shown.out
    finally:
        shutil.rmtree(kept)
    assert (
        out.index("Plan: 8 to export")
        < out.index("legacy-mainframe-operators: QUEUED → IN_PROGRESS (8 of 8 still running)")
        < out.index(
            "Apply failed: 8 exported, 0 re-exported, 0 updated, 1 downloaded, 0 forgotten, 1 failed."
        )
        < out.index("  legacy-mainframe-operators: export ")
        < out.index(
            "Error: 1 export failed (listed above); every result is recorded in rmsync.lock.yaml"
        )
        < out.index("# accounting-core's archive is exports/accounting-core.zip: ")
        < out.index("        excluded in the tenant: CN=Finance Share RW,OU=Groups,")
        < out.index("# legacy-mainframe-operators will be forgotten")
        < out.index(
            "Apply complete: 0 exported, 1 re-exported, 0 updated, 1 downloaded, 1 forgotten"
        )
        < out.index("$ rmsync diff accounting-core")
        < out.index("  - 2440e21409b1ccb19f270b4ca4ddae8f  CN=Finance Share RW,OU=Groups,")
        < out.index("$ rmsync report accounting-core --recorded")
        < out.index("$ rmsync show")
        < out.index("$ rmsync plan\nNo changes. The lockfile matches the manifest and the tenant.")
    )
    assert re.search(r"sha256 [0-9a-f]{64} \(recorded in the lockfile", out)
    assert "entitlements +0 -1 (`rmsync diff accounting-core` lists them)" in out
    assert 'potential_role_by          = session "Finance Q3 2026", role "Accounting core"' in out
    assert (
        'potential_role_by          = set support: session "Sales and support 2026", '
        'role "Customer support agents"'
    ) in out
    assert "rmsync-demo-" not in out  # the folder is named once, at the end, since it is kept
    assert out.endswith("keep exports/ (the archives: they list people) out of Git.\n")


@pytest.mark.parametrize(("answer", "code"), [("yes", 0), ("no", 1)])
def test_apply_asks_on_a_terminal(
    project: Path, tenant_env: dict[str, str], answer: str, code: int
) -> None:
    # A process: apply asks only when its stdin is a terminal (a pty).
    main_fd, terminal = pty.openpty()
    proc = subprocess.Popen(
        [*RMSYNC, "apply"],
        cwd=project,
        env=tenant_env,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal)
    os.write(main_fd, f"{answer}\n".encode())
    out, err = proc.communicate(timeout=60)
    os.close(main_fd)
    assert proc.returncode == code, err
    assert "Do you want to perform these actions? Only 'yes' will be accepted" in out
    assert (project / "rmsync.lock.yaml").exists() is (answer == "yes")
    if answer == "no":
        assert "apply cancelled: nothing was changed" in err


def test_apply_wait_prints_one_line_per_state_change_in_ci(
    project: Path, make_sandbox: Callable[..., Sandbox], tenant_env: dict[str, str]
) -> None:
    live_clock = make_sandbox(clock=time.time, schedule=Schedule(0.2, 0.3))
    env = tenant_env | {"SAIL_BASE_URL": live_clock.base_url}
    result = rmsync(
        "apply",
        "--auto-approve",
        "--wait",
        "--timeout",
        "1m",
        "--target",
        "payroll",
        "--target",
        "sre-on-call",
        cwd=project,
        env=env,
    )
    assert result.code == 0, result.err
    changes = [line for line in result.out.splitlines() if "still running)" in line]
    assert changes and changes[-1].endswith("(0 of 2 still running)")
    assert all(line.split(":")[0] in ("payroll", "sre-on-call") for line in changes)
    lock = (project / "rmsync.lock.yaml").read_text()
    assert lock.count("status: SUCCESS") == 2
    assert "accounting-core" not in lock


def test_refresh_updates_statuses_and_starts_nothing(
    project: Path, make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    sandbox = make_sandbox()  # the fake clock: exports move only when the test says
    env = builders.tenant_env(sandbox.base_url)
    assert rmsync("apply", "--auto-approve", cwd=project, env=env).code == 0
    assert (project / "rmsync.lock.yaml").read_text().count("status: QUEUED") == 5
    clock.advance(5)
    refreshed = rmsync("refresh", cwd=project, env=env)
    assert refreshed.code == 0, refreshed.err
    assert refreshed.out.endswith("\nRefresh complete: 5 updated, 0 still running, 0 failed.\n")
    assert "payroll: QUEUED → SUCCESS\n" in refreshed.out
    assert (project / "rmsync.lock.yaml").read_text().count("status: SUCCESS") == 5
    assert (
        rmsync("refresh", cwd=project, env=env).out
        == "Nothing to refresh: no recorded export is still running.\n"
    )


def test_a_second_apply_is_refused_while_the_lock_is_held(
    project: Path, tenant_env: dict[str, str]
) -> None:
    holder = {"host": "ci-runner-7", "pid": 4242, "since": "2026-11-23T12:00:00Z"}
    (project / ".rmsync.lock.yaml.lock").write_text(json.dumps(holder))
    result = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env)
    assert result.code == 1
    assert (
        "another rmsync run (apply or refresh) holds the lock (host ci-runner-7, pid 4242, since 2026-11-23T12:00:00Z)"
        in result.err
    )
    assert not (project / "rmsync.lock.yaml").exists()
    assert rmsync("plan", cwd=project, env=tenant_env).code == 0  # plan takes no lock


def test_target_and_replace(project: Path, tenant_env: dict[str, str]) -> None:
    assert rmsync("apply", "--auto-approve", cwd=project, env=tenant_env).code == 0
    plan = rmsync(
        "plan", "--target", "payroll", "--replace", "payroll", cwd=project, env=tenant_env
    )
    assert "-/+ re-export payroll" in plan.out
    assert plan.out.endswith("Plan: 0 to export, 1 to re-export, 0 to update, 0 to forget.\n")
    unknown = rmsync("plan", "--target", "nope", cwd=project, env=tenant_env)
    assert unknown.code == 1
    assert "--target: 'nope' is not an export" in unknown.err


def add_download(project: Path, path: str) -> None:
    manifest = project / "rmsync.yaml"
    line = f"    potential_role_id: {ACCOUNTING_ID}\n"
    manifest.write_text(manifest.read_text().replace(line, f"{line}    download: {path}\n"))


ACCOUNTING_ID = "e0cc5d7d-bf7f-4f81-b2af-8885b09d9923"


def test_downloads_are_saved_checked_and_restored(
    project: Path, tenant_env: dict[str, str]
) -> None:
    add_download(project, "exports/accounting-core.zip")
    planned = rmsync("plan", cwd=project, env=tenant_env)
    assert "download                   = exports/accounting-core.zip" in planned.out
    applied = rmsync("apply", "--auto-approve", "--wait", cwd=project, env=tenant_env)
    assert applied.code == 0, applied.err
    archive = project / "exports" / "accounting-core.zip"
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == ["identities.csv", "entitlements.csv"]
    lock = (project / "rmsync.lock.yaml").read_text()
    assert f"sha256: {hashlib.sha256(archive.read_bytes()).hexdigest()}" in lock
    assert f"size: {archive.stat().st_size}" in lock
    assert rmsync("plan", "--detailed-exitcode", cwd=project, env=tenant_env).code == 0
    archive.write_bytes(b"tampered")
    altered = rmsync("plan", cwd=project, env=tenant_env)
    assert "<= download accounting-core" in altered.out
    assert "exports/accounting-core.zip was altered" in altered.out
    assert altered.out.endswith(
        "Plan: 0 to export, 0 to re-export, 0 to update, 1 to download, 0 to forget.\n"
    )
    restored = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env)
    assert "1 downloaded" in restored.out
    assert zipfile.is_zipfile(archive)
    archive.unlink()  # as on a fresh checkout: archives stay out of Git
    fresh = rmsync("plan", "--detailed-exitcode", cwd=project, env=tenant_env)
    assert (fresh.code, fresh.out) == (
        0,
        "No changes. The lockfile matches the manifest and the tenant.\n",
    )
    asked = rmsync("plan", "--download-missing", cwd=project, env=tenant_env)
    assert "exports/accounting-core.zip is missing" in asked.out
    fetched = rmsync("apply", "--auto-approve", "--download-missing", cwd=project, env=tenant_env)
    assert "1 downloaded" in fetched.out and zipfile.is_zipfile(archive)
    left = sorted(p.name for p in (project / "exports").iterdir() if ".previous" not in p.name)
    assert left == ["accounting-core.zip"]  # no temporary files left behind


@pytest.mark.parametrize("path", ["../outside.zip", "/tmp/abs.zip", "exports/a.txt"])
def test_download_paths_must_stay_inside(project: Path, path: str) -> None:
    add_download(project, path)
    result = rmsync("validate", cwd=project, env=dict(os.environ))
    assert result.code == 1
    assert "exports.accounting-core.download: must be a relative path ending in .zip" in result.err


@pytest.mark.parametrize("path", ["exports/acme.previous.zip", "exports/acme.PREVIOUS.zip"])
def test_a_download_path_may_not_be_where_the_previous_archive_is_kept(
    project: Path, path: str
) -> None:
    add_download(project, path)
    result = rmsync("validate", cwd=project, env=dict(os.environ))
    assert result.code == 1
    assert (
        f"rmsync.yaml:19: exports.accounting-core.download: {path} is where "
        "rmsync keeps the archive a new download replaced (NAME.previous.zip, for `rmsync "
        "diff`); choose another name"
    ) in result.err


def test_download_through_a_link_out_of_the_folder_is_refused(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (project / "linked").symlink_to(outside)
    add_download(project, "linked/a.zip")
    result = rmsync("validate", cwd=project, env=dict(os.environ))
    assert result.code == 1
    assert "linked/a.zip leads outside" in result.err


def test_saved_plan_is_applied_exactly_once(project: Path, tenant_env: dict[str, str]) -> None:
    saved = rmsync("plan", "--out", "plan.json", "--target", "payroll", cwd=project, env=tenant_env)
    assert saved.code == 0, saved.err
    assert "Saved this plan to plan.json" in saved.out
    doc = json.loads((project / "plan.json").read_text())
    assert doc["made_from"]["manifest"]["path"] == "rmsync.yaml"
    assert doc["made_from"]["targets"] == ["payroll"]
    assert [a["name"] for a in doc["actions"]] == ["payroll"]
    text = (project / "plan.json").read_text()
    assert all(
        secret not in text
        for secret in (tenant_env["SAIL_CLIENT_SECRET"], tenant_env["SAIL_BASE_URL"])
    )
    shown = rmsync("show", "plan.json", cwd=project, env=tenant_env)
    assert shown.out.endswith("Plan: 1 to export, 0 to re-export, 0 to update, 0 to forget.\n")
    applied = rmsync(
        "apply", "plan.json", cwd=project, env=tenant_env
    )  # no --auto-approve: it was reviewed
    assert applied.code == 0, applied.err
    assert "Apply complete: 1 exported" in applied.out
    again = rmsync("apply", "plan.json", cwd=project, env=tenant_env)
    assert again.code == 1
    assert (
        "plan.json is stale: the lockfile (rmsync.lock.yaml) changed since it was made" in again.err
    )


def test_saved_plan_is_refused_when_the_manifest_changed(
    project: Path, tenant_env: dict[str, str]
) -> None:
    assert rmsync("plan", "--out", "plan.json", cwd=project, env=tenant_env).code == 0
    with (project / "rmsync.yaml").open("a") as handle:
        handle.write("# a new comment changes the manifest\n")
    result = rmsync("apply", "plan.json", cwd=project, env=tenant_env)
    assert result.code == 1
    assert "the manifest (rmsync.yaml) changed" in result.err
    assert not (project / "rmsync.lock.yaml").exists()


def test_saved_plan_is_refused_when_a_role_changed(
    project: Path, make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    env = builders.tenant_env(sandbox.base_url)
    assert rmsync("plan", "--out", "plan.json", cwd=project, env=env).code == 0
    headers = {"Authorization": f"Bearer {token(sandbox.base_url)}"}
    role = f"{sandbox.base_url}/beta/role-mining-sessions/{builders.FINANCE}/potential-roles/{ACCOUNTING_ID}"
    ent = httpx.get(f"{role}/entitlement-popularities", headers=headers, verify=TLS).json()[0][
        "entitlementRef"
    ]["id"]
    clock.advance(60)
    edited = httpx.post(
        f"{role}/edit-entitlements",
        json={"ids": [ent], "exclude": True},
        headers=headers,
        verify=TLS,
    )
    assert edited.status_code == 201
    result = rmsync("apply", "plan.json", cwd=project, env=env)
    assert result.code == 1
    assert "the tenant changed since it was made" in result.err
    assert (
        "accounting-core (Accounting core): entitlement_count 9 → 8, excluded_entitlements [] → ['"
        in result.err
    )


def test_markdown_comment_goes_to_the_step_summary_too(
    project: Path, tenant_env: dict[str, str]
) -> None:
    summary = project / "summary.md"
    result = rmsync(
        "plan",
        "--format",
        "markdown",
        cwd=project,
        env=tenant_env | {"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.code == 0, result.err
    assert result.out.startswith(
        "<!-- rmsync: rmsync.yaml -->\n### rmsync plan: `rmsync.yaml` (v2025)\n"
    )
    assert summary.read_text() == result.out + "\n"


FINANCE_ID = "9f36f5e5-1e81-4eca-b087-548959d91c71"


def test_import_writes_entries_named_after_the_roles(
    tmp_path: Path, tenant_env: dict[str, str]
) -> None:
    first = rmsync("import", "--session", FINANCE_ID, cwd=tmp_path, env=tenant_env)
    assert first.code == 0, first.err
    assert "Added 5 exports to rmsync.yaml; 0 were there already." in first.out
    manifest = (tmp_path / "rmsync.yaml").read_text()
    names = [
        line.split(":")[0].strip()
        for line in manifest.splitlines()
        if line.startswith("  ") and not line.startswith("    ")
    ]
    assert names == [
        "accounting-core",
        "accounts-payable-clerks",
        "legacy-mainframe-operators",
        "payroll-specialists",
        "treasury-analysts",
    ]
    again = rmsync("import", "--session", FINANCE_ID, cwd=tmp_path, env=tenant_env)
    assert "Added 0 exports to rmsync.yaml; 5 were there already." in again.out
    assert (tmp_path / "rmsync.yaml").read_text() == manifest
    assert rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=tenant_env).code == 2


def test_import_keeps_the_manifest_and_makes_names_unique(
    project: Path, tenant_env: dict[str, str]
) -> None:
    manifest = project / "rmsync.yaml"
    before = manifest.read_text().replace("  payroll:\n", "  fin-treasury-analysts:\n")
    manifest.write_text(before)
    result = rmsync(
        "import", "--session", FINANCE_ID, "--name-prefix", "fin-", cwd=project, env=tenant_env
    )
    assert result.code == 0, result.err
    after = manifest.read_text()
    assert after.startswith(
        before[: before.index('\n\n  # "Legacy') + 1]
    )  # all before stays as it was
    assert "  = accounting-core: Accounting core" in result.out
    assert "  + fin-treasury-analysts-2: Treasury analysts" in result.out
    assert "  + fin-legacy-mainframe-operators: Legacy mainframe operators" in result.out
    assert '# "Legacy mainframe operators" (36a4b6b0' in after  # comments survive
    assert rmsync("validate", cwd=project, env=tenant_env).code == 0


def test_import_of_an_unknown_session(tmp_path: Path, tenant_env: dict[str, str]) -> None:
    result = rmsync(
        "import", "--session", "00000000-0000-4000-8000-000000000000", cwd=tmp_path, env=tenant_env
    )
    assert result.code == 1
    assert (
        "the tenant has no role-mining session 00000000-0000-4000-8000-000000000000" in result.err
    )
    assert not (tmp_path / "rmsync.yaml").exists()


def test_validate_github_annotations_and_several_files(tmp_path: Path) -> None:
    invalid = Path(__file__).parent / "data" / "manifests" / "invalid"
    result = rmsync(
        "validate",
        "--format",
        "github",
        str(invalid / "missing.yaml"),
        str(EXAMPLE),
        cwd=tmp_path,
        env=dict(os.environ),
    )
    assert result.code == 1
    assert result.out.splitlines() == [
        f"::error file={invalid / 'missing.yaml'},line=3,title=rmsync::version: required field is missing",
        f"::error file={invalid / 'missing.yaml'},line=4,title=rmsync::exports.payroll.potential_role_id: required field is missing",
    ]


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_examples_keep_archives_out_of_git_as_expiring_artifacts(name: str) -> None:
    text = (Path(__file__).resolve().parents[1] / "examples" / name).read_text()
    added = [line for line in text.splitlines() if "git add" in line]
    assert added and all(
        line.split("git add", 1)[1].split() == ["rmsync.lock.yaml"] for line in added
    )
    doc = yaml.safe_load(text)
    jobs = (
        doc["jobs"].values() if "jobs" in doc else [v for v in doc.values() if isinstance(v, dict)]
    )
    kept = [
        step.get("with", {})
        for job in jobs
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("actions/upload-artifact")
    ] + [job["artifacts"] for job in jobs if "artifacts" in job]
    archives = [k for k in kept if "exports/" in (k.get("path"), *k.get("paths", []))]
    assert archives, f"{name} keeps no archives as artifacts"
    assert all(k.get("retention-days") or k.get("expire_in") for k in archives)


def test_wait_draws_a_progress_line_on_a_terminal(
    project: Path, make_sandbox: Callable[..., Sandbox], tenant_env: dict[str, str]
) -> None:
    live_clock = make_sandbox(clock=time.time, schedule=Schedule(0.2, 0.3))
    env = tenant_env | {"SAIL_BASE_URL": live_clock.base_url}
    # A process: the progress line is drawn only when stdout is a terminal (a pty).
    main_fd, terminal = pty.openpty()
    proc = subprocess.Popen(
        [*RMSYNC, "apply", "--auto-approve", "--wait", "--target", "payroll", "--no-color"],
        cwd=project,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    chunks = [drain(main_fd)]
    _, err = proc.communicate(timeout=60)
    os.close(main_fd)
    out = b"".join(chunks).decode()
    assert proc.returncode == 0, err
    assert "\rWaiting: [####################] 1/1 finished (payroll: SUCCESS)" in out
    assert "still running)" not in out  # no CI-style lines on a terminal


def test_saved_plan_takes_no_target_or_replace(project: Path, tenant_env: dict[str, str]) -> None:
    assert rmsync("plan", "--out", "plan.json", cwd=project, env=tenant_env).code == 0
    result = rmsync("apply", "plan.json", "--target", "payroll", cwd=project, env=tenant_env)
    assert result.code == 1
    assert "a saved plan is applied as it is" in result.err


@pytest.mark.parametrize("fmt", ["markdown", "text"])
def test_json_and_another_format_are_refused_before_the_tenant_is_asked(
    tmp_path: Path, fmt: str
) -> None:
    shutil.copy(EXAMPLE, tmp_path / "rmsync.yaml")
    env = builders.tenant_env("http://127.0.0.1:9")  # nothing listens: it must not be asked
    ran = rmsync("plan", "--json", "--format", fmt, cwd=tmp_path, env=env)
    assert ran.code == 1
    assert f"--json and --format {fmt} ask for two formats: give one" in ran.err
    assert "cannot reach" not in ran.err
    assert (
        rmsync("plan", "--json", "--format", "json", cwd=tmp_path, env=env).code == 1
    )  # only unreachable


def test_generate_seed_never_writes_over_a_link(tmp_path: Path) -> None:
    (tmp_path / "target.yaml").write_text("kept\n")
    (tmp_path / "seed.yaml").symlink_to(tmp_path / "target.yaml")
    ran = rmsync(
        "sandbox", "generate-seed", "--roles", "2", "-o", "seed.yaml", cwd=tmp_path, env={}
    )
    assert ran.code == 1 and "seed.yaml: the seed was not written: it is a link" in ran.err
    assert (tmp_path / "seed.yaml").is_symlink() and (
        tmp_path / "target.yaml"
    ).read_text() == "kept\n"


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (("--no-rate-limit",), "export SAIL_RATE_LIMIT=off"),
        (("--rate-limit", "5"), "export SAIL_RATE_LIMIT=5/10s"),
    ],
)
def test_a_sandbox_with_another_rate_limit_says_how_to_tell_rmsync(
    flags: tuple[str, ...], said: str
) -> None:
    proc, lines = _serve(*flags, "--quiet")
    try:
        assert lines[4].strip() == said  # else rmsync keeps to ISC's 100/10s against it
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
