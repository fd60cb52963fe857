"""The ISC client: the only module that speaks HTTP.

Owns: tokens (client credentials, refreshed once 80% of their lifetime has passed, or a given
access token), API versions and their paths and headers, keeping under the rate limit,
timeouts, retries with backoff (and the tenant's Retry-After, up to MAX_RETRY_AFTER), archive
downloads (each attempt streamed afresh into a Sink and checked against its Content-Length;
redirects to storage followed, without credentials), and turning responses into model records
and failures into ApiError, whose messages name causes, never secrets.
Must not: decide what to do with what it reads, print, or send a secret to any other host:
the bearer token goes only to the base URL's origin, the client secret only to its token
endpoint, and neither appears in any message.
"""

from __future__ import annotations

import datetime
import email.utils
import ipaddress
import logging
import math
import random
import re
import socket
import ssl
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from types import TracebackType
from typing import Any, Protocol, TypeVar, get_type_hints
from urllib.parse import quote, urlsplit

import httpx

from rmsync import __version__, debuglog
from rmsync.errors import RmsyncError
from rmsync.models import (
    Access,
    ApiVersion,
    Credentials,
    Entitlement,
    ExportJob,
    ExportParams,
    Live,
    MembersBy,
    Role,
    RoleSummary,
    Session,
    Status,
    is_uuid,
)
from rmsync.ratelimit import Limit, RateLimiter
from rmsync.safetext import visible

TOKEN_REFRESH = 0.8  # a token is refreshed once this fraction of its lifetime has passed
PAGE = 250  # the most ISC returns in one page
_log = logging.getLogger("rmsync.http")  # rmsync.debuglog says where its lines go
LONG_WAIT = 3.0  # a wait this long is said even without --debug: it must not look like a hang
MAX_RETRY_AFTER = 60.0  # the longest Retry-After rmsync sleeps through (see Client._pause)
STOP_CHECK = 0.1  # seconds between looks at `stop()` while a request that may stop waits
MAX_REDIRECTS = 5  # a download's redirects followed, at most
# Each phase its own timeout: a tenant that accepts a connection and never answers fails
# after two read timeouts (about two minutes), not after six (see TIMEOUT_TRIES).
TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
TIMEOUT_TRIES = 2  # a request that timed out is sent this many times at most
# What each operation's responses are, per the spec: JSON everywhere but the archive
# downloads, whose success is application/zip and whose errors are JSON. A tenant answers
# an Accept that admits neither with 406 or 500 "No match for accept header".
ACCEPT_JSON = "application/json"
ACCEPT_ZIP = "application/zip, application/json;q=0.5"
# The statuses the spec gives an export (rmsync's own STARTING is not one of them).
TENANT_STATUSES = {
    s.value: s for s in (Status.QUEUED, Status.IN_PROGRESS, Status.SUCCESS, Status.ERROR)
}


class ApiError(RmsyncError):
    """The tenant refused or failed a request; the message names it and its trackingId."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        tracking_id: str | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.tracking_id = tracking_id
        self.sent = sent  # False: the request never left (no token, no connection)


class NotFoundError(ApiError):
    """The tenant has no such session, role or export."""


@dataclass(frozen=True)
class UnknownStatusJob(ExportJob):
    """An export whose status is none the spec gives (`CANCELLED`, say): read as ERROR, its
    detail saying so, with the tenant's own word in `reported`. It is that export's problem,
    never the whole read's."""

    reported: str = ""


class Sink(Protocol):
    """Where a download's body goes. Each attempt calls `restart` first, with the body's
    length on the wire if the answer declares one: whatever an earlier, failed attempt wrote
    must be forgotten. A sink may raise (an RmsyncError) to stop reading at once."""

    def restart(self, length: int | None) -> None: ...

    def write(self, chunk: bytes) -> None: ...


class _Lost(Exception):
    """An attempt that failed on the wire (no connection, no answer in time, a body cut short):
    worth another. `origin` is where it failed, `reason` what happened, in words."""

    def __init__(
        self, origin: str, reason: str, timed_out: bool = False, sent: bool = True
    ) -> None:
        super().__init__(reason)
        self.origin, self.reason, self.timed_out, self.sent = origin, reason, timed_out, sent


def check_base_url(url: str) -> str:
    """The tenant root without a trailing slash; https unless the host is this machine. A
    message shows the URL only when it cannot hold a secret (no `@`, no query or fragment);
    else its scheme and host only."""
    try:
        parts = urlsplit(url)
        httpx.URL(url)  # what the client will parse: a bad IDN host (xn--…) fails here
        host = parts.hostname
    except (ValueError, httpx.InvalidURL):
        host = None
    # shown whole only when it is nothing but scheme://host[:port]: anything else (a user
    # name, a path, a query) may hold a secret, and is not shown
    plain = host is not None and "@" not in url
    plain = plain and url.rstrip("/") == f"{parts.scheme}://{parts.netloc}"
    shown = (
        repr(visible(url))
        if plain
        else f"{parts.scheme}://{visible(host)} (the rest is not shown: it may hold a secret)"
        if host
        else "(not shown: it may hold a secret)"
    )
    if host is None:
        raise ApiError(f"base URL {shown} is not a URL")
    if "@" in url:  # a user name or password: its own message, the credentials go elsewhere
        raise ApiError(
            f"base URL {shown} holds a user name or password: give the tenant as "
            "https://{tenant}.api.identitynow.com and the credentials in SAIL_CLIENT_ID and "
            "SAIL_CLIENT_SECRET"
        )
    if (
        parts.scheme not in ("http", "https")
        or parts.path.strip("/")
        or parts.query
        or parts.fragment
    ):
        raise ApiError(
            f"base URL {shown} must be a tenant root such as https://acme.api.identitynow.com"
        )
    if parts.scheme == "http" and not _loopback(host):
        raise ApiError(f"base URL {shown} must use https (plain http only reaches this machine)")
    return url.rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Client:
    """One tenant, one API version; thread-safe. `Client(..., transport=...)` for tests, and
    `timeout=` (an httpx.Timeout) to wait less than TIMEOUT."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        version: ApiVersion = ApiVersion.BETA,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 6,
        limit: Limit | None = Limit(),  # noqa: B008 (frozen value)
        workers: int = 8,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        debuglog.ensure()  # a long wait is said on stderr, never in silence
        self.base_url = check_base_url(base_url)
        self.version = version
        self._credentials = credentials
        self._clock, self._sleep, self._attempts, self._workers = clock, sleep, attempts, workers
        self._timeout = timeout
        self._origin = _origin(httpx.URL(self.base_url))
        self._limiter = RateLimiter(limit)
        self._key = ("client", version.value)
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None
        self._quiet_until = -math.inf  # a long rate-limit wait was said until then
        headers = {"User-Agent": f"rmsync/{__version__}"}
        if version.experimental:
            headers["X-SailPoint-Experimental"] = "true"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,  # only a download's are followed, by _follow
        )
        self.requests = 0  # sent, retries and redirects included: benchmarks read it

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- paths ---------------------------------------------------------------------------------

    def _sessions(self) -> str:
        v = self.version.value
        return "/role-mining-sessions/v1" if v == "v1" else f"/{v}/role-mining-sessions"

    def _roles(self) -> str:
        v = self.version.value
        return (
            "/role-mining-potential-roles/v1" if v == "v1" else f"/{v}/role-mining-potential-roles"
        )

    def _export_path(self, session_id: str, role_id: str) -> str:
        return f"{self._sessions()}/{session_id}/potential-roles/{role_id}/export-async"

    # -- operations ------------------------------------------------------------------------------

    def role(self, role_id: str) -> Role | None:
        """The potential role, or None if the tenant has none with that id."""
        try:
            body = self._json("GET", f"{self._roles()}/{role_id}")
        except NotFoundError:
            return None
        return _role(body, role_id)

    def start_export(
        self,
        session_id: str,
        role_id: str,
        params: ExportParams,
        stop: Callable[[], bool] | None = None,
    ) -> ExportJob:
        """Start one export. Once `stop()` says so, it is not sent (nor sent again): an
        ApiError that says it never left."""
        body = {f.metadata["api"]: getattr(params, f.name) for f in fields(ExportParams)}
        path = self._export_path(session_id, role_id)
        return _job(self._json("POST", path, body=body, stop=stop), params)

    def start_exports(
        self,
        wanted: Sequence[tuple[str, str, ExportParams]],
        stop: Callable[[], bool] | None = None,
        answered: Callable[[int, ExportJob | ApiError], None] = lambda i, answer: None,
    ) -> list[ExportJob | ApiError]:
        """`start_export` of each (session id, role id, params), sent side by side within the
        rate limit: a round's starts wait on each other's latency no more than reads do.
        Each answer, or the ApiError it met, in the order asked. Once `stop()` says so, no
        start is begun that was not sent already (Ctrl-C): those answer "not sent".
        `answered(i, answer)` hears each answer as it comes, and the "not sent" of each start
        never begun, even when the wait for them is cut short (by anything but a signal,
        which waits for the round): the caller can record them all."""

        def one(i: int, item: tuple[str, str, ExportParams]) -> ExportJob | ApiError:
            try:
                found: ExportJob | ApiError = self.start_export(*item, stop=stop)
            except ApiError as exc:
                found = exc
            answered(i, found)
            return found

        pool = ThreadPoolExecutor(max_workers=self._workers)
        futures = [pool.submit(one, i, item) for i, item in enumerate(wanted)]
        try:
            return [future.result() for future in futures]
        finally:  # cut short: what is under way finishes, what is not begun never is
            pool.shutdown(wait=True, cancel_futures=True)
            for i, future in enumerate(futures):
                if future.cancelled():
                    session_id, role_id, _ = wanted[i]
                    answered(i, _not_sent("POST", self._export_path(session_id, role_id)))

    @property
    def workers(self) -> int:
        """How many requests it sends side by side."""
        return self._workers

    def headroom(self) -> float:
        """How many requests the rate limit admits now without a wait (inf with none)."""
        with self._lock:
            return self._limiter.headroom(self._key, self._clock())

    def export_status(self, session_id: str, role_id: str, export_id: str) -> ExportJob | None:
        """The export's state, or None if the tenant no longer knows it."""
        try:
            body = self._json("GET", f"{self._export_path(session_id, role_id)}/{export_id}")
        except NotFoundError:
            return None
        return _job(body, None, export_id)

    def access(self, session_id: str, role: Role) -> Access:
        """What the role's members hold: every entitlement not excluded (common access
        marked), and the excluded ones; three reads of every page, two where the role (read
        whole) says it excludes none. Names and counts only."""
        base = f"{self._sessions()}/{session_id}/potential-roles/{role.id}"
        # sorted by name: pages of the default order (popularity, many ties) may overlap or skip
        popular = f"{base}/entitlement-popularities"
        by_name = "sorters=entitlementName&includeCommonAccess="
        every = self._listing(popular, _entitlement, "entitlements", by_name + "true")
        plain = self._listing(popular, _entitlement, "entitlements", by_name + "false")
        excluded = (
            []
            if role.exclusions_said and not role.excluded_entitlements
            else self._listing(f"{base}/excluded-entitlements", _entitlement, "entitlements")
        )
        uncommon, out = {e.id for e in plain}, {e.id for e in excluded}
        return Access(  # an excluded entitlement is excluded, wherever else it is listed
            members=role.identity_count,
            entitlements=_sorted(
                replace(e, common=e.id not in uncommon) for e in every if e.id not in out
            ),
            excluded=_sorted(excluded),
            members_by=role.members_by,
        )

    def accesses(self, wanted: Iterable[tuple[str, Role]]) -> dict[str, Access]:
        """`access` of each (session id, role), by role id, fetched concurrently."""
        items = sorted({role.id: (session, role) for session, role in wanted}.items())
        pool = ThreadPoolExecutor(max_workers=self._workers)
        try:
            found = pool.map(lambda item: self.access(*item[1]), items)
            return {role_id: access for (role_id, _), access in zip(items, found, strict=True)}
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def session_roles(self, session_id: str) -> list[Role]:
        """Every potential role of a session (all pages); NotFoundError if there is no session."""
        self._json("GET", f"{self._sessions()}/{session_id}")
        path = f"{self._sessions()}/{session_id}/potential-role-summaries"
        read = lambda item: _role({**item, "session": {"id": session_id}}, "")  # noqa: E731
        return self._listing(path, read, "potential roles", _sorted_by("createdDate", None))

    # -- finding what to track: sessions and their potential roles, with the tenant's metrics

    def sessions(self, filters: str | None = None) -> list[Session]:
        """Every role-mining session (all pages) that `filters` selects (ISC's V3 syntax; the
        spec allows `saved eq` and `name eq|sw`), in the tenant's order. Never who made one."""
        query = _sorted_by("createdDate", filters)
        return self._listing(self._sessions(), _session, "role-mining sessions", query)

    def session(self, session_id: str) -> Session | None:
        """One role-mining session, or None if the tenant has none with that id."""
        try:
            body = self._json("GET", f"{self._sessions()}/{session_id}")
        except NotFoundError:
            return None
        found = _session(body)
        if found is None:
            raise ApiError(f"the tenant's answer for session {session_id} is not a session")
        return found

    def roles(
        self, session_id: str, filters: str | None = None, wanted: frozenset[str] | None = None
    ) -> list[RoleSummary]:
        """Every potential role of a session (all pages) that `filters` selects (rmsync.where
        writes them), with its metrics, in the tenant's order. Never who made one. With
        `wanted`, the reading stops at the page that brings the last of those ids."""
        path = f"{self._sessions()}/{session_id}/potential-role-summaries"
        query = _sorted_by("createdDate", filters) + "&count=true"  # the spec's X-Total-Count
        return self._listing(
            path, lambda item: _summary(item, session_id), "potential roles", query, wanted
        )

    def _listing(
        self,
        path: str,
        read: Callable[[Any], _Listed | None],
        what: str,
        query: str = "",
        wanted: frozenset[str] | None = None,
    ) -> list[_Listed]:
        """Every page of a collection (`query`: its sorter, so that pages do not overlap, and
        any filters); an item without an id is left out, and one a moved page boundary repeats
        is kept once. A page that brings nothing new is an ApiError: the tenant ignores
        `offset`, and reading on would never end. Where the query asks for `count=true`, the
        tenant's X-Total-Count (if it gives a valid one) ends the reading at the last full
        page, not at an empty one after it."""
        found: dict[str, _Listed] = {}
        offset = 0
        while True:
            url = f"{path}?{query + '&' if query else ''}offset={offset}&limit={PAGE}"
            response = self._send("GET", url, None)
            page = _body(response, "GET", url)
            if not isinstance(page, list):
                raise ApiError(f"the tenant's answer to GET {path} is not a list of {what}")
            total = _total(response.headers.get("x-total-count"))
            items = [x for item in page if (x := read(item)) is not None]
            if offset and items and all(x.id in found for x in items):
                raise ApiError(  # it would go on for ever
                    f"GET {path} answered page {offset // PAGE + 1} with the {what} of earlier "
                    "pages again; rmsync stopped reading it"
                )
            for x in items:
                found.setdefault(x.id, x)
            offset += len(page)
            if len(page) < PAGE or (wanted is not None and wanted <= found.keys()):
                return list(found.values())
            if total is not None and offset >= total:  # that page was the last
                return list(found.values())

    def download(self, session_id: str, role_id: str, export_id: str, sink: Sink) -> str:
        """Stream a finished export's archive into `sink`, afresh on each attempt; return the
        Content-Type. Redirects (to storage, say) are followed: see _follow."""
        path = f"{self._export_path(session_id, role_id)}/{export_id}/download"
        response = self._send("GET", path, None, sink, accept=ACCEPT_ZIP)
        return str(response.headers.get("content-type", ""))

    def live(self, role_ids: Iterable[str], exports: Iterable[tuple[str, str, str]]) -> Live:
        """Roles and export states, fetched concurrently (within the rate limit)."""
        role_list, export_list = sorted(set(role_ids)), sorted(set(exports))
        pool = ThreadPoolExecutor(max_workers=self._workers)
        try:
            roles = pool.map(self.role, role_list)
            jobs = pool.map(lambda e: self.export_status(*e), export_list)
            return Live(
                dict(zip(role_list, roles, strict=True)),
                {e[2]: j for e, j in zip(export_list, jobs, strict=True)},
            )
        finally:  # on a failure or an interrupt, send nothing more than what is in flight
            pool.shutdown(wait=True, cancel_futures=True)

    # -- the request loop ------------------------------------------------------------------------

    def _json(
        self, method: str, path: str, body: Any = None, stop: Callable[[], bool] | None = None
    ) -> Any:
        return _body(self._send(method, path, body, stop=stop), method, path)

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        sink: Sink | None = None,
        accept: str = ACCEPT_JSON,
        stop: Callable[[], bool] | None = None,
    ) -> httpx.Response:
        """Send with auth, throttling and retries; a successful body streams into `sink`.
        Only a GET is sent again after a failure on the wire, and after a timeout only
        TIMEOUT_TRIES times in all. Once `stop()` says so, no attempt is begun."""
        refreshed, timeouts = False, 0
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            try:
                response, foreign = self._exchange(method, path, body, sink, accept, stop)
            except _Lost as lost:
                timeouts += lost.timed_out
                if method != "GET" or last or timeouts >= TIMEOUT_TRIES:
                    raise ApiError(
                        f"{method} {path}: cannot reach {lost.origin}: {lost}", sent=lost.sent
                    ) from None
                wait = _backoff(attempt)
                _log.debug(f"{method} {path}: {lost}; trying again in {wait:.1f} s")
                self._sleep(wait)
                continue
            if response.status_code == 401 and foreign is None:
                if self._credentials.access_token:
                    raise _static_token_refused(response)
                if not refreshed:
                    self._token, refreshed = None, True  # the token may have been revoked early
                    continue
            if _retryable(method, response) and not last:
                self._pause(method, path, response, attempt, stop)
                continue
            if response.is_success:
                return response
            where = path if foreign is None else f"{path}: the download's redirect to {foreign}"
            raise _error(method, where, response, tenant=foreign is None)
        raise ApiError(f"{method} {path}: gave up after {self._attempts} attempts")

    def _exchange(
        self,
        method: str,
        path: str,
        body: Any,
        sink: Sink | None,
        accept: str,
        stop: Callable[[], bool] | None = None,
    ) -> tuple[httpx.Response, str | None]:
        """One attempt: the request, a download's redirects, and the body, read whole or into
        `sink`. Returns the last answer and the other origin it came from, if it did. None
        is begun once `stop()` says so, checked last thing before sending (after any wait
        for the rate limit)."""
        admitted = self._throttle(stop)
        if stop is not None and stop():  # its slot of the rate limit goes unused: no harm
            raise _not_sent(method, path)
        headers = {"Authorization": f"Bearer {self._bearer()}", "Accept": accept}
        began = time.monotonic()
        try:
            request = self._http.build_request(method, path, json=body, headers=headers)
            response = self._request(request, self.base_url)
        finally:
            with self._lock:
                self._limiter.settle(self._key, admitted, self._clock())
        foreign = None
        if sink is not None and response.is_redirect:
            response, foreign = self._follow(response, path, headers)
        self._receive(response, sink, foreign or self.base_url)
        via = f" (redirected to {foreign})" if foreign else ""  # its origin only: never the query
        _log.debug(f"{method} {path}{via} → {response.status_code} ({_since(began)})")
        return response, foreign

    def _request(self, request: httpx.Request, origin: str) -> httpx.Response:
        """Send `request`; its answer's body is still to be read."""
        with self._lock:
            self.requests += 1
        try:
            return self._http.send(request, stream=True)
        except httpx.RequestError as exc:
            raise self._lost(origin, exc) from None

    def _lost(self, origin: str, exc: httpx.RequestError) -> _Lost:
        timed_out = isinstance(exc, httpx.TimeoutException)
        unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        return _Lost(origin, failure_reason(exc, self._timeout), timed_out, sent=not unsent)

    def _follow(
        self, response: httpx.Response, path: str, headers: dict[str, str]
    ) -> tuple[httpx.Response, str | None]:
        """Follow a download's redirects, MAX_REDIRECTS at most, each to https or to this
        machine. The bearer token goes along only while every hop stays at the tenant's
        origin (scheme, host and port); elsewhere no credential and no tenant header is sent,
        and messages name the origin only (a pre-signed URL's query is a secret)."""
        foreign: str | None = None
        for _ in range(MAX_REDIRECTS):
            response.close()
            target = _target(response, path)
            if foreign is not None or _origin(target) != self._origin:
                foreign = _shown(target)
            hop = self._http.build_request("GET", target, headers=headers)
            if foreign is not None:
                for name in ("Authorization", "X-SailPoint-Experimental", "Cookie"):
                    hop.headers.pop(name, None)
            response = self._request(hop, foreign or self.base_url)
            if not response.is_redirect:
                return response, foreign
        response.close()
        raise ApiError(f"GET {path}: the download was redirected more than {MAX_REDIRECTS} times")

    def _receive(self, response: httpx.Response, sink: Sink | None, origin: str) -> None:
        """Read the body: into `sink` if it is a download's success (afresh: the sink is
        restarted), else whole. A body shorter than its Content-Length (in bytes on the wire,
        before any Content-Encoding is undone) is a failure worth another attempt."""
        try:
            if sink is None or not response.is_success:
                response.read()
                return
            length = _length(response)
            sink.restart(length)
            for chunk in response.iter_bytes():
                sink.write(chunk)
            got = response.num_bytes_downloaded
            if length is not None and got != length:
                raise _Lost(origin, f"the body ended after {got:,} of its {length:,} bytes")
        except httpx.RequestError as exc:  # a DecodingError (a body not as encoded) too
            raise self._lost(origin, exc) from None
        finally:
            response.close()

    def _pause(
        self,
        method: str,
        path: str,
        response: httpx.Response,
        attempt: int,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Wait before trying again: the tenant's Retry-After, if it gives a valid one of at
        most MAX_RETRY_AFTER seconds, else the backoff. A longer Retry-After is an ApiError
        at once: sleeping through it would leave a run hanging for as long as the tenant
        says, and asking sooner would ignore it. An invalid one (negative, not a finite
        number, an unreadable date) is ignored."""
        wait = retry_after(response.headers)
        if response.status_code == 429:
            with self._lock:
                self._limiter.slow(self._clock())  # the tenant's limit is lower than ours
        if wait is not None and wait > MAX_RETRY_AFTER:
            status, failed = response.status_code, _error(method, path, response)
            raise ApiError(
                f"{method} {path} answered {status} and asked to wait {wait:.0f} s before "
                f"trying again (Retry-After), longer than rmsync waits ({MAX_RETRY_AFTER:g} s); "
                "try again later",
                status,
                failed.tracking_id,
            )
        pause = _backoff(attempt) if wait is None else wait
        why = "Retry-After" if wait is not None else "backoff"
        said = (
            f"{method} {path} answered {response.status_code}; trying again in {pause:.1f} s "
            f"({why}, attempt {attempt + 1} of {self._attempts})"
        )
        self._say(self._clock(), pause, said)
        self._wait(pause, stop)

    def _throttle(self, stop: Callable[[], bool] | None = None) -> float:
        """Wait until the rate limit admits a request; return the time it was admitted at.
        A wait ends early once `stop()` says so (the caller then sends nothing)."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._limiter.admit(self._key, now)
            if wait is None or (stop is not None and stop()):
                return now
            if wait >= 0.05:  # one that would be said as "0.0 s" is not worth a line
                self._said_wait(now, wait)
            self._wait(wait, stop)

    def _wait(self, seconds: float, stop: Callable[[], bool] | None) -> None:
        """Sleep `seconds`; with `stop`, a look at it every STOP_CHECK s, and no more sleep
        once it says so: stopping never sits out a rate-limit window or a Retry-After."""
        if stop is None:
            self._sleep(seconds)
            return
        left = seconds
        while left > 0 and not stop():
            self._sleep(min(left, STOP_CHECK))
            left -= STOP_CHECK

    def _said_wait(self, now: float, wait: float) -> None:
        """A wait for the rate limit, in the debug log; a long one on stderr too, once while
        it lasts (many requests may be waiting for the same window)."""
        limit = self._limiter.limit
        rate = str(limit) if limit else ""
        said = f"waiting {wait:.1f} s for the rate limit ({rate} per client id and API version)"
        self._say(now, wait, said)

    def _say(self, now: float, wait: float, said: str) -> None:
        """A wait in the debug log; a long one on stderr too, once while it lasts (the
        requests running side by side all wait for the same window or Retry-After)."""
        with self._lock:
            loud = wait >= LONG_WAIT and now >= self._quiet_until
            if loud:
                self._quiet_until = now + wait
        _log.warning(said) if loud else _log.debug(said)

    def _bearer(self) -> str:
        creds = self._credentials
        if creds.access_token:
            return creds.access_token
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._token[1]:
                try:
                    self._token = self._fetch_token(now)
                except ApiError as exc:
                    exc.sent = False  # no token: the request it was for never left
                    raise
            return self._token[0]

    def _fetch_token(self, now: float) -> tuple[str, float]:
        """A token, and when to refresh it: once TOKEN_REFRESH of its lifetime has passed."""
        creds = self._credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id or "",
            "client_secret": creds.client_secret or "",
        }
        began = time.monotonic()
        try:
            response = self._http.post("/oauth/token", data=form, headers={"Accept": ACCEPT_JSON})
        except httpx.RequestError as exc:
            reason = failure_reason(exc, self._timeout)
            raise ApiError(f"cannot reach {self.base_url} for a token: {reason}") from None
        self.requests += 1
        _log.debug(f"POST /oauth/token → {response.status_code} ({_since(began)})")
        if response.status_code in (400, 401):
            raise ApiError(
                f"the tenant refused the client credentials ({response.status_code}): "
                "check SAIL_CLIENT_ID and SAIL_CLIENT_SECRET",
                response.status_code,
            )
        if not response.is_success:
            raise _error("POST", "/oauth/token", response)
        try:
            body = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise ApiError("the tenant's token answer has no access_token") from None
        return token, now + _lifetime(body.get("expires_in")) * TOKEN_REFRESH


def _since(began: float) -> str:
    return f"{(time.monotonic() - began) * 1000:.0f} ms"


# -- reading the wire --------------------------------------------------------------------------

# The cause of a failure on the wire, in words, by the first exception in its chain that is
# one of these (most specific first).
_CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (socket.gaierror, "name not resolved"),
    (ssl.SSLCertVerificationError, "TLS certificate not trusted"),
    (ssl.SSLError, "TLS handshake failed"),
    (ConnectionResetError, "connection reset"),
    (httpx.RemoteProtocolError, "the connection closed before the answer was complete"),
)


def failure_reason(exc: BaseException, timeout: httpx.Timeout) -> str:
    """What went wrong on the wire, in words, from the exception's kind and causes, never from
    its text (which may quote a URL)."""
    if isinstance(exc, httpx.TimeoutException):
        return _timed_out(exc, timeout)
    chain = _chain(exc)
    for kind, words in _CAUSES:
        if any(isinstance(e, kind) for e in chain):
            return words
    told = [e.strerror for e in chain if isinstance(e, OSError) and e.strerror]
    return told[0].lower() if told else "network failure"


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 16:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _timed_out(exc: httpx.TimeoutException, timeout: httpx.Timeout) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        what, limit = "no connection", timeout.connect
    elif isinstance(exc, httpx.WriteTimeout):
        what, limit = "the request not sent", timeout.write
    elif isinstance(exc, httpx.PoolTimeout):
        what, limit = "no free connection", timeout.pool
    else:
        what, limit = "no answer", timeout.read
    return f"{what} within {limit:g} s (timed out)" if limit is not None else "timed out"


def _length(response: httpx.Response) -> int | None:
    """The body's length on the wire, if the answer declares a valid one."""
    text = response.headers.get("Content-Length", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host.lower(), url.port or default)


def _shown(url: httpx.URL) -> str:
    """scheme://host[:port] and nothing more: a pre-signed URL's path and query are secrets."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}" + (f":{url.port}" if url.port else "")


def _target(response: httpx.Response, path: str) -> httpx.URL:
    """Where a redirect leads, if rmsync may go there: https, or http to this machine."""
    try:
        target = response.url.join(response.headers["Location"])
    except (httpx.InvalidURL, ValueError):
        raise ApiError(f"GET {path}: the download was redirected to an invalid URL") from None
    if target.scheme == "https" or (target.scheme == "http" and _loopback(target.host)):
        return target
    raise ApiError(
        f"GET {path}: the download was redirected to {_shown(target)}, which is neither https "
        "nor this machine; refused"
    )


def _retryable(method: str, response: httpx.Response) -> bool:
    return response.status_code == 429 or (response.status_code >= 500 and method == "GET")


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter: 0.25-0.5 s after the first attempt, at most 30 s."""
    return min(30.0, 0.5 * 2.0 ** (attempt - 1)) * (0.5 + random.random() / 2)


def retry_after(headers: httpx.Headers) -> float | None:
    """The seconds a Retry-After asks for (RFC 9110: delay-seconds, or an HTTP-date counted
    from the answer's own Date where it has one), or None if it is absent or invalid: a
    negative or non-finite number, or a date that cannot be read. A past date is 0."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = _http_date(value)
        if when is None:
            return None
        sent = _http_date(headers.get("Date", ""))
        return max(0.0, when - (sent if sent is not None else time.time()))
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _http_date(text: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 9110's dates are all GMT
        when = when.replace(tzinfo=datetime.UTC)
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _lifetime(value: Any) -> float:
    """A token's lifetime in seconds; one the tenant does not give, or gives as nonsense,
    lasts until the tenant refuses it (a 401 fetches another)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return math.inf
    return seconds if math.isfinite(seconds) and seconds > 0 else math.inf


def _static_token_refused(response: httpx.Response) -> ApiError:
    return ApiError(
        "SAIL_ACCESS_TOKEN was refused (401): it may have expired; get a new one, or set "
        "SAIL_CLIENT_ID and SAIL_CLIENT_SECRET instead so that rmsync fetches its own tokens",
        401,
        _error("GET", "", response).tracking_id,
    )


def _error(method: str, path: str, response: httpx.Response, *, tenant: bool = True) -> ApiError:
    """An ApiError for a failed response, with the tenant's own words and trackingId (and,
    for a 403 from the tenant, what a token needs; storage's 403 is its own)."""
    text, tracking = "", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        tracking = body.get("trackingId")
        messages = body.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            text = str(messages[0].get("text", ""))
        text = text or str(body.get("error") or body.get("message") or "").strip()
    kind = NotFoundError if response.status_code == 404 else ApiError
    text = visible(text)[:500]  # the tenant's words, shown on one line and never acting
    tracking = visible(str(tracking))[:100] if tracking else None
    suffix = f" (trackingId {tracking})" if tracking else ""
    detail = f": {text}" if text else ""
    if response.status_code == 403 and tenant:  # the token's scopes or its owner's level
        suffix += (
            "; the token may not do this: starting an export needs the scope "
            "iai:access-modeling:manage, reading iai:access-modeling:read, and its owner the "
            "user level ORG_ADMIN, ROLE_ADMIN or ROLE_SUBADMIN"
        )
    return kind(
        f"{method} {path} answered {response.status_code}{detail}{suffix}",
        response.status_code,
        tracking,
    )


def _int(value: Any) -> int:
    """A count: a whole number, 0 or more (anything else from the tenant counts as 0)."""
    return max(0, value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str:
    """Tenant text as it can be stored: a lone surrogate (not UTF-8) becomes U+FFFD."""
    return str(value).encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _role(body: Any, role_id: str) -> Role:
    """Read a potential role leniently: only the fields rmsync uses, defaults where absent."""
    if not isinstance(body, dict):
        raise ApiError(f"the tenant's answer for potential role {role_id} is not an object")
    session = body.get("session")
    excluded = body.get("excludedEntitlements")
    return Role(
        id=str(body.get("id") or role_id),
        name=_text(body.get("name") or ""),
        session_id=str(session["id"]).lower()
        if isinstance(session, dict) and session.get("id")
        else None,
        identity_count=_int(body.get("identityCount")),
        entitlement_count=_int(body.get("entitlementCount")),
        excluded_entitlements=tuple(sorted(_text(x) for x in excluded))
        if isinstance(excluded, list)
        else (),
        modified=_text(body["modifiedDate"]) if body.get("modifiedDate") else None,
        members_by=_members_by(body.get("identityDistribution")),
        quality=_metric(body.get("quality")),
        density=_metric(body.get("density")),
        freshness=_metric(body.get("freshness")),
        provision_state=_state(body.get("provisionState")),
        exclusions_said=isinstance(excluded, list),
    )


def _state(value: Any) -> str | None:
    """A provisionState as the spec spells them (POTENTIAL, PENDING, FAILED, COMPLETE), or
    None: absent, or not a word (read leniently, shown only through safetext)."""
    return value.upper() if isinstance(value, str) and value.isalpha() else None


# The identity attributes whose member counts may leave the tenant: they group people and
# name none (normalised: lower case, letters and digits only). A session may distribute
# members by any attribute (a manager, a login, a common name); those never leave it.
GROUPING = frozenset(
    {"department", "division", "businessunit", "costcenter", "company", "organization"}
    | {"organisation", "orgunit", "location", "city", "country", "region", "site", "office"}
    | {"jobtitle", "title", "jobcode", "jobfamily", "jobfunction", "function", "employeetype"}
    | {"workertype", "usertype", "type", "grade", "level", "band", "team", "segment"}
)
_MAX_VALUE = 100  # characters of an attribute value kept; a longer one is no group's name


def _grouping(name: str) -> bool:
    return "".join(c for c in name.casefold() if c.isalnum()) in GROUPING


def _members_by(value: Any) -> MembersBy:
    """identityDistribution, leniently: counts per attribute value, sorted; anything else is
    left out. Only GROUPING attributes are kept, and no value that looks like an address
    (any @, full-width too) or is longer than _MAX_VALUE: these counts go into Git."""
    if not isinstance(value, list):
        return ()
    found: dict[str, dict[str, int]] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("attributeName"), str):
            continue
        if not _grouping(item["attributeName"]):
            continue
        entries = item.get("distribution")
        counts = found.setdefault(_text(item["attributeName"]), {})
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                continue
            raw = entry.get("attributeValue")
            key = "(none)" if raw is None else _text(raw)
            if len(key) > _MAX_VALUE or unicodedata.normalize("NFKC", key).count("@"):
                continue
            counts[key] = counts.get(key, 0) + _int(entry.get("count"))
    return tuple((k, tuple(sorted(v.items()))) for k, v in sorted(found.items()) if v)


def _percent(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(min(max(value, 0.0), 100.0))


def _entitlement(body: Any) -> Entitlement | None:
    """A role-mining entitlement, leniently: the id and name from entitlementRef (or the
    item itself), the source's name, the holders, the popularities."""
    if not isinstance(body, dict):
        return None
    given = body.get("entitlementRef")
    ref: dict[str, Any] = given if isinstance(given, dict) else {}
    ident = ref.get("id") or body.get("id")
    if not isinstance(ident, str) or not ident:
        return None
    name = ref.get("name") or body.get("name") or ident
    return Entitlement(
        id=_text(ident),
        name=_text(name),
        source=_text(body.get("applicationName") or ""),
        holders=_int(body.get("identityCount")),
        popularity=_percent(body.get("popularity")) or 0.0,
        popularity_in_org=_percent(body.get("popularityInOrg")),
    )


def _sorted(items: Iterable[Entitlement]) -> tuple[Entitlement, ...]:
    return tuple(sorted(items, key=lambda e: (e.name.casefold(), e.name, e.id)))


def _metric(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _job(body: Any, params: ExportParams | None, export_id: str | None = None) -> ExportJob:
    """An export answer, read leniently: a status the spec does not give is an
    UnknownStatusJob (ERROR, saying so), never a failure of the whole read."""
    if not isinstance(body, dict) or not (body.get("exportId") or export_id):
        raise ApiError("the tenant's export answer has no exportId")
    given, params = str(body.get("exportId") or export_id), params or _params(body)
    if not is_uuid(given):  # it would make a lockfile rmsync refuses to read
        raise ApiError(f"the tenant's export id {visible(given[:100])!r} is not a UUID")
    ident = given.lower()
    raw = body.get("status")
    status = TENANT_STATUSES.get(raw) if isinstance(raw, str) else None
    if status is None:
        reported = "" if raw is None else str(raw)[:100]
        said = _detail(body)
        why = (
            f"the tenant reported status {reported!r}, which rmsync does not know"
            if reported
            else "the tenant reported no status"
        ) + (f"; it said: {said}" if said else "")
        return UnknownStatusJob(
            export_id=ident, status=Status.ERROR, params=params, detail=why, reported=reported
        )
    detail = _detail(body) if status is Status.ERROR else None
    return ExportJob(export_id=ident, status=status, params=params, detail=detail)


def _params(body: dict[str, Any]) -> ExportParams:
    """The parameters an export answer echoes, leniently: a value not of the parameter's type
    (or none) is the parameter's default."""
    hints = get_type_hints(ExportParams)
    found: dict[str, Any] = {}
    for f in fields(ExportParams):
        value = body.get(f.metadata["api"])
        found[f.name] = value if _is(value, hints[f.name]) else f.default
    return ExportParams(**found)


def _is(value: Any, kind: Any) -> bool:
    """JSON's view of a type: an int is a float too, but true is not an int."""
    if kind is float:
        kind = int | float
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _detail(body: dict[str, Any]) -> str | None:
    """Why an export failed, if the tenant says: the spec declares no field for it, so read
    the usual places leniently (errorMessage, message, error, messages[].text, details)."""
    for key in ("errorMessage", "message", "error", "details", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:500]
    messages = body.get("messages")
    if isinstance(messages, list):
        texts = [str(m.get("text")).strip() for m in messages if isinstance(m, dict)]
        joined = "; ".join(t for t in texts if t and t != "None")
        return joined[:500] or None
    return None


# -- reading sessions and role summaries (never who made them) --------------------------------

_Listed = TypeVar("_Listed", Session, RoleSummary, Entitlement, Role)


def _body(response: httpx.Response, method: str, path: str) -> Any:
    """The JSON an answer carries, or an ApiError that says it carries none."""
    try:
        return response.json()
    except ValueError:
        raise ApiError(
            f"{method} {path}: the tenant answered {response.status_code} with a non-JSON body"
        ) from None


def _not_sent(method: str, path: str) -> ApiError:
    """What a request that was never sent (rmsync is stopping) answers."""
    return ApiError(f"{method} {path}: not sent: rmsync is stopping", sent=False)


def _total(header: str | None) -> int | None:
    """X-Total-Count as a count of items, or None when it is missing or not one."""
    text = (header or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _sorted_by(sorter: str, filters: str | None) -> str:
    """The query of a listing: its filters (ISC's V3 syntax, escaped) and its sorter."""
    return (f"filters={quote(filters, safe='')}&" if filters else "") + f"sorters={sorter}"


def _session(body: Any) -> Session | None:
    """A role-mining session, leniently: None without an id. `createdBy` (a person) is never
    read, nor the scope's identity ids; the scope's search only if it names no person."""
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        return None
    status, scope = body.get("status"), body.get("scope")
    state = status.get("state") if isinstance(status, dict) else None
    criteria = scope.get("criteria") if isinstance(scope, dict) else None
    return Session(
        id=_id(body["id"]),
        name=_text(body["name"]) if isinstance(body.get("name"), str) else None,
        state=_text(state) if isinstance(state, str) else None,
        saved=body.get("saved") is True,
        scoping_method=_word(body.get("scopingMethod")),
        scope=_scope(criteria),
        potential_role_count=_int(body.get("potentialRoleCount")),
        created=_word(body.get("createdDate")),
        type=_word(body.get("type")),
    )


def _summary(body: Any, session_id: str) -> RoleSummary | None:
    """A potential role summary with its metrics, leniently (as `_role` reads a role): None
    without an id; `createdBy` (a person) is never read."""
    if not isinstance(body, dict):
        return None
    given = body.get("potentialRoleRef")
    ref: dict[str, Any] = given if isinstance(given, dict) else {}
    ident = body.get("id") or ref.get("id")
    if not isinstance(ident, str) or not ident:
        return None
    name = body.get("name") or ref.get("name") or ""
    return RoleSummary(
        id=_id(ident),
        name=_text(name),
        session_id=session_id,
        identity_count=_int(body.get("identityCount")),
        entitlement_count=_int(body.get("entitlementCount")),
        quality=_metric(body.get("quality")),
        density=_metric(body.get("density")),
        freshness=_metric(body.get("freshness")),
        saved=body.get("saved") is True,
        type=_word(body.get("type")),
        created=_word(body.get("createdDate")),
    )


def _id(value: str) -> str:
    """An id as rmsync keeps it: a UUID in lower case, anything else as the tenant gave it."""
    return value.lower() if is_uuid(value) else _text(value)


def _word(value: Any) -> str | None:
    """A short tenant value (a state, a type, a date): text, or None."""
    return _text(value)[:200] if isinstance(value, str) and value else None


# One clause of a scope's search: `attributes.department:"Finance"` (or a list in brackets).
_CLAUSE = re.compile(
    r'(?:attributes\.([A-Za-z_]\w*)|source\.\w+)\s*:\s*(?:"[^"]*"|[^\s"()]+|\([^()]*\))'
)


def _scope(criteria: Any) -> str | None:
    """A session's scope search, only if every clause is `attributes.K:V` with K a GROUPING
    attribute (a department, a location...) or `source.K:V`: anything else could name a
    person, so the scope is not shown at all."""
    if not isinstance(criteria, str) or not criteria.strip():
        return None
    for clause in re.split(r"\s+(?:AND|OR)\s+", criteria.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.fullmatch(clause.strip())
        grouping = match is not None and (match[1] is None or _grouping(match[1]))
        if not grouping or "@" in clause:  # a source is an application; else a GROUPING key
            return None
    return _text(criteria)
