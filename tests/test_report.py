"""`rmsync report NAME` (issue 10): one export as a reviewer reads it; what it refuses."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

from rmsync import report
from rmsync.models import Access, Entitlement, ExportParams, Request, Subject
from rmsync.sandbox import Sandbox, Schedule
from tests import builders
from tests.builders import S1, R
from tests.run import rmsync
from tests.test_access import people

ROOT = Path(__file__).resolve().parents[1]


def test_csv_cells_are_never_formulas_and_every_entitlement_has_a_row() -> None:
    hostile = Entitlement("e1", '=HYPERLINK("http://x")', "@SUM(A1)", 1, 50.0, None)
    plain = Entitlement("e2", "Finance", "AD", 2, 100.0, 12.0, common=True)
    gone = Entitlement("e3", "-1+1", "AD", 1, 50.0, None)
    access = Access(members=2, entitlements=(hostile, plain), excluded=(gone,))
    subject = Subject("x", Request(S1, R[0], ExportParams(60, False)), None, None, access, "now")
    table = list(csv.reader(report.csv_text(subject).splitlines()))
    assert [row[3] for row in table[1:]] == [
        report.BELOW,
        report.COMMON,
        report.EXCLUDED,
    ]
    assert table[1][1:3] == ['\'=HYPERLINK("http://x")', "'@SUM(A1)"]
    assert table[3][1] == "'-1+1"


def test_report_reads_the_tenant_and_names_no_person(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    env = builders.tenant_env(make_sandbox(schedule=Schedule(0, 0)).base_url)
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", tmp_path / "rmsync.yaml")
    before = rmsync("report", "accounting-core", cwd=tmp_path, env=env)
    assert before.code == 0, before.err
    assert "recorded                    no: not exported yet\n" in before.out
    assert (
        "  carried: FI_GL_ACCOUNTANT (SAP ERP): held by 6 of 6 (100%), 6.1% of the org\n"
        in before.out
    )
    for fmt in ("text", "md", "csv"):
        out = rmsync("report", "accounting-core", "--format", fmt, cwd=tmp_path, env=env).out
        assert all(person not in out for person in people())
    unknown = rmsync("report", "nope", cwd=tmp_path, env=env)
    assert (
        unknown.code == 1
        and "'nope' is not an export in the manifest or the lockfile" in unknown.err
    )
    offline = rmsync("report", "payroll", "--recorded", cwd=tmp_path, env={})
    assert offline.code == 1 and "holds no access for it" in offline.err
    assert rmsync("apply", "--auto-approve", "--target", "payroll", cwd=tmp_path, env=env).code == 0
    recorded = rmsync("report", "payroll", "--recorded", cwd=tmp_path, env={"PATH": "/usr/bin"})
    assert recorded.code == 0, recorded.err  # no tenant, no credentials: the lockfile's record
    assert "access (as recorded when the export started, " in recorded.out


def test_recorded_reports_what_that_export_asked_for_not_today_s_manifest(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    env = builders.tenant_env(make_sandbox(schedule=Schedule(0, 0)).base_url)
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", tmp_path / "rmsync.yaml")
    assert rmsync("apply", "--auto-approve", "--target", "payroll", cwd=tmp_path, env=env).code == 0
    manifest = tmp_path / "rmsync.yaml"
    text = manifest.read_text()
    line = "    potential_role_id: bdc9548b-639e-509d-9d12-29fb77b8beb9\n"
    manifest.write_text(text.replace(line, line + "    min_entitlement_popularity: 90\n"))
    recorded = rmsync("report", "payroll", "--recorded", cwd=tmp_path, env={})
    assert recorded.code == 0, recorded.err
    assert "min_entitlement_popularity  0\n" in recorded.out
    assert "role                        Payroll specialists\n" in recorded.out
    assert "  carried: Compensation Analyst (Workday): held by 2 of 3" in recorded.out
    live = rmsync("report", "payroll", cwd=tmp_path, env=env)
    assert "min_entitlement_popularity  90\n" in live.out
    assert (
        "note                        the manifest changed since this export "
        "(min_entitlement_popularity 0 → 90): the table follows the manifest; --recorded "
        "follows the export\n"
    ) in live.out
    assert "  left out: below min_entitlement_popularity: Compensation Analyst" in live.out
