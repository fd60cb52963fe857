"""The sandbox's request and response values, and the URL forms of every API version.

Owns: splitting a URL path into API version and version-free route path, and the
frozen Request/Response records handlers take and give. Must not: touch sockets or state.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from rmsync.sandbox.faults import bad_request

VERSIONS = ("beta", "v2024", "v2025", "v2026", "v1")
EXPERIMENTAL = frozenset({"v2024", "v2025", "v2026", "v1"})
_PREFIXED = re.compile(r"^/(beta|v2024|v2025|v2026)(/role-mining-.*)$")
_V1 = re.compile(r"^/(role-mining-sessions|role-mining-potential-roles)/v1(/.*)?$")


def split_version(path: str) -> tuple[str, str] | None:
    """`/v2025/role-mining-sessions` → (`v2025`, `/role-mining-sessions`); v1's form too."""
    match = _PREFIXED.match(path)
    if match:
        return match.group(1), match.group(2)
    match = _V1.match(path)
    if match:
        return "v1", f"/{match.group(1)}{match.group(2) or ''}"
    return None


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
    status: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, separators=(",", ":")).encode()
