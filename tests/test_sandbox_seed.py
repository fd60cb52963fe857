"""Seeds: the packaged default, broken seeds reported at file:line, and the large-seed generator."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rmsync.errors import DocumentError
from rmsync.sandbox.generate import generate_seed
from rmsync.sandbox.seed import load_seed, parse_seed
from rmsync.yamlload import load_text
from tests.builders import ACCOUNTING, FINANCE
from tests.expect import check_reported

INVALID = sorted((Path(__file__).parent / "data" / "seeds" / "invalid").glob("*.yaml"))


def test_default_seed_is_a_small_realistic_org() -> None:
    seed = load_seed()
    roles = [r for s in seed.sessions for r in s.roles]
    assert len(seed.sessions) == 4
    assert len(roles) == 14
    assert [s.name for s in seed.sessions if s.criteria is None] == ["Auto-scoped org 2026"]
    assert FINANCE in {s.id for s in seed.sessions}
    assert ACCOUNTING in {r.id for r in roles}
    assert [r.name for r in roles if r.export_outcome == "ERROR"] == ["Legacy mainframe operators"]
    assert any(e.entitlement.common_access for r in roles for e in r.entitlements)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_broken_seed_reports_every_problem_at_its_line(path: Path) -> None:
    with pytest.raises(DocumentError) as caught:
        load_seed(path)
    check_reported(path, caught.value)


def test_generated_seed_is_valid_deterministic_and_sized() -> None:
    data = generate_seed(roles=1200, sessions=7, identities=300, seed=5)
    again = generate_seed(roles=1200, sessions=7, identities=300, seed=5)
    assert data == again
    assert data != generate_seed(roles=1200, sessions=7, identities=300, seed=6)
    seed = parse_seed(load_text(yaml.safe_dump(data), "generated.yaml"))
    assert sum(len(s.roles) for s in seed.sessions) == 1200
    assert len(seed.sessions) == 7
