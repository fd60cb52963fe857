"""Fewer requests (issue 13): a plan reads its roles by the page from their sessions'
summaries, and only a role that has an action whole; `--refresh full` reads each whole."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rmsync.sandbox import Sandbox, Schedule
from tests.builders import tenant_env
from tests.conftest import FakeClock
from tests.run import rmsync
from tests.test_api import Recorder

ROOT = Path(__file__).resolve().parents[1]
ONE_ROLE = "GET /v2025/role-mining-potential-roles/"
LISTING = "/potential-role-summaries"


def test_a_no_op_plan_reads_each_session_once_and_no_role_alone(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    log = Recorder()
    tenant = make_sandbox(schedule=Schedule(0, 0, 0), log=log)
    (tmp_path / "rmsync.yaml").write_text(
        (ROOT / "tests" / "data" / "manifests" / "by-ids.yaml").read_text()
    )  # 5 exports: 3 of Finance, 1 of Sales, 1 of Engineering
    env = tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=env).code == 0
    log.lines.clear()
    quiet = rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert quiet.code == 0, quiet.out
    assert log.count(LISTING) == 1  # Finance's three roles in one page
    assert log.count(ONE_ROLE) == 2  # the two sessions with one role each: one GET is cheaper
    log.lines.clear()
    assert rmsync("plan", "--refresh", "full", cwd=tmp_path, env=env).code == 0
    assert (log.count(LISTING), log.count(ONE_ROLE)) == (0, 5)


def test_a_role_with_an_action_is_read_whole(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    log = Recorder()
    tenant = make_sandbox(schedule=Schedule(0, 0, 0), log=log)
    manifest = tmp_path / "rmsync.yaml"
    manifest.write_text((ROOT / "tests" / "data" / "manifests" / "by-ids.yaml").read_text())
    env = tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", "--wait", cwd=tmp_path, env=env).code == 0
    manifest.write_text(
        manifest.read_text().replace(
            "min_entitlement_popularity: 10   #", "min_entitlement_popularity: 20   #"
        )
    )
    log.lines.clear()
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert "-/+ re-export accounting-core" in planned.out
    assert log.count(ONE_ROLE + "e0cc5d7d") == 1  # the re-exported role, whole
    assert log.count(ONE_ROLE + "bdc9548b") == 0  # payroll is unchanged: its summary does


def test_a_listing_stops_at_the_page_that_brings_the_last_wanted_role(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    import yaml

    from rmsync.api import Client
    from rmsync.models import ApiVersion, Credentials
    from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from rmsync.sandbox.generate import generate_seed
    from rmsync.sandbox.seed import parse_seed
    from rmsync.yamlload import load_text

    doc = generate_seed(600, sessions=1)  # three pages of 250
    log = Recorder()
    tenant = make_sandbox(seed=parse_seed(load_text(yaml.safe_dump(doc), "seed")), log=log)
    session = doc["sessions"][0]["id"]
    creds = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    with Client(tenant.base_url, creds, ApiVersion.V2025) as client:
        every = client.roles(session)
        assert len(every) == 600 and log.count(LISTING) == 3
    first_page = frozenset(r.id for r in every[:2])
    with Client(tenant.base_url, creds, ApiVersion.V2025) as client:
        found = client.roles(session, wanted=first_page)
    assert log.count(LISTING) == 4  # one page more, not three
    assert first_page <= {r.id for r in found}
    last = frozenset({every[-1].id})
    with Client(tenant.base_url, creds, ApiVersion.V2025) as client:
        client.roles(session, wanted=last)
    assert log.count(LISTING) == 7  # it is on the last page: every page is read


def test_a_no_op_plan_by_name_reads_each_session_once_too(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """Names are resolved from the sessions' listings; the roles are then compared from the
    same listings, not from a second read of each."""
    log = Recorder()
    tenant = make_sandbox(schedule=Schedule(0, 0, 0), log=log)
    env = tenant_env(tenant.base_url)
    (tmp_path / "rmsync.yaml").write_text("version: 1\nexports: {}\n")
    assert rmsync("import", "--session", "Finance Q3 2026", cwd=tmp_path, env=env).code == 0
    assert "potential_role:" in (tmp_path / "rmsync.yaml").read_text()  # by name
    skip = ("--exclude", "legacy-mainframe-operators")  # its exports end in ERROR on purpose
    assert rmsync("apply", "--auto-approve", "--wait", *skip, cwd=tmp_path, env=env).code == 0
    log.lines.clear()
    quiet = rmsync("plan", "--detailed-exitcode", *skip, cwd=tmp_path, env=env)
    assert quiet.code == 0, quiet.out
    assert log.count(LISTING) == 1 and log.count(ONE_ROLE) == 0


def test_a_listing_of_whole_pages_asks_for_no_empty_page_after_them(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    import yaml

    from rmsync.api import Client
    from rmsync.models import ApiVersion, Credentials
    from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from rmsync.sandbox.generate import generate_seed
    from rmsync.sandbox.seed import parse_seed
    from rmsync.yamlload import load_text

    doc = generate_seed(500, sessions=1)  # two full pages of 250
    log = Recorder()
    tenant = make_sandbox(seed=parse_seed(load_text(yaml.safe_dump(doc), "seed")), log=log)
    creds = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    with Client(tenant.base_url, creds, ApiVersion.V2025) as client:
        assert len(client.roles(doc["sessions"][0]["id"])) == 500
    assert log.count(LISTING) == 2  # the tenant's count says there is no third (it asked one)


def test_an_export_that_moved_on_is_recorded_without_reading_its_role_whole(
    make_sandbox: Callable[..., Sandbox], clock: FakeClock, tmp_path: Path
) -> None:
    log = Recorder()
    tenant = make_sandbox(schedule=Schedule(5, 5, 0), log=log)
    (tmp_path / "rmsync.yaml").write_text(
        (ROOT / "tests" / "data" / "manifests" / "by-ids.yaml").read_text()
    )
    env = tenant_env(tenant.base_url)
    assert rmsync("apply", "--auto-approve", cwd=tmp_path, env=env).code == 0
    clock.advance(60)  # all five have finished: the plan updates their records
    log.lines.clear()
    planned = rmsync("plan", cwd=tmp_path, env=env)
    assert planned.out.count("~ update") == 5, planned.out
    assert log.count(ONE_ROLE) == 2  # the two sessions with one role each, as for a no-op plan
