"""The apply lock: one writer of a lockfile at a time, across processes and machines' CI jobs.

Owns: taking an exclusive lock file beside the lockfile (O_CREAT|O_EXCL), saying who holds
it (host, pid, since), waiting for it, and taking over one left by a dead process on this
host. Must not: touch the lockfile itself.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rmsync.errors import RmsyncError


class LockedError(RmsyncError):
    """Another run holds the lock."""


def lock_file_for(lockfile_path: Path) -> Path:
    return lockfile_path.with_name(f".{lockfile_path.name}.lock")


@contextmanager
def held(
    lockfile_path: Path,
    timeout: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the apply lock for `lockfile_path` while the block runs; wait up to `timeout`."""
    path = lock_file_for(lockfile_path)
    deadline = clock() + timeout
    while not _take(path):
        holder = _holder(path)
        if _dead(holder) if holder is not None else _left_behind(path):
            path.unlink(missing_ok=True)  # its process is gone: take it over
            continue
        if clock() >= deadline:
            raise LockedError(_busy(path, holder, timeout))
        sleep(min(0.5, max(0.0, deadline - clock())))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


STALE_EMPTY = 10.0  # seconds: a lock file still empty or unreadable after this was left behind


def _take(path: Path) -> bool:
    info: dict[str, object] = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    process = _process_id(os.getpid())
    if process is not None:
        info["process"] = process
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError as exc:
        raise RmsyncError(f"{path}: cannot take the apply lock: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(info, handle, sort_keys=True)
    return True


def _holder(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _process_id(pid: int) -> str | None:
    """What tells this process from a later one given the same pid: the boot and the
    process's start time (Linux); None where the system does not say."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (name) "; the name may hold spaces
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def _dead(holder: dict[str, object]) -> bool:
    """True only when the holder ran on this host and its process no longer exists: its pid
    is free, or now belongs to a process that started later (a reused pid)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's: a reused pid is told by its start time below
    recorded = holder.get("process")
    return isinstance(recorded, str) and _process_id(pid) not in (None, recorded)


def _left_behind(path: Path) -> bool:
    """An empty or unreadable lock file older than a writer needs: a run died writing it."""
    try:
        return time.time() - path.stat().st_mtime > STALE_EMPTY
    except OSError:
        return False


def _busy(path: Path, holder: dict[str, object] | None, waited: float) -> str:
    if holder is None:
        who = "an unreadable lock"
    else:
        who = f"host {holder.get('host')}, pid {holder.get('pid')}, since {holder.get('since')}"
    after = f" after waiting {waited:g}s" if waited else ""
    return (
        f"another rmsync run (apply or refresh) holds the lock ({who}){after}; wait for it, "
        f"pass --lock-timeout, or remove {path} if that run is gone"
    )
