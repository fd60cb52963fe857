"""Where rmsync reads and writes: folder layouts, --lockfile, show and import on any layout,
saved plans from the wrong folder, download paths that cannot be written, and file modes."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from rmsync.sandbox import Sandbox, Schedule
from tests.builders import FINANCE, tenant_env
from tests.proxy import Proxy, running
from tests.run import RMSYNC, rmsync

ROOT = Path(__file__).resolve().parents[1]
SALES = "c7affc9a-ec78-55b6-8a8e-d584dceea31d"
OFFLINE = {k: v for k, v in os.environ.items() if not k.startswith("SAIL_")}


@pytest.fixture
def tenant(make_sandbox: Callable[..., Sandbox]) -> dict[str, str]:
    return tenant_env(make_sandbox(schedule=Schedule(0, 0)).base_url)


@pytest.fixture
def folder_layout(tmp_path: Path) -> Path:
    """manifests/finance.yaml and manifests/sales.yaml: one manifest in two files."""
    example = yaml.safe_load((ROOT / "tests" / "data" / "manifests" / "by-ids.yaml").read_text())
    exports = example["exports"]
    folder = tmp_path / "manifests"
    folder.mkdir()
    finance = {n: exports[n] for n in ("accounting-core", "accounts-payable", "payroll")}
    sales = {n: exports[n] for n in ("account-executives", "sre-on-call")}
    for name, part in (("finance", finance), ("sales", sales)):
        doc = {"version": 1, "exports": part}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def test_a_lockfile_kept_in_a_folder_manifest_is_not_read_as_a_manifest(
    folder_layout: Path, tenant: dict[str, str]
) -> None:
    args = ("--manifest", "manifests", "--lockfile", "manifests/state.yaml")
    cwd = folder_layout.parent
    applied = rmsync("apply", "--auto-approve", *args, cwd=cwd, env=tenant)
    assert applied.code == 0, applied.err
    assert (folder_layout / "state.yaml").exists()
    plan = rmsync("plan", "--detailed-exitcode", *args, cwd=cwd, env=tenant)
    assert (plan.code, plan.err) == (0, "")
    valid = rmsync("validate", *args, cwd=cwd, env=OFFLINE)
    assert valid.out == "Valid: 5 exports in 2 manifest files; 5 records in the lockfile.\n"


def test_show_finds_the_lockfile_of_any_manifest_layout(
    folder_layout: Path, tenant: dict[str, str]
) -> None:
    cwd = folder_layout.parent
    assert (
        rmsync("apply", "--auto-approve", "--manifest", "manifests", cwd=cwd, env=tenant).code == 0
    )
    tables = [
        rmsync("show", "--manifest", "manifests", cwd=cwd, env=OFFLINE),
        rmsync("show", "manifests", cwd=cwd, env=OFFLINE),
        rmsync("show", "manifests/finance.yaml", cwd=cwd, env=OFFLINE),  # a manifest file
        rmsync("show", "manifests/rmsync.lock.yaml", cwd=cwd, env=OFFLINE),
    ]
    for table in tables:
        assert table.code == 0, table.err
        assert table.out.splitlines()[0].split()[:2] == ["NAME", "STATUS"]
        assert len(table.out.splitlines()) == 6
    nothing = rmsync("show", cwd=cwd, env=OFFLINE)
    assert nothing.code == 1
    assert "rmsync.lock.yaml: no lockfile yet" in nothing.err


def test_import_keeps_names_unique_across_a_folder_manifest(
    folder_layout: Path, tenant: dict[str, str]
) -> None:
    cwd = folder_layout.parent
    # into one file of the folder: the sibling's names count too
    sales = rmsync(
        "import", "--session", FINANCE, "--manifest", "manifests/sales.yaml", cwd=cwd, env=tenant
    )
    assert sales.code == 0, sales.err
    assert "  = accounting-core: Accounting core" in sales.out  # it is in finance.yaml
    into_folder = rmsync(
        "import", "--session", FINANCE, "--manifest", "manifests", "--to", "manifests/new.yaml",
        cwd=cwd, env=tenant,
    )  # fmt: skip
    assert into_folder.code == 0, into_folder.err
    assert "Added 0 exports to manifests/new.yaml; 5 were there already." in into_folder.out
    assert not (folder_layout / "new.yaml").exists()  # nothing to add: no empty file
    assert rmsync("validate", "--manifest", "manifests", cwd=cwd, env=OFFLINE).code == 0
    no_to = rmsync("import", "--session", FINANCE, "--manifest", "manifests", cwd=cwd, env=tenant)
    assert no_to.code == 1
    assert "--manifest manifests is a folder: name the file in it" in no_to.err


def test_import_into_a_folder_that_does_not_exist(tmp_path: Path, tenant: dict[str, str]) -> None:
    ran = rmsync(
        "import", "--session", FINANCE, "--manifest", "no-such-dir/x.yaml", cwd=tmp_path, env=tenant
    )
    assert ran.code == 1
    assert ran.err == "Error: no-such-dir: no such folder; create it first (mkdir -p no-such-dir)\n"


def test_a_saved_plan_applied_from_another_folder_says_so(
    tmp_path: Path, tenant: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", repo / "rmsync.yaml")
    assert rmsync("plan", "--out", "plan.json", cwd=repo, env=tenant).code == 0
    elsewhere = rmsync("apply", "repo/plan.json", cwd=tmp_path, env=tenant)
    assert elsewhere.code == 1
    assert "rmsync.yaml is not here" in elsewhere.err
    assert "apply it from the folder `plan` ran in" in elsewhere.err
    assert "stale" not in elsewhere.err


def with_download(project: Path, path: str, name: str = "accounting-core") -> None:
    manifest = project / "rmsync.yaml"
    doc = yaml.safe_load(manifest.read_text())
    doc["exports"][name or next(iter(doc["exports"]))]["download"] = path
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: (p / "exports" / "a.zip").mkdir(parents=True),
            "exports.accounting-core.download: exports/a.zip is a folder, not a file; "
            "remove it or name another file",
        ),
        (
            lambda p: (p / "exports").write_text("a file"),
            "exports.accounting-core.download: exports is a file, so nothing can be saved "
            "below it; rename one of them",
        ),
    ],
)
def test_a_download_path_that_cannot_be_written_is_a_clear_error(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", tmp_path / "rmsync.yaml")
    with_download(tmp_path, "exports/a.zip")
    make(tmp_path)
    ran = rmsync("validate", cwd=tmp_path, env=OFFLINE)
    assert ran.code == 1
    assert message in ran.err
    assert "internal error" not in ran.err


def test_files_rmsync_writes_get_the_umask_mode(tmp_path: Path, tenant: dict[str, str]) -> None:
    def run(*args: str) -> None:
        done = subprocess.run(
            [*RMSYNC, *args], cwd=tmp_path, env=tenant, capture_output=True, text=True,
            timeout=60, umask=0o022,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    run("import", "--session", SALES)  # no role of it ends in ERROR
    with_download(tmp_path, "exports/a.zip", name="")
    run("plan", "--out", "plan.json")
    run("apply", "--auto-approve", "--wait")
    written = ["rmsync.yaml", "plan.json", "rmsync.lock.yaml", "exports/a.zip"]
    modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in written}
    assert modes == dict.fromkeys(written, 0o644)
    (tmp_path / "rmsync.lock.yaml").chmod(0o640)
    with_download(tmp_path, "exports/b.zip", name="")
    run("apply", "--auto-approve", "--wait")
    assert stat.S_IMODE((tmp_path / "rmsync.lock.yaml").stat().st_mode) == 0o640  # kept


def test_a_folder_swapped_for_a_link_while_apply_downloads_is_refused(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / "exports").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", project / "rmsync.yaml")
    with_download(project, "exports/a.zip")

    def swap(method: str, path: str) -> None:  # while the archive is on its way
        if path.endswith("/download"):
            (project / "exports").rename(project / "exports.moved")
            (project / "exports").symlink_to(outside, target_is_directory=True)

    sandbox = make_sandbox(schedule=Schedule(0, 0))
    with running(Proxy(sandbox.base_url, before_reply=swap)) as proxy:
        ran = rmsync("apply", "--auto-approve", cwd=project, env=tenant_env(proxy.base_url))
    assert ran.code == 1, ran.err
    assert "internal error" not in ran.err
    assert (
        "download: exports/a.zip: refused: exports now leads outside the manifest's folder "
        "(through a link); nothing was saved"
    ) in ran.out + ran.err
    assert list(outside.iterdir()) == []


def test_apply_removes_the_temporary_files_a_killed_run_left_and_nothing_else(
    tmp_path: Path, tenant: dict[str, str]
) -> None:
    project = tmp_path
    shutil.copy(ROOT / "tests" / "data" / "manifests" / "by-ids.yaml", project / "rmsync.yaml")
    with_download(project, "exports/accounting-core.zip")
    (project / "exports").mkdir()
    left = [
        project / ".rmsync.lock.yaml.k1ll3d.tmp",
        project / "exports" / ".accounting-core.zip.x9y8.tmp",
    ]
    kept = [project / ".plan.json.a1b2.tmp", project / "exports" / "notes.tmp"]
    for path in (*left, *kept):
        path.write_text("half")
    ran = rmsync("apply", "--auto-approve", cwd=project, env=tenant)
    assert ran.code == 0, ran.err
    assert [p.exists() for p in left] == [False, False]
    assert [p.exists() for p in kept] == [True, True]
