"""Finding what to track, against the real sandbox over HTTP and through the real CLI:
`Client.sessions` and `Client.roles`, finding a session by id or name, `rmsync sessions`,
`rmsync roles --where` and `rmsync import --session NAME`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from rmsync import where
from rmsync.api import ApiError, Client
from rmsync.models import ApiVersion, Credentials, RoleSummary
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, load_seed
from rmsync.sandbox.generate import generate_seed
from rmsync.sandbox.seed import default_seed_text
from rmsync.tenantlist import SessionError, find_session
from tests.builders import ACCOUNTING, FINANCE, tenant_env
from tests.proxy import Answer, Proxy, running
from tests.run import rmsync

CREDS = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
SALES = "c7affc9a-ec78-55b6-8a8e-d584dceea31d"
ENGINEERING = "7d2982cd-8d83-5012-ab71-85cb5f463b45"
SEED = load_seed()  # the default seed: other sessions may join these three
SEED_PEOPLE = {s.created_by[1] for s in SEED.sessions if s.created_by}  # who made each


def every_session() -> str:
    """The default seed's sessions as an error lists them, by name."""
    found = sorted(SEED.sessions, key=lambda s: ((s.name or "").casefold(), s.id))
    return "".join(f"\n  {s.name} ({s.id})" for s in found)


def seed_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Any:
    """The default seed, changed by `change`, loaded as the sandbox takes it."""
    doc = yaml.safe_load(default_seed_text())
    change(doc)
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load_seed(path)


# -- the client -----


@pytest.mark.parametrize("version", list(ApiVersion))
def test_sessions_and_roles_on_every_version(sandbox: Sandbox, version: ApiVersion) -> None:
    with Client(sandbox.base_url, CREDS, version) as client:
        sessions = {s.id: s for s in client.sessions()}
        roles = client.roles(FINANCE)
    assert set(sessions) == {s.id for s in SEED.sessions} >= {FINANCE, SALES, ENGINEERING}
    assert SEED_PEOPLE
    finance = sessions[FINANCE]
    assert (finance.name, finance.state, finance.saved, finance.type) == (
        "Finance Q3 2026",
        "POTENTIAL_ROLES_CREATED",
        True,
        "SPECIALIZED",
    )
    assert (finance.scoping_method, finance.scope) == ("MANUAL", 'attributes.department:"Finance"')
    assert finance.potential_role_count == 5
    assert finance.created == "2026-09-14T08:30:00.000Z"
    accounting = next(r for r in roles if r.id == ACCOUNTING)
    assert accounting == RoleSummary(
        id=ACCOUNTING,
        name="Accounting core",
        session_id=FINANCE,
        identity_count=6,
        entitlement_count=9,
        quality=78,
        density=84,
        freshness=71,
        saved=True,
        type="SPECIALIZED",
        created="2026-09-14T09:02:11.000Z",
    )
    assert len(roles) == 5


def test_who_made_a_session_or_role_is_never_read(sandbox: Sandbox) -> None:
    with Client(sandbox.base_url, CREDS) as client:
        read = repr([asdict(s) for s in client.sessions()])
        read += repr([asdict(r) for s in (FINANCE, SALES) for r in client.roles(s)])
    assert not [person for person in SEED_PEOPLE if person in read]


def test_a_scope_that_could_name_a_person_is_withheld(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    def scopes(doc: dict[str, Any]) -> None:
        doc["sessions"][0]["criteria"] = 'attributes.cn:"Ada Lovelace"'  # no list foresees cn
        doc["sessions"][1]["criteria"] = "attributes.team:ops@acme.example"
        doc["sessions"][2]["criteria"] = "source.name:DataScienceDataset"

    sandbox = make_sandbox(seed=seed_with(tmp_path, scopes))
    with Client(sandbox.base_url, CREDS) as client:
        found = {s.id: s.scope for s in client.sessions()}
    assert {k: found[k] for k in (FINANCE, SALES, ENGINEERING)} == {
        FINANCE: None,
        SALES: None,
        ENGINEERING: "source.name:DataScienceDataset",
    }


# Conditions the sandbox serves, and which roles of the seed meet each (by name).
SERVED = [
    (
        ["quality>=75"],
        FINANCE,
        {"Accounting core", "Payroll specialists", "Legacy mainframe operators"},
    ),
    (["quality>78"], FINANCE, {"Payroll specialists", "Legacy mainframe operators"}),
    (["quality=78"], FINANCE, {"Accounting core"}),
    (["quality<72"], FINANCE, {"Treasury analysts"}),
    (["quality le 72"], FINANCE, {"Treasury analysts", "Accounts payable clerks"}),
    (["freshness>=80"], FINANCE, {"Payroll specialists", "Legacy mainframe operators"}),
    (["saved=true"], FINANCE, {"Accounting core", "Accounts payable clerks"}),
    (["saved=false", "quality>=85"], FINANCE, {"Legacy mainframe operators"}),
    (
        ["type=COMMON"],
        ENGINEERING,
        {"Backend developers", "SRE on-call", "Data engineers", "IT service desk"},
    ),
    (["type=SPECIALIZED"], ENGINEERING, set()),
    (["name sw acc"], FINANCE, {"Accounting core", "Accounts payable clerks"}),
    (["name co payable"], FINANCE, {"Accounts payable clerks"}),
    (["name=Treasury analysts"], FINANCE, {"Treasury analysts"}),
    (["description co ledger"], FINANCE, {"Accounting core"}),
    (["description sw Cash"], FINANCE, {"Treasury analysts"}),
    (
        ["createdByName sw grace"],
        FINANCE,
        {
            "Accounting core",
            "Accounts payable clerks",
            "Payroll specialists",
            "Treasury analysts",
            "Legacy mainframe operators",
        },
    ),
    (["createdById co 0721d6"], SALES, set()),
]


@pytest.mark.parametrize(("conditions", "session", "names"), SERVED)
def test_the_tenant_filters_as_the_conditions_say(
    sandbox: Sandbox, conditions: list[str], session: str, names: set[str]
) -> None:
    chosen = where.from_cli(conditions)
    with Client(sandbox.base_url, CREDS) as client:
        assert {r.name for r in client.roles(session, where.filters(chosen))} == names


def test_text_with_quotes_and_url_characters_reaches_the_tenant_intact(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    odd = 'Q&A #1 "core" 100% \\ ok'

    def rename(doc: dict[str, Any]) -> None:
        doc["sessions"][0]["potential_roles"][0]["name"] = odd
        doc["sessions"][0]["name"] = odd

    sandbox = make_sandbox(seed=seed_with(tmp_path, rename))
    with Client(sandbox.base_url, CREDS) as client:
        found = client.roles(
            FINANCE, where.filters(where.from_cli([f"name={where.text_literal(odd)}"]))
        )
        assert [r.id for r in found] == [ACCOUNTING]
        assert [s.id for s in client.sessions(f"name eq {where.text_literal(odd)}")] == [FINANCE]
        assert find_session(client, odd).id == FINANCE


def generated(tmp_path: Path, roles: int, sessions: int) -> tuple[Any, dict[str, Any]]:
    doc = generate_seed(roles=roles, sessions=sessions, identities=40, seed=3)
    path = tmp_path / f"seed-{roles}-{sessions}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_seed(path), doc


def test_every_page_is_read(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    one, doc = generated(tmp_path, roles=260, sessions=1)
    many, docs = generated(tmp_path, roles=260, sessions=260)
    with Client(make_sandbox(seed=one).base_url, CREDS) as client:
        roles = client.roles(doc["sessions"][0]["id"])
    with Client(make_sandbox(seed=many).base_url, CREDS) as client:
        sessions = client.sessions()
    assert len({r.id for r in roles}) == len(roles) == 260  # a page of 250 and one of 10
    assert len({s.id for s in sessions}) == len(sessions) == len(docs["sessions"]) == 260


def test_a_tenant_that_repeats_a_page_is_an_error_not_a_loop(sandbox: Sandbox) -> None:
    page = [{"id": f"00000000-0000-4000-8000-{n:012d}", "name": f"S{n}"} for n in range(250)]

    def same_page(method: str, path: str) -> Answer | None:
        if path.split("?")[0].endswith(("/role-mining-sessions", "/potential-role-summaries")):
            return 200, json.dumps(page).encode(), {"Content-Type": "application/json"}
        return None

    with (
        running(Proxy(sandbox.base_url, answer=same_page)) as proxy,
        Client(proxy.base_url, CREDS) as client,
    ):
        with pytest.raises(ApiError, match="answered page 2 with the role-mining sessions of"):
            client.sessions()
        with pytest.raises(ApiError, match="answered page 2 with the potential roles of earlier"):
            client.roles(FINANCE)
    assert len(proxy.requests("GET", "/role-mining-sessions?")) == 2


def test_a_list_that_is_not_a_list_is_an_error(sandbox: Sandbox) -> None:
    def odd(method: str, path: str) -> Answer | None:
        if "/role-mining-sessions?" in path:
            return 200, b'{"sessions": []}', {"Content-Type": "application/json"}
        return None

    with (
        running(Proxy(sandbox.base_url, answer=odd)) as proxy,
        Client(proxy.base_url, CREDS) as client,
        pytest.raises(ApiError, match="is not a list of role-mining sessions"),
    ):
        client.sessions()


def test_items_without_an_id_are_left_out_and_odd_fields_read_leniently(
    sandbox: Sandbox,
) -> None:
    items = [
        {"name": "no id"},
        "not an object",
        {
            "id": "ABCDEF00-0000-4000-8000-000000000001",
            "saved": "yes",
            "potentialRoleCount": -3,
            "status": "DONE",
            "scope": ["x"],
            "createdBy": {"displayName": "A Person"},
        },
    ]

    def odd(method: str, path: str) -> Answer | None:
        if "/role-mining-sessions?" in path:
            return 200, json.dumps(items).encode(), {"Content-Type": "application/json"}
        return None

    with running(Proxy(sandbox.base_url, answer=odd)) as proxy, Client(proxy.base_url, CREDS) as c:
        [session] = c.sessions()
    assert session.id == "abcdef00-0000-4000-8000-000000000001"
    assert (session.name, session.state, session.saved, session.scope) == (None, None, False, None)
    assert session.potential_role_count == 0
    assert "A Person" not in repr(session)


# -- finding a session -----


def test_a_session_is_found_by_id_or_name(sandbox: Sandbox) -> None:
    with Client(sandbox.base_url, CREDS) as client:
        assert find_session(client, FINANCE).name == "Finance Q3 2026"
        assert find_session(client, FINANCE.upper()).id == FINANCE
        assert find_session(client, "Finance Q3 2026").id == FINANCE
        assert find_session(client, "finance q3 2026").id == FINANCE  # no exact match: any case
        with pytest.raises(SessionError) as caught:
            find_session(client, "00000000-0000-4000-8000-000000000000")
    assert str(caught.value) == (
        "the tenant has no role-mining session 00000000-0000-4000-8000-000000000000"
    )


def test_an_unknown_name_lists_the_candidates(sandbox: Sandbox) -> None:
    with Client(sandbox.base_url, CREDS) as client:
        with pytest.raises(SessionError) as near:
            find_session(client, "q3 20")
        with pytest.raises(SessionError) as none:
            find_session(client, "Marketing")
    assert str(near.value) == (
        'no role-mining session is named "q3 20"; sessions whose name contains it:\n'
        f"  Finance Q3 2026 ({FINANCE})"
    )
    assert str(none.value) == (
        f'no role-mining session is named "Marketing"; the tenant\'s sessions:{every_session()}'
    )


@pytest.mark.parametrize("given", ["", "  "])
def test_an_empty_session_name_is_refused_before_any_request(given: str, tmp_path: Path) -> None:
    ran = rmsync("roles", "--session", given, cwd=tmp_path, env=tenant_env("http://127.0.0.1:9"))
    assert (ran.code, ran.out) == (1, "")
    assert ran.err == (
        f'Error: "{given}" names no session: give a session\'s id or its name '
        "(`rmsync sessions` lists them)\n"
    )


def twins(doc: dict[str, Any]) -> None:
    """Two sessions named alike (the tenant does not keep names unique), one unnamed."""
    doc["sessions"][1]["name"] = "Finance Q3 2026"
    doc["sessions"][2]["name"] = None


def test_a_name_several_sessions_share_is_ambiguous(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = make_sandbox(seed=seed_with(tmp_path, twins))
    with Client(sandbox.base_url, CREDS) as client:
        with pytest.raises(SessionError) as caught:
            find_session(client, "Finance Q3 2026")
        assert find_session(client, ENGINEERING).name is None
    assert str(caught.value) == (
        '2 role-mining sessions are named "Finance Q3 2026"; give the one you mean by its id:\n'
        f"  Finance Q3 2026 ({FINANCE})\n"
        f"  Finance Q3 2026 ({SALES})"
    )


def test_a_long_list_of_candidates_is_cut(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    doc = generate_seed(roles=30, sessions=30, identities=20, seed=5)
    path = tmp_path / "many.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    sandbox = make_sandbox(seed=load_seed(path))
    with Client(sandbox.base_url, CREDS) as client, pytest.raises(SessionError) as caught:
        find_session(client, "no such session")
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + 20 + 1
    assert lines[-1] == "  … and 10 more (`rmsync sessions` lists them all)"


# -- the CLI -----


def test_sessions_lists_them_as_a_table(sandbox: Sandbox, tmp_path: Path) -> None:
    ran = rmsync("sessions", cwd=tmp_path, env=tenant_env(sandbox.base_url))
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].split() == ["NAME", "ID", "STATE", "SAVED", "SCOPE", "ROLES", "CREATED"]
    names = sorted((s.name or "" for s in SEED.sessions), key=str.casefold)
    assert [line.split("  ")[0] for line in lines[1:-2]] == names
    assert lines[-2:] == ["", f"{len(names)} sessions."]
    assert not [person for person in SEED_PEOPLE if person in ran.out]


def test_sessions_json_and_name(sandbox: Sandbox, tmp_path: Path) -> None:
    env = tenant_env(sandbox.base_url)
    ran = rmsync("sessions", "--json", "--name", "Sales", cwd=tmp_path, env=env)
    assert ran.code == 0, ran.err
    [session] = json.loads(ran.out)["sessions"]
    assert session["id"] == SALES
    assert set(session) == {
        "id",
        "name",
        "state",
        "saved",
        "scoping_method",
        "scope",
        "potential_role_count",
        "created",
        "type",
    }
    ran = rmsync("sessions", "--name", "Nothing", cwd=tmp_path, env=env)
    assert (ran.code, ran.out) == (0, '0 sessions whose name starts with "Nothing".\n')


def test_roles_by_name_with_where(sandbox: Sandbox, tmp_path: Path) -> None:
    env = tenant_env(sandbox.base_url)
    ran = rmsync(
        "roles",
        "--session",
        "Finance Q3 2026",
        "--where",
        "quality>=75",
        "--where",
        "saved=false",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert ran.code == 0, ran.err
    doc = json.loads(ran.out)
    assert doc["session"]["id"] == FINANCE
    assert doc["where"] == ["quality >= 75", "saved = false"]
    assert doc["filters"] == "quality ge 75 and saved eq false"
    assert [r["name"] for r in doc["roles"]] == [
        "Legacy mainframe operators",
        "Payroll specialists",
    ]


def test_a_bad_where_fails_before_any_request(tmp_path: Path) -> None:
    ran = rmsync("roles", "--session", "x", "--where", "quality>=eighty", cwd=tmp_path, env={})
    assert ran.code == 1
    assert ran.err == (
        "Error: --where 'quality>=eighty': quality takes a whole number from 0 to 100, "
        "not 'eighty'\n"
    )


def test_listings_use_the_manifest_s_api_version(sandbox: Sandbox, tmp_path: Path) -> None:
    seen: list[str] = []
    with running(Proxy(sandbox.base_url)) as proxy:
        env = tenant_env(proxy.base_url)
        (tmp_path / "rmsync.yaml").write_text(
            "version: 1\ntenant: {api_version: v2025}\nexports: {}\n", encoding="utf-8"
        )
        assert rmsync("sessions", cwd=tmp_path, env=env).code == 0
        other = tmp_path / "other.yaml"
        other.write_text("version: 1\ntenant: {api_version: v1}\nexports: {}\n", encoding="utf-8")
        ran = rmsync("roles", "--session", FINANCE, "--manifest", str(other), cwd=tmp_path, env=env)
        assert ran.code == 0, ran.err
        seen = [s.path for s in proxy.requests("GET")]
    assert seen[0].startswith("/v2025/role-mining-sessions?")
    assert seen[1].startswith(f"/role-mining-sessions/v1/{FINANCE}")
    missing = rmsync("sessions", "--manifest", "nope.yaml", cwd=tmp_path, env=env)
    assert missing.code == 1 and "nope.yaml" in missing.err


def test_tenant_strings_are_shown_safely(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    seed = load_seed(Path(__file__).parent / "data" / "seeds" / "tenant-strings.yaml")
    sandbox = make_sandbox(seed=seed)
    env = tenant_env(sandbox.base_url)
    listed = rmsync("sessions", cwd=tmp_path, env=env)
    roles = rmsync("roles", "--session", "Hostile session", cwd=tmp_path, env=env)
    assert listed.code == roles.code == 0, roles.err
    count = sum(len(s.roles) for s in seed.sessions)
    assert len(roles.out.splitlines()) == 1 + count + 2  # header, one line each, blank, total
    for text in (listed.out, roles.out):
        assert "\x1b" not in text and "\u202e" not in text and "\r" not in text


def test_import_takes_a_session_name(sandbox: Sandbox, tmp_path: Path) -> None:
    env = tenant_env(sandbox.base_url)
    by_name, by_id = tmp_path / "name", tmp_path / "id"
    by_name.mkdir()
    by_id.mkdir()
    ran = rmsync("import", "--session", "Finance Q3 2026", cwd=by_name, env=env)
    assert ran.code == 0, ran.err
    assert rmsync("import", "--session", FINANCE, cwd=by_id, env=env).code == 0
    assert (by_name / "rmsync.yaml").read_text() == (by_id / "rmsync.yaml").read_text()
    assert ran.out.endswith("Added 5 exports to rmsync.yaml; 0 were there already.\n")


def test_import_of_an_unknown_name_writes_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    ran = rmsync("import", "--session", "Finance", cwd=tmp_path, env=tenant_env(sandbox.base_url))
    assert ran.code == 1
    assert ran.err == (
        'Error: no role-mining session is named "Finance"; sessions whose name contains it:\n'
        f"  Finance Q3 2026 ({FINANCE})\n"
    )
    assert not (tmp_path / "rmsync.yaml").exists()
