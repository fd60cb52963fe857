"""The sandbox tenant's seed: a YAML file of clients, identities, entitlements and sessions.

Owns: reading a seed (the packaged default or a user's file), checking it against
seed.schema.json and its own cross-references, and returning frozen records.
Must not: hold mutable tenant state or speak HTTP (state.py and server.py do).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rmsync.errors import DocumentError, Problem
from rmsync.yamlload import Located, field_name, inline_refs, load_file, load_text, schema_problems

DEFAULT_CLIENT_ID = "rmsync-sandbox"
DEFAULT_CLIENT_SECRET = "sandbox-secret-not-for-production"  # noqa: S105 (a documented demo value)


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    name: str


@dataclass(frozen=True)
class Identity:
    id: str
    name: str
    email: str
    attributes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Source:
    id: str
    name: str


@dataclass(frozen=True)
class Entitlement:
    id: str
    name: str
    attribute: str
    description: str | None
    source: Source
    popularity_in_org: float
    common_access: bool


@dataclass(frozen=True)
class RoleEntitlement:
    """An entitlement of a potential role: its popularity (% of the role's identities) and
    its holders, the ids of the role's identities that hold it (in the role's order)."""

    entitlement: Entitlement
    popularity: float
    holders: tuple[str, ...]

    @property
    def identity_count(self) -> int:
        return len(self.holders)


@dataclass(frozen=True)
class PotentialRole:
    id: str
    name: str
    description: str | None
    created: str
    modified: str
    density: int
    freshness: int
    quality: int
    saved: bool
    export_outcome: str
    identities: tuple[Identity, ...]
    entitlements: tuple[RoleEntitlement, ...]
    excluded: tuple[str, ...]


@dataclass(frozen=True)
class Session:
    id: str
    name: str | None
    created: str
    created_by: tuple[str, str] | None
    criteria: str | None
    prune_threshold: int | None
    min_identities: int | None
    type: str
    saved: bool
    roles: tuple[PotentialRole, ...]


@dataclass(frozen=True)
class Seed:
    tenant: str
    clients: tuple[Client, ...]
    sessions: tuple[Session, ...]


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("rmsync.sandbox").joinpath("seed.schema.json").read_text("utf-8")
    schema: dict[str, Any] = inline_refs(json.loads(text))
    return schema


def default_seed_text() -> str:
    """The YAML text of the seed that ships with rmsync (a small, realistic org)."""
    return resources.files("rmsync.sandbox").joinpath("default_seed.yaml").read_text("utf-8")


def load_seed(path: Path | None = None) -> Seed:
    """Load `path`, or the packaged default seed; raise DocumentError listing every problem."""
    return parse_seed(load_file(path)) if path else _default_seed()


@cache
def _default_seed() -> Seed:
    return parse_seed(load_text(default_seed_text(), "<default seed>"))


def parse_seed(doc: Located) -> Seed:
    problems = schema_problems(doc, _schema())
    if problems:
        raise DocumentError(problems)
    return _Builder(doc).build()


class _Builder:
    """Resolves a schema-valid seed's cross-references, collecting every broken one."""

    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        data = doc.data
        self.identities = {
            i["id"]: _identity(i) for i in self._unique(data.get("identities", []), "identities")
        }
        self.sources = {
            s["id"]: Source(s["id"], s["name"])
            for s in self._unique(data.get("sources", []), "sources")
        }
        self.entitlements = {
            e["id"]: self._entitlement(e, n)
            for n, e in enumerate(self._unique(data.get("entitlements", []), "entitlements"))
        }

    def build(self) -> Seed:
        data = self.doc.data
        clients = tuple(
            Client(c["client_id"], c["client_secret"], c.get("name", c["client_id"]))
            for c in self._unique(data["clients"], "clients", key="client_id")
        )
        sessions = tuple(
            self._session(s, n) for n, s in enumerate(self._unique(data["sessions"], "sessions"))
        )
        role_ids = [(r.id, n) for n, s in enumerate(sessions) for r in s.roles]
        seen: set[str] = set()
        for role_id, n in role_ids:
            if role_id in seen:
                self._problem(
                    ("sessions", n),
                    f"potential role id {role_id} is used twice; ids are tenant-wide",
                )
            seen.add(role_id)
        if self.problems:
            raise DocumentError(self.problems)
        return Seed(data.get("tenant", "sandbox"), clients, sessions)

    def _problem(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append(
            Problem(
                file=self.doc.file,
                line=self.doc.line_of(path),
                field=field_name(path),
                message=message,
            )
        )

    def _unique(
        self, items: list[dict[str, Any]], where: str, key: str = "id"
    ) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for n, item in enumerate(items):
            if item[key] in seen:
                self._problem(
                    (where, n, key), f"{item[key]!r} is defined twice; ids must be unique"
                )
            seen.add(item[key])
            yield item

    def _entitlement(self, e: dict[str, Any], n: int) -> Entitlement:
        source = self.sources.get(e["source"])
        if source is None:
            self._problem(
                ("entitlements", n, "source"), f"no source with id {e['source']!r} in sources"
            )
            source = Source(e["source"], e["source"])
        return Entitlement(
            e["id"],
            e["name"],
            e.get("attribute", "groups"),
            e.get("description"),
            source,
            float(e.get("popularity_in_org", 0.0)),
            bool(e.get("common_access", False)),
        )

    def _session(self, s: dict[str, Any], n: int) -> Session:
        by = s.get("created_by")
        roles = tuple(
            self._role(r, ("sessions", n, "potential_roles", k), s["created"])
            for k, r in enumerate(s.get("potential_roles", []))
        )
        return Session(
            s["id"],
            s["name"],
            s["created"],
            (by["id"], by["name"]) if by else None,
            s.get("criteria"),
            s.get("prune_threshold"),
            s.get("min_identities"),
            s.get("type", "SPECIALIZED"),
            bool(s.get("saved", True)),
            roles,
        )

    def _role(self, r: dict[str, Any], at: tuple[str | int, ...], created: str) -> PotentialRole:
        identities = tuple(
            self._ref(self.identities, i, (*at, "identities", k), "identities")
            for k, i in enumerate(r["identities"])
        )
        members = tuple(i for i in identities if i is not None)
        ents = tuple(
            self._role_entitlement(e, (*at, "entitlements", k), members, set(r["identities"]))
            for k, e in enumerate(r["entitlements"])
        )
        role_ents = {e["id"] for e in r["entitlements"]}
        for k, x in enumerate(r.get("excluded", [])):
            if x not in role_ents:
                self._problem((*at, "excluded", k), f"{x!r} is not one of this role's entitlements")
        return PotentialRole(
            r["id"],
            r["name"],
            r.get("description"),
            r.get("created", created),
            r.get("modified", r.get("created", created)),
            r.get("density", 0),
            r.get("freshness", 0),
            r.get("quality", 0),
            bool(r.get("saved", False)),
            r.get("export_outcome", "SUCCESS"),
            members,
            tuple(e for e in ents if e.entitlement is not None),
            tuple(sorted(set(r.get("excluded", [])))),
        )

    def _role_entitlement(
        self,
        e: dict[str, Any],
        at: tuple[str | int, ...],
        members: tuple[Identity, ...],
        declared: set[str],
    ) -> RoleEntitlement:
        """An entitlement entry of a role: `holders` as given (each a member, once), else
        derived from `popularity`; with both, they must agree. The popularity served is the
        holders' share of the members (to 1 decimal), so that every count agrees with it: a
        seed's 88.9 on a role of 3 is 3 holders, served as 100."""
        entitlement = self._ref(self.entitlements, e["id"], (*at, "id"), "entitlements")
        popularity = e.get("popularity")
        if "holders" not in e:
            if popularity is None:
                self._problem(at, "needs popularity, holders or both")
                return RoleEntitlement(entitlement, 0.0, ())
            count = identity_count(float(popularity), len(members))
            return RoleEntitlement(
                entitlement, _share(count, members), derive_holders(e["id"], members, count)
            )
        ids = {i.id for i in members}
        seen: set[str] = set()
        for k, holder in enumerate(e["holders"]):
            if holder not in declared:
                self._problem(
                    (*at, "holders", k), f"{holder!r} is not one of this role's identities"
                )
            elif holder in seen:
                self._problem((*at, "holders", k), f"{holder!r} is listed twice")
            seen.add(holder)
        holders = tuple(i.id for i in members if i.id in seen)
        if popularity is None:
            return RoleEntitlement(entitlement, _share(len(holders), members), holders)
        count = identity_count(float(popularity), len(members))
        if count != len(holders) and seen <= ids:  # (else the holders are the problem)
            self._problem(
                (*at, "popularity"),
                f"popularity {popularity:g} of {len(members)} identities is {count} "
                f"holder{'s' * (count != 1)}, but holders lists {len(holders)}",
            )
        return RoleEntitlement(entitlement, _share(len(holders), members), holders)

    def _ref(self, table: dict[str, Any], key: str, at: tuple[str | int, ...], kind: str) -> Any:
        if key not in table:
            self._problem(at, f"no entry with id {key!r} in {kind}")
        return table.get(key)


def _share(holders: int, members: tuple[Identity, ...]) -> float:
    """The % of `members` that `holders` of them are, to 1 decimal (0 of no members)."""
    return round(100 * holders / len(members), 1) if members else 0.0


def identity_count(popularity: float, identities: int) -> int:
    """How many of a role's `identities` hold an entitlement of this popularity (%)."""
    return round(popularity * identities / 100)


def derive_holders(
    entitlement_id: str, members: tuple[Identity, ...], count: int
) -> tuple[str, ...]:
    """`count` of the role's members, chosen by a stable order that differs per entitlement
    (sha256 of the entitlement id and the identity id), in the role's order."""

    if count >= len(members):
        return tuple(i.id for i in members)

    def rank(i: Identity) -> tuple[bytes, str]:
        return hashlib.sha256(f"{entitlement_id}:{i.id}".encode()).digest(), i.id

    chosen = {i.id for i in sorted(members, key=rank)[:count]}
    return tuple(i.id for i in members if i.id in chosen)


def _identity(i: dict[str, Any]) -> Identity:
    attributes = tuple(sorted(i.get("attributes", {}).items()))
    return Identity(i["id"], i["name"], i.get("email", ""), attributes)
