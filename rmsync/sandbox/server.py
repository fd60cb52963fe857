"""The sandbox tenant as an HTTP server: a real socket on the host it is given.

Owns: the server's life (start, serve, stop), OAuth tokens, and the gateway rules every
route shares, in this order: a fault plan's rule (inject.py; its latency, then an answer in
the tenant's stead), OPTIONS on a known route (answered before the rest), Bearer auth, rate
limit (ratelimit.py counts), a read-only client's writes (403), the experimental header, the
method (HEAD is answered as GET; 404, or 405 with Allow), and Accept against what the route
produces (406); then the rule's work on the tenant's answer. Must not: implement any
operation itself (handlers.py does) or touch the wire (transport.py does).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from rmsync.ratelimit import Limit
from rmsync.sandbox import handlers, inject
from rmsync.sandbox.archive import ArchiveLayout
from rmsync.sandbox.checks import threshold
from rmsync.sandbox.faultplan import FaultPlan, Faults, Rule, as_plan
from rmsync.sandbox.faults import Fault, bad_request, not_found
from rmsync.sandbox.http import EXPERIMENTAL, Request, Response, accepts, split_version
from rmsync.sandbox.ratelimit import FixedWindow
from rmsync.sandbox.seed import Seed, load_seed
from rmsync.sandbox.state import Clock, CreatedExport, Schedule, Tenant
from rmsync.sandbox.storage import LazyStorage, StorageRequest
from rmsync.sandbox.transport import Log, Server, describe

Matches = list[tuple[handlers.Route, dict[str, str]]]
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Sandbox:
    """A local ISC tenant serving the role-mining API; `with Sandbox() as sb: sb.base_url`."""

    def __init__(
        self,
        seed: Seed | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.time,
        token_lifetime: int = 749,
        rate_limit: Limit | None = Limit(),  # noqa: B008 (frozen value)
        schedule: Schedule = Schedule(),  # noqa: B008 (frozen value)
        log: Log | None = None,
        id_seed: int | None = None,
        faults: Faults = None,
        sleep: Callable[[float], None] = time.sleep,
        archive_layout: ArchiveLayout = "rmsync",
    ) -> None:
        self.tenant = Tenant(
            seed or load_seed(), clock, token_lifetime, schedule, id_seed, archive_layout
        )
        self.limiter = FixedWindow(rate_limit)
        self.log = log
        self.sleep = sleep  # waits out a fault's latency; tests pass their fake clock's advance
        self._id_seed = id_seed or 0
        self._injector = inject.Injector(as_plan(faults), self._id_seed)
        self._server = Server((host, port), self.handle, log)
        self._thread: threading.Thread | None = None
        self._storage = LazyStorage(str(self._server.server_address[0]), log)

    @property
    def base_url(self) -> str:
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> Sandbox:
        # Polled every 2 ms for stop(): a test suite starts and stops a sandbox per test, and
        # a longer poll was half the time of the conformance tests. Idle, that is 500 cheap
        # wake-ups a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.002,), name="rmsync-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._storage.stop()

    # -- for tests: faults and what the tenant really did -----

    @property
    def faults(self) -> FaultPlan:
        return self._injector.plan

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault plan (None: no faults); every count starts again from zero."""
        self._injector = inject.Injector(as_plan(faults), self._id_seed)

    def created_exports(self) -> list[CreatedExport]:
        """Every export the tenant created, oldest first, whatever its clients were told."""
        with self.tenant.lock:
            return self.tenant.created_exports()

    def exclude_entitlements(self, role_id: str, ids: list[str], exclude: bool = True) -> None:
        """Exclude entitlements from a potential role (or include them again), as an admin
        does in the tenant's UI; the role's modified time moves on."""
        with self.tenant.lock:
            self.tenant.tick()
            self.tenant.edit_entitlements(self.tenant.any_role(role_id), ids, exclude)

    def rerun_session(
        self,
        session_id: str,
        prune_threshold: int | None = None,
        min_identities: int | None = None,
        *,
        at_once: bool = True,
    ) -> dict[str, str]:
        """Re-run a role-mining session, as a PATCH of its thresholds does (None: keep the
        session's); returns {old role id: new role id} for every role that is still there.
        By default the run is done when this returns; `at_once=False` runs it on the
        sandbox's clock as a PATCH does (its roles appear after the schedule's `mining`)."""
        with self.tenant.lock:
            self.tenant.tick()
            session = self.tenant.session(session_id)
            for value, name in (
                (prune_threshold, "pruneThreshold"),
                (min_identities, "minNumIdentitiesInPotentialRole"),
            ):
                try:
                    threshold(value, name)
                except Fault as fault:
                    raise ValueError(fault.text) from None
            if prune_threshold is not None:
                session.prune_threshold = prune_threshold
            if min_identities is not None:
                session.min_identities = min_identities
            return self.tenant.rerun(session, at_once=at_once)

    def revoke_tokens(self) -> None:
        """Revoke every token issued so far: each call with one is a 401 from now on."""
        with self.tenant.lock:
            self.tenant.revoke(list(self.tenant.tokens))

    @property
    def storage_url(self) -> str:
        """The storage origin's base URL (it starts on first use: a redirect or this)."""
        return self._storage.get().base_url

    def storage_requests(self) -> list[StorageRequest]:
        """Every request the storage origin got, with its Authorization header (or None)."""
        return self._storage.requests()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- request handling (called on server threads) -----

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        try:
            url = urlsplit(target)
        except ValueError:
            return Response.failure(bad_request(f"The request target {target!r} is not a URL"))
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        rule = self._injector.pick(method, url.path)
        if rule is not None:
            if self.log:
                self.log(f"{method} {url.path}: fault from {rule.where}")
            if rule.latency:
                self.sleep(rule.latency)
            instead = inject.instead(rule)
            if instead is not None:
                return instead
        try:
            with self.tenant.lock:
                self.tenant.tick()
                response = self._answer(method, url.path, query, headers, body)
                return response if rule is None else self._after(rule, response, headers)
        except Exception as error:
            self._server.report(f"internal error in {method} {url.path}: {describe(error)}")
            return Response.failure(Fault(500, "An internal fault occurred."))

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        try:
            if path == "/oauth/token":
                return self._token(method, query, headers, body)
            return self._api(method, path, query, headers, body)
        except Fault as fault:
            return Response.failure(fault)

    def _after(self, rule: Rule, response: Response, headers: dict[str, str]) -> Response:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else None
        return inject.after(rule, response, self.tenant, bearer, self._storage.put)

    def _api(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        split = split_version(path)
        if split is None:
            raise not_found("resource", path)
        version, route = split
        matches = handlers.match(route)
        if method == "OPTIONS" and matches:
            # 204 with Allow rather than 405: OPTIONS asks what a resource allows (RFC 9110
            # §9.3.7), and that is how gateways and mocks answer it (Prism, mocking this very
            # spec, gives every OPTIONS a 204; Spring answers a mapped route's with its Allow),
            # before auth, as a browser's preflight carries no credentials.
            return Response(204, headers={"Allow": _allow(r.method for r, _ in matches)})
        self._admit(method, version, headers)
        found, params = _pick(method, route, matches)
        if not accepts(headers.get("accept"), found.produces):
            raise Fault(406, f"No match for accept header: this operation answers {found.produces}")
        return found.handler(self.tenant, Request(method, version, route, params, query, body))

    def _admit(self, method: str, version: str, headers: dict[str, str]) -> None:
        """Bearer auth, the rate limit per client and version, a read-only client's writes,
        then the experimental header."""
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        client = self.tenant.client_for(token.strip() if scheme.lower() == "bearer" else None)
        wait = self.limiter.admit((client, version), self.tenant.clock())
        if wait is not None:
            raise Fault(429, "Rate Limit Exceeded", {"Retry-After": str(wait)})
        if method in WRITES and client in self.faults.read_only_clients:
            raise Fault(403, f"The client's scopes allow reads only: {method} is not allowed")
        if (
            version in EXPERIMENTAL
            and headers.get("x-sailpoint-experimental", "").lower() != "true"
        ):
            raise bad_request(
                f"This API ({version}) is experimental: "
                "send the header X-SailPoint-Experimental: true"
            )

    def _token(
        self, method: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        if method == "OPTIONS":
            return Response(204, headers={"Allow": _allow(["POST"])})
        if method != "POST":
            raise Fault(405, "Use POST for /oauth/token", {"Allow": _allow(["POST"])})
        form = dict(query)
        if "application/x-www-form-urlencoded" in headers.get(
            "content-type", ""
        ) or not headers.get("content-type"):
            form.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        basic = _basic(headers.get("authorization", ""))
        client_id = form.get("client_id") or basic[0]
        secret = form.get("client_secret") or basic[1]
        if form.get("grant_type") != "client_credentials":
            return Response(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "Use grant_type=client_credentials",
                },
            )
        try:
            token = self.tenant.issue_token(client_id, secret)
        except Fault:
            return Response(
                401, {"error": "invalid_client", "error_description": "Bad credentials"}
            )
        return Response(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.tenant.token_lifetime,
                "scope": "sp:scopes:default"
                if client_id in self.faults.read_only_clients
                else "sp:scopes:all",
                "tenant_id": self.tenant.tenant_id,
                "org": self.tenant.name,
                "jti": token[:16],
            },
        )


def _allow(methods: Iterable[str]) -> str:
    """The Allow header: the route's methods, HEAD wherever there is GET, and OPTIONS."""
    declared = set(methods)
    return ", ".join(sorted(declared | {"OPTIONS"} | ({"HEAD"} if "GET" in declared else set())))


def _pick(method: str, path: str, matches: Matches) -> tuple[handlers.Route, dict[str, str]]:
    """The route for `method`, HEAD answered as GET; 404 if the path has none, else 405."""
    wanted = "GET" if method == "HEAD" else method
    for route, params in matches:
        if route.method == wanted:
            return route, params
    if not matches:
        raise not_found("resource", path)
    allow = _allow(route.method for route, _ in matches)
    raise Fault(405, f"Method {method} is not allowed here; use {allow}", {"Allow": allow})


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password
