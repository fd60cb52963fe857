"""`--json` on apply, refresh, validate and show (issue 12): a versioned document on stdout,
held to its schema in schemas/; the plan, progress and summaries on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from rmsync.sandbox import Sandbox, Schedule
from tests.builders import FINANCE, tenant_env
from tests.conftest import FakeClock
from tests.proxy import Proxy, running
from tests.run import rmsync

ROOT = Path(__file__).resolve().parents[1]
LEGACY = "36a4b6b0-e37a-52e2-b5e5-9dfe5448d056"  # its exports end in ERROR on purpose


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
    return loaded


def document(out: str, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(out)
    jsonschema.validate(doc, schema(name))
    return doc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "rmsync.yaml").write_text(
        (ROOT / "tests" / "data" / "manifests" / "by-ids.yaml").read_text()
    )
    return tmp_path


def test_apply_json_is_the_result_alone_on_stdout(
    make_sandbox: Callable[..., Sandbox], project: Path
) -> None:
    env = tenant_env(make_sandbox(schedule=Schedule(0, 0, 0)).base_url)
    ran = rmsync("apply", "--auto-approve", "--wait", "--json", cwd=project, env=env)
    assert ran.code == 0, ran.err
    doc = document(ran.out, "result")
    assert (doc["command"], doc["result"], doc["exit_code"]) == ("apply", "complete", 0)
    assert doc["summary"] == ran.err.splitlines()[-1]  # the summary on stderr, last
    assert "rmsync will perform the following actions:" in ran.err  # the plan: stderr
    assert doc["counts"]["export"] == 5 and doc["failures"] == []
    lock = yaml.safe_load((project / "rmsync.lock.yaml").read_text())["exports"]
    assert doc["records"] == lock  # every record the run made, as the lockfile holds it
    assert [o["name"] for o in doc["outcomes"] if o["action"] == "export"] == sorted(lock)


def test_a_failed_apply_still_prints_its_document_and_exits_1(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    env = tenant_env(make_sandbox(schedule=Schedule(0, 0, 0)).base_url)
    (tmp_path / "rmsync.yaml").write_text(
        "version: 1\ntenant:\n  api_version: v2025\nexports:\n"
        f"  legacy:\n    session_id: {FINANCE}\n    potential_role_id: {LEGACY}\n"
    )
    ran = rmsync("apply", "--auto-approve", "--wait", "--json", cwd=tmp_path, env=env)
    assert ran.code == 1
    doc = document(ran.out, "result")
    assert (doc["result"], doc["exit_code"]) == ("failed", 1)
    assert [f["name"] for f in doc["failures"]] == ["legacy"]
    assert doc["failures"][0]["reason"].startswith("export ")
    assert "ended in ERROR" in doc["failures"][0]["reason"]
    assert "Error: 1 export failed (listed above)" in ran.err


def test_a_wait_whose_polls_fail_ends_with_its_summary_and_document(
    make_sandbox: Callable[..., Sandbox], project: Path
) -> None:
    # the tenant refuses every status read (403): the wait stops, and says so, name by name
    refused = {"faults": [{"path": "**/export-async/*", "method": "GET", "status": 403}]}
    env = tenant_env(make_sandbox(schedule=Schedule(60, 0, 0), faults=refused).base_url)
    ran = rmsync("apply", "--auto-approve", "--wait", "--json", cwd=project, env=env)
    assert ran.code == 1, ran.err
    doc = document(ran.out, "result")
    assert (doc["result"], doc["exit_code"]) == ("failed", 1)
    lock = yaml.safe_load((project / "rmsync.lock.yaml").read_text())["exports"]
    assert sorted(f["name"] for f in doc["failures"]) == sorted(lock)  # every export started
    assert all(
        f["reason"].startswith("still QUEUED when following stopped, on this failure: GET ")
        and "403" in f["reason"]
        and f["reason"].endswith("(`rmsync refresh --wait` follows it)")
        for f in doc["failures"]
    ), doc["failures"]
    assert "Traceback" not in ran.err


def test_refresh_json(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, project: Path
) -> None:
    env = tenant_env(make_sandbox(schedule=Schedule(5, 5, 0)).base_url)
    assert rmsync("apply", "--auto-approve", cwd=project, env=env).code == 0
    clock.advance(60)
    ran = rmsync("refresh", "--json", cwd=project, env=env)
    assert ran.code == 0, ran.err
    doc = document(ran.out, "result")
    assert (doc["command"], doc["counts"]["update"]) == ("refresh", 5)
    assert {r["status"] for r in doc["records"].values()} == {"SUCCESS"}
    nothing = rmsync("refresh", "--json", cwd=project, env=env)
    assert document(nothing.out, "result")["outcomes"] == []


def test_refresh_wait_counts_what_the_wait_saw_finish(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, project: Path
) -> None:
    sandbox = make_sandbox(schedule=Schedule(5, 5, 0))
    env = tenant_env(sandbox.base_url)
    assert rmsync("apply", "--auto-approve", cwd=project, env=env).code == 0
    asked: list[str] = []

    def later(method: str, path: str) -> None:  # the refresh reads them queued; the wait, done
        if method == "GET" and "/export-async/" in path:
            asked.append(path)
            if len(asked) > 5:
                clock.advance(60)
        return None

    with running(Proxy(sandbox.base_url, answer=later)) as proxy:
        env = tenant_env(proxy.base_url)
        ran = rmsync("refresh", "--wait", "--json", cwd=project, env=env)
    assert ran.code == 0, ran.err
    doc = document(ran.out, "result")
    assert {r["status"] for r in doc["records"].values()} == {"SUCCESS"}
    assert doc["counts"]["update"] == 5  # it said 0: only what the first read saw counted
    text = rmsync("refresh", cwd=project, env=env)
    assert text.out == "Nothing to refresh: no recorded export is still running.\n"


def test_validate_json_valid_and_not(project: Path, tmp_path: Path) -> None:
    ran = rmsync("validate", "--json", cwd=project, env={})
    doc = document(ran.out, "validate")
    assert (ran.code, doc["valid"], doc["counts"]) == (
        0,
        True,
        {"manifest_files": 1, "exports": 5, "sets": 0, "records": 0},
    )
    broken = ROOT / "tests" / "data" / "manifests" / "invalid" / "types.yaml"
    bad = rmsync("validate", "--format", "json", "--manifest", str(broken), cwd=project, env={})
    doc = document(bad.out, "validate")
    assert (bad.code, doc["valid"], doc["exit_code"]) == (1, False, 1)
    assert any(p["line"] == 12 and p["field"] == "tenant.api_version" for p in doc["problems"])
    both = rmsync("validate", "--json", "--format", "github", cwd=project, env={})
    assert both.code == 1 and "ask for two formats" in both.err


def test_show_json_of_a_lockfile_and_of_a_saved_plan(
    make_sandbox: Callable[..., Sandbox], project: Path
) -> None:
    env = tenant_env(make_sandbox(schedule=Schedule(0, 0, 0)).base_url)
    assert rmsync("plan", "--out", "plan.json", cwd=project, env=env).code == 0
    shown = rmsync("show", "plan.json", "--json", cwd=project, env={})
    assert shown.code == 0, shown.err
    doc = document(shown.out, "plan")
    assert doc == json.loads((project / "plan.json").read_text())
    assert rmsync("apply", "plan.json", cwd=project, env=env).code == 0
    table = rmsync("show", "--json", cwd=project, env={})
    lock = document(table.out, "lockfile")
    assert lock == yaml.safe_load((project / "rmsync.lock.yaml").read_text())


@pytest.mark.parametrize(
    "path", sorted((ROOT / "schemas").glob("*.schema.json")), ids=lambda p: p.name
)
def test_every_shipped_schema_is_a_valid_versioned_2020_12_schema(path: Path) -> None:
    loaded = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(loaded)
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert loaded["$id"].endswith("/" + path.name) and loaded["title"] and loaded["description"]
    version = loaded["properties"].get("format_version") or loaded["properties"].get("version")
    assert version is not None, "every document says its format's version"
