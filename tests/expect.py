"""Broken inputs as data: each file marks the messages it must produce with `# expect: ...`."""

from __future__ import annotations

from pathlib import Path

from rmsync.errors import DocumentError


def check_reported(path: Path, error: DocumentError) -> None:
    """Assert `error` lists exactly the messages `path` expects, each matched once."""
    expected = [
        line.removeprefix("# expect: ")
        for line in path.read_text().splitlines()
        if line.startswith("# expect: ")
    ]
    assert expected, f"{path.name} marks no expected message"
    reported = str(error).splitlines()
    assert len(reported) == len(expected), reported
    for want in expected:
        assert any(want in line for line in reported), f"{want!r} not in {reported}"
