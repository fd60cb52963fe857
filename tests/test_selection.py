"""A set's members and their names, from what the tenant listed (pure: no sandbox needed)."""

from __future__ import annotations

from dataclasses import replace

from rmsync.models import (
    ExportParams,
    Lock,
    Resolved,
    RoleSet,
    RoleSummary,
    Selector,
    Session,
)
from rmsync.selection import Listed, combine, members
from tests.builders import manifest, record

SESSION = Session("s1", "Finance", "POTENTIAL_ROLES_CREATED", True, "MANUAL", None, 3, None)
FINANCE = RoleSet(
    "fin", Selector(session_name="Finance"), (), "fin-{slug}", ExportParams(), "rmsync.yaml", 3
)


def listed(*roles: tuple[str, str]) -> Listed:
    found = (RoleSummary(i, n, "s1", 1, 1, 80, 80, 80, True, None, None) for i, n in roles)
    return Listed(SESSION, tuple(found))


def test_members_are_named_from_the_template_and_made_unique() -> None:
    sets = replace(manifest(), sets=(FINANCE,))
    found, missed = members(
        sets, (), {"fin": listed(("r2", "Payroll"), ("r1", "payroll"))}, _lock()
    )
    assert [(e.name, e.potential_role_id) for e in found] == [
        ("fin-payroll", "r2"),
        ("fin-payroll-2", "r1"),
    ]
    assert [e.resolved.how for e in found if e.resolved] == ["set fin", "set fin"]
    assert missed == []


def test_a_recorded_member_keeps_its_name_when_its_role_gets_a_new_id() -> None:
    sets = replace(manifest(), sets=(FINANCE,))
    lock = _lock(("fin-old-name", "r1", "Payroll"))
    found, _ = members(sets, (), {"fin": listed(("r9", "Payroll"))}, lock)
    assert [(e.name, e.potential_role_id) for e in found] == [("fin-old-name", "r9")]


def test_a_set_whose_session_is_gone_keeps_its_members_as_problems() -> None:
    sets = replace(manifest(), sets=(FINANCE,))
    lock = _lock(("fin-a", "r1", "A"), ("fin-b", "r2", "B"))
    found, missed = members(sets, (), {"fin": "no session is named Finance"}, lock)
    assert found == []
    assert [(b.name, b.field, b.message) for b in missed] == [
        ("fin-a", "sets.fin.session", "no session is named Finance"),
        ("fin-b", "sets.fin.session", "no session is named Finance"),
    ]
    _, alone = members(sets, (), {"fin": "gone"}, _lock())
    assert [b.name for b in alone] == ["sets.fin"]


def test_a_set_that_matches_nothing_is_a_note_not_a_problem() -> None:
    sets = replace(manifest(), sets=(FINANCE,))
    resolved, broken = combine(sets, (), (), {"fin": listed()}, _lock())
    assert resolved.exports == () and broken == ()
    assert resolved.notes == ("set fin: no potential role of its session meets its conditions",)


def _lock(*members: tuple[str, str, str]) -> Lock:
    """Recorded members of set fin: (name, role id, role name)."""
    records = {}
    for name, role_id, role_name in members:
        base = record(name, 1, session="s1")
        records[name] = replace(
            base,
            request=replace(base.request, potential_role_id=role_id),
            resolved=Resolved("Finance", role_name, "set fin"),
        )
    return Lock(records=records)


def test_a_new_role_never_takes_a_listed_member_s_name() -> None:
    """fin-ops is r5's, whose role is still listed: a new role named alike gets fin-ops-2."""
    sets = replace(manifest(), sets=(FINANCE,))
    lock = _lock(("fin-ops", "r5", "Ops"))
    found, missed = members(sets, (), {"fin": listed(("r5", "Ops"), ("r1", "Ops"))}, lock)
    assert sorted((e.name, e.potential_role_id) for e in found) == [
        ("fin-ops", "r5"),
        ("fin-ops-2", "r1"),
    ]
    assert missed == []
    renamed, _ = members(sets, (), {"fin": listed(("r5", "Zeta"), ("r9", "Ops"))}, lock)
    assert sorted((e.name, e.potential_role_id) for e in renamed) == [
        ("fin-ops", "r5"),
        ("fin-ops-2", "r9"),
    ]


def test_a_role_recorded_as_one_set_s_member_stays_with_it() -> None:
    other = replace(FINANCE, name="fin2", template="fin2-{slug}")
    sets = replace(manifest(), sets=(FINANCE, other))
    lock = _lock(("fin2-ops", "r1", "Ops"))
    lock = Lock(
        {
            "fin2-ops": replace(
                lock.records["fin2-ops"], resolved=Resolved("Finance", "Ops", "set fin2")
            )
        }
    )
    found, _ = members(
        sets, (), {"fin": listed(("r1", "Ops")), "fin2": listed(("r1", "Ops"))}, lock
    )
    assert [(e.name, e.potential_role_id) for e in found] == [("fin2-ops", "r1")]
