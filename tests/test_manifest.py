"""Manifests: the example, folders of files, defaults, and every problem at file:line."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from rmsync.manifest import ManifestError, load_manifest
from rmsync.models import ApiVersion, ExportParams, Selector
from tests.builders import ACCOUNTING, FINANCE
from tests.expect import check_reported

ROOT = Path(__file__).resolve().parents[1]
INVALID = sorted((Path(__file__).parent / "data" / "manifests" / "invalid").glob("*.yaml"))
ENTRY = "  {name}:\n    session_id: {session}\n    potential_role_id: {role}\n"


def write(path: Path, names: list[str], extra: str = "") -> Path:
    body = "".join(
        ENTRY.format(name=n, session=FINANCE, role=uuid.uuid5(uuid.NAMESPACE_URL, n)) for n in names
    )
    path.write_text(f"version: 1\n{extra}exports:\n{body}", encoding="utf-8")
    return path


def test_example_manifest_loads_with_defaults_applied() -> None:
    manifest = load_manifest(ROOT / "examples" / "rmsync.yaml")
    assert manifest.api_version is ApiVersion.V2025
    names = [e.name for e in manifest.exports]
    assert (
        names
        == sorted(names)
        == ["account-executives", "accounting-core", "accounts-payable", "payroll", "sre-on-call"]
    )
    core = manifest.export("accounting-core")
    assert core is not None and core.params == ExportParams(10, False)
    assert core.selector == Selector(session_name="Finance Q3 2026", role_name="Accounting core")
    assert (core.session_id, core.potential_role_id) == ("", "")  # found in the tenant
    payroll = manifest.export("payroll")
    assert payroll is not None and payroll.params == ExportParams(0, True)
    by_ids = manifest.export("sre-on-call")
    assert by_ids is not None and by_ids.selector is None
    (support,) = manifest.sets
    assert (support.name, support.template, support.params) == (
        "support",
        "support-{slug}",
        ExportParams(20, True),
    )
    assert support.session == Selector(session_name="Sales and support 2026")


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_broken_manifest_reports_every_problem_at_its_line(path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    check_reported(path, caught.value)


def test_folder_merges_files_and_each_file_has_its_own_defaults(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", ["one"], "defaults:\n  min_entitlement_popularity: 30\n")
    write(tmp_path / "b.yml", ["two"])
    (tmp_path / "rmsync.lock.yaml").write_text("version: 1\nexports: {}\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    manifest = load_manifest(tmp_path)
    assert [(e.name, e.params.min_entitlement_popularity) for e in manifest.exports] == [
        ("one", 30),
        ("two", 0),
    ]
    assert manifest.folder == tmp_path
    assert len(manifest.files) == 2


def test_a_name_defined_in_two_files_names_both_places(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", ["same", "other"])
    write(tmp_path / "b.yaml", ["x", "same"])
    with pytest.raises(ManifestError) as caught:
        load_manifest(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'b.yaml'}:6: exports.same: export 'same' is also defined at "
        f"{tmp_path / 'a.yaml'}:3; names must be unique"
    )


def test_two_names_for_the_same_export_are_an_error(tmp_path: Path) -> None:
    text = "version: 1\nexports:\n" + ENTRY.format(name="a", session=FINANCE, role=ACCOUNTING)
    text += ENTRY.format(name="b", session=FINANCE, role=ACCOUNTING)
    text += (
        ENTRY.format(name="c", session=FINANCE, role=ACCOUNTING)
        + "    min_entitlement_popularity: 5\n"
    )
    (tmp_path / "rmsync.yaml").write_text(text)
    with pytest.raises(ManifestError) as caught:
        load_manifest(tmp_path / "rmsync.yaml")
    assert str(caught.value) == (
        f"{tmp_path / 'rmsync.yaml'}:6: exports.b: asks for the same export as 'a' "
        f"({tmp_path / 'rmsync.yaml'}:3): same role and parameters; keep one"
    )


def test_conflicting_tenant_settings_across_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", ["one"], "tenant:\n  api_version: v2025\n")
    write(tmp_path / "b.yaml", ["two"], "tenant:\n  api_version: beta\n")
    with pytest.raises(
        ManifestError,
        match=r"b.yaml:3: tenant.api_version: 'beta' conflicts with 'v2025' at .*a.yaml:3",
    ):
        load_manifest(tmp_path)


def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    for path in INVALID:
        shutil.copy(path, tmp_path / path.name)
    with pytest.raises(ManifestError) as caught:
        load_manifest(tmp_path)
    files = {line.split(":")[0] for line in str(caught.value).splitlines()}
    assert files == {str(tmp_path / p.name) for p in INVALID}


def test_missing_manifest_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file or folder \\(pass --manifest, or run"):
        load_manifest(tmp_path / "rmsync.yaml")
    with pytest.raises(ManifestError, match="no \\*.yaml or \\*.yml manifest files in this folder"):
        load_manifest(tmp_path)
