"""How long the plan takes to compare unchanged records: field comparison against DeepDiff.

Builds N exports whose lockfile records match the manifest and the tenant (a plan of no
changes, the common case of every pull request), then in one run times:
  - rmsync's whole `make_plan`, which compares fields for equality and hands only the
    records that differ to DeepDiff;
  - DeepDiff run on every record's fields, as rmsync did before.

    python benchmarks/plan_diff.py --exports 2000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rmsync.models import (
    ApiVersion,
    Export,
    Live,
    Lock,
    Manifest,
    Options,
    Record,
    Request,
    Role,
    Status,
)
from rmsync.plan import make_plan

SESSION = "9f36f5e5-1e81-4eca-b087-548959d91c71"
ROLE = Role(SESSION.replace("9f", "0a"), "Payroll", SESSION, 5, 7, ("Excluded",), None)


def deepdiff_compare(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> float:
    from deepdiff import DeepDiff

    start = time.perf_counter()
    for old, new in pairs:
        DeepDiff(old, new, ignore_order=True).affected_root_keys  # noqa: B018
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=int, default=2000)
    n = parser.parse_args().exports
    names = [f"e{i:05d}" for i in range(n)]
    the_role = ROLE
    request = Request(SESSION, ROLE.id)
    exports = tuple(Export(name, request, "rmsync.yaml", i) for i, name in enumerate(names))
    wanted = Manifest(ApiVersion.BETA, None, exports, ("rmsync.yaml",), Path())
    lock = Lock(
        {
            name: Record(
                name=name,
                request=request,
                export_id=f"exp-{name}",
                status=Status.SUCCESS,
                started_at="2026-11-01T00:00:00Z",
                finished_at="2026-11-01T00:00:02Z",
                role=ROLE.fingerprint,
            )
            for name in names
        }
    )
    live = Live({ROLE.id: ROLE})
    start = time.perf_counter()
    plan = make_plan(wanted, lock, live, Options())
    ours = time.perf_counter() - start
    assert not plan.changed and len(plan.unchanged) == n
    print(f"exports: {n}, all unchanged")
    print(f"rmsync make_plan: {ours * 1000:.1f} ms")
    pairs = []
    for name in names:
        rec, exp = lock.records[name], wanted.export(name)
        assert exp is not None
        pairs.append((rec.request.fields(), exp.request.fields()))
        pairs.append((rec.role.as_dict(), the_role.fingerprint.as_dict()))
    theirs = deepdiff_compare(pairs)
    print(f"DeepDiff on the same fields: {theirs * 1000:.1f} ms")
    print(f"ratio DeepDiff / rmsync make_plan: {theirs / ours:.1f}")


if __name__ == "__main__":
    main()
