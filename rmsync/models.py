"""The vocabulary every stage shares: frozen values and enums, nothing that acts.

Owns: every value that crosses a module boundary (manifest entries, lockfile records, the
tenant's roles and exports, the plan and its steps) and the few rules that belong to a value
itself (what a UUID and a duration look like, which statuses are final, which fields make up
one export's request). Must not: import anything from rmsync, do I/O, read the clock, or
know a file format or the wire format.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


# Latin letters that no decomposition turns into plain ones.
_LATIN = str.maketrans(
    {
        "ß": "ss",
        "Ø": "O",
        "ø": "o",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Þ": "Th",
        "þ": "th",
        "\u0131": "i",  # dotless i
    }
)


def slug(text: str, prefix: str = "") -> str:
    """`Accounts payable clerks` → `accounts-payable-clerks`, `Comptabilité générale` →
    `comptabilite-generale`: a valid export name (letters lose their accents; a name with no
    Latin letter or digit at all becomes `role`)."""
    decomposed = unicodedata.normalize("NFKD", (prefix + text).translate(_LATIN))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    body = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-_")
    return body or "role"


def is_uuid(text: str) -> bool:
    """A UUID in its usual 8-4-4-4-12 hex form, in either case."""
    return UUID.fullmatch(text) is not None


# -- settings -----


class ApiVersion(Enum):
    BETA = "beta"
    V2024 = "v2024"
    V2025 = "v2025"
    V2026 = "v2026"
    V1 = "v1"

    @property
    def experimental(self) -> bool:
        """Versioned APIs need the X-SailPoint-Experimental header; beta does not."""
        return self is not ApiVersion.BETA


@dataclass(frozen=True)
class Credentials:
    """Client credentials, or a ready access token. Never printed: repr hides the secrets."""

    client_id: str | None = None
    client_secret: str | None = None
    access_token: str | None = None

    def __repr__(self) -> str:
        token = "***" if self.access_token else None
        return f"Credentials(client_id={self.client_id!r}, client_secret=***, access_token={token})"


@dataclass(frozen=True)
class Target:
    """The tenant to talk to and how to authenticate."""

    base_url: str
    credentials: Credentials
    limit: Limit | None = field(default_factory=lambda: Limit())  # the tenant's rate limit


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Duration:
    """A length of time as written, such as `90s`, `30m` or `7d`, and its length in seconds.

    The one duration grammar: a number and a unit (s, m, h, d or w). Where a duration may be
    written (a manifest's `refresh_after`, `--timeout`) decides which of it is allowed."""

    text: str
    seconds: float

    @classmethod
    def parse(cls, text: str, bare: bool = False) -> Duration:
        """Raise ValueError for anything else; `bare`: a plain number is seconds."""
        text = text.strip()
        unit = _UNITS.get(text[-1:])
        if unit is None and not bare:
            raise ValueError(f"{text!r} has no unit (s, m, h, d or w)")
        try:
            seconds = float(text[:-1] if unit else text) * (unit or 1)
        except ValueError:  # `1ms`, `ten s`: not Python's words for why
            seconds = float("nan")
        if not 0 <= seconds < float("inf"):
            raise ValueError(
                f"{text!r} is not a length of time: a number and s, m, h, d or w, such as 10s"
            )
        return cls(text, seconds)


@dataclass(frozen=True)
class Limit:
    """`requests` per `window` seconds, per client id and API version; ISC's is 100 per 10 s."""

    requests: int = 100
    window: float = 10.0

    @classmethod
    def parse(cls, text: str) -> Limit | None:
        """`100/10s` (N requests per duration), or `off` (None: no limit). ValueError else."""
        given = text.strip().lower()
        if given in ("off", "none", "0"):
            return None
        count, slash, per = given.partition("/")
        if not slash or not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"{text!r} is not a rate: write N/DURATION, such as 100/10s, or off")
        window = Duration.parse(per, bare=True).seconds  # `100/10`: seconds, as --timeout reads
        if not MIN_WINDOW <= window <= MAX_WINDOW:
            raise ValueError(
                f"{text!r} is not a rate: its duration must be from {MIN_WINDOW:g} s to "
                f"{MAX_WINDOW / 3600:g} h (ISC's is 100/10s)"
            )
        return cls(int(count), window)

    def __str__(self) -> str:
        """`100 requests per 10 s`."""
        return f"{self.requests} request{'' if self.requests == 1 else 's'} per {self.window:g} s"


MIN_WINDOW = 0.1  # seconds: a rate limit's window, shorter than any tenant counts in
MAX_WINDOW = 86400.0  # ... and longer: a day


# -- what an export is asked for -----


class Status(Enum):
    """The state of an async export, as the tenant reports it; and STARTING, rmsync's own:
    it recorded that it was about to start the export, and no answer confirmed the start
    (the run was killed, or the answer was lost), so the tenant may or may not have it."""

    STARTING = "STARTING"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"

    @property
    def final(self) -> bool:
        return self in (Status.SUCCESS, Status.ERROR)


@dataclass(frozen=True, order=True, slots=True)
class ExportParams:
    """The parameters of export-async. Each field's `api` metadata is its name on the wire;
    a new parameter is a new field here (plus the schemas), and every stage follows."""

    min_entitlement_popularity: int = field(default=0, metadata={"api": "minEntitlementPopularity"})
    include_common_access: bool = field(default=True, metadata={"api": "includeCommonAccess"})

    @classmethod
    def from_fields(
        cls, data: Mapping[str, Any], defaults: ExportParams | None = None
    ) -> ExportParams:
        """The parameters named in `data`; a missing one is taken from `defaults` (which is
        itself what data naming none gives: 50,000 entries share one)."""
        base = defaults or cls()
        names = [f.name for f in fields(cls)]
        if not any(name in data for name in names):
            return base
        return cls(**{name: data.get(name, getattr(base, name)) for name in names})


@dataclass(frozen=True, order=True, slots=True)
class Request:
    """What one export is asked for: which role of which session, with which parameters.

    Shared by the manifest's entry (wanted), the plan's step and the lockfile's record
    (recorded): the plan compares two of these, field by field."""

    session_id: str
    potential_role_id: str
    params: ExportParams = ExportParams()

    def fields(self) -> dict[str, Any]:
        """Every field, flat and in a fixed order: the ids, then each parameter."""
        found: dict[str, Any] = {"session_id": self.session_id}
        found["potential_role_id"] = self.potential_role_id
        found.update((f.name, getattr(self.params, f.name)) for f in fields(ExportParams))
        return found


class Asks:
    """What an entry, a record or a step asks for, read through its `request`."""

    __slots__ = ()  # its subclasses keep no per-instance dict: there are 50,000 of them
    request: Request

    @property
    def session_id(self) -> str:
        return self.request.session_id

    @property
    def potential_role_id(self) -> str:
        return self.request.potential_role_id

    @property
    def params(self) -> ExportParams:
        return self.request.params


def param_names() -> tuple[str, ...]:
    """The names of the export parameters, in order."""
    return tuple(f.name for f in fields(ExportParams))


# -- the manifest: what is wanted -----


@dataclass(frozen=True, slots=True)
class Selector:
    """How an export names its role (`potential_role:`): the session and the role, each by
    id or by name. Until resolved against the tenant, the export's request has no ids."""

    session_id: str | None = None
    session_name: str | None = None
    role_id: str | None = None
    role_name: str | None = None

    def __str__(self) -> str:
        """`session "Finance Q3 2026", role "Accounting core"`: names quoted, ids not."""
        session = f'"{self.session_name}"' if self.session_name is not None else self.session_id
        role = f'"{self.role_name}"' if self.role_name is not None else self.role_id
        return f"session {session}, role {role}"

    def names_pinned(self, record: Record) -> bool:
        """Whether this selector names what `record` pinned (ids, or names ignoring case):
        if not, the manifest was edited; if so and it finds another role, the tenant moved."""
        found = record.resolved
        session = self.session_id == record.session_id or (
            self.session_name is not None
            and found is not None
            and found.session_name is not None
            and self.session_name.casefold() == found.session_name.casefold()
        )
        role = self.role_id == record.potential_role_id or (
            self.role_name is not None
            and found is not None
            and self.role_name.casefold() == found.role_name.casefold()
        )
        return session and role

    @property
    def how(self) -> str:
        """`by name`, `by id`, or which part by which."""
        parts = (self.session_name is not None, self.role_name is not None)
        return {
            (True, True): "by name",
            (False, False): "by id",
            (True, False): "session by name, role by id",
            (False, True): "session by id, role by name",
        }[parts]


@dataclass(frozen=True, slots=True)
class Resolved:
    """What an export's selector resolved to, as the lockfile pins it: the names beside the
    ids, and how they were found."""

    session_name: str | None
    role_name: str
    how: str


@dataclass(frozen=True, slots=True)
class Export(Asks):
    """One desired export, with where it was declared; a `selector` export's request holds
    the ids it resolved to (`resolved`), or none yet."""

    name: str
    request: Request
    file: str
    line: int
    refresh_after: Duration | None = None
    download: str | None = None
    selector: Selector | None = None
    resolved: Resolved | None = None


@dataclass(frozen=True)
class Move:
    """One entry of the manifest's `moved:` list: the record of `old` belongs to `new` now."""

    old: str
    new: str
    file: str
    line: int


@dataclass(frozen=True)
class RoleSet:
    """One entry of the manifest's `sets:`: the roles of a session that meet every condition
    (the tenant filters them), each an export named from `template` ({slug}, {set})."""

    name: str
    session: Selector  # the session only (role_id and role_name are None)
    conditions: tuple[Condition, ...]
    template: str
    params: ExportParams
    file: str
    line: int
    refresh_after: Duration | None = None
    download: str | None = None  # a path template holding {name}

    @property
    def how(self) -> str:
        return f"set {self.name}"


@dataclass(frozen=True)
class Manifest:
    """Every export of every manifest file, sorted by name, the tenant settings, and the
    renames (`moved:`)."""

    api_version: ApiVersion
    base_url: str | None
    exports: tuple[Export, ...]
    files: tuple[str, ...]
    folder: Path
    moved: tuple[Move, ...] = ()
    sets: tuple[RoleSet, ...] = ()
    notes: tuple[str, ...] = ()  # what resolving its sets found worth saying (none matched)

    def export(self, name: str) -> Export | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Export]:
        """Exports by name, made once (a lookup per record stays linear, not quadratic)."""
        return {e.name: e for e in self.exports}


# -- the tenant: what is there -----


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies the state of a potential role: if any of it changes, the role changed."""

    name: str
    identity_count: int
    entitlement_count: int
    excluded_entitlements: tuple[str, ...]
    modified: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "identity_count": self.identity_count,
            "entitlement_count": self.entitlement_count,
            "excluded_entitlements": list(self.excluded_entitlements),
            "modified": self.modified,
        }


# (attribute, ((value, count), ...)), sorted: how many of a role's members have each value
MembersBy = tuple[tuple[str, tuple[tuple[str, int], ...]], ...]


@dataclass(frozen=True, slots=True)
class Role:
    """A potential role as the tenant reports it."""

    id: str
    name: str
    session_id: str | None
    identity_count: int
    entitlement_count: int
    excluded_entitlements: tuple[str, ...]
    modified: str | None
    members_by: MembersBy = ()  # from identityDistribution: counts only, never who
    quality: int | None = None
    density: int | None = None
    freshness: int | None = None
    provision_state: str | None = None  # POTENTIAL, PENDING, FAILED, COMPLETE (None: not said)
    partial: bool = False  # read from its session's summaries: no modified time, no exclusions
    exclusions_said: bool = False  # the tenant listed its excluded entitlements (maybe none)

    @property
    def provisioned(self) -> bool:
        """Made into a role in the tenant (or on its way): no longer only a candidate."""
        return self.provision_state in ("PENDING", "COMPLETE")

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(
            name=self.name,
            identity_count=self.identity_count,
            entitlement_count=self.entitlement_count,
            excluded_entitlements=tuple(sorted(self.excluded_entitlements)),
            modified=self.modified,
        )


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One entitlement of a potential role, as role mining reports it (names, never people)."""

    id: str
    name: str
    source: str  # the application (source) it comes from
    holders: int  # how many of the role's members hold it
    popularity: float  # % of the role's members who hold it
    popularity_in_org: float | None = None  # % of the organisation who hold it
    common: bool = False  # common access: `include_common_access: false` leaves it out

    @property
    def label(self) -> str:
        """`name (source)`: how a reviewer reads it."""
        return f"{self.name} ({self.source})" if self.source else self.name


@dataclass(frozen=True, slots=True)
class Access:
    """What a role's members hold, as the tenant reports it at one time: every entitlement
    not excluded from the role, the excluded ones apart, and members by attribute (counts).
    Read only for exports that will start; recorded in the lockfile when one starts."""

    members: int
    entitlements: tuple[Entitlement, ...]  # sorted by name, then id
    excluded: tuple[Entitlement, ...] = ()
    members_by: MembersBy = ()


@dataclass(frozen=True, slots=True)
class Content:
    """What a downloaded archive holds, in counts: the lockfile records it, so a Git diff
    shows that the content changed and by how much. `digest` is the sha256 of the sorted
    identity ids and entitlement ids; `unread` says what the archive had that rmsync could
    not read (files, columns), in plain words."""

    identities: int
    entitlements: int
    digest: str
    unread: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportJob:
    """An async export and its state; `detail` is the tenant's reason for an ERROR, if given."""

    export_id: str
    status: Status
    params: ExportParams
    detail: str | None = None


@dataclass(frozen=True)
class Live:
    """Live state a plan needs: roles by id (None: not found) and exports by id (None: the
    tenant no longer has it)."""

    roles: Mapping[str, Role | None] = field(default_factory=dict)
    exports: Mapping[str, ExportJob | None] = field(default_factory=dict)


# -- the lockfile: what was started and seen -----


@dataclass(frozen=True, slots=True)
class Download:
    """An export's saved archive: path (relative to the manifest's folder), sha256, size,
    and what it holds (None: not read, e.g. recorded by an older rmsync)."""

    path: str
    sha256: str
    size: int
    content: Content | None = None


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Record(Asks):
    """One export rmsync started, as last seen."""

    name: str
    request: Request
    export_id: str | None  # None only while STARTING: the tenant has not given one
    status: Status
    started_at: str
    finished_at: str | None
    role: Fingerprint
    download: Download | None = None
    error: str | None = None  # the tenant's reason for an export that ended in ERROR
    gone_at: str | None = None  # when the tenant first answered 404 for it: it no longer has it
    access: Access | None = None  # the role's access when the export was started
    resolved: Resolved | None = None  # what the manifest's selector resolved to, if it had one

    @property
    def running(self) -> bool:
        """Still running on the tenant, as far as anyone knows: started (QUEUED or
        IN_PROGRESS), not final, and the tenant still has it."""
        return self.status in (Status.QUEUED, Status.IN_PROGRESS) and self.gone_at is None

    @property
    def address(self) -> tuple[str, str, str]:
        """(session id, role id, export id): where the tenant answers for this export. Only a
        started export has one; asking a STARTING record is a bug (ValueError)."""
        if self.export_id is None:
            raise ValueError(f"{self.name} has no export id yet (STARTING)")
        return (self.session_id, self.potential_role_id, self.export_id)

    @property
    def unconfirmed(self) -> bool:
        """Recorded as about to start, never confirmed: the tenant may have the export."""
        return self.status is Status.STARTING

    def with_status(self, status: Status, now: str) -> Record:
        finished = self.finished_at or (now if status.final else None)
        return replace(self, status=status, finished_at=finished)


@dataclass(frozen=True)
class Lock:
    """Every record, by name."""

    records: Mapping[str, Record] = field(default_factory=dict)

    def get(self, name: str) -> Record | None:
        return self.records.get(name)

    def put(self, record: Record) -> Lock:
        return Lock({**self.records, record.name: record})

    def drop(self, name: str) -> Lock:
        return Lock({k: v for k, v in self.records.items() if k != name})


# -- the plan: what apply will do -----


class Action(Enum):
    """What apply does for one export name; the value is the symbol users see."""

    EXPORT = "+"
    REEXPORT = "-/+"
    UPDATE = "~"
    DOWNLOAD = "<="
    FORGET = "-"

    @property
    def verb(self) -> str:
        verbs = {"+": "export", "-/+": "re-export", "~": "update", "<=": "download", "-": "forget"}
        return verbs[self.value]


EXPORTING = frozenset({Action.EXPORT, Action.REEXPORT})  # the actions that start an export


@dataclass(frozen=True)
class Change:
    """One field that differs: recorded value → wanted or live value."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class Step(Asks):
    """One action on one export name, with everything render and apply need."""

    action: Action
    name: str
    reasons: tuple[str, ...]
    request: Request
    changes: tuple[Change, ...] = ()
    role: Role | None = None  # the live role (None: forgotten, or a refresh that did not ask)
    record: Record | None = None  # what the lockfile holds for the name, if anything
    status: Status | None = None  # the export's live status, for an update
    download: str | None = None  # where to save the archive once the export is SUCCESS
    detail: str | None = None  # the tenant's reason, when the export moved on to ERROR
    access: Access | None = None  # the role's access now, for an export or re-export
    moved_from: str | None = None  # the record's old name, renamed by the manifest's `moved:`
    selector: Selector | None = None  # how the manifest names the role, if not by ids
    resolved: Resolved | None = None  # what that selector resolved to now
    drift: tuple[str, ...] = ()  # the reasons that are the tenant's doing, not the manifest's


@dataclass(frozen=True)
class Effect:
    """What one changed export parameter does to the export's contents, by name."""

    field: str
    old: Any
    new: Any
    dropped: tuple[Entitlement, ...] = ()
    added: tuple[Entitlement, ...] = ()


@dataclass(frozen=True)
class RoleChanges:
    """What changed in a role since its last export, by name and in counts (never who)."""

    excluded: tuple[Entitlement, ...] = ()  # excluded in the tenant since
    included_again: tuple[Entitlement, ...] = ()  # excluded then, not now
    added: tuple[Entitlement, ...] = ()  # new to the role
    removed: tuple[Entitlement, ...] = ()  # no longer in the role
    holders: tuple[tuple[Entitlement, int], ...] = ()  # (the entitlement now, holders then)
    members: tuple[int, int] | None = None  # (then, now), when it moved
    members_by: tuple[tuple[str, str, int, int], ...] = ()  # (attribute, value, then, now)

    @property
    def empty(self) -> bool:
        return not any(
            (self.excluded, self.included_again, self.added, self.removed, self.holders)
        ) and not (self.members or self.members_by)


@dataclass(frozen=True)
class Review:
    """What an export will carry, what its parameters leave out and why, and what changed.

    `since` is None for a first export, or when the last one recorded no access."""

    members: int
    carried: tuple[Entitlement, ...]
    below_popularity: tuple[Entitlement, ...]  # left out by min_entitlement_popularity
    common: tuple[Entitlement, ...]  # left out by include_common_access: false
    excluded: tuple[Entitlement, ...]  # excluded from the role in the tenant
    effects: tuple[Effect, ...] = ()
    since: RoleChanges | None = None


@dataclass(frozen=True)
class Subject:
    """What `rmsync report` reports on: one export as the manifest asks for it, its record,
    and its role's access, read live (`source` says from where: the tenant, or the lockfile's
    record of the last export)."""

    name: str
    request: Request
    record: Record | None
    role: Role | None
    access: Access
    source: str


@dataclass(frozen=True)
class Provenance:
    """What a saved plan was made from, so that apply can refuse it once that has changed."""

    manifest: str
    manifest_digest: str
    lockfile: str
    lockfile_digest: str | None
    api_version: str
    targets: tuple[str, ...] | None = None
    replace: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Broken:
    """An export the plan cannot act on (its role is gone, or in another session): a problem
    of that export alone, at the manifest line that declares it."""

    name: str
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Plan:
    """What apply would do; `broken` exports have no step (and no other plan is held up)."""

    steps: tuple[Step, ...]
    unchanged: tuple[str, ...]
    provenance: Provenance | None = None
    broken: tuple[Broken, ...] = ()
    notes: tuple[str, ...] = ()  # said below the summary: nothing to do, but worth knowing
    offline: bool = False  # made from the manifest and the lockfile only (`plan --offline`)

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    def counts(self) -> dict[Action, int]:
        found = Counter(step.action for step in self.steps)
        return {action: found[action] for action in Action}


@dataclass(frozen=True)
class ContentChange:
    """How a new archive differs from the one it replaced, in counts (`rmsync diff` names
    them): identities and entitlements in and out, entitlements whose holder counts moved."""

    identities_in: int = 0
    identities_out: int = 0
    entitlements_in: int = 0
    entitlements_out: int = 0
    holders_moved: int = 0

    @property
    def empty(self) -> bool:
        return not any(vars(self).values())


@dataclass(frozen=True)
class Outcome:
    """What happened to one step (or one archive download after waiting); for a download,
    what the archive holds and how it differs from the one it replaced (if one was there)."""

    step: Step
    error: str | None = None
    tracking_id: str | None = None
    export_id: str | None = None
    content: Content | None = None
    change: ContentChange | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Progress:
    """One export's state change while waiting, and how many are still running."""

    name: str
    old: Status
    new: Status | None  # None: the tenant no longer has it
    running: int
    total: int


@dataclass(frozen=True)
class Options:
    """How to plan: the time (for refresh_after), names to re-export anyway, names to limit to,
    and whether an archive missing on disk is a change (archives usually stay out of Git)."""

    now: datetime | None = None
    replace: frozenset[str] = frozenset()
    targets: frozenset[str] | None = None
    download_missing: bool = False
    excluded: frozenset[str] = frozenset()  # names left out of the plan (and so of apply)
    full: bool = False  # read every role whole (one GET each), not from its session's summaries


def _quiet(_: object) -> None:
    return None


@dataclass(frozen=True)
class Ui:
    """How a run shows itself and asks; every callback may be left out (a quiet run)."""

    show: Callable[[Plan], None] = _quiet
    confirm: Callable[[Plan], None] = _quiet
    report: Callable[[Outcome], None] = _quiet
    progress: Callable[[Progress], None] = _quiet


# -- finding what to track: the tenant's sessions and potential roles, and conditions -----


@dataclass(frozen=True)
class Session:
    """A role-mining session as the tenant lists it: what it is and how far it got, never who
    made it (the tenant's `createdBy` names a person: rmsync does not keep it). `scope` is the
    search that chose its identities (None: not given, or withheld as it may name a person)."""

    id: str
    name: str | None  # the session's saved name; None: unnamed
    state: str | None  # status.state: CREATED … POTENTIAL_ROLES_CREATED
    saved: bool
    scoping_method: str | None  # MANUAL or AUTO_RM
    scope: str | None
    potential_role_count: int
    created: str | None
    type: str | None = None  # SPECIALIZED or COMMON


@dataclass(frozen=True, slots=True)
class RoleSummary:
    """A potential role as a session's listing gives it, with the tenant's own metrics
    (0-100; None: not given). Never who created it."""

    id: str
    name: str
    session_id: str
    identity_count: int
    entitlement_count: int
    quality: int | None
    density: int | None
    freshness: int | None
    saved: bool
    type: str | None  # SPECIALIZED or COMMON
    created: str | None

    def as_role(self) -> Role:
        """The role as far as a summary tells: counts and name, not its modified time or its
        excluded entitlements (a plan compares only what both carry; see Role.partial)."""
        return Role(
            id=self.id,
            name=self.name,
            session_id=self.session_id,
            identity_count=self.identity_count,
            entitlement_count=self.entitlement_count,
            excluded_entitlements=(),
            modified=None,
            quality=self.quality,
            density=self.density,
            freshness=self.freshness,
            partial=True,
        )


@dataclass(frozen=True)
class Condition:
    """One condition on potential roles, as ISC's `filters` take it: a field of the spec's
    (quality, saved, type, name...), one of its operators (the spec's word: eq, ge, gt, le, lt,
    sw, co) and a typed value: an int (quality, freshness), a bool (saved), text (names, type)
    or an ISO-8601 UTC date-time (startDate, endDate). rmsync.where parses and writes them."""

    field: str
    op: str
    value: int | bool | str
