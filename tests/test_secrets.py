"""Secrets stay secret: across a whole plan/apply/download/failure cycle, neither the client
secret nor any access token appears in any output or any file rmsync writes, nor in any URL.
(Where the secret may be sent at all is tests/test_config.py's subject.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from rmsync.ratelimit import Limit
from rmsync.sandbox import DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from tests.builders import FINANCE, MAINFRAME, tenant_env
from tests.proxy import Proxy, running
from tests.run import Ran, rmsync

ROOT = Path(__file__).resolve().parents[1]


def test_no_secret_or_token_in_any_output_or_file(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    doc = yaml.safe_load((ROOT / "tests" / "data" / "manifests" / "by-ids.yaml").read_text())
    doc["exports"]["accounting-core"]["download"] = "exports/accounting-core.zip"
    doc["exports"]["mainframe"] = {"session_id": FINANCE, "potential_role_id": MAINFRAME}
    (project / "rmsync.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    summary = tmp_path / "step-summary.md"
    runs: list[Ran] = []
    # The fake clock never moves here, so the tenant's 10-second window never ends: allow the
    # whole cycle's requests in it (this test is about secrets, not about the rate limit).
    sandbox = make_sandbox(schedule=Schedule(0, 0), rate_limit=Limit(1_000, 10.0))
    with running(Proxy(sandbox.base_url)) as proxy:
        env = tenant_env(proxy.base_url) | {"GITHUB_STEP_SUMMARY": str(summary)}
        for args in (
            ("validate",),
            ("plan", "--out", "plan.json"),
            ("plan", "--format", "markdown"),
            ("plan", "--json"),
            ("show", "plan.json"),
            ("apply", "plan.json", "--wait"),  # mainframe ends in ERROR: a failure is shown
            ("refresh",),
            ("show",),
            ("apply", "--auto-approve", "--base-url", "http://127.0.0.1:9"),  # unreachable
        ):
            runs.append(rmsync(*args, cwd=project, env=env))
        tokens = {
            s.header("Authorization").removeprefix("Bearer ")  # type: ignore[union-attr]
            for s in proxy.seen
            if s.header("Authorization")
        }
        secret_sent_to = {s.path for s in proxy.seen if "client_secret" in s.path}
    assert tokens, "the run used tokens"
    assert [r.code for r in runs][5] == 1  # the failure path ran
    assert (project / "exports" / "accounting-core.zip").exists()  # the download path ran
    secrets = {DEFAULT_CLIENT_SECRET, *tokens}
    for ran in runs:
        for secret in secrets:
            assert secret not in ran.out and secret not in ran.err
    written = [p for p in (*project.rglob("*"), summary) if p.is_file()]
    assert {p.name for p in written} >= {"rmsync.lock.yaml", "plan.json", "step-summary.md"}
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{path} holds a secret"
    assert secret_sent_to == set()  # never in a URL: only in the token request's form body
