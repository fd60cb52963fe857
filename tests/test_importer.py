"""Import's pure parts: slugs, unique names, and editing manifest text in place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from rmsync import fmt, safetext
from rmsync.importer import Entry, ManifestEditError, insert, plan_entries
from rmsync.manifest import load_manifest
from rmsync.models import Role, Session, slug
from rmsync.sandbox import Sandbox, load_seed
from tests.builders import tenant_env
from tests.run import rmsync


def role(name: str, ident: str = "r1") -> Role:
    return Role(ident, name, "s", 1, 1, (), None)


def session(ident: str, name: str | None = None) -> Session:
    return Session(ident, name, "POTENTIAL_ROLES_CREATED", True, "MANUAL", None, 0, None)


@pytest.mark.parametrize(
    ("name", "prefix", "expected"),
    [
        ("Accounts payable clerks", "", "accounts-payable-clerks"),
        ("SRE on-call", "eng-", "eng-sre-on-call"),
        ("  Ünïcode / Café & Co. ", "", "unicode-cafe-co"),
        ("Comptabilité générale", "", "comptabilite-generale"),
        ("Données ﬁnancières", "fin-", "fin-donnees-financieres"),
        ("财务 角色", "", "role"),
        ("Überweisungen Straße ØÆ", "", "uberweisungen-strasse-oae"),
        ("***", "", "role"),
    ],
)
def test_slug(name: str, prefix: str, expected: str) -> None:
    assert slug(name, prefix) == expected


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nexports:\n  a:\n    session_id: x\n    potential_role_id: y\nother: 1\n",
        "version: 1\nexports: {}\n",
        "version: 1\nexports:\n",
        "version: 1\nexports:\n    a: {session_id: x, potential_role_id: y}  # c\n# trailing\n",
    ],
)
def test_insert_adds_entries_and_keeps_the_rest(text: str) -> None:
    edited = insert(text, [Entry("new-one", "s1", role("New one"))])
    data = yaml.safe_load(edited)
    assert data["exports"]["new-one"] == {"session_id": "s1", "potential_role_id": "r1"}
    before = yaml.safe_load(text)
    assert {k: v for k, v in data["exports"].items() if k != "new-one"} == (before["exports"] or {})
    assert {k: v for k, v in data.items() if k != "exports"} == {
        k: v for k, v in before.items() if k != "exports"
    }


@pytest.mark.parametrize("by_name", [False, True])
def test_names_yaml_would_read_as_other_values_are_written_quoted(by_name: bool) -> None:
    """Roles named `Yes`, `null`, `Off` or `0x1F` give export names YAML 1.1 reads as a
    flag, nothing or a number: written bare, the manifest had keys that are not text."""
    names = ["yes", "null", "off", "0x1f", "123", "1e3", "on", "y"]
    entries = [
        Entry(n, "s1", role(n.title(), f"r{i}"), session_name="S" if by_name else None,
              by_role_name=by_name)
        for i, n in enumerate(names)
    ]  # fmt: skip
    text = insert("version: 1\nexports: {}\n", entries)
    assert list(yaml.safe_load(text)["exports"]) == names
    assert fmt.formatted(text, "rmsync.yaml") == text  # as `rmsync fmt` writes it: no churn


def test_insert_refuses_flow_style_with_entries() -> None:
    with pytest.raises(ManifestEditError, match="flow style"):
        insert("version: 1\nexports: {a: {session_id: x}}\n", [Entry("n", "s", role("N"))])


# -- role names from the tenant: a comment, never YAML -----

NAMES = [
    "Ops\n```\n\nNo changes.",
    "x\n  evil:\n    session_id: s9\n    potential_role_id: r9\n#",
    "Finance # admins: \"double\" 'single' ```code``` \\ back",
    "carriage\rreturn, tab\t, ESC \x1b[2J, bell \x07, C1 \x85\x9b",
    "line\u2028sep\u2029para \u202eevil \ufeffbom \ufffe",
    "Café ünïcode 経理 👩\u200d💻",
    "",
]


def test_a_role_name_stays_inside_its_comment() -> None:
    text = "version: 1\nexports:\n  a:\n    session_id: s0\n    potential_role_id: r0\n"
    entries = [Entry(f"e{n}", "s1", role(name, f"r{n}")) for n, name in enumerate(NAMES)]
    edited = insert(text, entries)
    assert yaml.safe_load(edited)["exports"] == {
        "a": {"session_id": "s0", "potential_role_id": "r0"},
        **{f"e{n}": {"session_id": "s1", "potential_role_id": f"r{n}"} for n in range(len(NAMES))},
    }
    assert len(edited.splitlines()) == 5 + 3 * len(NAMES)
    comments = [line.split("  # ", 1)[1] for line in edited.splitlines() if "  # " in line]
    assert comments == [safetext.visible(name) for name in NAMES]
    assert comments[1] == r"x\n  evil:\n    session_id: s9\n    potential_role_id: r9\n#"
    assert comments[5] == "Café ünïcode 経理 👩\\u200d💻"  # the joiner shown, the rest as is


def test_role_ids_that_are_not_uuids_are_refused() -> None:
    bad = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\n    potential_role_id: x"
    good = role("Fine", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
    with pytest.raises(ManifestEditError, match=r"not UUIDs: \"aaaaaaaa-.*\\n    potential"):
        plan_entries(None, session("s1"), [good, role("Evil", bad)], "")


SEED = Path(__file__).parent / "data" / "seeds" / "tenant-strings.yaml"
R1, R2, R3 = (f"aaaaaaaa-bbbb-4ccc-8ddd-00000000000{n}" for n in range(1, 4))
HOSTILE_SESSION = "11111111-2222-4333-8444-555555555555"


def test_import_of_hostile_role_names_writes_only_its_own_entries(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    seed = load_seed(SEED)
    sandbox = make_sandbox(seed=seed)
    ran = rmsync(
        "import",
        "--session",
        HOSTILE_SESSION,
        "--by",
        "id",
        cwd=tmp_path,
        env=tenant_env(sandbox.base_url),
    )
    assert ran.code == 0, ran.err
    text = (tmp_path / "rmsync.yaml").read_text(encoding="utf-8")
    names = {r.id: r.name for s in seed.sessions for r in s.roles}
    exports = yaml.safe_load(text)["exports"]
    assert {e["potential_role_id"] for e in exports.values()} == set(names)
    assert all(
        e == {"session_id": HOSTILE_SESSION, "potential_role_id": e["potential_role_id"]}
        for e in exports.values()
    )
    assert sorted(exports) == [
        "cafe-unicode",
        "details-rmsync-other-yaml-octocat-12-a-b",
        "finance-admins-double-single-code-back",
        "line-sep-para-nel-2j-0-pwned-evil",
        "ops-no-changes-the-lockfile-matches-the-manifest-and-the-tenant",
        "x-evil-session-id-11111111-2222-4333-8444-555555555555-potential-role-id-aaaaaaaa-bbbb-4ccc-8ddd-000000000001",
    ]
    assert len(text.splitlines()) == 3 + 3 * len(names)
    comments = {line.split("  # ", 1)[1] for line in text.splitlines() if "  # " in line}
    assert comments == {safetext.visible(name) for name in names.values()}
    assert load_manifest(tmp_path / "rmsync.yaml").exports


def test_import_by_name_writes_names_that_read_back_and_find_their_roles(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """Hostile role names become YAML values: each reads back as the tenant's name, and the
    plan finds every role by it (the empty name, which cannot, is written by id)."""
    seed = load_seed(SEED)
    sandbox = make_sandbox(seed=seed)
    env = tenant_env(sandbox.base_url)
    ran = rmsync("import", "--session", HOSTILE_SESSION, cwd=tmp_path, env=env)
    assert ran.code == 0, ran.err
    manifest = load_manifest(tmp_path / "rmsync.yaml")
    (hostile,) = [s for s in seed.sessions if s.id == HOSTILE_SESSION]
    names = {r.name for r in hostile.roles}
    chosen = [e.selector for e in manifest.exports]
    assert all(s is not None for s in chosen)
    assert {s.role_name for s in chosen if s and s.role_name is not None} == names - {""}
    assert {s.session_name for s in chosen if s} == {hostile.name}
    planned = rmsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert planned.code == 2, planned.out + planned.err
    assert f"Plan: {len(names)} to export," in planned.out


def test_a_name_another_role_or_session_shares_is_written_by_id() -> None:
    roles = [role("Twin", R1), role("twin", R2), role("Only", R3)]
    finance = session("s1", "Finance")
    added, _ = plan_entries(None, finance, roles, "", sessions=[finance, session("s2", "FINANCE")])
    text = insert("version: 1\nexports:\n", added)
    assert yaml.safe_load(text)["exports"] == {
        "only": {"potential_role": {"session": {"id": "s1"}, "name": "Only"}},
        "twin": {"session_id": "s1", "potential_role_id": R1},  # no name to go by
        "twin-2": {"session_id": "s1", "potential_role_id": R2},
    }
    alone, _ = plan_entries(None, finance, roles[2:], "", sessions=[finance])
    assert yaml.safe_load(insert("version: 1\nexports:\n", alone))["exports"] == {
        "only": {"potential_role": {"session": {"name": "Finance"}, "name": "Only"}}
    }


def test_an_export_that_names_the_role_already_is_not_added_again(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.yaml"
    path.write_text(
        "version: 1\nexports:\n  mine:\n    potential_role:\n"
        "      session: {name: finance}\n      name: ONLY\n"
    )
    added, skipped = plan_entries(
        load_manifest(path), session("s1", "Finance"), [role("Only", R3)], ""
    )
    assert (added, [name for _, name in skipped]) == ([], ["mine"])
