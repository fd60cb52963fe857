"""One function per role-mining operation in the official spec, and the table routing to them.

Owns: what each of the 25 operations reads, changes and returns, and the route table: each
operation's method, path and the media type of its success body (the spec's; errors are
always JSON). Paths are the beta form; http.split_version maps every version's URL onto
them. Must not: parse raw HTTP, check auth, rate limits, methods or Accept (server.py does),
or build bodies by hand (views.py does).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rmsync.sandbox import checks, query, views
from rmsync.sandbox.faults import Fault, bad_request, not_found
from rmsync.sandbox.http import Request, Response
from rmsync.sandbox.query import Field
from rmsync.sandbox.state import RoleState, SessionState, Tenant

Handler = Callable[[Tenant, Request], Response]
JSON = "application/json"
ZIP = "application/zip"
_EQ = frozenset({"eq"})
_TEXT = frozenset({"eq", "sw", "co"})
_NUM = frozenset({"eq", "ge", "gt", "le", "lt"})


def _page(items: list[Any], req: Request, render: Callable[[Any], Any], **kw: Any) -> Response:
    page = query.collection(items, req.query, **kw)
    headers = {"X-Total-Count": str(page.total)} if page.total is not None else {}
    return Response(200, [render(item) for item in page.items], headers=headers)


def _role(t: Tenant, req: Request) -> RoleState:
    return t.role(req.params["sessionId"], req.params["potentialRoleId"])


def _role_json(t: Tenant, r: RoleState) -> dict[str, Any]:
    return views.role(r, t.sessions[r.session_id])


# -- sessions -----

_SESSION_FILTERS = {
    "saved": Field(lambda s: s.saved, _EQ),
    "name": Field(lambda s: s.name, frozenset({"eq", "sw"})),
}
_SESSION_SORTERS = {
    "createdDate": lambda s: s.created,
    "createdBy": lambda s: (s.seed.created_by or ("", ""))[1],
}


def list_sessions(t: Tenant, req: Request) -> Response:
    return _page(
        list(t.sessions.values()),
        req,
        views.session,
        filters=_SESSION_FILTERS,
        sorters=_SESSION_SORTERS,
    )


def get_session(t: Tenant, req: Request) -> Response:
    return Response(200, views.session(t.session(req.params["sessionId"])))


def session_status(t: Tenant, req: Request) -> Response:
    return Response(200, {"state": t.session(req.params["sessionId"]).state})


def create_session(t: Tenant, req: Request) -> Response:
    body = checks.obj(req.json(), "session")
    scope = checks.obj(body.get("scope") or {}, "scope")
    criteria = scope.get("criteria")
    if criteria is not None and not isinstance(criteria, str):
        raise bad_request("scope.criteria must be text or null")
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise bad_request("name must be text or null")
    kind = body.get("type", "SPECIALIZED")
    if kind not in ("SPECIALIZED", "COMMON"):
        raise bad_request(f"type must be SPECIALIZED or COMMON, not {kind!r}")
    given = scope.get("identityIds")
    identity_ids = tuple(checks.string_list(scope, "identityIds")) if given is not None else ()
    created = t.create_session(
        name,
        kind,
        criteria,
        identity_ids,
        checks.threshold(checks.optional_int(body, "pruneThreshold"), "pruneThreshold"),
        checks.threshold(
            checks.optional_int(body, "minNumIdentitiesInPotentialRole"),
            "minNumIdentitiesInPotentialRole",
        ),
    )
    return Response(201, views.session(created))


_SESSION_PATCH = {
    "pruneThreshold": int,
    "minNumIdentitiesInPotentialRole": int,
    "saved": bool,
    "name": str,
}
_THRESHOLDS = {
    "pruneThreshold": "prune_threshold",
    "minNumIdentitiesInPotentialRole": "min_identities",
}


def patch_session(t: Tenant, req: Request) -> Response:
    """Name and saved change in place; a change of either threshold (even to its current
    value) mines the session again: new roles, with new ids, once the run is done."""
    session = t.session(req.params["sessionId"])
    ops = checks.patch_ops(req.json(), frozenset({"add", "replace"}), _SESSION_PATCH)
    for _, name, value in ops:
        if name in _THRESHOLDS:
            checks.threshold(value, name)
    for _, name, value in ops:
        setattr(session, _THRESHOLDS.get(name, name), value)
    if any(name in _THRESHOLDS for _, name, _ in ops):
        t.rerun(session)
    return Response(202, views.session(session))


# -- potential roles -----

_ORDERED = frozenset({"eq", "ge", "gt", "le", "lt"})
_ROLE_FILTERS = {
    "createdById": Field(lambda r: r.by[0], _TEXT),
    "createdByName": Field(lambda r: r.by[1], _TEXT),
    "description": Field(lambda r: r.role.description, frozenset({"sw", "co"})),
    "endDate": Field(lambda r: r.role.seed.created, frozenset({"le", "lt"}), date=True),
    "startDate": Field(lambda r: r.role.seed.created, frozenset({"ge", "gt"}), date=True),
    "freshness": Field(lambda r: r.role.seed.freshness, _ORDERED),
    "quality": Field(lambda r: r.role.seed.quality, _ORDERED),
    "name": Field(lambda r: r.role.name, _TEXT),
    "saved": Field(lambda r: r.role.saved, _EQ),
    "type": Field(lambda r: r.session.seed.type, _EQ),
}
# GET /role-mining-potential-roles documents a few more fields and operators than the
# per-session listing does.
_ALL_ROLE_FILTERS = _ROLE_FILTERS | {
    "name": Field(lambda r: r.role.name, _TEXT | _ORDERED),
    "type": Field(lambda r: r.session.seed.type, _ORDERED),
    "scopingMethod": Field(lambda r: views.scoping_method(r.session), _EQ),
    "sessionState": Field(lambda r: r.session.state, _EQ),
    "identityAttribute": Field(lambda r: r.attribute_values, frozenset({"co"})),
}
_ROLE_SORTERS = {
    "createdDate": lambda r: r.role.seed.created,
    "identityCount": lambda r: len(r.role.seed.identities),
    "entitlementCount": lambda r: len(r.role.included),
    "freshness": lambda r: r.role.seed.freshness,
    "quality": lambda r: r.role.seed.quality,
}


@dataclass(frozen=True)
class _Row:
    """A role with the session facts its filters read."""

    role: RoleState
    session: SessionState

    @property
    def by(self) -> tuple[str, str]:
        return self.session.seed.created_by or ("", "")

    @property
    def attribute_values(self) -> str:
        """Every identity attribute value, one per line: `co` matches any of them."""
        return "\n".join(sorted({v for i in self.role.seed.identities for _, v in i.attributes}))


def _summaries(
    t: Tenant,
    req: Request,
    roles: list[RoleState],
    filters: dict[str, Field],
    sorters: dict[str, Any],
) -> Response:
    def render(row: _Row) -> Any:
        return views.role_summary(row.role, row.session)

    rows = [_Row(r, t.sessions[r.session_id]) for r in roles]
    return _page(rows, req, render, filters=filters, sorters=sorters)


def list_session_roles(t: Tenant, req: Request) -> Response:
    roles = list(t.session(req.params["sessionId"]).roles.values())
    sorters = {"createdDate": _ROLE_SORTERS["createdDate"]}
    return _summaries(t, req, roles, _ROLE_FILTERS, sorters)


def list_all_roles(t: Tenant, req: Request) -> Response:
    return _summaries(t, req, t.all_roles(), _ALL_ROLE_FILTERS, _ROLE_SORTERS)


def get_session_role(t: Tenant, req: Request) -> Response:
    return Response(200, _role_json(t, _role(t, req)))


def get_role(t: Tenant, req: Request) -> Response:
    return Response(200, _role_json(t, t.any_role(req.params["potentialRoleId"])))


def _patch_role(t: Tenant, req: Request, role: RoleState) -> Response:
    fields = {"description": str, "name": str, "saved": bool}
    for op, name, value in checks.patch_ops(req.json(), frozenset({"remove", "replace"}), fields):
        if op == "remove":
            value = {"description": None, "name": role.seed.name, "saved": False}[name]
        setattr(role, name, value)
    t.touch(role)
    return Response(200, _role_json(t, role))


def patch_session_role(t: Tenant, req: Request) -> Response:
    return _patch_role(t, req, _role(t, req))


def patch_role(t: Tenant, req: Request) -> Response:
    return _patch_role(t, req, t.any_role(req.params["potentialRoleId"]))


def saved_roles(t: Tenant, req: Request) -> Response:
    saved = [r for r in t.all_roles() if r.saved]

    def render(r: RoleState) -> Any:
        return views.draft_role(r, t.sessions[r.session_id])

    return _page(saved, req, render, sorters={"modified": lambda r: r.modified})


def provision(t: Tenant, req: Request) -> Response:
    role = _role(t, req)
    query.integer(req.query, "min-entitlement-popularity", 0, 0, 100)
    query.boolean(req.query, "include-common-access", True)
    checks.obj(req.json(default={}), "provision request")
    role.provision_state = "PENDING"
    t.touch(role)
    return Response(202, views.role_summary(role, t.sessions[role.session_id]))


# -- what a role holds -----

_ENT_FILTERS = {
    "applicationName": Field(lambda e: e.entitlement.source.name, frozenset({"sw"})),
    "entitlementRef.name": Field(lambda e: e.entitlement.name, frozenset({"sw"})),
}
_ENT_SORTERS = {
    "popularity": lambda e: e.popularity,
    "entitlementName": lambda e: e.entitlement.name,
    "applicationName": lambda e: e.entitlement.source.name,
}


def _entitlement_page(req: Request, items: list[Any], sorters: dict[str, Any]) -> Response:
    items = sorted(items, key=lambda e: (-e.popularity, e.entitlement.name))
    return _page(items, req, views.entitlement, filters=_ENT_FILTERS, sorters=sorters)


def popularities(t: Tenant, req: Request) -> Response:
    role = _role(t, req)
    common = query.boolean(req.query, "includeCommonAccess", True)
    items = [e for e in role.included if common or not e.entitlement.common_access]
    return _entitlement_page(req, items, _ENT_SORTERS)


def excluded(t: Tenant, req: Request) -> Response:
    role = _role(t, req)
    items = [e for e in role.seed.entitlements if e.entitlement.id in role.excluded]
    return _entitlement_page(req, items, {"popularity": _ENT_SORTERS["popularity"]})


def popularity_distribution(t: Tenant, req: Request) -> Response:
    role = _role(t, req)
    common = query.boolean(req.query, "includeCommonAccess", True)
    buckets: dict[str, int] = {}
    for e in role.included:
        if common or not e.entitlement.common_access:
            low = min(int(e.popularity) // 10 * 10, 90)
            buckets[f"{low}-{low + 10}"] = buckets.get(f"{low}-{low + 10}", 0) + 1
    return Response(200, dict(sorted(buckets.items())))


def role_entitlements(t: Tenant, req: Request) -> Response:
    role = _role(t, req)

    def render(e: Any) -> Any:
        return {"id": e.entitlement.id, "name": e.entitlement.name}

    return _page(
        role.included,
        req,
        render,
        filters={"entitlementRef.name": _ENT_FILTERS["entitlementRef.name"]},
    )


def applications(t: Tenant, req: Request) -> Response:
    role = _role(t, req)
    sources = sorted({e.entitlement.source for e in role.included}, key=lambda s: (s.name, s.id))
    filters = {"applicationName": Field(lambda s: s.name, frozenset({"sw"}))}
    return _page(sources, req, lambda s: {"id": s.id, "name": s.name}, filters=filters)


def identities(t: Tenant, req: Request) -> Response:
    role = _role(t, req)
    name = {"name": Field(lambda i: i.name, frozenset({"sw"}))}
    return _page(
        list(role.seed.identities),
        req,
        views.identity,
        filters=name,
        sorters={"name": lambda i: i.name},
    )


def edit_entitlements(t: Tenant, req: Request) -> Response:
    role = _role(t, req)
    body = checks.obj(req.json(), "edit-entitlements request")
    t.edit_entitlements(role, checks.string_list(body, "ids"), checks.flag(body, "exclude", True))
    return Response(201, _role_json(t, role))


def identity_usage(t: Tenant, req: Request) -> Response:
    role = t.any_role(req.params["potentialRoleId"])
    source_id = req.params["sourceId"]
    if source_id not in {e.entitlement.source.id for e in role.seed.entitlements}:
        raise not_found(f"source of potential role {role.seed.id}", source_id)
    sorters = {
        "displayName": lambda u: u["displayName"],
        "email": lambda u: u["email"],
        "usageCount": lambda u: u["usageCount"],
    }
    return _page(views.source_usage(role, source_id), req, lambda u: u, sorters=sorters)


# -- exports -----


def _zip(data: bytes, name: str) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{name}.zip"'}
    return Response(200, raw=data, content_type=ZIP, headers=disposition)


def export_sync(t: Tenant, req: Request) -> Response:
    role = _role(t, req)
    return _zip(t.archive(role, 0, True), role.seed.id)


def export_async(t: Tenant, req: Request) -> Response:
    role = _role(t, req)
    body = checks.obj(req.json(default={}), "export request")
    minimum = checks.popularity(body, "minEntitlementPopularity")
    export = t.start_export(role, minimum, checks.flag(body, "includeCommonAccess", True))
    return Response(202, views.export(export, t.status(export)))


def export_status(t: Tenant, req: Request) -> Response:
    export = t.export(_role(t, req), req.params["exportId"])
    return Response(200, views.export(export, t.status(export)))


def export_download(t: Tenant, req: Request) -> Response:
    export = t.export(_role(t, req), req.params["exportId"])
    status = t.status(export)
    if status != "SUCCESS":
        raise Fault(
            400, f"Export {export.id} is {status}; its archive can be downloaded once it is SUCCESS"
        )
    return _zip(export.archive, export.id)


# -- the table -----


@dataclass(frozen=True)
class Route:
    """One operation: its method, path template, handler and what its success body is."""

    method: str
    path: str
    handler: Handler
    produces: str = JSON


_S = "/role-mining-sessions/{sessionId}"
_R = _S + "/potential-roles/{potentialRoleId}"
_P = "/role-mining-potential-roles"
ROUTES: list[Route] = [
    Route("GET", "/role-mining-sessions", list_sessions),
    Route("POST", "/role-mining-sessions", create_session),
    Route("GET", _S, get_session),
    Route("PATCH", _S, patch_session),
    Route("GET", _S + "/status", session_status),
    Route("GET", _S + "/potential-role-summaries", list_session_roles),
    Route("GET", _S + "/potential-role-summaries/{potentialRoleId}", get_session_role),
    Route("PATCH", _S + "/potential-role-summaries/{potentialRoleId}", patch_session_role),
    Route("GET", _S + "/potential-role-summaries/{potentialRoleId}/applications", applications),
    Route(
        "GET", _S + "/potential-role-summaries/{potentialRoleId}/entitlements", role_entitlements
    ),
    Route("GET", _R + "/entitlement-popularities", popularities),
    Route("GET", _R + "/entitlement-popularity-distribution", popularity_distribution),
    Route("POST", _R + "/edit-entitlements", edit_entitlements),
    Route("GET", _R + "/identities", identities),
    Route("GET", _R + "/export", export_sync, ZIP),
    Route("POST", _R + "/export-async", export_async),
    Route("GET", _R + "/export-async/{exportId}", export_status),
    Route("GET", _R + "/export-async/{exportId}/download", export_download, ZIP),
    Route("POST", _R + "/provision", provision),
    Route("GET", _R + "/excluded-entitlements", excluded),
    Route("GET", _P, list_all_roles),
    Route("GET", _P + "/saved", saved_roles),
    Route("GET", _P + "/{potentialRoleId}", get_role),
    Route("PATCH", _P + "/{potentialRoleId}", patch_role),
    Route("GET", _P + "/{potentialRoleId}/sources/{sourceId}/identityUsage", identity_usage),
]
_COMPILED = [
    (route, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route.path) + "$"))
    for route in ROUTES
]


def match(path: str) -> list[tuple[Route, dict[str, str]]]:
    """The routes (one per method) whose template matches a version-free path, with its
    path parameters; none for an unknown path."""
    found = ((route, pattern.match(path)) for route, pattern in _COMPILED)
    return [(route, m.groupdict()) for route, m in found if m]
