"""Planning, purely: every action, its reasons and changes, and reference errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from rmsync.models import (
    Action,
    Change,
    Download,
    Duration,
    ExportJob,
    ExportParams,
    Live,
    Lock,
    Options,
    Record,
    Selector,
    Status,
)
from rmsync.plan import PlanError, exports_to_read, make_plan, refresh_plan
from tests.builders import S1, S2, R, export, manifest, record, role


def test_every_kind_of_action_with_reasons_and_changes() -> None:
    m = manifest(
        export("new", 0),
        export("params", 1, params=ExportParams(20, False)),
        export("role-changed", 2),
        export("errored", 3),
        export("finished", 4),
        export("same", 5),
        export("vanished", 6),
    )
    lock = Lock(
        {
            "params": record("params", 1),
            "role-changed": record("role-changed", 2),
            "errored": record("errored", 3, Status.ERROR),
            "finished": record("finished", 4, Status.QUEUED),
            "same": record("same", 5),
            "vanished": record("vanished", 6, Status.IN_PROGRESS),
            "gone": record("gone", 7),
        }
    )
    roles = {R[n]: role(n) for n in range(7)}
    roles[R[2]] = role(
        2, entitlement_count=6, excluded_entitlements=("e1",), modified="2026-11-02T00:00:00.000Z"
    )
    exports = {
        "exp-finished": ExportJob("exp-finished", Status.SUCCESS, ExportParams()),
        "exp-vanished": None,  # asked for, and the tenant answered 404
    }
    plan = make_plan(m, lock, Live(roles, exports))
    by_name = {s.name: s for s in plan.steps}
    assert [s.name for s in plan.steps] == sorted(by_name)
    assert plan.unchanged == ("same",)
    assert {n: s.action for n, s in by_name.items()} == {
        "new": Action.EXPORT,
        "params": Action.REEXPORT,
        "role-changed": Action.REEXPORT,
        "errored": Action.REEXPORT,
        "finished": Action.UPDATE,
        "vanished": Action.REEXPORT,
        "gone": Action.FORGET,
    }
    assert by_name["params"].changes == (
        Change("include_common_access", True, False),
        Change("min_entitlement_popularity", 0, 20),
    )
    assert by_name["role-changed"].reasons == ("the role changed since it was exported",)
    assert by_name["role-changed"].changes == (
        Change("role.entitlement_count", 7, 6),
        Change("role.excluded_entitlements", [], ["e1"]),
        Change("role.modified", "2026-09-14T09:02:11.000Z", "2026-11-02T00:00:00.000Z"),
    )
    assert by_name["errored"].reasons == ("the recorded export ended in ERROR",)
    assert by_name["finished"].changes == (Change("status", "QUEUED", "SUCCESS"),)
    assert by_name["finished"].status is Status.SUCCESS
    assert by_name["vanished"].reasons == (
        "the tenant no longer has export exp-vanished (it answered 404; exports expire)",
    )
    assert plan.counts() == {
        Action.EXPORT: 1,
        Action.REEXPORT: 4,
        Action.UPDATE: 1,
        Action.DOWNLOAD: 0,
        Action.FORGET: 1,
    }


def test_a_moved_session_is_a_reexport_and_a_rename_is_not() -> None:
    m = manifest(export("a", 0, session=S2), export("b", 1))
    lock = Lock({"a": record("a", 0), "b": record("b", 1)})
    live = Live({R[0]: role(0, session=S2), R[1]: role(1, name="Renamed")})
    plan = make_plan(m, lock, live)
    assert [(s.name, s.action) for s in plan.steps] == [("a", Action.REEXPORT)]
    assert plan.steps[0].changes == (Change("session_id", S1, S2),)
    assert plan.unchanged == ("b",)


def test_still_running_export_is_unchanged_until_it_moves() -> None:
    m = manifest(export("a", 0))
    lock = Lock({"a": record("a", 0, Status.QUEUED)})
    live = Live({R[0]: role(0)}, {"exp-a": ExportJob("exp-a", Status.QUEUED, ExportParams())})
    assert not make_plan(m, lock, live).changed


def test_missing_roles_and_wrong_sessions_are_problems_of_those_exports_alone() -> None:
    m = manifest(
        export("ghost", 0, line=7), export("elsewhere", 1, line=12), export("fine", 2, line=20)
    )
    lock = Lock({"ghost": record("ghost", 0)})  # a broken export's record is kept, not forgotten
    live = Live({R[0]: None, R[1]: role(1, session=S2), R[2]: role(2)})
    plan = make_plan(m, lock, live)
    assert [str(b) for b in plan.broken] == [
        f"rmsync.yaml:7: exports.ghost.potential_role_id: the tenant has no potential role {R[0]} (check the id; a re-run session mints new ids: `potential_role:` by name follows them)",
        f"rmsync.yaml:12: exports.elsewhere.session_id: potential role {R[1]} (Role 1) belongs to session {S2}, not {S1}",
    ]
    assert [b.name for b in plan.broken] == ["ghost", "elsewhere"]
    assert [(s.action, s.name) for s in plan.steps] == [(Action.EXPORT, "fine")]
    left_out = make_plan(m, lock, live, Options(excluded=frozenset({"ghost", "elsewhere"})))
    assert left_out.broken == () and [s.name for s in left_out.steps] == ["fine"]
    with pytest.raises(PlanError, match="--exclude: 'nope' is not an export"):
        make_plan(m, lock, live, Options(excluded=frozenset({"nope"})))


def test_empty_everything_is_no_changes() -> None:
    plan = make_plan(manifest(), Lock(), Live())
    assert not plan.changed
    assert plan.counts() == dict.fromkeys(Action, 0)


NOW = datetime(2026, 12, 15, tzinfo=UTC)


def test_targets_limit_the_plan_and_unknown_names_are_errors() -> None:
    m = manifest(export("a", 0), export("b", 1))
    lock = Lock({"gone": record("gone", 2)})
    live = Live({R[0]: role(0), R[1]: role(1)})
    plan = make_plan(m, lock, live, Options(targets=frozenset({"b", "gone"})))
    assert [(s.name, s.action) for s in plan.steps] == [
        ("b", Action.EXPORT),
        ("gone", Action.FORGET),
    ]
    with pytest.raises(
        PlanError, match="--target: 'nope' is not an export in the manifest or the lockfile"
    ):
        make_plan(m, lock, live, Options(targets=frozenset({"nope"})))
    with pytest.raises(PlanError, match="--replace: 'zzz' is not an export"):
        make_plan(m, lock, live, Options(replace=frozenset({"zzz"})))


def test_replace_forces_a_reexport() -> None:
    m = manifest(export("a", 0))
    plan = make_plan(
        m, Lock({"a": record("a", 0)}), Live({R[0]: role(0)}), Options(replace=frozenset({"a"}))
    )
    assert [(s.action, s.reasons) for s in plan.steps] == [
        (Action.REEXPORT, ("a replacement was asked for (--replace)",))
    ]


@pytest.mark.parametrize(
    ("refresh", "expected"),
    [
        ("30d", "the export is 43 days old (refresh_after 30d)"),
        ("7w", None),
        ("1000h", "the export is 43 days old (refresh_after 1000h)"),
    ],
)
def test_refresh_after_reexports_old_successful_exports(refresh: str, expected: str | None) -> None:
    m = manifest(replace(export("a", 0), refresh_after=Duration.parse(refresh)))
    plan = make_plan(m, Lock({"a": record("a", 0)}), Live({R[0]: role(0)}), Options(now=NOW))
    assert [s.reasons for s in plan.steps] == ([(expected,)] if expected else [])


def test_refresh_plans_only_status_updates_of_running_exports() -> None:
    lock = Lock(
        {
            "a": record("a", 0, Status.QUEUED),
            "b": record("b", 1, Status.QUEUED),
            "c": record("c", 2, Status.IN_PROGRESS),
            "d": record("d", 3),  # final: not read, not planned
        }
    )
    jobs = {
        "exp-a": ExportJob("exp-a", Status.ERROR, ExportParams(), "disk full"),
        "exp-b": ExportJob("exp-b", Status.QUEUED, ExportParams()),
        "exp-c": None,  # the tenant no longer has it
    }
    plan = refresh_plan(lock, Live({}, jobs))
    assert [(s.name, s.action, s.status, s.detail, s.changes) for s in plan.steps] == [
        ("a", Action.UPDATE, Status.ERROR, "disk full", (Change("status", "QUEUED", "ERROR"),)),
        ("c", Action.UPDATE, None, None, (Change("status", "IN_PROGRESS", None),)),
    ]
    assert plan.steps[1].reasons == (
        "the export moved on: IN_PROGRESS → gone (the tenant answered 404)",
    )
    assert [s.name for s in refresh_plan(lock, Live({}, jobs), frozenset({"c"})).steps] == ["c"]


def test_exports_to_read_are_the_running_ones_and_those_with_an_archive_to_fetch() -> None:
    m = manifest(
        export("running", 0),
        replace(export("to-fetch", 1), download="a.zip"),
        replace(export("fetched", 2), download="b.zip"),
        export("done", 3),
    )
    lock = Lock(
        {
            "running": record("running", 0, Status.QUEUED),
            "to-fetch": record("to-fetch", 1),
            "fetched": _saved(record("fetched", 2), "b.zip", "abc"),
            "done": record("done", 3),
            "forgotten": record("forgotten", 4, Status.QUEUED),  # leaves the manifest
        }
    )
    files = {"a.zip": None, "b.zip": "abc"}
    assert [e[2] for e in exports_to_read(m, lock, files)] == ["exp-running", "exp-to-fetch"]
    assert exports_to_read(m, lock, files, frozenset({"done"})) == []


def test_an_export_the_tenant_no_longer_has_is_re_exported_with_that_reason() -> None:
    m = manifest(replace(export("a", 0), download="a.zip"), export("b", 1))
    lock = Lock({"a": record("a", 0), "b": replace(record("b", 1), gone_at="2026-11-20T08:00:00Z")})
    live = Live({R[0]: role(0), R[1]: role(1)}, {"exp-a": None})
    plan = make_plan(m, lock, live, files={"a.zip": None})
    assert [(s.name, s.action, s.reasons) for s in plan.steps] == [
        (
            "a",
            Action.REEXPORT,
            ("the tenant no longer has export exp-a (it answered 404; exports expire)",),
        ),
        (
            "b",
            Action.REEXPORT,
            (
                "the tenant no longer has export exp-b (it answered 404 at "
                "2026-11-20T08:00:00Z; exports expire)",
            ),
        ),
    ]


def test_an_export_gone_with_its_re_run_role_says_so_not_that_it_expired() -> None:
    """A re-run session mints new roles; the old role's export goes with it."""
    m = manifest(replace(export("a", 1), selector=Selector(session_name="S", role_name="A")))
    lock = Lock({"a": replace(record("a", 0), gone_at="2026-11-20T08:00:00Z")})
    plan = make_plan(m, lock, Live({R[1]: role(1)}, {}))
    (step,) = plan.steps
    assert step.action is Action.REEXPORT
    assert (
        "the tenant no longer has export exp-a (it answered 404 at 2026-11-20T08:00:00Z; its "
        "role went when the session was re-run)"
    ) in step.reasons


def test_an_error_is_re_exported_with_the_tenant_s_reason() -> None:
    m = manifest(export("a", 0), export("b", 1))
    lock = Lock(
        {
            "a": record("a", 0, Status.QUEUED),
            "b": replace(record("b", 1, Status.ERROR), error="quota"),
        }
    )
    jobs = {"exp-a": ExportJob("exp-a", Status.ERROR, ExportParams(), "timed out in the miner")}
    plan = make_plan(m, lock, Live({R[0]: role(0), R[1]: role(1)}, jobs))
    assert [s.reasons for s in plan.steps] == [
        ("the recorded export ended in ERROR: timed out in the miner",),
        ("the recorded export ended in ERROR: quota",),
    ]
    assert plan.steps[0].detail == "timed out in the miner"


def _saved(rec: Record, path: str = "exports/a.zip", sha: str = "abc") -> Record:
    return replace(rec, download=Download(path, sha, 10))


@pytest.mark.parametrize(
    ("saved", "files", "missing", "reason"),
    [
        (False, {}, False, "the archive is not saved yet (download: exports/a.zip)"),
        # archives stay out of Git: on a fresh checkout a recorded one is missing, no change
        (True, {"exports/a.zip": None}, False, None),
        (True, {"exports/a.zip": None}, True, "exports/a.zip is missing"),
        (
            True,
            {"exports/a.zip": "zzz"},
            False,
            "exports/a.zip was altered (its sha256 differs from the recorded one)",
        ),
        (True, {"exports/a.zip": "abc"}, True, None),
    ],
)
def test_downloads_are_planned_when_not_saved_altered_or_missing_if_asked(
    saved: bool, files: dict[str, str | None], missing: bool, reason: str | None
) -> None:
    m = manifest(replace(export("a", 0), download="exports/a.zip"))
    rec = _saved(record("a", 0)) if saved else record("a", 0)
    chosen = Options(download_missing=missing)
    plan = make_plan(m, Lock({"a": rec}), Live({R[0]: role(0)}), chosen, files=files)
    if reason is None:
        assert not plan.changed
    else:
        assert [(s.action, s.reasons, s.download) for s in plan.steps] == [
            (Action.DOWNLOAD, (reason,), "exports/a.zip")
        ]


def test_a_moved_download_path_and_a_finished_export_are_downloads() -> None:
    m = manifest(
        replace(export("a", 0), download="new/a.zip"), replace(export("b", 1), download="b.zip")
    )
    lock = Lock({"a": _saved(record("a", 0)), "b": record("b", 1, Status.IN_PROGRESS)})
    jobs = {"exp-b": ExportJob("exp-b", Status.SUCCESS, ExportParams())}
    plan = make_plan(
        m,
        lock,
        Live({R[0]: role(0), R[1]: role(1)}, jobs),
        Options(download_missing=True),
        files={"new/a.zip": None, "b.zip": None},
    )
    assert [(s.name, s.action, s.reasons[0]) for s in plan.steps] == [
        ("a", Action.DOWNLOAD, "the download path changed: exports/a.zip → new/a.zip"),
        ("b", Action.DOWNLOAD, "the archive is not saved yet (download: b.zip)"),
    ]
    assert plan.steps[1].changes == (Change("status", "IN_PROGRESS", "SUCCESS"),)
