"""Builders for the values tests need: roles, manifest entries, records and manifests.

Every builder names its fields (keyword construction), so a new field in rmsync.models is a
change here only. Ids are valid UUIDs, as the schemas require.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from rmsync.models import (
    ApiVersion,
    Export,
    ExportParams,
    Manifest,
    Record,
    Request,
    Role,
    Status,
)
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

# The packaged Acme seed: the Finance session, two of its roles (the mainframe one's exports
# always end in ERROR).
FINANCE = "9f36f5e5-1e81-4eca-b087-548959d91c71"
ACCOUNTING = "e0cc5d7d-bf7f-4f81-b2af-8885b09d9923"
MAINFRAME = "36a4b6b0-e37a-52e2-b5e5-9dfe5448d056"

S1 = FINANCE
S2 = "c7affc9a-ec78-55b6-8a8e-d584dceea31d"
R = [f"00000000-0000-4000-8000-{n:012d}" for n in range(8)]
DEFAULT_PARAMS = ExportParams()


def role(n: int, session: str = S1, **changes: object) -> Role:
    """Potential role `n` of `session` (5 identities, 7 entitlements), with any `changes`."""
    base = Role(
        id=R[n],
        name=f"Role {n}",
        session_id=session,
        identity_count=5,
        entitlement_count=7,
        excluded_entitlements=(),
        modified="2026-09-14T09:02:11.000Z",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def export(
    name: str,
    n: int,
    session: str = S1,
    params: ExportParams = DEFAULT_PARAMS,
    line: int = 1,
) -> Export:
    """The manifest entry `name` for role `n`, declared in rmsync.yaml at `line`."""
    return Export(
        name=name,
        request=Request(session, R[n], params),
        file="rmsync.yaml",
        line=line,
    )


def record(
    name: str,
    n: int,
    status: Status = Status.SUCCESS,
    params: ExportParams = DEFAULT_PARAMS,
    session: str = S1,
) -> Record:
    """The lockfile record of `name` (export id `exp-NAME`), started at a fixed time."""
    return Record(
        name=name,
        request=Request(session, R[n], params),
        export_id=f"exp-{name}",
        status=status,
        started_at="2026-11-01T00:00:00Z",
        finished_at="2026-11-01T00:00:02Z" if status.final else None,
        role=role(n, session).fingerprint,
    )


def manifest(*exports: Export) -> Manifest:
    return Manifest(
        api_version=ApiVersion.BETA,
        base_url=None,
        exports=tuple(sorted(exports, key=lambda e: e.name)),
        files=("rmsync.yaml",),
        folder=Path(),
    )


def tenant_env(base_url: str) -> dict[str, str]:
    """This process's environment, less any SAIL_* or NO_COLOR, pointed at a sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAIL_") and k != "NO_COLOR"}
    return env | {
        "SAIL_BASE_URL": base_url,
        "SAIL_CLIENT_ID": DEFAULT_CLIENT_ID,
        "SAIL_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    }
