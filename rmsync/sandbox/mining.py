"""How the sandbox tenant mines potential roles: scopes, thresholds, re-runs and their ids.

Owns: which seed roles a session's scope admits (its templates), what a template becomes
under a session's thresholds, the id of a mined role, and which state a mining run is in
at a given time. Must not: hold tenant state, read the clock, or speak HTTP.

The seed describes each potential role as its seed session mined it. Mining never invents
access: it can only keep or drop what the seed gives, so a run's roles depend on the
session's thresholds alone, never on earlier runs.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from rmsync.sandbox.seed import Identity, PotentialRole, RoleEntitlement, Session

# The states a run passes through after its first (CREATED for a new session, UPDATED for
# a re-run), each for a quarter of the run's time, before it ends in DONE.
STEPS = ("IDENTITIES_OBTAINED", "PRUNE_THRESHOLD_OBTAINED", "POTENTIAL_ROLES_PROCESSING")
DONE = "POTENTIAL_ROLES_CREATED"


@dataclass(frozen=True)
class Template:
    """A seed role, and the prune threshold of the seed session that mined it as seeded."""

    role: PotentialRole
    prune: int | None


def templates(session: Session) -> tuple[Template, ...]:
    return tuple(Template(r, session.prune_threshold) for r in session.roles)


def mine(
    template: Template, prune: int | None, min_identities: int | None
) -> tuple[RoleEntitlement, ...] | None:
    """The entitlements `template` has under these thresholds; None if it is no role at all.

    A role with fewer identities than `min_identities` is dropped. A prune threshold above
    the seed session's drops the entitlements held by fewer than that % of the role's
    identities (at or below it, the role keeps all its seed entitlements). A role left with
    no entitlement is dropped."""
    role = template.role
    if min_identities is not None and len(role.identities) < min_identities:
        return None
    ents = role.entitlements
    if prune is not None and (template.prune is None or prune > template.prune):
        ents = tuple(e for e in ents if e.popularity >= prune)
    return ents or None


def role_id(id_seed: int, session_id: str, run: int, origin: str) -> str:
    """The id of seed role `origin` in run `run` of a session: a UUID from their hash."""
    digest = hashlib.sha256(f"{id_seed}:{session_id}:{run}:{origin}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def state_at(now: float, started: float, ready: float, first: str) -> str:
    """The state of a run started at `started` that ends at `ready`: `first`, then each of
    STEPS for a quarter of its time, then DONE."""
    if now >= ready:
        return DONE
    quarter = int(4 * (now - started) / (ready - started))
    return (first, *STEPS)[max(0, min(quarter, 3))]


# -- scope: which identities a session mines -----

_CLAUSE = re.compile(r"^attributes\.([\w.-]+)\s*:\s*(.+)$", re.DOTALL)
_QUOTED = re.compile(r'^"([^"]*)"$')
_AND = re.compile(r"\s+AND\s+")
_OR = re.compile(r"\s+OR\s+")


def matcher(criteria: str | None, identity_ids: tuple[str, ...]) -> Callable[[Identity], bool]:
    """Whether an identity is in a session's scope: one of `identity_ids` (when given) that
    matches `criteria` (when given). Criteria are clauses joined by AND, each
    `attributes.NAME:VALUE`, `attributes.NAME:"VALUE"` or `attributes.NAME:("A" OR "B")`,
    compared without regard to case; criteria in any other form match no identity."""
    wanted = set(identity_ids)
    clauses = _clauses(criteria) if criteria else []

    def matches(identity: Identity) -> bool:
        if wanted and identity.id not in wanted:
            return False
        if clauses is None:
            return False
        attributes = {k.lower(): v.lower() for k, v in identity.attributes}
        return all(attributes.get(name) in values for name, values in clauses)

    return matches


def _clauses(criteria: str) -> list[tuple[str, frozenset[str]]] | None:
    clauses = []
    for part in _AND.split(criteria.strip()):
        found = _CLAUSE.match(part.strip())
        if found is None:
            return None
        values = _values(found.group(2).strip())
        if values is None:
            return None
        clauses.append((found.group(1).lower(), values))
    return clauses


def _values(text: str) -> frozenset[str] | None:
    if text.startswith("(") and text.endswith(")"):
        items = [_value(v.strip()) for v in _OR.split(text[1:-1].strip())]
        return None if None in items else frozenset(v for v in items if v is not None)
    one = _value(text)
    return None if one is None else frozenset({one})


def _value(text: str) -> str | None:
    quoted = _QUOTED.match(text)
    if quoted:
        return quoted.group(1).lower()
    return text.lower() if text and re.fullmatch(r"[\w.@-]+", text) else None
