"""JSON bodies of the sandbox's successful responses, shaped as the official spec says.

Owns: the translation of tenant state into the spec's response schemas (field names,
counts, nullability). Must not: change state, or read anything but what it is passed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from rmsync.sandbox.seed import Identity, RoleEntitlement
from rmsync.sandbox.state import Export, RoleState, SessionState

Json = dict[str, Any]


def _created_by(by: tuple[str, str] | None) -> Json | None:
    return {"id": by[0], "displayName": by[1]} if by else None


def scope(s: SessionState) -> Json:
    return {
        "identityIds": list(s.identity_ids),
        "criteria": s.seed.criteria,
        "attributeFilterCriteria": None,
    }


def scoping_method(s: SessionState) -> str:
    """MANUAL when the session was given a scope (criteria or identities), else AUTO_RM."""
    return "MANUAL" if s.seed.criteria or s.identity_ids else "AUTO_RM"


def session(s: SessionState) -> Json:
    identities = {i.id for r in s.roles.values() for i in r.seed.identities}
    # While a run is under way its roles are counted once it is processing them; none is
    # ready before it is done.
    pending = s.mining.roles if s.mining and s.state == "POTENTIAL_ROLES_PROCESSING" else {}
    return {
        "id": s.seed.id,
        "name": s.name,
        "scope": scope(s),
        "minNumIdentitiesInPotentialRole": s.min_identities,
        "scopingMethod": scoping_method(s),
        "prescribedPruneThreshold": s.prune_threshold,
        "pruneThreshold": s.prune_threshold,
        "potentialRoleCount": len(s.roles) + len(pending),
        "potentialRolesReadyCount": len(s.roles),
        "status": {"state": s.state},
        "emailRecipientId": None,
        "createdBy": _created_by(s.seed.created_by),
        "identityCount": len(identities),
        "saved": s.saved,
        "dataFilePath": None,
        "createdDate": _ms(s.created),
        "modifiedDate": _ms(s.modified),
        "type": s.seed.type,
    }


def session_parameters(s: SessionState) -> Json:
    return {
        "id": s.seed.id,
        "name": s.name,
        "minNumIdentitiesInPotentialRole": s.min_identities,
        "pruneThreshold": s.prune_threshold,
        "saved": s.saved,
        "scope": scope(s),
        "type": s.seed.type,
        "state": s.state,
        "scopingMethod": scoping_method(s),
    }


def role_summary(r: RoleState, s: SessionState) -> Json:
    return {
        "id": r.seed.id,
        "name": r.name,
        "potentialRoleRef": {"id": r.seed.id, "name": r.name},
        "identityCount": len(r.seed.identities),
        "entitlementCount": len(r.included),
        "identityGroupStatus": "OBTAINED",
        "provisionState": r.provision_state,
        "roleId": None,
        "density": r.seed.density,
        "freshness": r.seed.freshness,
        "quality": r.seed.quality,
        "type": s.seed.type,
        "createdBy": _created_by(s.seed.created_by),
        "createdDate": _ms(r.seed.created),
        "saved": r.saved,
        "description": r.description,
        "session": session_parameters(s),
    }


def role(r: RoleState, s: SessionState) -> Json:
    return role_summary(r, s) | {
        "excludedEntitlements": sorted(r.excluded),
        "identityIds": [i.id for i in r.seed.identities],
        "identityDistribution": distribution(r.seed.identities),
        "modifiedDate": _ms(r.modified),
    }


def distribution(identities: tuple[Identity, ...]) -> list[Json]:
    counts: dict[str, Counter[str]] = {}
    for ident in identities:
        for key, value in ident.attributes:
            counts.setdefault(key, Counter())[value] += 1
    return [
        {
            "attributeName": key,
            "distribution": [{"attributeValue": v, "count": n} for v, n in sorted(counter.items())],
        }
        for key, counter in sorted(counts.items())
    ]


def entitlement(item: RoleEntitlement, usage: bool = False) -> Json:
    e = item.entitlement
    return {
        "entitlementRef": {
            "id": e.id,
            "name": e.name,
            "description": e.description,
            "attribute": e.attribute,
        },
        "name": e.name,
        "applicationName": e.source.name,
        "identityCount": item.identity_count,
        "popularity": item.popularity,
        "popularityInOrg": e.popularity_in_org,
        "sourceId": e.source.id,
        "activitySourceState": "complete" if usage else None,
        "sourceUsagePercent": None,
    }


def identity(i: Identity) -> Json:
    return {"id": i.id, "name": i.name, "attributes": dict(i.attributes)}


def export(e: Export, status: str) -> Json:
    body: Json = {
        "exportId": e.id,
        "status": status,
        "minEntitlementPopularity": e.min_popularity,
        "includeCommonAccess": e.include_common,
    }
    if status == "ERROR" and e.reason:  # the spec has no field for it; rmsync reads this one
        body["errorMessage"] = e.reason
    return body


def draft_role(r: RoleState, s: SessionState) -> Json:
    return {
        "id": r.seed.id,
        "name": r.name,
        "description": r.description or "",
        "identityIds": [i.id for i in r.seed.identities],
        "entitlementIds": [e.entitlement.id for e in r.included],
        "excludedEntitlements": sorted(r.excluded),
        "modified": _ms(r.modified),
        "type": s.seed.type,
        "createdDate": _ms(r.seed.created),
        "modifiedDate": _ms(r.modified),
    }


def source_usage(r: RoleState, source_id: str) -> list[Json]:
    """Per identity, the days it used the source: a stable pseudo-random 0-90 from the ids."""
    rows = []
    for i in r.seed.identities:
        digest = hashlib.sha256(f"{i.id}:{source_id}".encode()).digest()
        rows.append(
            {"id": i.id, "displayName": i.name, "email": i.email, "usageCount": digest[0] % 91}
        )
    return rows


def _ms(text: str) -> str:
    """Seed times may omit milliseconds; the tenant always writes them."""
    return text if "." in text else text.replace("Z", ".000Z")
