"""`rmsync fmt` (issue 12): manifests in canonical form, comments and meaning kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rmsync.fmt import formatted
from rmsync.manifest import load_manifest
from tests.run import rmsync

ROOT = Path(__file__).resolve().parents[1]
MESSY = """\
# Finance exports (a header: it stays first)
exports:
  payroll:   # the payroll team
    include_common_access: false
    potential_role_id: bdc9548b-639e-509d-9d12-29fb77b8beb9
    session_id: "9f36f5e5-1e81-4eca-b087-548959d91c71"
  accounting-core:
      download: exports/accounting-core.zip
      potential_role:
          name: "Accounting core"
          session: {name: 'Finance Q3 2026'}
tenant:
    api_version: v2025
version: 1
moved:
- to: payroll
  from: payroll-old
"""
CANONICAL = """\
# Finance exports (a header: it stays first)
version: 1
tenant:
  api_version: v2025
exports:
  payroll:   # the payroll team
    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71
    potential_role_id: bdc9548b-639e-509d-9d12-29fb77b8beb9
    include_common_access: false
  accounting-core:
    potential_role:
      session: {name: Finance Q3 2026}
      name: Accounting core
    download: exports/accounting-core.zip
moved:
  - from: payroll-old
    to: payroll
"""


def test_a_manifest_is_put_in_canonical_form_keeping_comments_and_meaning(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rmsync.yaml"
    path.write_text(MESSY)
    before = load_manifest(path)
    ran = rmsync("fmt", cwd=tmp_path, env={})
    assert (ran.code, ran.out) == (
        0,
        "reformatted rmsync.yaml\n1 of 1 manifest file reformatted.\n",
    )
    assert path.read_text() == CANONICAL
    after = load_manifest(path)
    assert [(e.name, e.request, e.selector, e.download) for e in after.exports] == [
        (e.name, e.request, e.selector, e.download) for e in before.exports
    ]
    again = rmsync("fmt", "--check", cwd=tmp_path, env={})
    assert (again.code, again.out) == (0, "0 of 1 manifest file not in canonical form.\n")


def test_check_changes_nothing_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.yaml"
    path.write_text(MESSY)
    ran = rmsync("fmt", "--check", "--diff", cwd=tmp_path, env={})
    assert ran.code == 1
    assert path.read_text() == MESSY
    assert ran.out.startswith("--- rmsync.yaml\n+++ rmsync.yaml (fmt)\n")
    assert "-version: 1\n" in ran.out and "+version: 1\n" in ran.out
    assert ran.out.endswith(
        "would reformat rmsync.yaml\n1 of 1 manifest file not in canonical form.\n"
    )


def test_keys_a_comment_sits_between_keep_their_order() -> None:
    """ruamel.yaml keeps a comment with the key above it: moving keys would carry it away
    from the line it describes. That mapping keeps the author's order; the rest is canonical."""
    text = MESSY.replace(
        "    potential_role_id: bdc9548b", "    # the role, by id\n    potential_role_id: bdc9548b"
    )
    out = formatted(text, "rmsync.yaml")
    assert (
        "  payroll:   # the payroll team\n    include_common_access: false\n"
        "    # the role, by id\n    potential_role_id: bdc9548b"
    ) in out
    assert out.startswith("# Finance exports (a header: it stays first)\nversion: 1\ntenant:\n")
    assert "  accounting-core:\n    potential_role:\n      session:" in out  # still canonical
    assert yaml.safe_load(out) == yaml.safe_load(text)


def test_an_invalid_manifest_is_not_formatted(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.yaml"
    broken = MESSY.replace("version: 1", "version: 2")
    path.write_text(broken)
    ran = rmsync("fmt", cwd=tmp_path, env={})
    assert ran.code == 1 and ran.err.startswith("Error: rmsync.yaml:14: version: ")
    assert path.read_text() == broken


def test_a_folder_is_formatted_file_by_file(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "a.yaml").write_text(MESSY)
    other = (
        "version: 1\nexports:\n  account-executives:\n"
        "    session_id: c7affc9a-ec78-55b6-8a8e-d584dceea31d\n"
        "    potential_role_id: 741f3176-43f2-5fd5-bde9-0f92061f62d7\n"
    )
    (folder / "b.yaml").write_text(other)
    ran = rmsync("fmt", "--manifest", "manifests", cwd=tmp_path, env={})
    assert ran.code == 0, ran.err
    assert ran.out == "reformatted manifests/a.yaml\n1 of 2 manifest files reformatted.\n"
    assert (folder / "a.yaml").read_text() == CANONICAL
    assert (folder / "b.yaml").read_text() == other  # canonical already: untouched


MANIFESTS = sorted(
    [ROOT / "examples" / "rmsync.yaml", *(ROOT / "tests").rglob("rmsync.yaml")],
    key=str,
)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_manifest_in_the_repository_formats_to_the_same_data_and_stays_put(
    path: Path,
) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        pytest.skip("not YAML on purpose")
    once = formatted(text, str(path))
    assert yaml.safe_load(once) == yaml.safe_load(text)
    assert formatted(once, str(path)) == once  # idempotent


def test_the_shipped_example_is_in_canonical_form() -> None:
    text = (ROOT / "examples" / "rmsync.yaml").read_text(encoding="utf-8")
    assert formatted(text, "examples/rmsync.yaml") == text


def test_a_comment_stays_with_an_export_named_like_a_field() -> None:
    """Comments are tied to the path of the line below them, not its bare key: an export
    called `download` is not the `download:` field of another export."""
    text = (
        "version: 1\nexports:\n"
        "  sel:\n"
        "    download: exports/s.zip\n"
        "    potential_role:\n"
        "      session: {name: Finance Q3 2026}\n"
        "      name: Payroll specialists\n"
        "  # the download export\n"
        "  download:\n"
        "    session_id: 9f36f5e5-1e81-4eca-b087-548959d91c71\n"
        "    potential_role_id: e0cc5d7d-bf7f-4f81-b2af-8885b09d9923\n"
    )
    out = formatted(text, "rmsync.yaml")
    lines = out.splitlines()
    assert lines[lines.index("  # the download export") + 1] == "  download:"
    assert yaml.safe_load(out) == yaml.safe_load(text)


def test_a_bom_is_kept_and_the_rest_formatted(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MESSY.encode())
    ran = rmsync("fmt", cwd=tmp_path, env={})
    assert ran.code == 0, ran.err
    assert path.read_bytes() == b"\xef\xbb\xbf" + CANONICAL.encode()


def test_diff_shows_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.yaml"
    path.write_text(MESSY)
    ran = rmsync("fmt", "--diff", cwd=tmp_path, env={})
    assert ran.code == 0 and "+version: 1\n" in ran.out
    assert path.read_text() == MESSY


def test_the_lockfile_is_not_a_manifest_to_format(tmp_path: Path) -> None:
    (tmp_path / "rmsync.lock.yaml").write_text("version: 3\nexports: {}\n")
    ran = rmsync("fmt", "rmsync.lock.yaml", cwd=tmp_path, env={})
    assert ran.code == 1
    assert ran.err == (
        "Error: rmsync.lock.yaml is the lockfile, which rmsync writes itself: fmt formats "
        "manifests\n"
    )


def test_crlf_line_ends_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.yaml"
    path.write_bytes(MESSY.replace("\n", "\r\n").encode())
    assert rmsync("fmt", cwd=tmp_path, env={}).code == 0
    assert path.read_bytes() == CANONICAL.replace("\n", "\r\n").encode()


def test_a_lockfile_under_another_name_is_refused_too(tmp_path: Path) -> None:
    from rmsync.lockfile import HEADER

    (tmp_path / "other.yaml").write_text(HEADER + "version: 3\nexports: {}\n")
    ran = rmsync("fmt", "other.yaml", cwd=tmp_path, env={})
    assert (ran.code, ran.err) == (
        1,
        "Error: other.yaml is the lockfile, which rmsync writes itself: fmt formats manifests\n",
    )
