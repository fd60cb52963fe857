"""Large, deterministic seeds for benchmarks and load tests: thousands of roles on demand.

Owns: making a seed document (plain data, ready to dump as YAML) from a few sizes and a
random seed. Must not: read or write files (the CLI does) or depend on the default seed.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from rmsync.sandbox.seed import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

_DEPARTMENTS = ("Finance", "Sales", "Support", "Engineering", "IT", "HR", "Legal", "Marketing")
_LOCATIONS = ("New York", "Chicago", "Austin", "Boston", "London", "Remote")
_SOURCES = (
    "SAP ERP",
    "Workday",
    "Salesforce",
    "GitHub Enterprise",
    "AWS",
    "Active Directory",
    "ServiceNow",
)


def generate_seed(
    roles: int, sessions: int = 10, identities: int = 2000, seed: int = 1
) -> dict[str, Any]:
    """A valid seed with `roles` potential roles spread over `sessions` sessions."""
    rng = random.Random(seed)

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def hexid() -> str:
        return f"{rng.getrandbits(128):032x}"

    sources = [{"id": hexid(), "name": name} for name in _SOURCES]
    ents = [
        {
            "id": hexid(),
            "name": f"ENT_{n:05d}",
            "attribute": "groups",
            "source": rng.choice(sources)["id"],
            "popularity_in_org": round(rng.uniform(0, 100), 1),
            "common_access": rng.random() < 0.05,
        }
        for n in range(max(20, roles // 4))
    ]
    people = [
        {
            "id": hexid(),
            "name": f"Identity {n:06d}",
            "email": f"identity{n:06d}@example.com",
            "attributes": {
                "department": rng.choice(_DEPARTMENTS),
                "location": rng.choice(_LOCATIONS),
            },
        }
        for n in range(max(10, identities))
    ]
    made = [_session(rng, uid, k) for k in range(max(1, sessions))]
    for n in range(roles):
        made[n % len(made)]["potential_roles"].append(_role(rng, uid(), n, people, ents))
    clients = [
        {
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "name": "Benchmark",
        }
    ]
    return {
        "version": 1,
        "tenant": "generated",
        "clients": clients,
        "identities": people,
        "sources": sources,
        "entitlements": ents,
        "sessions": made,
    }


def _session(rng: random.Random, uid: Any, k: int) -> dict[str, Any]:
    return {
        "id": uid(),
        "name": f"Generated session {k:03d}",
        "created": f"2026-01-{k % 28 + 1:02d}T08:00:00Z",
        "prune_threshold": rng.randint(50, 90),
        "min_identities": 3,
        "type": "SPECIALIZED",
        "saved": True,
        "potential_roles": [],
    }


def _role(
    rng: random.Random, rid: str, n: int, people: list[dict[str, Any]], ents: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": rid,
        "name": f"Generated role {n:05d}",
        "created": "2026-02-01T08:00:00Z",
        "density": rng.randint(40, 100),
        "freshness": rng.randint(20, 100),
        "quality": rng.randint(30, 100),
        "identities": [p["id"] for p in rng.sample(people, rng.randint(3, 12))],
        "entitlements": [
            {"id": e["id"], "popularity": round(rng.uniform(10, 100), 1)}
            for e in rng.sample(ents, rng.randint(2, 8))
        ],
    }
