"""Whole runs through the real CLI against the real sandbox: honest summaries and exit codes,
one client per run, refresh that reads only what it can update, clean interrupts, and
exports the tenant no longer has."""

from __future__ import annotations

import os
import pty
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from rmsync import interrupts
from rmsync.sandbox import Sandbox, Schedule
from tests.builders import FINANCE, MAINFRAME, tenant_env
from tests.conftest import FakeClock
from tests.proxy import Proxy, running
from tests.run import RMSYNC, read_until, rmsync, spawn

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", tmp_path / "rmsync.yaml")
    return tmp_path


def edit(project: Path, change: Callable[[dict[str, object]], None]) -> None:
    path = project / "rmsync.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def add_mainframe(doc: dict[str, object]) -> None:
    exports = doc["exports"]
    assert isinstance(exports, dict)
    exports["mainframe"] = {"session_id": FINANCE, "potential_role_id": MAINFRAME}


def records(project: Path) -> dict[str, dict[str, object]]:
    doc = yaml.safe_load((project / "rmsync.lock.yaml").read_text())
    found: dict[str, dict[str, object]] = doc["exports"]
    return found


# -- apply --wait: the summary comes last and tells the truth --------------------------------


def test_an_export_that_ends_in_error_fails_the_apply_after_the_wait(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    edit(project, add_mainframe)
    ran = rmsync("apply", "--auto-approve", "--wait", cwd=project, env=tenant_env(sandbox.base_url))
    assert ran.code == 1, ran.err
    lines = ran.out.splitlines()
    summary = lines.index(
        "Apply failed: 6 exported, 0 re-exported, 0 updated, 0 forgotten, 1 failed."
    )
    assert lines[summary + 1] == (
        f"  mainframe: export {records(project)['mainframe']['export_id']} ended in ERROR: "
        "the tenant gave no reason"
    )
    assert not [line for line in lines[summary:] if "still running)" in line]  # waiting is over
    assert (
        "Error: 1 export failed (listed above); every result is recorded in rmsync.lock.yaml"
        in (ran.err)
    )
    assert records(project)["mainframe"]["status"] == "ERROR"


def test_a_wait_that_times_out_fails_and_names_what_still_runs(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox()  # the fake clock never moves: every export stays QUEUED
    env = tenant_env(sandbox.base_url)
    ran = rmsync(
        "apply", "--auto-approve", "--wait", "--timeout", "0s", "--target", "payroll",
        cwd=project, env=env,
    )  # fmt: skip
    assert ran.code == 1
    assert ran.out.splitlines()[-2:] == [
        "Apply failed: 1 exported, 0 re-exported, 0 updated, 0 forgotten, 1 failed.",
        "  payroll: still QUEUED when the --timeout ran out (`rmsync refresh --wait` follows it)",
    ]


def test_apply_without_wait_succeeds_while_exports_still_run(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox()
    ran = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env(sandbox.base_url))
    assert ran.code == 0, ran.err
    assert ran.out.endswith(
        "Apply complete: 5 exported, 0 re-exported, 0 updated, 0 forgotten, 0 failed.\n"
    )


# -- one run, one client ---------------------------------------------------------------------


def test_one_apply_asks_for_one_token_fresh_or_saved(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    log: list[str] = []
    sandbox = make_sandbox(schedule=Schedule(0, 0), log=log.append)
    env = tenant_env(sandbox.base_url)
    assert rmsync("apply", "--auto-approve", "--wait", cwd=project, env=env).code == 0
    assert log.count("POST /oauth/token 200") == 1
    edit(project, add_mainframe)
    assert rmsync("plan", "--out", "plan.json", cwd=project, env=env).code == 0
    log.clear()
    assert rmsync("apply", "plan.json", "--wait", cwd=project, env=env).code == 1  # mainframe
    assert log.count("POST /oauth/token 200") == 1


# -- refresh reads only what it can update ---------------------------------------------------


def test_refresh_reads_only_the_exports_still_running(
    project: Path, make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> None:
    log: list[str] = []
    sandbox = make_sandbox(log=log.append)
    env = tenant_env(sandbox.base_url)
    assert rmsync("apply", "--auto-approve", "--target", "payroll", cwd=project, env=env).code == 0

    def break_another(doc: dict[str, object]) -> None:  # a role the tenant does not have
        exports = doc["exports"]
        assert isinstance(exports, dict)
        exports["sre-on-call"]["potential_role_id"] = "00000000-0000-4000-8000-000000000000"

    edit(project, break_another)
    clock.advance(5)
    log.clear()
    ran = rmsync("refresh", cwd=project, env=env)
    assert ran.code == 0, ran.err
    assert ran.out == (
        "payroll: QUEUED → SUCCESS\n\nRefresh complete: 1 updated, 0 still running, 0 failed.\n"
    )
    gets = [line for line in log if line.startswith("GET ")]
    assert len(gets) == 1 and "/export-async/" in gets[0]
    log.clear()
    again = rmsync("refresh", cwd=project, env=env)
    assert again.out == "Nothing to refresh: no recorded export is still running.\n"
    assert [line for line in log if line.startswith("GET ")] == []


# -- Ctrl-C and SIGTERM ----------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_wait_says_what_is_kept_and_releases_the_lock(
    project: Path, make_sandbox: Callable[..., Sandbox], signum: int, code: int
) -> None:
    sandbox = make_sandbox()  # exports never finish: apply stays in its wait
    proc = spawn("apply", "--auto-approve", "--wait", cwd=project, env=tenant_env(sandbox.base_url))
    read_until(proc, "sre-on-call: export started")  # the last one: all five are recorded
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().endswith(
        f"Interrupted ({signal.Signals(signum).name}): every result so far is recorded in "
        "rmsync.lock.yaml."
    )
    assert "Traceback" not in err and "Aborted" not in err
    assert len(records(project)) == 5
    assert not (project / ".rmsync.lock.yaml.lock").exists()


def test_an_interrupt_while_an_export_starts_waits_until_it_is_recorded(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox()
    arrived, release = threading.Event(), threading.Event()

    def hold_the_first_start(method: str, path: str) -> None:
        if method == "POST" and path.endswith("/export-async") and not arrived.is_set():
            arrived.set()
            assert release.wait(30)

    proxy = Proxy(sandbox.base_url, before_reply=hold_the_first_start)
    with running(proxy):
        proc = spawn("apply", "--auto-approve", cwd=project, env=tenant_env(proxy.base_url))
        try:
            assert arrived.wait(60)  # the tenant has made the export; its answer is held
            proc.send_signal(signal.SIGINT)
        finally:
            release.set()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    started = len(proxy.requests("POST", "/export-async"))
    assert len(records(project)) == started >= 1  # every export the tenant made is recorded
    assert f"{started} exported" not in out  # it stopped: no summary claims a finished run


class HeldStarts:
    """A proxy's `before_reply`: holds the answer to every start until `release` is set;
    `all_in` is set once `count` starts have come (the tenant has made their exports)."""

    def __init__(self, count: int) -> None:
        self.count, self.arrived = count, 0
        self.lock, self.all_in, self.release = (
            threading.Lock(),
            threading.Event(),
            threading.Event(),
        )

    def __call__(self, method: str, path: str) -> None:
        if method == "POST" and path.endswith("/export-async"):
            with self.lock:
                self.arrived += 1
                if self.arrived == self.count:
                    self.all_in.set()
            assert self.release.wait(30)


def every_seed_role(folder: Path) -> int:
    """A manifest in `folder` exporting every role of the sandbox's seed; how many."""
    seed = yaml.safe_load((ROOT / "rmsync" / "sandbox" / "default_seed.yaml").read_text())
    roles = [(s, r) for s in seed["sessions"] for r in s["potential_roles"]]
    exports = {
        f"role-{n}": {"session_id": session["id"], "potential_role_id": role["id"]}
        for n, (session, role) in enumerate(roles)
    }
    (folder / "rmsync.yaml").write_text(yaml.safe_dump({"version": 1, "exports": exports}))
    return len(exports)


def test_a_first_interrupt_in_a_round_sends_no_more_starts_and_records_every_one_sent(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    assert every_seed_role(tmp_path) > 8  # more starts in the round than go out side by side
    sandbox = make_sandbox()
    held = HeldStarts(8)
    all_in, release = held.all_in, held.release
    proxy = Proxy(sandbox.base_url, before_reply=held)
    with running(proxy):
        proc = spawn("apply", "--auto-approve", cwd=tmp_path, env=tenant_env(proxy.base_url))
        try:
            assert all_in.wait(60)  # eight starts made by the tenant, their answers held
            proc.send_signal(signal.SIGINT)
            read_until(proc, "Stopping: nothing more is sent; the starts already sent", err=True)
        finally:
            release.set()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert len(proxy.requests("POST", "/export-async")) == 8  # none begun after the Ctrl-C
    kept = records(tmp_path)
    assert len(kept) == 8 and all(r["status"] != "STARTING" for r in kept.values())
    assert err.strip().endswith("every result so far is recorded in rmsync.lock.yaml.")
    assert "Apply complete" not in out and "export started" not in out  # nothing claims more


def test_a_second_interrupt_in_a_round_still_records_every_answer_that_came(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    every_seed_role(tmp_path)
    sandbox = make_sandbox()
    held = HeldStarts(8)
    all_in, release = held.all_in, held.release

    own, signals = interrupts._handler, []

    def handler(signum: int, frame: object) -> None:  # rmsync's, which lets the answers go
        signals.append(signum)  # once the second Ctrl-C is in: it is then already cut short
        if len(signals) == 2:
            release.set()
        own(signum, None)

    def press() -> None:  # a user at the keyboard, twice
        assert all_in.wait(60)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        while not interrupts.stopping():
            release.wait(0.01)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    saved = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(interrupts, "_handler", handler)
    proxy = Proxy(sandbox.base_url, before_reply=held)
    try:
        with running(proxy):
            threading.Thread(target=press, daemon=True).start()
            ran = rmsync("apply", "--auto-approve", cwd=tmp_path, env=tenant_env(proxy.base_url))
    finally:
        release.set()
        signal.signal(signal.SIGINT, saved)
    assert ran.code == 130, ran.err
    assert len(signals) == 2 and len(proxy.requests("POST", "/export-async")) == 8
    kept = records(tmp_path)  # the eight answered, the six never sent left as they were
    assert len(kept) == 8 and all(r["status"] != "STARTING" for r in kept.values()), kept


def test_stopping_lasts_until_the_section_ends_even_after_a_second_signal() -> None:
    saved = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    told: list[int] = []
    interrupts.install(lambda signum, again, firm: told.append(signum))
    try:
        assert not interrupts.stopping()
        with interrupts.deferred():
            signal.raise_signal(signal.SIGTERM)  # the first waits for the section...
            assert interrupts.stopping() and told == [signal.SIGTERM]
            with pytest.raises(interrupts.Interrupted):
                signal.raise_signal(signal.SIGINT)  # ...a second one stops at once...
            assert interrupts.stopping()  # ...and what still runs begins nothing more
        assert not interrupts.stopping()  # the section is over: the next run may begin
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_in_a_firm_section_every_signal_waits_for_its_end() -> None:
    saved = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    told: list[tuple[int, bool, bool]] = []
    interrupts.install(lambda signum, again, firm: told.append((signum, again, firm)))
    reached = False
    try:
        with pytest.raises(interrupts.Interrupted) as caught, interrupts.firm():
            signal.raise_signal(signal.SIGINT)
            assert interrupts.stopping()  # what works for the section sends nothing more...
            signal.raise_signal(signal.SIGINT)  # ...and a second signal, a third, wait too:
            signal.raise_signal(signal.SIGTERM)  # the answers under way must not be lost
            reached = True
        assert reached and caught.value.signum == signal.SIGINT  # then the first one stops it
        assert told == [
            (signal.SIGINT, False, True),
            (signal.SIGINT, True, True),
            (signal.SIGTERM, True, True),
        ]
        assert not interrupts.stopping()
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def answered(
    project: Path, base_url: str, answer: Callable[[int, subprocess.Popen[str]], object]
) -> tuple[int, str]:
    """Run `rmsync apply` on a terminal; once it asks, `answer(terminal, process)`; its exit
    code and stderr."""
    main_fd, terminal = pty.openpty()
    proc = subprocess.Popen(
        [*RMSYNC, "apply"],
        cwd=project,
        env=tenant_env(base_url),
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal)
    try:
        read_until(proc, "Only 'yes' will be accepted: ")  # it is asking
        answer(main_fd, proc)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(main_fd)
    return proc.returncode, err


def test_end_of_input_at_the_question_changes_nothing(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    code, err = answered(
        project,
        make_sandbox().base_url,
        lambda fd, _: os.write(fd, b"\x04"),  # Ctrl-D
    )
    assert code == 1
    assert err.strip().endswith("Aborted: no answer was given; nothing was changed.")
    assert not (project / "rmsync.lock.yaml").exists()


def test_ctrl_c_at_the_question_changes_nothing(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    # A signal that lands just as the question is printed must stop it too (it once hung
    # until Enter, about one time in ten on a busy machine).
    code, err = answered(
        project, make_sandbox().base_url, lambda _, proc: proc.send_signal(signal.SIGINT)
    )
    assert code == 130
    assert err.strip().endswith("Interrupted (SIGINT): nothing was changed.")
    assert not (project / "rmsync.lock.yaml").exists()


# -- a start whose answer is lost: recorded as STARTING, never forgotten ---------------------


def test_the_intent_to_start_is_recorded_before_the_tenant_is_asked(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    seen_on_disk: list[str] = []

    def look(method: str, path: str) -> None:  # the tenant has acted; its answer is not back
        if method == "POST" and path.endswith("/export-async"):
            names = [n for n, r in records(project).items() if r["status"] == "STARTING"]
            seen_on_disk.append(",".join(names))

    with running(Proxy(make_sandbox().base_url, before_reply=look)) as proxy:
        ran = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env(proxy.base_url))
    assert ran.code == 0, ran.err
    assert len(seen_on_disk) == 5 and all(seen_on_disk), seen_on_disk  # one at a time
    assert "STARTING" not in (project / "rmsync.lock.yaml").read_text()


class _Lost(Exception):
    """Raised in the proxy after the tenant acted: the connection drops with no answer."""


def test_a_start_whose_answer_is_lost_is_recorded_and_named_by_the_next_plan(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    def drop_payroll(method: str, path: str) -> None:
        if method == "POST" and "bdc9548b" in path:  # payroll's role
            raise _Lost

    with running(Proxy(make_sandbox().base_url, before_reply=drop_payroll)) as proxy:
        env = tenant_env(proxy.base_url)
        ran = rmsync("apply", "--auto-approve", cwd=project, env=env)
        assert len(proxy.requests("POST", "bdc9548b")) == 1  # the tenant did start it
        replan = rmsync("plan", cwd=project, env=env)
    assert ran.code == 1
    assert "payroll: export FAILED: POST " in ran.err
    assert "the tenant may have started the export all the same: recorded as STARTING" in ran.err
    payroll = records(project)["payroll"]
    assert (payroll["status"], payroll["export_id"]) == ("STARTING", None)
    assert str(payroll["error"]).startswith("the start was not confirmed: POST ")
    assert sum(r["status"] == "QUEUED" for r in records(project).values()) == 4  # the others
    assert (
        f"  # payroll will be re-exported: an interrupted run may have started an export for "
        f"payroll at {payroll['started_at']} (the tenant never confirmed it, and cannot be "
        "asked); starting another"
    ) in replan.out.splitlines()
    assert "        export_id                  = none: the start was not confirmed" in replan.out


def test_a_start_the_tenant_refuses_leaves_no_intent_behind(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    def refuse(method: str, path: str) -> tuple[int, bytes, dict[str, str]] | None:
        if method == "POST" and "bdc9548b" in path:
            return 400, b'{"detailCode": "400.1 Bad request content"}', {}
        return None

    with running(Proxy(make_sandbox().base_url, answer=refuse)) as proxy:
        ran = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env(proxy.base_url))
    assert ran.code == 1
    assert "payroll" not in records(project)  # it answered that it did not start it
    assert "may have started" not in ran.err


# -- exports the tenant no longer has --------------------------------------------------------


def add_download(doc: dict[str, object]) -> None:
    exports = doc["exports"]
    assert isinstance(exports, dict)
    exports["accounting-core"]["download"] = "exports/accounting-core.zip"


def test_an_export_the_tenant_forgot_is_planned_as_a_re_export(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    first = make_sandbox(schedule=Schedule(0, 0))
    env = tenant_env(first.base_url)
    assert rmsync("apply", "--auto-approve", "--wait", cwd=project, env=env).code == 0
    edit(project, add_download)  # the archive is wanted now, from a tenant that forgot it
    forgetful = make_sandbox(schedule=Schedule(0, 0))
    plan = rmsync("plan", "--no-color", cwd=project, env=tenant_env(forgetful.base_url))
    assert plan.code == 0, plan.err
    exported = records(project)["accounting-core"]["export_id"]
    assert (
        f"# accounting-core will be re-exported: the tenant no longer has export {exported} "
        "(it answered 404; exports expire)"
    ) in plan.out
    assert plan.out.endswith("Plan: 0 to export, 1 to re-export, 0 to update, 0 to forget.\n")


def test_an_archive_the_tenant_no_longer_serves_is_recorded_and_re_exported(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox(schedule=Schedule(0, 0))
    env = tenant_env(sandbox.base_url)
    assert rmsync("apply", "--auto-approve", "--wait", cwd=project, env=env).code == 0
    edit(project, add_download)

    def gone(method: str, path: str) -> tuple[int, bytes, dict[str, str]] | None:
        if path.endswith("/download"):
            body = b'{"detailCode": "404 Not found", "messages": [{"text": "expired"}]}'
            return 404, body, {"Content-Type": "application/json"}
        return None

    with running(Proxy(sandbox.base_url, answer=gone)) as proxy:
        applied = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env(proxy.base_url))
        assert applied.code == 1
        exported = records(project)["accounting-core"]["export_id"]
        assert f"the tenant no longer has export {exported} (its download answered 404)" in (
            applied.err
        )
        assert "gone_at" in records(project)["accounting-core"]
        plan = rmsync("plan", "--no-color", cwd=project, env=tenant_env(proxy.base_url))
    assert "-/+ re-export accounting-core" in plan.out
    assert f"the tenant no longer has export {exported} (it answered 404 at" in plan.out
    assert not (project / "exports" / "accounting-core.zip").exists()
    fixed = rmsync("apply", "--auto-approve", "--wait", cwd=project, env=env)
    assert fixed.code == 0, fixed.err
    assert (project / "exports" / "accounting-core.zip").exists()
    assert "gone_at" not in records(project)["accounting-core"]


def test_an_export_id_that_is_not_a_uuid_is_an_unconfirmed_start_not_a_broken_lockfile(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    def odd_id(method: str, path: str) -> tuple[int, bytes, dict[str, str]] | None:
        if method == "POST" and "bdc9548b" in path:
            return 202, b'{"exportId": "ABC-123", "status": "QUEUED"}', {}
        return None

    with running(Proxy(make_sandbox().base_url, answer=odd_id)) as proxy:
        env = tenant_env(proxy.base_url)
        ran = rmsync("apply", "--auto-approve", cwd=project, env=env)
        replan = rmsync("plan", cwd=project, env=env)
    assert ran.code == 1
    assert "the tenant's export id 'ABC-123' is not a UUID" in ran.err
    assert records(project)["payroll"]["status"] == "STARTING"
    assert replan.code == 0, replan.err  # the lockfile still reads
    assert "an interrupted run may have started an export for payroll" in replan.out


def test_a_start_that_never_left_leaves_no_intent_behind(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    def no_token_after_the_plan(method: str, path: str) -> tuple[int, bytes, dict[str, str]] | None:
        if method == "POST" and path.endswith("/export-async"):
            return 401, b"{}", {}  # the token was revoked: a new one is asked for ...
        if path.startswith("/oauth/token") and len(proxy.requests("POST", "/oauth/token")) > 1:
            return 503, b"{}", {}  # ... and cannot be had: the start never leaves
        return None

    with running(Proxy(make_sandbox().base_url, answer=no_token_after_the_plan)) as proxy:
        ran = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env(proxy.base_url))
    assert ran.code == 1
    assert "may have started" not in ran.err
    assert not any(r["status"] == "STARTING" for r in records(project).values())


def test_refresh_and_forget_name_a_start_that_was_never_confirmed(
    project: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    def drop_payroll(method: str, path: str) -> None:
        if method == "POST" and "bdc9548b" in path:
            raise _Lost

    def drop_it(doc: dict[str, object]) -> None:
        exports = doc["exports"]
        assert isinstance(exports, dict)
        del exports["payroll"]

    sandbox = make_sandbox(schedule=Schedule(0, 0))  # the others finish at once
    with running(Proxy(sandbox.base_url, before_reply=drop_payroll)) as proxy:
        env = tenant_env(proxy.base_url)
        rmsync("apply", "--auto-approve", "--wait", "--timeout", "10s", cwd=project, env=env)
        refreshed = rmsync("refresh", cwd=project, env=env)
        edit(project, drop_it)
        forget = rmsync("plan", cwd=project, env=env)
    assert refreshed.out == (
        "Nothing to refresh: no recorded export is still running. 1 recorded as STARTING cannot "
        "be asked about (the tenant never confirmed them): the next apply re-exports them.\n"
    )
    assert "an interrupted run may have started an export for it at" in forget.out
