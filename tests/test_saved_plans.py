"""`rmsync apply plan.json` with an edited plan file: it is checked like a manifest.

The manifest (digest-verified) is the reviewed truth; a saved plan only says which actions to
take. An edited plan that names files outside the folder it is applied in, chooses where an
archive goes, or asks for anything the manifest's export of that name does not, is refused with
the field named, before anything is written anywhere. Each test edits a real plan made by
`plan --out` against the sandbox, then applies it through the real CLI.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rmsync import planfile
from rmsync.sandbox import Sandbox, Schedule
from tests import builders
from tests.conftest import FakeClock
from tests.run import Ran, rmsync

EXAMPLE = Path(__file__).parent.parent / "tests" / "data" / "manifests" / "by-ids.yaml"
DOWNLOAD = "exports/accounting-core.zip"

Doc = dict[str, Any]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The example manifest, accounting-core saving its archive, two folders down in tmp_path
    (so that `../..` from it still lands in tmp_path, where the test looks)."""
    project = tmp_path / "outer" / "repo"
    project.mkdir(parents=True)
    shutil.copy(EXAMPLE, project / "rmsync.yaml")
    add_download(project / "rmsync.yaml")
    return project


def add_download(manifest: Path) -> None:
    line = f"    potential_role_id: {builders.ACCOUNTING}\n"
    text = manifest.read_text()
    assert line in text
    manifest.write_text(text.replace(line, f"{line}    download: {DOWNLOAD}\n"))


@pytest.fixture
def env(make_sandbox: Callable[..., Sandbox]) -> dict[str, str]:
    return builders.tenant_env(make_sandbox(schedule=Schedule(0, 0)).base_url)


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def saved(repo: Path, env: dict[str, str], *args: str) -> Doc:
    made = rmsync("plan", "--out", "plan.json", *args, cwd=repo, env=env)
    assert made.code == 0, made.err
    doc: Doc = json.loads((repo / "plan.json").read_text())
    return doc


def write(repo: Path, doc: Doc) -> None:
    (repo / "plan.json").write_text(json.dumps(doc, indent=2))


def refused(repo: Path, env: dict[str, str], expected: str, *args: str) -> Ran:
    result = rmsync("apply", "plan.json", "--wait", *args, cwd=repo, env=env)
    assert result.code == 1, result.out
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    assert expected in result.err, result.err
    assert result.out == ""
    return result


def action(doc: Doc, name: str) -> Doc:
    found: Doc = next(a for a in doc["actions"] if a["name"] == name)
    return found


def nothing_written(repo: Path) -> None:
    assert not (repo / "rmsync.lock.yaml").exists()
    assert not (repo / ".rmsync.lock.yaml.lock").exists()
    assert not (repo / "exports").exists()


# -- the plan's own paths: manifest and lockfile ----------------------------------------------


@pytest.mark.parametrize("where", ["parent", "grandparent", "absolute", "link"])
def test_a_plan_cannot_put_the_lockfile_outside(
    tmp_path: Path, repo: Path, env: dict[str, str], where: str
) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    (tmp_path / "outside").mkdir()
    (repo / "link").symlink_to(tmp_path / "outside")
    path = {
        "parent": "../stolen.lock.yaml",
        "grandparent": "../../stolen.lock.yaml",
        "absolute": str(tmp_path / "outside" / "stolen.lock.yaml"),
        "link": "link/rmsync.lock.yaml",
    }[where]
    doc["made_from"]["lockfile"]["path"] = path
    write(repo, doc)
    before = files_under(tmp_path)
    result = refused(repo, env, f"plan.json: made_from.lockfile.path: {path} ")
    assert "run plan --out again" in result.err
    assert files_under(tmp_path) == before
    assert not list(tmp_path.rglob("*.lock"))  # not even the apply lock
    nothing_written(repo)


@pytest.mark.parametrize("where", ["relative", "absolute", "link"])
def test_a_plan_cannot_take_its_manifest_from_outside(
    tmp_path: Path, repo: Path, env: dict[str, str], where: str
) -> None:
    # A manifest outside, as reviewed as the one inside but for its place: its downloads
    # would land outside. The plan carries its true digest.
    doc = saved(repo, env, "--target", "accounting-core")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(repo / "rmsync.yaml", elsewhere / "rmsync.yaml")
    (repo / "link").symlink_to(elsewhere)
    path = {
        "relative": "../../elsewhere/rmsync.yaml",
        "absolute": str(elsewhere / "rmsync.yaml"),
        "link": "link/rmsync.yaml",
    }[where]
    doc["made_from"]["manifest"]["path"] = path
    doc["made_from"]["manifest"]["sha256"] = planfile.digest_manifest(
        elsewhere / "rmsync.yaml", exclude=repo / "rmsync.lock.yaml"
    )
    write(repo, doc)
    before = files_under(tmp_path)
    refused(repo, env, f"plan.json: made_from.manifest.path: {path} ")
    assert files_under(tmp_path) == before
    nothing_written(repo)


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("", '""'),
        (".", "."),
        ("exports/", "exports/"),
        ("sub/..", "sub/.."),
        ("a\0b", '"a\\u0000b"'),
    ],
)
def test_a_plan_lockfile_must_be_a_file(
    repo: Path, env: dict[str, str], path: str, shown: str
) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    doc["made_from"]["lockfile"]["path"] = path
    write(repo, doc)
    refused(repo, env, f"plan.json: made_from.lockfile.path: {shown} is not a")
    nothing_written(repo)
    assert sorted(p.name for p in repo.iterdir()) == ["plan.json", "rmsync.yaml"]


def test_a_plan_cannot_make_the_manifest_its_lockfile(repo: Path, env: dict[str, str]) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    doc["made_from"]["lockfile"]["path"] = "rmsync.yaml"
    doc["made_from"]["lockfile"]["sha256"] = planfile.digest_lockfile(repo / "rmsync.yaml")
    write(repo, doc)
    manifest = (repo / "rmsync.yaml").read_bytes()
    refused(repo, env, "plan.json: made_from.lockfile.path: rmsync.yaml is the manifest")
    assert (repo / "rmsync.yaml").read_bytes() == manifest


def test_a_plan_with_paths_inside_still_applies(tmp_path: Path, env: dict[str, str]) -> None:
    # A manifest in a subfolder and a lockfile named by --lockfile: inside, so applied.
    (tmp_path / "teams").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "teams" / "finance.yaml")
    add_download(tmp_path / "teams" / "finance.yaml")
    args = ("--manifest", "teams/finance.yaml", "--lockfile", "state/finance.lock.yaml")
    (tmp_path / "state").mkdir()
    saved(tmp_path, env, *args, "--target", "accounting-core")
    result = rmsync("apply", "plan.json", "--wait", cwd=tmp_path, env=env)
    assert result.code == 0, result.err
    assert (tmp_path / "state" / "finance.lock.yaml").exists()
    assert (tmp_path / "teams" / DOWNLOAD).exists()


# -- where an archive goes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "download", ["../escaped.zip", "../../escaped.zip", "ABSOLUTE", "exports/other.zip", None]
)
def test_a_plan_cannot_choose_where_an_archive_goes(
    tmp_path: Path, repo: Path, env: dict[str, str], download: str | None
) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    if download == "ABSOLUTE":
        download = str(tmp_path / "escaped.zip")
    action(doc, "accounting-core")["download"] = download
    write(repo, doc)
    before = files_under(tmp_path)
    shown = "null" if download is None else download
    result = refused(repo, env, f"plan.json: actions[0].download: {shown} ")
    assert f"the manifest declares {DOWNLOAD} for accounting-core" in result.err
    assert files_under(tmp_path) == before
    assert not list(tmp_path.rglob("*.zip"))
    nothing_written(repo)


# -- what an export asks for ------------------------------------------------------------------


def test_a_plan_cannot_start_another_role_under_a_name(repo: Path, env: dict[str, str]) -> None:
    # The payroll action's role, session and fingerprint under accounting-core's name: the
    # role check passes (it is payroll's, unchanged), so only the manifest can tell.
    doc = saved(repo, env, "--target", "accounting-core", "--target", "account-executives")
    victim, other = action(doc, "accounting-core"), action(doc, "account-executives")
    for key in ("session_id", "potential_role_id", "role", "params"):
        victim[key] = other[key]
    write(repo, doc)
    assert [a["name"] for a in doc["actions"]] == ["account-executives", "accounting-core"]
    result = refused(repo, env, "plan.json: actions[1].session_id: ")
    assert "plan.json: actions[1].potential_role_id: " in result.err
    assert "the manifest's accounting-core asks for" in result.err
    nothing_written(repo)


@pytest.mark.parametrize(
    ("key", "value"), [("min_entitlement_popularity", 99), ("include_common_access", True)]
)
def test_a_plan_cannot_change_an_export_parameter(
    repo: Path, env: dict[str, str], key: str, value: object
) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    action(doc, "accounting-core")["params"][key] = value
    write(repo, doc)
    refused(repo, env, f"plan.json: actions[0].params.{key}: ")
    nothing_written(repo)


def test_a_plan_cannot_start_an_export_the_manifest_does_not_have(
    repo: Path, env: dict[str, str]
) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    action(doc, "accounting-core")["name"] = "not-in-the-manifest"
    write(repo, doc)
    refused(
        repo,
        env,
        "plan.json: actions[0].name: not-in-the-manifest is not an export in the manifest "
        "and has no record in the lockfile",
    )
    nothing_written(repo)


def bad_actions() -> list[tuple[str, Callable[[Doc], None], str]]:
    """Edits that make an action say something the manifest and lockfile cannot back."""

    def twice(doc: Doc) -> None:
        doc["actions"].append(dict(doc["actions"][0]))

    def symbol(doc: Doc) -> None:
        doc["actions"][0]["symbol"] = "-"

    def no_role(doc: Doc) -> None:
        doc["actions"][0]["role"] = None

    def other_role_id(doc: Doc) -> None:
        doc["actions"][0]["role"]["id"] = builders.MAINFRAME

    def update(doc: Doc) -> None:
        doc["actions"][0].update(action="update", symbol="~", status="SUCCESS")

    def download(doc: Doc) -> None:
        doc["actions"][0].update(action="download", symbol="<=", status="SUCCESS")

    def reexport(doc: Doc) -> None:
        doc["actions"][0].update(action="re-export", symbol="-/+")

    def forget(doc: Doc) -> None:
        doc["actions"][0].update(action="forget", symbol="-", download=None, role=None)

    def recorded(doc: Doc) -> None:
        doc["actions"][0]["recorded_export_id"] = "0b6f0d8b-4b5f-4a3a-9a57-9d0e4e0f0a11"

    def api(doc: Doc) -> None:
        doc["made_from"]["api_version"] = "beta"

    def targets(doc: Doc) -> None:
        doc["made_from"]["targets"] = ["payroll"]

    return [
        ("twice", twice, "actions[1].name: accounting-core is in the plan twice"),
        ("symbol", symbol, "actions[0].symbol: - is not the symbol of export"),
        ("no-role", no_role, "actions[0].role: an export or re-export needs the role the plan saw"),
        ("role-id", other_role_id, f"actions[0].role.id: {builders.MAINFRAME} is not"),
        ("update", update, "actions[0].action: update needs a record of accounting-core"),
        ("download", download, "actions[0].action: download needs a record of accounting-core"),
        ("re-export", reexport, "actions[0].action: re-export needs a record of accounting-core"),
        ("forget", forget, "actions[0].action: forget of accounting-core, which the manifest"),
        ("recorded", recorded, "actions[0].recorded_export_id: 0b6f0d8b-"),
        ("api", api, "made_from.api_version: beta is not the manifest's api_version (v2025)"),
        ("targets", targets, "actions[0].name: accounting-core is not one of the plan's targets"),
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [(change, expected) for _, change, expected in bad_actions()],
    ids=[name for name, _, _ in bad_actions()],
)
def test_an_action_the_manifest_and_lockfile_cannot_back_is_refused(
    repo: Path, env: dict[str, str], edit: Callable[[Doc], None], expected: str
) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    edit(doc)
    write(repo, doc)
    refused(repo, env, f"plan.json: {expected}")
    nothing_written(repo)


# -- with records: forget, update, and what is recorded ---------------------------------------


def records(repo: Path) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load((repo / "rmsync.lock.yaml").read_text())
    found: dict[str, dict[str, Any]] = doc["exports"]
    return found


def test_a_plan_cannot_forget_what_the_manifest_declares(repo: Path, env: dict[str, str]) -> None:
    applied = rmsync("apply", "--auto-approve", "--target", "payroll", cwd=repo, env=env)
    assert applied.code == 0, applied.err
    doc = saved(repo, env, "--target", "payroll")
    assert doc["actions"] == []
    record = records(repo)["payroll"]
    doc["actions"] = [
        {
            "action": "forget",
            "symbol": "-",
            "name": "payroll",
            "reasons": ["no longer in the manifest (nothing is deleted on the tenant)"],
            "changes": [],
            "session_id": record["session_id"],
            "potential_role_id": record["potential_role_id"],
            "params": {"min_entitlement_popularity": 0, "include_common_access": True},
            "role": None,
            "recorded_export_id": record["export_id"],
            "download": None,
            "status": None,
        }
    ]
    write(repo, doc)
    lock = (repo / "rmsync.lock.yaml").read_bytes()
    refused(
        repo,
        env,
        "plan.json: actions[0].action: forget of payroll, which the manifest still declares",
    )
    assert (repo / "rmsync.lock.yaml").read_bytes() == lock


@pytest.fixture
def running(
    repo: Path, make_sandbox: Callable[..., Sandbox], clock: FakeClock
) -> tuple[dict[str, str], Doc]:
    """payroll started (QUEUED), then finished on the tenant; the saved plan updates it."""
    env = builders.tenant_env(make_sandbox().base_url)
    started = rmsync("apply", "--auto-approve", "--target", "payroll", cwd=repo, env=env)
    assert started.code == 0, started.err
    assert records(repo)["payroll"]["status"] == "QUEUED"
    clock.advance(60)
    doc = saved(repo, env, "--target", "payroll")
    assert [(a["symbol"], a["status"]) for a in doc["actions"]] == [("~", "SUCCESS")]
    return env, doc


@pytest.mark.parametrize("status", ["ERROR", "IN_PROGRESS", None])
def test_a_plan_cannot_record_a_status_the_tenant_did_not_report(
    repo: Path, running: tuple[dict[str, str], Doc], status: str | None
) -> None:
    env, doc = running
    doc["actions"][0]["status"] = status
    write(repo, doc)
    lock = (repo / "rmsync.lock.yaml").read_bytes()
    refused(
        repo,
        env,
        f"plan.json is stale: the tenant changed since it was made:\n  payroll: export "
        f"{records(repo)['payroll']['export_id']} is SUCCESS, not {status or 'gone'}",
    )
    assert (repo / "rmsync.lock.yaml").read_bytes() == lock


def test_an_unedited_update_applies(repo: Path, running: tuple[dict[str, str], Doc]) -> None:
    env, _ = running
    result = rmsync("apply", "plan.json", cwd=repo, env=env)
    assert result.code == 0, result.err
    assert records(repo)["payroll"]["status"] == "SUCCESS"


def test_the_recorded_role_is_the_live_one_not_the_plans(repo: Path, env: dict[str, str]) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    action(doc, "accounting-core")["role"]["name"] = "Forged name"
    write(repo, doc)
    result = rmsync("apply", "plan.json", cwd=repo, env=env)
    assert result.code == 0, result.err
    assert records(repo)["accounting-core"]["role"]["name"] == "Accounting core"


def test_plan_out_refuses_to_save_a_plan_naming_files_outside_this_folder(
    repo: Path, env: dict[str, str]
) -> None:
    ran = rmsync(
        "plan", "--manifest", str(repo / "rmsync.yaml"), "--out", "plan.json", cwd=repo, env=env
    )
    assert ran.code == 1
    assert f"plan.json: not saved: {repo / 'rmsync.yaml'} is an absolute path" in ran.err
    assert not (repo / "plan.json").exists()


def test_show_reads_no_lockfile_outside_this_folder(
    tmp_path: Path, repo: Path, env: dict[str, str]
) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    doc["made_from"]["lockfile"]["path"] = "../../secret.lock.yaml"
    write(repo, doc)
    (tmp_path / "secret.lock.yaml").write_text("not: a lockfile\n")
    shown = rmsync("show", "plan.json", cwd=repo, env=env)
    assert shown.code == 1
    assert "made_from.lockfile.path: ../../secret.lock.yaml leads outside this folder" in shown.err
    assert "not: a lockfile" not in shown.err


@pytest.mark.parametrize("where", [".git/hooks/pre-push", "notes.txt", ".git/rmsync.lock.yaml"])
def test_a_plan_cannot_put_the_lockfile_in_git_or_in_a_non_yaml_file(
    repo: Path, env: dict[str, str], where: str
) -> None:
    doc = saved(repo, env, "--target", "accounting-core")
    doc["made_from"]["lockfile"]["path"] = where
    write(repo, doc)
    refused(repo, env, f"plan.json: made_from.lockfile.path: {where} is not a lockfile's place")
    nothing_written(repo)
    assert not (repo / ".git").exists() and not (repo / "notes.txt").exists()


def test_plan_out_writes_a_regular_file_never_over_a_link(
    repo: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "kept.json"
    elsewhere.write_text("kept\n")
    (repo / "plan.json").symlink_to(elsewhere)
    made = rmsync("plan", "--out", "plan.json", cwd=repo, env=env)
    assert made.code == 1
    assert made.err.endswith(
        "plan.json: the plan was not saved: it is a link (name the file itself)\n"
    )
    assert (repo / "plan.json").is_symlink() and elsewhere.read_text() == "kept\n"


def test_plan_out_dash_names_no_file(repo: Path, env: dict[str, str]) -> None:
    made = rmsync("plan", "--out", "-", cwd=repo, env=env)
    assert made.code == 1 and "--out - names no file" in made.err
    assert not (repo / "-").exists()


def test_a_lockfile_that_is_a_link_is_written_where_it_leads(
    repo: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    real = tmp_path_factory.mktemp("shared") / "rmsync.lock.yaml"
    (repo / "rmsync.lock.yaml").symlink_to(real)
    done = rmsync("apply", "--auto-approve", "--target", "payroll", cwd=repo, env=env)
    assert done.code == 0, done.err
    assert (repo / "rmsync.lock.yaml").is_symlink()
    assert "  payroll:\n" in real.read_text()
