"""Memory at scale: what reading a large file costs beyond what it keeps.

Measured with tracemalloc, which counts Python's own allocations: the same input allocates the
same, so these are not timing tests. A 50,000-entry folder must plan in 200 MB
(benchmarks/RESULTS.md); these hold each reader to a small multiple of the data it keeps.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rmsync import lockfile, planfile
from rmsync.models import (
    Access,
    Entitlement,
    ExportParams,
    Fingerprint,
    Lock,
    Record,
    Request,
    Status,
)
from rmsync.yamlload import load_text

MB = 1_000_000


@contextmanager
def traced() -> Iterator[list[int]]:
    """[peak, kept]: the most allocated at once inside the block, and what it left allocated
    (bytes beyond what was allocated when it began)."""
    gc.collect()
    tracemalloc.start()
    found = [0, 0]
    try:
        base = tracemalloc.get_traced_memory()[0]
        yield found
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
        found[:] = [peak - base, kept - base]
    finally:
        tracemalloc.stop()


def manifest_text(entries: int) -> str:
    lines = ["version: 1", "exports:"]
    for n in range(entries):
        lines += [
            f"  role-{n:06d}:",
            f"    session_id: 00000000-0000-4000-8000-{n // 100:012d}",
            f"    potential_role_id: 10000000-0000-4000-8000-{n:012d}",
        ]
    return "\n".join(lines) + "\n"


def records(count: int) -> Lock:
    """A lockfile's worth of records like a tenant's: each role with its own entitlements and
    counts, members in a few departments and locations."""
    found = {}
    for n in range(count):
        name = f"role-{n:06d}"
        access = Access(
            members=3 + n % 5,
            entitlements=tuple(
                Entitlement(
                    id=f"{(n * 7 + k) % 5000:032x}",
                    name=f"ENT_{(n * 7 + k) % 5000:05d}",
                    source=("AWS", "SAP ERP", "Salesforce")[k % 3],
                    holders=1 + (n + k) % 3,
                    popularity=round(100 * (1 + (n + k) % 3) / 3, 1),
                    popularity_in_org=round((n * 13 + k) % 1000 / 10, 1),
                )
                for k in range(7)
            ),
            members_by=(
                ("department", (("Finance", 1 + n % 2), ("IT", 2))),
                ("location", (("Austin", 1), ("Chicago", 1 + n % 3))),
            ),
        )
        found[name] = Record(
            name=name,
            request=Request(
                f"00000000-0000-4000-8000-{n // 100:012d}",
                f"10000000-0000-4000-8000-{n:012d}",
                ExportParams(),
            ),
            export_id=f"20000000-0000-4000-8000-{n:012d}",
            status=Status.SUCCESS,
            started_at="2026-11-30T12:00:00Z",
            finished_at="2026-11-30T12:00:01Z",
            role=Fingerprint(f"Role {n}", 3 + n % 5, 7, (), "2026-02-01T08:00:00.000Z"),
            access=access,
        )
    return Lock(found)


def cost(read: Callable[[], Any]) -> tuple[float, float, Any]:
    """(peak MB, kept MB, what `read` returned)."""
    with traced() as found:
        value = read()
    return found[0] / MB, found[1] / MB, value


def test_a_large_yaml_file_is_read_without_its_node_tree() -> None:
    text = manifest_text(5_000)
    peak, kept, doc = cost(lambda: load_text(text, "rmsync.yaml"))
    assert len(doc.data["exports"]) == 5_000 and doc.line_of(("exports", "role-004999")) == 15_000
    # the data and the line of every value; composing PyYAML's node tree first took 4 times that
    assert peak < 1.5 * kept, (peak, kept)


def test_a_large_lockfile_is_read_in_little_more_than_its_records(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.lock.yaml"
    lockfile.write(path, records(1_000))
    lockfile.read(path)  # the caches any read fills (schemas, the tags of plain values)
    peak, kept, lock = cost(lambda: lockfile.read(path))
    assert len(lock.records) == 1_000
    assert peak < 1.5 * kept, (peak, kept)
    # a 2 MB file kept in 2.5 kilobytes a record at most (it took 3)
    assert kept < 2.5 * 1_000 / 1000, kept


def test_parts_said_again_are_one_object_and_keep_their_type(tmp_path: Path) -> None:
    path = tmp_path / "rmsync.lock.yaml"
    lockfile.write(path, records(10))
    lock = lockfile.read(path)
    first, second = lock.records["role-000000"], lock.records["role-000006"]
    assert first.params is second.params
    assert first.access is not None and second.access is not None
    assert first.access.members_by is second.access.members_by  # the same counts: one tuple
    assert first.session_id is second.session_id
    assert lockfile.dumps(lock) == path.read_text()  # nothing read differs from what was written


def test_the_digests_of_a_saved_plan_stream_the_files(tmp_path: Path) -> None:
    big = tmp_path / "rmsync.lock.yaml"
    with big.open("w") as out:
        for _ in range(20):
            out.write("x" * MB)
    (tmp_path / "rmsync.yaml").write_text(manifest_text(10))
    peak, _, _ = cost(lambda: planfile.digest_lockfile(big))
    assert peak < 1, peak  # a 20 MB lockfile is hashed as it is read, not held whole
    big.rename(tmp_path / "more.yaml")
    peak, _, _ = cost(lambda: planfile.digest_manifest(tmp_path))
    assert peak < 1, peak
