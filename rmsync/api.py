"""The ISC client: the only module that speaks HTTP.

Owns: tokens (client credentials, refreshed before they expire, or a given access token),
API versions and their paths and headers, keeping under the rate limit, retries with
backoff, and turning responses into model records and failures into ApiError.
Must not: decide what to do with what it reads, print, or send a secret to any other host.
"""

from __future__ import annotations

import ipaddress
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from types import TracebackType
from typing import Any, get_type_hints
from urllib.parse import urlsplit

import httpx

from rmsync import __version__
from rmsync.errors import RmsyncError
from rmsync.models import ApiVersion, Credentials, ExportJob, ExportParams, Live, Role, Status
from rmsync.ratelimit import Limit, RateLimiter

TOKEN_MARGIN = 60.0  # refresh a token this many seconds before it expires
PAGE = 250  # the most ISC returns in one page
# What each operation's responses are, per the spec: JSON everywhere but the archive
# downloads, whose success is application/zip and whose errors are JSON. A tenant answers
# an Accept that admits neither with 406 or 500 "No match for accept header".
ACCEPT_JSON = "application/json"
ACCEPT_ZIP = "application/zip, application/json;q=0.5"


class ApiError(RmsyncError):
    """The tenant refused or failed a request; the message names it and its trackingId."""

    def __init__(
        self, message: str, status: int | None = None, tracking_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.tracking_id = tracking_id


class NotFoundError(ApiError):
    """The tenant has no such session, role or export."""


def check_base_url(url: str) -> str:
    """The tenant root without a trailing slash; https unless the host is this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        raise ApiError(
            f"base URL {url!r} must be a tenant root such as https://acme.api.identitynow.com"
        )
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ApiError(f"base URL {url!r} must use https (plain http only reaches this machine)")
    return url.rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Client:
    """One tenant, one API version; thread-safe. `Client(..., transport=...)` for tests."""

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
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.version = version
        self._credentials = credentials
        self._clock, self._sleep, self._attempts, self._workers = clock, sleep, attempts, workers
        self._limiter = RateLimiter(limit)
        self._key = ("client", version.value)
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None
        headers = {"User-Agent": f"rmsync/{__version__}"}
        if version.experimental:
            headers["X-SailPoint-Experimental"] = "true"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            transport=transport,
            timeout=60.0,
            follow_redirects=False,
        )
        self.requests = 0  # sent, retries included: benchmarks read it

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

    def start_export(self, session_id: str, role_id: str, params: ExportParams) -> ExportJob:
        body = {f.metadata["api"]: getattr(params, f.name) for f in fields(ExportParams)}
        return _job(self._json("POST", self._export_path(session_id, role_id), body=body), params)

    def export_status(self, session_id: str, role_id: str, export_id: str) -> ExportJob | None:
        """The export's state, or None if the tenant no longer knows it."""
        try:
            body = self._json("GET", f"{self._export_path(session_id, role_id)}/{export_id}")
        except NotFoundError:
            return None
        return _job(body, None)

    def session_roles(self, session_id: str) -> list[Role]:
        """Every potential role of a session (all pages); NotFoundError if there is no session."""
        self._json("GET", f"{self._sessions()}/{session_id}")
        roles: list[Role] = []
        while True:
            query = f"?offset={len(roles)}&limit={PAGE}"
            path = f"{self._sessions()}/{session_id}/potential-role-summaries{query}"
            page = self._json("GET", path)
            if not isinstance(page, list):
                raise ApiError(f"the tenant's list of roles in session {session_id} is not a list")
            roles += [_role({**item, "session": {"id": session_id}}, "") for item in page]
            if len(page) < PAGE:
                return roles

    def download(
        self, session_id: str, role_id: str, export_id: str, sink: Callable[[bytes], None]
    ) -> str:
        """Stream a finished export's archive into `sink`; return the Content-Type."""
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

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        response = self._send(method, path, body)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                f"{method} {path}: the tenant answered {response.status_code} with a non-JSON body"
            ) from None

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        sink: Callable[[bytes], None] | None = None,
        accept: str = ACCEPT_JSON,
    ) -> httpx.Response:
        """Send with auth, throttling and retries; a successful body streams into `sink`."""
        refreshed = False
        for attempt in range(1, self._attempts + 1):
            admitted = self._throttle()
            headers = {"Authorization": f"Bearer {self._bearer()}", "Accept": accept}
            try:
                request = self._http.build_request(method, path, json=body, headers=headers)
                response = self._http.send(request, stream=True)
                try:
                    if sink is not None and response.is_success:
                        for chunk in response.iter_bytes():
                            sink(chunk)
                    else:
                        response.read()
                finally:
                    response.close()
            except httpx.TransportError as exc:
                if method != "GET" or attempt == self._attempts:
                    raise ApiError(
                        f"{method} {path}: cannot reach {self.base_url}: {type(exc).__name__}"
                    ) from None
                self._backoff(attempt, None)
                continue
            finally:
                with self._lock:
                    self.requests += 1
                    self._limiter.settle(self._key, admitted, self._clock())
            if response.status_code == 401 and self._credentials.client_secret and not refreshed:
                self._token, refreshed = None, True  # the token may have been revoked early
                continue
            retryable = response.status_code == 429 or (
                response.status_code >= 500 and method == "GET"
            )
            if retryable and attempt < self._attempts:
                self._backoff(attempt, response.headers.get("Retry-After"))
                continue
            if response.is_success:
                return response
            raise _error(method, path, response)
        raise ApiError(f"{method} {path}: gave up after {self._attempts} attempts")

    def _throttle(self) -> float:
        """Wait until the rate limit admits a request; return the time it was admitted at."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._limiter.admit(self._key, now)
            if wait is None:
                return now
            self._sleep(wait)

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        try:
            wait = float(retry_after) if retry_after is not None else None
        except ValueError:
            wait = None
        if wait is None:
            wait = min(30.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        self._sleep(wait)

    def _bearer(self) -> str:
        creds = self._credentials
        if creds.access_token:
            return creds.access_token
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._token[1]:
                self._token = self._fetch_token(now)
            return self._token[0]

    def _fetch_token(self, now: float) -> tuple[str, float]:
        creds = self._credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id or "",
            "client_secret": creds.client_secret or "",
        }
        try:
            response = self._http.post("/oauth/token", data=form, headers={"Accept": ACCEPT_JSON})
        except httpx.TransportError as exc:
            raise ApiError(
                f"cannot reach {self.base_url} for a token: {type(exc).__name__}"
            ) from None
        self.requests += 1
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
            token, lifetime = str(body["access_token"]), float(body.get("expires_in", 0))
        except (ValueError, KeyError, TypeError):
            raise ApiError("the tenant's token answer has no access_token") from None
        return token, now + max(0.0, lifetime - TOKEN_MARGIN)


def _error(method: str, path: str, response: httpx.Response) -> ApiError:
    """An ApiError for a failed response, with the tenant's own words and trackingId."""
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
    suffix = f" (trackingId {tracking})" if tracking else ""
    detail = f": {text}" if text else ""
    return kind(
        f"{method} {path} answered {response.status_code}{detail}{suffix}",
        response.status_code,
        tracking,
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _role(body: Any, role_id: str) -> Role:
    """Read a potential role leniently: only the fields rmsync uses, defaults where absent."""
    if not isinstance(body, dict):
        raise ApiError(f"the tenant's answer for potential role {role_id} is not an object")
    session = body.get("session")
    excluded = body.get("excludedEntitlements")
    return Role(
        id=str(body.get("id") or role_id),
        name=str(body.get("name") or ""),
        session_id=str(session["id"]).lower()
        if isinstance(session, dict) and session.get("id")
        else None,
        identity_count=_int(body.get("identityCount")),
        entitlement_count=_int(body.get("entitlementCount")),
        excluded_entitlements=tuple(sorted(str(x) for x in excluded))
        if isinstance(excluded, list)
        else (),
        modified=str(body["modifiedDate"]) if body.get("modifiedDate") else None,
    )


def _job(body: Any, params: ExportParams | None) -> ExportJob:
    if not isinstance(body, dict) or not body.get("exportId"):
        raise ApiError("the tenant's export answer has no exportId")
    try:
        status = Status(str(body.get("status")))
    except ValueError:
        raise ApiError(
            f"the tenant reported an unknown export status {body.get('status')!r}"
        ) from None
    detail = _detail(body) if status is Status.ERROR else None
    return ExportJob(
        export_id=str(body["exportId"]),
        status=status,
        params=params or _params(body),
        detail=detail,
    )


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
