"""`rmsync sandbox` options that set the tenant's timing: `--mining-seconds`."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import api_client, token
from tests.run import rmsync, serving

SESSIONS = "/beta/role-mining-sessions"


def _mined_at_once(*args: str) -> tuple[str, int]:
    """Serve with ARGS; create a session: its state at once, and its roles a moment later."""
    with serving(*args) as (base_url, _), api_client(base_url, bearer=token(base_url)) as api:
        created = api.post(SESSIONS, json={"scope": {}})
        assert created.status_code == 201, created.text
        session = created.json()
        roles = api.get(f"{SESSIONS}/{session['id']}/potential-role-summaries").json()
    return session["status"]["state"], len(roles)


def test_mining_seconds_sets_how_long_a_mining_run_takes() -> None:
    state, roles = _mined_at_once("--mining-seconds", "0")
    assert state == "POTENTIAL_ROLES_CREATED"
    assert roles > 0
    state, roles = _mined_at_once("--mining-seconds", "600")
    assert state != "POTENTIAL_ROLES_CREATED"
    assert roles == 0


def test_mining_seconds_is_checked_and_documented(tmp_path: Path) -> None:
    wrong = rmsync("sandbox", "--mining-seconds", "-1", cwd=tmp_path, env=dict(os.environ))
    assert wrong.code == 1  # rmsync's usage errors
    assert "Invalid value for '--mining-seconds'" in wrong.err
    shown = rmsync("sandbox", "--help", cwd=tmp_path, env=dict(os.environ))
    assert "--mining-seconds" in shown.out
    assert "[default: 2.0" in " ".join(shown.out[shown.out.index("--mining-seconds") :].split())
