"""Shared fixtures: the real sandbox server on 127.0.0.1 (ephemeral port) and a fake clock."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox

# One TLS context for every test client: building one per client costs ~30 ms (CA bundle).
TLS = ssl.create_default_context()


class FakeClock:
    """Time that moves only when a test says so (the one thing tests may fake)."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_sandbox(clock: FakeClock) -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes (fake clock unless given another); all are stopped after the test."""
    started: list[Sandbox] = []

    def make(**options: Any) -> Sandbox:
        options.setdefault("clock", clock)
        sandbox = Sandbox(**options).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


def token(
    base_url: str, client_id: str = DEFAULT_CLIENT_ID, secret: str = DEFAULT_CLIENT_SECRET
) -> str:
    response = httpx.post(
        f"{base_url}/oauth/token",
        verify=TLS,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value


def patch_summary(base_url: str, session_id: str, role_id: str, ops: list[dict[str, Any]]) -> None:
    """Edit a potential role as an admin does in the tenant (a JSON Patch of its summary):
    rename it, save it or not."""
    answer = httpx.patch(
        f"{base_url}/v2025/role-mining-sessions/{session_id}/potential-role-summaries/{role_id}",
        json=ops,
        headers={
            "Authorization": f"Bearer {token(base_url)}",
            "Content-Type": "application/json-patch+json",
            "X-SailPoint-Experimental": "true",
        },
        verify=TLS,
    )
    assert answer.status_code == 200, answer.text


def api_client(base_url: str, version: str = "beta", bearer: str | None = None) -> httpx.Client:
    """An httpx client with a fresh token and the experimental header where the version needs it."""
    headers = {"Authorization": f"Bearer {bearer or token(base_url)}"}
    if version != "beta":
        headers["X-SailPoint-Experimental"] = "true"
    return httpx.Client(base_url=base_url, headers=headers, verify=TLS)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox.base_url) as client:
        yield client


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="Rewrite tests/golden/ files.")


GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with tests/golden/<name>; `pytest --update-golden` rewrites it instead."""

    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.exists(), f"{path} is missing: run pytest --update-golden and review it"
        assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"

    return check
