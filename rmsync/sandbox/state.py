"""The sandbox tenant's live state: tokens, sessions, potential roles and exports.

Owns: every change a request can make and every rule about it (who may call, what
exists, how an export and a role-mining run progress with the clock; mining.py says what
a run yields). Not thread-safe by itself: the server holds `Tenant.lock` around each
request, and calls `tick` first. Must not: parse HTTP or build JSON.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from rmsync.sandbox import archive, mining
from rmsync.sandbox.faults import Fault, bad_request, not_found, unauthorized
from rmsync.sandbox.mining import Template
from rmsync.sandbox.seed import PotentialRole, RoleEntitlement, Seed, Session

Clock = Callable[[], float]


def iso(ts: float) -> str:
    """Epoch seconds as the tenant writes times: `2026-09-14T09:02:11.000Z`."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Schedule:
    """Seconds an async export spends QUEUED, then IN_PROGRESS, before it ends; and seconds
    a role-mining run (a created session, or a re-run by PATCH) takes before its potential
    roles are there, a quarter in each state it passes through."""

    queued: float = 0.5
    running: float = 1.0
    mining: float = 2.0


@dataclass
class RoleState:
    seed: PotentialRole
    session_id: str
    name: str
    description: str | None
    saved: bool
    excluded: set[str]
    modified: str
    provision_state: str = "POTENTIAL"
    origin: str = ""  # the seed role it was mined from (its own id for a seed role)

    @property
    def key(self) -> str:
        """The seed role it is: the same in every run of its session."""
        return self.origin or self.seed.id

    @property
    def included(self) -> list[RoleEntitlement]:
        return [e for e in self.seed.entitlements if e.entitlement.id not in self.excluded]


@dataclass
class SessionState:
    seed: Session
    name: str | None
    saved: bool
    prune_threshold: int | None
    min_identities: int | None
    created: str
    modified: str
    state: str
    roles: dict[str, RoleState] = field(default_factory=dict)
    templates: tuple[Template, ...] = ()  # the seed roles its runs mine
    identity_ids: tuple[str, ...] = ()  # scope.identityIds
    run: int = 0  # 0: as seeded or created; n: the nth re-run
    mining: Run | None = None  # the run under way, if any
    # (name, description, saved) of each seed role as its last run left them
    labels: dict[str, tuple[str, str | None, bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """A role-mining run under way: its roles appear when it is ready."""

    started: float
    ready: float
    first: str  # CREATED or UPDATED
    roles: dict[str, RoleState]


@dataclass(frozen=True)
class Export:
    id: str
    session_id: str
    role_id: str
    min_popularity: int
    include_common: bool
    started: float
    outcome: str
    archive: bytes
    stuck: str | None = None  # QUEUED or IN_PROGRESS: it never gets further (a fault's doing)
    reason: str | None = None  # why it ended in ERROR, when a fault says
    forget_after: float | None = None  # seconds after `started` the tenant no longer has it


@dataclass(frozen=True)
class CreatedExport:
    """The sandbox's own record of an export it created, whatever the client heard of it."""

    id: str
    session_id: str
    role_id: str
    min_entitlement_popularity: int
    include_common_access: bool
    created: float  # epoch seconds on the sandbox's clock

    @property
    def created_at(self) -> str:
        return iso(self.created)


class Tenant:
    """All state of one sandbox tenant, seeded once and changed only by requests."""

    def __init__(
        self,
        seed: Seed,
        clock: Clock,
        token_lifetime: int = 749,
        schedule: Schedule = Schedule(),
        id_seed: int | None = None,
        archive_layout: archive.ArchiveLayout = "rmsync",
    ) -> None:
        if archive_layout not in archive.LAYOUTS:
            known = ", ".join(archive.LAYOUTS)
            raise ValueError(f"archive_layout must be one of {known}, not {archive_layout!r}")
        self.lock = threading.RLock()
        self.name = seed.tenant
        self.tenant_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{seed.tenant}.sandbox.rmsync"))
        self.clock = clock
        self.token_lifetime = token_lifetime
        self.schedule = schedule
        self.archive_layout: archive.ArchiveLayout = archive_layout
        self.clients = {c.client_id: c.client_secret for c in seed.clients}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.revoked: set[str] = set()
        self.sessions = {s.id: _session_state(s) for s in seed.sessions}
        self.role_index = {r: s.seed.id for s in self.sessions.values() for r in s.roles}
        self.exports: dict[str, Export] = {}
        self._exports_of: dict[str, int] = {}  # role id -> exports started of it
        self._ids = random.Random(id_seed) if id_seed is not None else None
        self.id_seed = id_seed or 0
        self.templates = tuple(t for s in seed.sessions for t in mining.templates(s))
        self._mining: dict[str, SessionState] = {}

    def new_id(self) -> str:
        """A fresh UUID; from a seeded generator when the tenant was given `id_seed`."""
        if self._ids is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    # -- auth -------------------------------------------------------------------------

    def issue_token(self, client_id: str, client_secret: str) -> str:
        known = self.clients.get(client_id)
        given = client_secret.encode("utf-8", "surrogatepass")  # any text: a 401, never a 500
        if known is None or not secrets.compare_digest(known.encode("utf-8"), given):
            raise Fault(401, "Bad credentials")
        token = secrets.token_urlsafe(32)
        self.tokens[token] = (client_id, self.clock() + self.token_lifetime)
        return token

    def client_for(self, token: str | None) -> str:
        """The client id a Bearer token was issued to; 401 if missing, unknown or expired."""
        if not token:
            raise unauthorized("Missing or malformed Authorization header")
        entry = self.tokens.get(token)
        if token in self.revoked:
            raise unauthorized("JWT validation failed: JWT has been revoked")
        if entry is None:
            raise unauthorized("JWT validation failed: JWT is invalid")
        if self.clock() >= entry[1]:
            raise unauthorized("JWT validation failed: JWT is expired")
        return entry[0]

    def revoke(self, tokens: Iterable[str]) -> None:
        """Revoke tokens: each is refused (401) from the next call on."""
        self.revoked |= {t for t in tokens if t in self.tokens}

    def expire_token(self, token: str, seconds: float) -> None:
        """Make a token die `seconds` from now, whatever `expires_in` told its client."""
        client, _ = self.tokens[token]
        self.tokens[token] = (client, self.clock() + seconds)

    # -- sessions and roles ---------------------------------------------------------------

    def session(self, session_id: str) -> SessionState:
        found = self.sessions.get(_uuid(session_id, "sessionId"))
        if found is None:
            raise not_found("role mining session", session_id)
        return found

    def role(self, session_id: str, role_id: str) -> RoleState:
        session = self.session(session_id)
        found = session.roles.get(_uuid(role_id, "potentialRoleId"))
        if found is None:
            raise not_found(f"potential role in session {session_id}", role_id)
        return found

    def any_role(self, role_id: str) -> RoleState:
        session_id = self.role_index.get(_uuid(role_id, "potentialRoleId"))
        if session_id is None:
            raise not_found("potential role", role_id)
        return self.sessions[session_id].roles[role_id]

    def all_roles(self) -> list[RoleState]:
        return [r for s in self.sessions.values() for r in s.roles.values()]

    def touch(self, role: RoleState) -> None:
        role.modified = iso(self.clock())

    def edit_entitlements(self, role: RoleState, ids: list[str], exclude: bool) -> None:
        """Add `ids` to (or take them off) the exclusion list; unknown ids are kept as given."""
        before = set(role.excluded)
        role.excluded = role.excluded | set(ids) if exclude else role.excluded - set(ids)
        if role.excluded != before:
            self.touch(role)

    def create_session(
        self,
        name: str | None,
        kind: str,
        criteria: str | None,
        identity_ids: tuple[str, ...],
        prune: int | None,
        min_ids: int | None,
    ) -> SessionState:
        """A new session, CREATED now; it mines the seed roles whose identities are all in
        its scope, and they appear when its run is done (the schedule's `mining` seconds)."""
        now = iso(self.clock())
        seed = Session(self.new_id(), name, now, None, criteria, prune, min_ids, kind, False, ())
        state = SessionState(seed, name, False, prune, min_ids, now, now, "CREATED")
        scoped = mining.matcher(criteria, identity_ids)
        state.templates = tuple(
            t for t in self.templates if all(scoped(i) for i in t.role.identities)
        )
        state.identity_ids = identity_ids
        self.sessions[seed.id] = state
        self._start(state, "CREATED", at_once=False)
        return state

    def rerun(self, session: SessionState, at_once: bool = False) -> dict[str, str]:
        """Mine `session` again with its current thresholds: its roles are gone at once, and
        new ones (new ids) appear when the run is done. Maps each old role id to the new id
        of the same seed role (a role the thresholds now drop maps to nothing)."""
        session.run += 1
        old = {**session.roles, **(session.mining.roles if session.mining else {})}
        for role in session.roles.values():
            session.labels[role.key] = (role.name, role.description, role.saved)
            self.role_index.pop(role.seed.id, None)
        session.roles = {}
        new = {r.key: r.seed.id for r in self._start(session, "UPDATED", at_once).values()}
        return {rid: new[r.key] for rid, r in old.items() if r.key in new}

    def _start(self, session: SessionState, first: str, at_once: bool) -> dict[str, RoleState]:
        """Start a run of `session` (done at once, or after the schedule's `mining` seconds);
        its roles, by id."""
        now = self.clock()
        ready = now if at_once else now + self.schedule.mining
        stamp = iso(ready)
        roles: dict[str, RoleState] = {}
        for template in session.templates:
            ents = mining.mine(template, session.prune_threshold, session.min_identities)
            if ents is None:
                continue
            seed = template.role
            kept = {e.entitlement.id for e in ents}
            new_id = mining.role_id(self.id_seed, session.seed.id, session.run, seed.id)
            role = replace(
                seed,
                id=new_id,
                created=stamp,
                modified=stamp,
                entitlements=ents,
                excluded=tuple(x for x in seed.excluded if x in kept),
            )
            name, description, saved = session.labels.get(
                seed.id, (seed.name, seed.description, seed.saved)
            )
            roles[new_id] = RoleState(
                role,
                session.seed.id,
                name,
                description,
                saved,
                set(role.excluded),
                stamp,
                origin=seed.id,
            )
        session.mining = Run(now, ready, first, roles)
        session.state = first
        session.modified = iso(now)
        self._mining[session.seed.id] = session
        self.tick()
        return roles

    def tick(self) -> None:
        """Move every mining run on to its state at the clock's time; a run that is done
        puts its roles in its session."""
        now = self.clock()
        for session in list(self._mining.values()):
            run = session.mining
            assert run is not None
            session.state = mining.state_at(now, run.started, run.ready, run.first)
            if session.state == mining.DONE:
                session.roles = dict(run.roles)
                self.role_index.update(dict.fromkeys(run.roles, session.seed.id))
                session.modified = iso(run.ready)
                session.mining = None
                del self._mining[session.seed.id]

    # -- exports ----------------------------------------------------------------------

    def start_export(self, role: RoleState, min_popularity: int, include_common: bool) -> Export:
        export = Export(
            self._export_id(role),
            role.session_id,
            role.seed.id,
            min_popularity,
            include_common,
            self.clock(),
            role.seed.export_outcome,
            self.archive(role, min_popularity, include_common),
        )
        self.exports[export.id] = export
        return export

    def _export_id(self, role: RoleState) -> str:
        """A fresh export id; with `id_seed`, one that hangs on the role and how many exports
        of it came before, not on the order of the requests: starts sent side by side get
        the same ids in every run."""
        if self._ids is None:
            return str(uuid.uuid4())
        nth = self._exports_of[role.seed.id] = self._exports_of.get(role.seed.id, 0) + 1
        key = f"{self.id_seed}:export:{role.session_id}:{role.seed.id}:{nth}"
        return str(uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16], version=4))

    def archive(self, role: RoleState, min_popularity: int, include_common: bool) -> bytes:
        ents = archive.included(
            role.seed.entitlements, role.excluded, min_popularity, include_common
        )
        t = parse_iso(role.modified)
        stamp = (t.year, t.month, t.day, t.hour, t.minute, t.second)
        return archive.build_zip(role.seed.identities, ents, stamp, self.archive_layout)

    def export(self, role: RoleState, export_id: str) -> Export:
        found = self.exports.get(_uuid(export_id, "exportId"))
        if found is None or found.role_id != role.seed.id or found.session_id != role.session_id:
            raise not_found(f"export of potential role {role.seed.id}", export_id)
        if found.forget_after is not None and self.clock() - found.started >= found.forget_after:
            raise not_found(f"export of potential role {role.seed.id}", export_id)
        return found

    def status(self, export: Export) -> str:
        elapsed = self.clock() - export.started
        if elapsed < self.schedule.queued or export.stuck == "QUEUED":
            return "QUEUED"
        if elapsed < self.schedule.queued + self.schedule.running or export.stuck:
            return "IN_PROGRESS"
        return export.outcome

    def doom(
        self, export_id: str, stuck: str | None, error: str | None, forget_after: float | None
    ) -> None:
        """Give an export a fault's fate: stuck, ending in ERROR with a reason, or forgotten."""
        found = self.exports[export_id]
        outcome = "ERROR" if error is not None else found.outcome
        self.exports[export_id] = replace(
            found, stuck=stuck, outcome=outcome, reason=error, forget_after=forget_after
        )

    def created_exports(self) -> list[CreatedExport]:
        """Every export this tenant created, oldest first (forgotten ones too)."""
        return [
            CreatedExport(
                id=e.id,
                session_id=e.session_id,
                role_id=e.role_id,
                min_entitlement_popularity=e.min_popularity,
                include_common_access=e.include_common,
                created=e.started,
            )
            for e in self.exports.values()
        ]


def _uuid(value: str, name: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise bad_request(
            f"{name} {value!r} is not a valid id "
            "(a UUID such as 9f36f5e5-1e81-4eca-b087-548959d91c71)"
        ) from None
    if str(parsed) != value.lower():
        raise bad_request(f"{name} {value!r} is not a valid id")
    return value.lower()


def _session_state(s: Session) -> SessionState:
    modified = max([s.created, *(r.modified for r in s.roles)])
    state = SessionState(
        s,
        s.name,
        s.saved,
        s.prune_threshold,
        s.min_identities,
        s.created,
        modified,
        "POTENTIAL_ROLES_CREATED",
    )
    for r in s.roles:
        state.roles[r.id] = RoleState(
            r, s.id, r.name, r.description, r.saved, set(r.excluded), r.modified, origin=r.id
        )
    state.templates = mining.templates(s)
    return state
