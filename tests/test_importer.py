"""Import's pure parts: slugs, unique names, and editing manifest text in place."""

from __future__ import annotations

import pytest
import yaml

from rmsync.importer import Entry, ManifestEditError, insert, slug
from rmsync.models import Role


def role(name: str, ident: str = "r1") -> Role:
    return Role(ident, name, "s", 1, 1, (), None)


@pytest.mark.parametrize(
    ("name", "prefix", "expected"),
    [
        ("Accounts payable clerks", "", "accounts-payable-clerks"),
        ("SRE on-call", "eng-", "eng-sre-on-call"),
        ("  Ünïcode / Café & Co. ", "", "n-code-caf-co"),
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


def test_insert_refuses_flow_style_with_entries() -> None:
    with pytest.raises(ManifestEditError, match="flow style"):
        insert("version: 1\nexports: {a: {session_id: x}}\n", [Entry("n", "s", role("N"))])
