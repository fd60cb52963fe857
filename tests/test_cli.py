"""The real `rmsync` command: sandbox serving, signals, seeds and error exits."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from rmsync.cli import cli, main
from rmsync.sandbox import DEFAULT_CLIENT_SECRET
from tests.conftest import TLS, token

RMSYNC = [sys.executable, "-m", "rmsync"]


def _serve(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `rmsync sandbox` on a free port; return it and the lines it printed first."""
    proc = subprocess.Popen(
        [*RMSYNC, "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(5)]
    return proc, lines


def test_sandbox_prints_url_and_credentials_then_serves_until_interrupted() -> None:
    proc, lines = _serve()
    try:
        assert lines[0].startswith(
            "rmsync sandbox: the acme-sandbox tenant is serving at http://127.0.0.1:"
        )
        base_url = lines[1].strip().removeprefix("export SAIL_BASE_URL=")
        assert lines[2].strip() == "export SAIL_CLIENT_ID=rmsync-sandbox"
        assert lines[3].strip() == f"export SAIL_CLIENT_SECRET={DEFAULT_CLIENT_SECRET}"
        bearer = token(base_url)
        sessions = httpx.get(
            f"{base_url}/beta/role-mining-sessions",
            headers={"Authorization": f"Bearer {bearer}"},
            verify=TLS,
        )
        assert sessions.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "stopped" in out
    assert "GET /beta/role-mining-sessions 200" in err
    assert DEFAULT_CLIENT_SECRET not in err  # the request log never shows credentials
    assert bearer not in out + err


def test_sandbox_stops_on_sigterm_too() -> None:
    proc, _ = _serve("--quiet")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert (proc.returncode, err) == (0, "")


def test_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*RMSYNC, "sandbox", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_seed_is_reported_with_file_and_line(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("version: 1\nclients: []\nsessions: nope\n")
    result = subprocess.run(
        [*RMSYNC, "sandbox", "--seed", str(seed)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert f"{seed}:2: clients: [] should be non-empty" in result.stderr
    assert f"{seed}:3: sessions: 'nope' is not of type 'array'" in result.stderr
    assert "Traceback" not in result.stderr


def test_generated_seed_is_served(tmp_path: Path) -> None:
    out = tmp_path / "big.yaml"
    result = CliRunner().invoke(
        cli, ["sandbox", "generate-seed", "--roles", "300", "--identities", "50", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    proc, lines = _serve("--seed", str(out), "--quiet")
    try:
        assert lines[3].strip() == "export SAIL_CLIENT_SECRET=<as in your seed file>"
        base_url = lines[1].strip().removeprefix("export SAIL_BASE_URL=")
        headers = {"Authorization": f"Bearer {token(base_url)}"}
        listing = httpx.get(
            f"{base_url}/beta/role-mining-potential-roles",
            params={"count": "true", "limit": 1},
            headers=headers,
            verify=TLS,
        )
        assert listing.headers["X-Total-Count"] == "300"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_usage_errors_exit_1_not_2() -> None:
    result = subprocess.run(
        [*RMSYNC, "sandbox", "--port", "-3"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "Invalid value for '--port'" in result.stderr
    unknown = subprocess.run([*RMSYNC, "frobnicate"], capture_output=True, text=True, timeout=30)
    assert unknown.returncode == 1


def test_main_exits_0_for_help() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
