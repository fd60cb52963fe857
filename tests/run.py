"""Running the real `rmsync` command: in this process (fast) or as a subprocess (signals)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from rmsync.cli import main

RMSYNC = [sys.executable, "-m", "rmsync"]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


@contextmanager
def _inside(cwd: Path, env: Mapping[str, str]) -> Iterator[None]:
    old_cwd, old_env = Path.cwd(), dict(os.environ)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


@contextmanager
def _reading(text: str) -> Iterator[None]:
    """`sys.stdin` reads `text`: not a terminal, as a subprocess's piped stdin is not."""
    old_stdin, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = old_stdin


def rmsync(*args: str, cwd: Path, env: Mapping[str, str], stdin: str = "") -> Ran:
    """`rmsync ARGS` through its real entry point, `main()`, in this process; it reads `stdin`."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with _inside(cwd, env), _reading(stdin), redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code
    assert isinstance(code, int)
    return Ran(code, out.getvalue(), err.getvalue())


def spawn(*args: str, cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """`rmsync ARGS` as a real process, for what needs one (signals, terminals)."""
    return subprocess.Popen(
        [*RMSYNC, *args],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(proc: subprocess.Popen[str], needle: str, err: bool = False) -> str:
    """What `proc` prints (on stderr if `err`) up to the end of the first `needle` (it need
    not end a line)."""
    stream = proc.stderr if err else proc.stdout
    assert stream is not None
    seen = ""
    while not seen.endswith(needle):
        char = stream.read(1)
        if not char:
            raise AssertionError(f"{needle!r} never came; the process printed {seen!r}")
        seen += char
    return seen


def drain(fd: int) -> bytes:
    """Everything a child writes to a pseudo-terminal, until it closes its side."""
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@contextmanager
def serving(*args: str) -> Iterator[tuple[str, list[str]]]:
    """`rmsync sandbox --port 0 --quiet ARGS` as a process: its base URL and first five
    lines; stopped with SIGINT afterwards, which must end it cleanly (exit 0)."""
    proc = subprocess.Popen(
        [*RMSYNC, "sandbox", "--port", "0", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        yield lines[1].strip().removeprefix("export SAIL_BASE_URL="), lines
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert proc.returncode == 0
