"""Carrying out a fault plan: which request a rule fires on, and what it makes of the answer.

Owns: counting each rule's matching requests and drawing its random numbers (one seeded
stream per rule, so a plan fires on the same requests for the same sequence of requests),
the answer a rule gives instead of the tenant, and what it does to the tenant's own answer
and state (an export's fate, a token's life). Must not: read the plan's file (faultplan.py
does), route requests or check auth (server.py does), or touch the wire (transport.py does).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from rmsync.sandbox.faultplan import (
    Answer,
    Drop,
    FaultPlan,
    InvalidJson,
    Redirect,
    Replace,
    Rewrite,
    Rule,
    Truncate,
)
from rmsync.sandbox.faults import Fault
from rmsync.sandbox.http import Response
from rmsync.sandbox.state import Tenant

Store = Callable[[bytes, str], str]  # an archive and its file name -> the URL it is served at
_HTML = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class Injector:
    """A plan and its running counts; `pick` is safe to call from any thread."""

    def __init__(self, plan: FaultPlan, default_seed: int = 0) -> None:
        self.plan = plan
        seed = plan.seed if plan.seed is not None else default_seed
        self._rngs = [random.Random(f"{seed}:{n}") for n in range(len(plan.rules))]
        self._seen = [0] * len(plan.rules)
        self._fired = [0] * len(plan.rules)
        self._lock = threading.Lock()

    def pick(self, method: str, path: str) -> Rule | None:
        """The rule that fires on this request: the first, in the plan's order, whose counts
        and rate allow it. Every rule that matches counts the request, fired or not."""
        chosen = None
        with self._lock:
            for n, rule in enumerate(self.plan.rules):
                if not rule.matches(method, path):
                    continue
                self._seen[n] += 1
                draw = self._rngs[n].random
                if chosen is None and rule.which.fires(self._seen[n], self._fired[n], draw):
                    self._fired[n] += 1
                    chosen = rule
        return chosen


def instead(rule: Rule) -> Response | None:
    """The answer a rule gives without the tenant seeing the request, if it gives one."""
    answer = rule.answer
    if isinstance(answer, Replace | Drop) and not answer.tenant_acts:
        return _replacement(answer)
    return None


def after(
    rule: Rule, response: Response, tenant: Tenant, bearer: str | None, store: Store
) -> Response:
    """What the rule does once the tenant has answered: to its state, then to its answer."""
    body = response.body if isinstance(response.body, dict) else {}
    if (
        rule.export is not None
        and response.status == 202
        and body.get("exportId") in tenant.exports
    ):
        fate = rule.export
        tenant.doom(body["exportId"], fate.stuck, fate.error, fate.forget_after)
        response = replace(
            response, body={**body, "status": tenant.status(tenant.exports[body["exportId"]])}
        )
    if rule.token_expires_in is not None and body.get("access_token") in tenant.tokens:
        tenant.expire_token(body["access_token"], rule.token_expires_in)
    if rule.revoke_token and bearer:
        tenant.revoke([bearer])
    return _alter(rule.answer, response, store)


def _alter(answer: Answer | None, response: Response, store: Store) -> Response:
    if isinstance(answer, Replace | Drop):
        return _replacement(answer)
    if isinstance(answer, Truncate):
        return replace(response, cut=answer.keep)
    if isinstance(answer, InvalidJson):
        payload = response.payload()
        return replace(response, raw=payload[: len(payload) // 2] or b"{")
    if isinstance(answer, Rewrite):
        return replace(response, body=_rewrite(response.body, answer))
    if isinstance(answer, Redirect) and response.status == 200 and response.raw is not None:
        url = store(response.raw, "archive.zip")
        return Response(
            answer.status, raw=b"", content_type="text/plain", headers={"Location": url}
        )
    return response


def _replacement(answer: Replace | Drop) -> Response:
    if isinstance(answer, Drop):
        return Response(0, drop=answer.how)
    headers = dict(answer.headers)
    title = f"{answer.status} {_phrase(answer.status)}"
    if answer.body == "html":
        raw = _HTML.format(title).encode()
        return Response(answer.status, raw=raw, content_type="text/html", headers=headers)
    if answer.body == "empty":
        return Response(answer.status, raw=b"", content_type="text/plain", headers=headers)
    return Response.failure(Fault(answer.status, _phrase(answer.status)), **headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _rewrite(body: Any, answer: Rewrite) -> Any:
    """Top-level fields replaced and removed: in an object, and in each object of a list."""
    if isinstance(body, list):
        return [_rewrite(item, answer) for item in body]
    if not isinstance(body, dict):
        return body
    kept = {k: v for k, v in body.items() if k not in answer.remove}
    return {**kept, **dict(answer.values)}
