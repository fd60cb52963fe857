"""Where rmsync sends the credentials: `config.target`, run through the real CLI.

Credentials come from the environment, so they go only to a tenant the environment or the
command line names, or to a manifest `tenant.base_url` on a SailPoint tenant domain or a host
listed in SAIL_ALLOWED_HOSTS. A second real server records every request it receives: a
manifest edit that is refused must not reach it at all. Hosts that are not on this machine are
reached through it as an HTTPS proxy (HTTPS_PROXY), so no test needs DNS or a network: it
records the CONNECT rmsync would make to them.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rmsync.sandbox import DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from tests import builders
from tests.run import rmsync

EXAMPLE = Path(__file__).parent.parent / "tests" / "data" / "manifests" / "by-ids.yaml"
COMMENTED = "  # base_url: https://acme.api.identitynow.com   # or SAIL_BASE_URL / --base-url\n"


@dataclass
class Recorder:
    """A server that answers every request with 403 and remembers it (method, target, body)."""

    seen: list[str] = field(default_factory=list)
    base_url: str = ""
    host: str = ""


@contextmanager
def recording() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length and self.command != "CONNECT" else b""
            recorder.seen.append(f"{self.command} {self.path} {body.decode(errors='replace')}")
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_CONNECT = _record

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    recorder.host = f"127.0.0.1:{server.server_address[1]}"
    recorder.base_url = f"http://{recorder.host}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def trap() -> Iterator[Recorder]:
    with recording() as recorder:
        yield recorder


@pytest.fixture
def sandbox_url(make_sandbox: Callable[..., Sandbox]) -> str:
    return make_sandbox(schedule=Schedule(0, 0)).base_url


def project_with(tmp_path: Path, base_url: str) -> Path:
    """The example manifest with `tenant.base_url: base_url`."""
    manifest = tmp_path / "rmsync.yaml"
    shutil.copy(EXAMPLE, manifest)
    text = manifest.read_text()
    assert COMMENTED in text
    manifest.write_text(text.replace(COMMENTED, f"  base_url: '{base_url}'\n"))
    return tmp_path


def env_without_url(trap: Recorder, **extra: str) -> dict[str, str]:
    """Credentials but no SAIL_BASE_URL; every https request goes through `trap` as a proxy."""
    env = {
        k: v
        for k, v in builders.tenant_env("unused").items()
        if k != "SAIL_BASE_URL" and not k.lower().endswith("_proxy")
    }
    return env | {"HTTPS_PROXY": trap.base_url} | extra


# -- refused: nothing is sent anywhere ----------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "https://attacker.example",
        "https://acme.api.identitynow.com.attacker.example",
        "https://identitynow.com.attacker.example",
        "https://attacker-identitynow.com",
        "https://identitynow.com",
        "https://acme.api.identitynow-demo.com",
        "https://acme.api.identitynow.com@attacker.example",
        "https://attacker.example\\@acme.api.identitynow.com",
        "https://attacker.example%2F.acme.identitynow.com",
    ],
)
def test_a_manifest_url_off_sailpoint_gets_no_request(
    tmp_path: Path, trap: Recorder, base_url: str
) -> None:
    project = project_with(tmp_path, base_url)
    result = rmsync("plan", cwd=project, env=env_without_url(trap))
    assert trap.seen == []
    assert result.code == 1
    assert "Traceback" not in result.err
    assert "rmsync.yaml:11: tenant.base_url:" in result.err
    assert "SAIL_BASE_URL" in result.err and "--base-url" in result.err
    assert DEFAULT_CLIENT_SECRET not in result.out + result.err


def test_the_refusal_names_the_host_and_the_fix(tmp_path: Path, trap: Recorder) -> None:
    project = project_with(tmp_path, "https://attacker.example")
    result = rmsync("plan", cwd=project, env=env_without_url(trap))
    assert result.err == (
        "Error: rmsync.yaml:11: tenant.base_url: attacker.example is not a SailPoint tenant "
        "(*.identitynow.com), so rmsync will not send it the credentials from the environment; "
        "name the tenant with SAIL_BASE_URL or --base-url, or, if you trust attacker.example, "
        "add it to SAIL_ALLOWED_HOSTS\n"
    )


def test_the_refusal_points_at_the_file_of_a_folder_that_sets_the_url(
    tmp_path: Path, trap: Recorder
) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "a.yaml").write_text(EXAMPLE.read_text().replace(COMMENTED, ""))
    (folder / "b.yaml").write_text(
        "version: 1\n\ntenant:\n  base_url: https://attacker.example\nexports: {}\n"
    )
    result = rmsync("plan", "--manifest", "manifests", cwd=tmp_path, env=env_without_url(trap))
    assert (trap.seen, result.code) == ([], 1)
    assert result.err.startswith(
        "Error: manifests/b.yaml:4: tenant.base_url: attacker.example is not a SailPoint tenant"
    )


@pytest.mark.parametrize("unset", [None, "", "  "], ids=["unset", "empty", "blank"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_manifest_url_on_this_machine_gets_no_request(
    tmp_path: Path, trap: Recorder, unset: str | None, host: str
) -> None:
    # The GitHub example sets SAIL_BASE_URL from a repository variable: unset, it is "".
    port = trap.host.rsplit(":", 1)[1]
    project = project_with(tmp_path, f"http://{host}:{port}")
    env = env_without_url(trap) | ({} if unset is None else {"SAIL_BASE_URL": unset})
    for command in ("plan", "refresh"):
        result = rmsync(command, cwd=project, env=env)
        assert trap.seen == []
        assert result.code == 1
        assert f"{host} is not a SailPoint tenant" in result.err
    applied = rmsync("apply", "--auto-approve", cwd=project, env=env)
    assert (trap.seen, applied.code) == ([], 1)
    assert not (project / "rmsync.lock.yaml").exists()


def test_import_with_a_manifest_url_off_sailpoint_gets_no_request(
    tmp_path: Path, trap: Recorder
) -> None:
    project = project_with(tmp_path, trap.base_url)
    before = (project / "rmsync.yaml").read_text()
    result = rmsync("import", "--session", builders.FINANCE, cwd=project, env=env_without_url(trap))
    assert (trap.seen, result.code) == ([], 1)
    assert "127.0.0.1 is not a SailPoint tenant" in result.err
    assert (project / "rmsync.yaml").read_text() == before


# -- allowed ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "https://acme.api.identitynow.com",
        "https://ACME.identitynow.com/",
        "https://a.b.identitynow.com:443",
    ],
)
def test_a_manifest_url_on_a_sailpoint_domain_is_used(
    tmp_path: Path, trap: Recorder, base_url: str
) -> None:
    project = project_with(tmp_path, base_url)
    result = rmsync("plan", cwd=project, env=env_without_url(trap))
    host = base_url.split("//")[1].rstrip("/").split(":")[0].lower()
    assert {s.split()[1] for s in trap.seen if s.startswith("CONNECT ")} == {f"{host}:443"}
    assert all(s.startswith("CONNECT ") for s in trap.seen)  # a tunnel: never the secret itself
    assert result.code == 1  # the trap refuses the tunnel
    assert "not a SailPoint tenant" not in result.err
    assert DEFAULT_CLIENT_SECRET not in result.out + result.err


def test_an_allowed_host_is_used(tmp_path: Path, sandbox_url: str) -> None:
    project = project_with(tmp_path, sandbox_url)
    env = {k: v for k, v in builders.tenant_env(sandbox_url).items() if k != "SAIL_BASE_URL"}
    refused = rmsync("plan", cwd=project, env=env | {"SAIL_ALLOWED_HOSTS": "localhost,127.0.0.2"})
    assert refused.code == 1  # exact hosts: localhost is not 127.0.0.1
    assert "127.0.0.1 is not a SailPoint tenant" in refused.err
    allowed = rmsync(
        "plan", cwd=project, env=env | {"SAIL_ALLOWED_HOSTS": " other.example , 127.0.0.1 "}
    )
    assert allowed.code == 0, allowed.err
    assert "Plan: 5 to export" in allowed.out


def test_an_allowed_host_receives_the_credentials_as_before(tmp_path: Path, trap: Recorder) -> None:
    project = project_with(tmp_path, trap.base_url)
    env = env_without_url(trap, SAIL_ALLOWED_HOSTS="127.0.0.1")
    result = rmsync("plan", cwd=project, env=env)
    assert result.code == 1
    assert {s.split()[0] + " " + s.split()[1] for s in trap.seen} == {"POST /oauth/token"}
    assert DEFAULT_CLIENT_SECRET in trap.seen[0]  # what a refused host would have received


@pytest.mark.parametrize("how", ["SAIL_BASE_URL", "--base-url"])
def test_the_environment_or_the_command_line_wins_over_the_manifest(
    tmp_path: Path, trap: Recorder, sandbox_url: str, how: str
) -> None:
    project = project_with(tmp_path, trap.base_url)
    env = env_without_url(trap)
    args: tuple[str, ...] = ("plan",)
    if how == "SAIL_BASE_URL":
        env["SAIL_BASE_URL"] = sandbox_url
    else:
        args = ("plan", "--base-url", sandbox_url)
    result = rmsync(*args, cwd=project, env=env)
    assert result.code == 0, result.err
    assert "Plan: 5 to export" in result.out
    assert trap.seen == []


def test_an_empty_url_everywhere_is_no_url(tmp_path: Path, trap: Recorder) -> None:
    shutil.copy(EXAMPLE, tmp_path / "rmsync.yaml")
    result = rmsync(
        "plan", "--base-url", "", cwd=tmp_path, env=env_without_url(trap, SAIL_BASE_URL="")
    )
    assert result.code == 1
    assert "no tenant URL: set SAIL_BASE_URL, pass --base-url" in result.err
    assert trap.seen == []


def test_a_host_with_a_kelvin_sign_is_not_a_sailpoint_tenant() -> None:
    from rmsync.config import _NETLOC

    assert _NETLOC.fullmatch("acme.identitynow.com") is not None
    assert _NETLOC.fullmatch("\u212aacme.identitynow.com") is None  # K, the Kelvin sign


@pytest.mark.parametrize("token", ["tök-en", "to ken", "a\u200bb"])
def test_a_malformed_access_token_is_explained_never_shown(tmp_path: Path, token: str) -> None:
    (tmp_path / "rmsync.yaml").write_text("version: 1\nexports: {}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAIL_")}
    env |= {"SAIL_BASE_URL": "http://127.0.0.1:9", "SAIL_ACCESS_TOKEN": token}
    ran = rmsync("plan", cwd=tmp_path, env=env)
    assert (ran.code, ran.out) == (1, "")
    assert ran.err == (
        "Error: SAIL_ACCESS_TOKEN is not a token: it holds a space, a line break or a character "
        "outside printable ASCII; set it to the token alone\n"
    )


def test_blank_credentials_count_as_unset(tmp_path: Path) -> None:
    (tmp_path / "rmsync.yaml").write_text("version: 1\nexports: {}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAIL_")}
    env |= {"SAIL_ACCESS_TOKEN": "  ", "SAIL_CLIENT_ID": "", "SAIL_CLIENT_SECRET": " "}
    ran = rmsync("plan", cwd=tmp_path, env=env)
    assert ran.code == 0 and ran.out.startswith("Offline: ")  # none set: offline, said so
