"""The sandbox's request and response values, the URL forms of every API version, and Accept.

Owns: splitting a URL path into API version and version-free route path, the frozen
Request/Response records handlers take and give, and reading an Accept header.
Must not: touch sockets or state, or decide which media type a route produces (handlers.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from rmsync.sandbox.faults import Fault, bad_request

VERSIONS = ("beta", "v2024", "v2025", "v2026", "v1")
EXPERIMENTAL = frozenset({"v2024", "v2025", "v2026", "v1"})
_PREFIXED = re.compile(r"^/(beta|v2024|v2025|v2026)(/role-mining-.*)$")
_V1 = re.compile(r"^/(role-mining-sessions|role-mining-potential-roles)/v1(/.*)?$")
_QUOTED = r'"(?:\\.|[^"\\])*"'
_ELEMENTS = re.compile(rf'(?:[^,"]|{_QUOTED})+')  # an Accept's comma-separated media ranges
_PARTS = re.compile(rf'(?:[^;"]|{_QUOTED})+')  # a range's `;`-separated type and parameters
_NAME = r"[!#$%&'*+.^_`|~0-9a-z-]+"  # RFC 9110's token, lower-cased
_MEDIA = re.compile(rf"({_NAME})/({_NAME})")
_Q = re.compile(r"q\s*=\s*([01](?:\.[0-9]{0,3})?|\.[0-9]{1,3})")


def split_version(path: str) -> tuple[str, str] | None:
    """`/v2025/role-mining-sessions` → (`v2025`, `/role-mining-sessions`); v1's form too."""
    match = _PREFIXED.match(path)
    if match:
        return match.group(1), match.group(2)
    match = _V1.match(path)
    if match:
        return "v1", f"/{match.group(1)}{match.group(2) or ''}"
    return None


def accepts(header: str | None, media: str) -> bool:
    """Whether an Accept header admits `media` (RFC 9110 §12.5.1).

    No header, or a blank one, admits anything. Otherwise the most specific of the ranges
    matching `media` decides (`type/subtype` over `type/*` over `*/*`; the highest q among
    equals) and q=0 refuses. Parameters other than q are ignored; a malformed range, or a q
    outside 0..1, admits nothing; a lone `*` is read as `*/*`, as Java clients send it.
    """
    if header is None or not header.strip():
        return True
    kind, sub = media.lower().split("/")
    best = (-1, 0.0)
    for element in _ELEMENTS.findall(header):
        parsed = _media_range(element)
        if parsed is not None:
            (range_kind, range_sub), q = parsed
            if (range_kind, range_sub) == (kind, sub):
                best = max(best, (2, q))
            elif range_sub == "*" and range_kind in (kind, "*"):
                best = max(best, (1 if range_kind == kind else 0, q))
    return best[1] > 0


def _media_range(element: str) -> tuple[tuple[str, str], float] | None:
    """`Type/Sub; x="y"; q=0.5` → ((`type`, `sub`), 0.5); None when it is not a media range."""
    parts = [part.strip().lower() for part in _PARTS.findall(element)]
    name, params = (parts[0], parts[1:]) if parts else ("", [])
    match = _MEDIA.fullmatch("*/*" if name == "*" else name)
    if match is None or (match.group(1) == "*" and match.group(2) != "*"):
        return None
    q = 1.0
    for param in params:
        if param.split("=")[0].strip() == "q":
            weight = _Q.fullmatch(param)
            if weight is None or float(weight.group(1)) > 1:
                return None
            q = float(weight.group(1))
    return (match.group(1), match.group(2)), q


@dataclass(frozen=True)
class Request:
    method: str
    version: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: bytes = b""

    def json(self, default: Any = None) -> Any:
        """The body as JSON; an empty body gives `default`; malformed JSON is a 400."""
        if not self.body.strip():
            if default is None:
                raise bad_request("A JSON request body is required")
            return default
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise bad_request("The request body is not valid JSON") from None


@dataclass(frozen=True)
class Response:
    """An answer; `drop` (close | reset) sends none at all, and `cut` sends only that many
    bytes of the body under its whole Content-Length, then closes (both only under faults)."""

    status: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: str | None = None
    cut: int | None = None

    @classmethod
    def failure(cls, fault: Fault, **headers: str) -> Response:
        """The answer to a refused request: the fault's JSON body and headers, and `headers`."""
        return cls(fault.status, fault.body(), headers={**fault.headers, **headers})

    def payload(self) -> bytes:
        if self.status == 204:
            return b""  # No Content: not even `null`
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, separators=(",", ":")).encode()
