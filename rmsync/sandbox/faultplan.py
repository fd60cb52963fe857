"""A fault plan: which requests the sandbox mistreats, and how (`rmsync sandbox --faults FILE`).

Owns: the plan's frozen records, reading a faults file (or a Python mapping of the same
shape) against faults.schema.json plus the rules a schema cannot say (one answer per rule),
and which requests a rule matches. Must not: count requests, draw random numbers or change
any answer (inject.py does), or speak HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rmsync.errors import DocumentError, Problem
from rmsync.yamlload import Located, field_name, inline_refs, load_file, schema_problems


@dataclass(frozen=True)
class Which:
    """Which of a rule's matching requests (counted from 1) it fires on."""

    after: int = 0
    first: int | None = None
    every: int | None = None
    rate: float | None = None
    times: int | None = None

    def fires(self, seen: int, fired: int, draw: Callable[[], float]) -> bool:
        """Whether it fires on request number `seen`, having fired `fired` times so far;
        `draw` (a random number in [0, 1)) is called only when the counts allow it."""
        n = seen - self.after
        if (
            n < 1
            or (self.first is not None and n > self.first)
            or (self.every is not None and n % self.every)
            or (self.times is not None and fired >= self.times)
        ):
            return False
        return self.rate is None or draw() < self.rate


@dataclass(frozen=True)
class Replace:
    """Answer `status` instead of the tenant (after it, with `tenant_acts`)."""

    status: int
    body: str = "json"  # json (the spec's error body) | html | empty
    headers: tuple[tuple[str, str], ...] = ()
    tenant_acts: bool = False


@dataclass(frozen=True)
class Drop:
    """No answer: close the connection (`close`) or reset it (`reset`)."""

    how: str
    tenant_acts: bool = False


@dataclass(frozen=True)
class Truncate:
    """The tenant's answer, its Content-Length whole, but only `keep` bytes of body, then close."""

    keep: int


@dataclass(frozen=True)
class InvalidJson:
    """The tenant's answer with its body cut in half (Content-Length true to what is sent)."""


@dataclass(frozen=True)
class Rewrite:
    """The tenant's JSON answer with top-level fields replaced and removed."""

    values: tuple[tuple[str, Any], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class Redirect:
    """A download answered by `status` with Location on the storage origin."""

    status: int


Answer = Replace | Drop | Truncate | InvalidJson | Rewrite | Redirect


@dataclass(frozen=True)
class ExportFate:
    """What becomes of an export a faulted request creates."""

    stuck: str | None = None  # QUEUED | IN_PROGRESS: it never gets further
    error: str | None = None  # it ends in ERROR, with this reason
    forget_after: float | None = None  # seconds after its start, the tenant answers 404


@dataclass(frozen=True)
class Rule:
    path: str
    method: str | None = None
    which: Which = field(default_factory=Which)
    latency: float = 0.0
    answer: Answer | None = None
    revoke_token: bool = False
    token_expires_in: float | None = None
    export: ExportFate | None = None
    where: str = ""  # file:line, for the request log

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(
            _pattern(self.path).fullmatch(path)
        )


@dataclass(frozen=True)
class FaultPlan:
    rules: tuple[Rule, ...] = ()
    seed: int | None = None
    read_only_clients: frozenset[str] = frozenset()


Faults = FaultPlan | Mapping[str, Any] | None  # what Sandbox(faults=...) takes


@cache
def _pattern(glob: str) -> re.Pattern[str]:
    """`*` within one path segment, `**` across segments, everything else literal."""
    parts = re.split(r"(\*\*|\*)", glob)
    return re.compile("".join({"**": ".*", "*": "[^/]*"}.get(p, re.escape(p)) for p in parts))


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("rmsync.sandbox").joinpath("faults.schema.json").read_text("utf-8")
    schema: dict[str, Any] = inline_refs(json.loads(text))
    return schema


def load_faults(path: Path) -> FaultPlan:
    """Read a faults file; raise DocumentError listing every problem at its line."""
    return parse_faults(load_file(path))


def as_plan(faults: Faults, name: str = "<faults>") -> FaultPlan:
    """A plan from a FaultPlan, a mapping shaped as the file (`version` may be left out), or
    None (no faults)."""
    if faults is None:
        return FaultPlan()
    if isinstance(faults, FaultPlan):
        return faults
    return parse_faults(Located(name, {"version": 1, **faults}, {}))


def parse_faults(doc: Located) -> FaultPlan:
    problems = schema_problems(doc, _schema())
    if problems:
        raise DocumentError(problems)
    data = doc.data
    listed = data.get("faults", [])
    for n, raw in enumerate(listed):
        problems += _combination_problems(doc, ("faults", n), raw)
    if problems:
        raise DocumentError(problems)
    rules = (_rule(raw, _where(doc, n)) for n, raw in enumerate(listed))
    return FaultPlan(tuple(rules), data.get("seed"), frozenset(data.get("read_only_clients", ())))


def _where(doc: Located, n: int) -> str:
    """`faults.yaml:12`, or `<faults> faults[0]` for a plan given in Python (no lines)."""
    at = ("faults", n)
    return f"{doc.file}:{doc.line_of(at)}" if doc.lines else f"{doc.file} {field_name(at)}"


_ANSWERS = ("status", "drop", "truncate", "invalid_json", "set", "remove", "redirect")
_EFFECTS = ("latency", "revoke_token", "token_expires_in", "export")
_OPTIONS = ("body", "retry_after", "headers", "tenant_acts")  # each reported on its own


def _combination_problems(
    doc: Located, at: tuple[str | int, ...], raw: dict[str, Any]
) -> list[Problem]:
    """What the schema cannot say: one answer per rule, and options only beside their answer."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    answers = [k for k in _ANSWERS if k in raw and not (k == "remove" and "set" in raw)]
    if len(answers) > 1:
        message = f"cannot be combined with {answers[0]}: a rule gives one answer (write two rules)"
        found += [((*at, k), message) for k in answers[1:]]
    if not answers and not any(k in raw for k in (*_EFFECTS, *_OPTIONS)):
        found.append(
            (at, "the rule does nothing: give it one of " + ", ".join(_ANSWERS + _EFFECTS))
        )
    found += [
        ((*at, k), "goes only with status")
        for k in ("body", "retry_after", "headers")
        if k in raw and "status" not in raw
    ]
    if "tenant_acts" in raw and not {"status", "drop"} & set(raw):
        found.append(
            (
                (*at, "tenant_acts"),
                "goes only with status or drop (other answers always let the tenant act)",
            )
        )
    if {"stuck", "error"} <= set(raw.get("export", {})):
        found.append(
            ((*at, "export", "error"), "cannot be combined with stuck: a stuck export never ends")
        )
    return [
        Problem(file=doc.file, line=doc.line_of(p), field=field_name(p), message=m)
        for p, m in found
    ]


def _rule(raw: dict[str, Any], where: str) -> Rule:
    fate = raw.get("export")
    return Rule(
        path=raw["path"],
        method=raw.get("method"),
        which=Which(
            **{k: raw[k] for k in ("after", "first", "every", "rate", "times") if k in raw}
        ),
        latency=float(raw.get("latency", 0)),
        answer=_answer(raw),
        revoke_token=bool(raw.get("revoke_token")),
        token_expires_in=raw.get("token_expires_in"),
        export=ExportFate(fate.get("stuck"), fate.get("error"), fate.get("forget_after"))
        if fate
        else None,
        where=where,
    )


def _answer(raw: dict[str, Any]) -> Answer | None:
    acts = bool(raw.get("tenant_acts", False))
    if "status" in raw:
        headers = dict(raw.get("headers", {}))
        if "retry_after" in raw:
            headers["Retry-After"] = str(raw["retry_after"])
        return Replace(raw["status"], raw.get("body", "json"), tuple(headers.items()), acts)
    if "drop" in raw:
        return Drop(raw["drop"], acts)
    if "truncate" in raw:
        return Truncate(raw["truncate"])
    if "invalid_json" in raw:
        return InvalidJson()
    if "set" in raw or "remove" in raw:
        return Rewrite(tuple(raw.get("set", {}).items()), tuple(raw.get("remove", ())))
    return Redirect(raw["redirect"]) if "redirect" in raw else None
