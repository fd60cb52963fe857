"""HTTP failures the sandbox answers with, and the standard ISC error body they become.

Owns: the mapping from a failure to a status code and a spec-conformant JSON body.
Must not: decide when a request fails (the handlers do) or write to the socket.
"""

from __future__ import annotations

import uuid
from typing import Any

_DETAIL = {
    400: "400.1 Bad Request Content",
    403: "403 Forbidden",
    404: "404 Not found",
    405: "405 Method Not Allowed",
    406: "406 Not Acceptable",
    500: "500.0 Internal Fault",
}


class Fault(Exception):
    """A request the sandbox refuses, with the status and text the tenant would send."""

    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body for this fault, in the shape the spec gives for its status."""
        if self.status == 401:
            return {"error": self.text}
        if self.status == 429:
            return {"message": " Rate Limit Exceeded "}
        message = {"locale": "en-US", "localeOrigin": "DEFAULT", "text": self.text}
        return {
            "detailCode": _DETAIL.get(self.status, f"{self.status} Error"),
            "trackingId": uuid.uuid4().hex,
            "messages": [message],
            "causes": [],
        }


def bad_request(text: str) -> Fault:
    return Fault(400, text)


def not_found(kind: str, ident: str) -> Fault:
    return Fault(404, f"The {kind} {ident!r} was not found.")


def unauthorized(text: str) -> Fault:
    return Fault(401, text)
