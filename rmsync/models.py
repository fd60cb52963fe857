"""What rmsync knows of the tenant: potential roles and exports, as frozen records.

Owns: the values api.py returns and plan.py reads. Must not: do I/O or parse responses
(api.py does), so that plan.py can use them without importing HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rmsync.lockfile import Fingerprint, Status
from rmsync.manifest import ExportParams


@dataclass(frozen=True)
class Role:
    """A potential role as the tenant reports it."""

    id: str
    name: str
    session_id: str | None
    identity_count: int
    entitlement_count: int
    excluded_entitlements: tuple[str, ...]
    modified: str | None

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(
            self.name,
            self.identity_count,
            self.entitlement_count,
            tuple(sorted(self.excluded_entitlements)),
            self.modified,
        )


@dataclass(frozen=True)
class ExportJob:
    """An async export and its state; `detail` is the tenant's reason for an ERROR, if given."""

    export_id: str
    status: Status
    params: ExportParams
    detail: str | None = None


@dataclass(frozen=True)
class Live:
    """Live state a plan needs: roles by id (None: not found) and exports by id."""

    roles: Mapping[str, Role | None] = field(default_factory=dict)
    exports: Mapping[str, ExportJob | None] = field(default_factory=dict)
