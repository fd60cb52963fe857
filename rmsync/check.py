"""Drift: what `rmsync check` finds when it compares the manifest, the lockfile and the tenant.

Owns: sorting a plan's findings into drift (the tenant's doing: a role that changed, vanished,
was re-mined or provisioned; an export that is gone or ended in ERROR; an archive altered on
disk) and changes that only the manifest asks for (new exports, new parameters, forgets,
renames, a refresh_after that came due, an export that moved on); the exit code each gives
(0 clean, 2 changes, 3 drift); and the check as text, Markdown (with the hidden marker a
scheduled job finds its issue by) and a versioned JSON document (schemas/check.schema.json).
Must not: do I/O, read the clock, or talk to the tenant (workflow reads, this decides).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from rmsync import render
from rmsync.models import Broken, Plan, Role, Step
from rmsync.plan import provisioned
from rmsync.safetext import visible

FORMAT = 1
MARKER = "<!-- rmsync: check -->"
CLEAN, ERROR, CHANGES, DRIFT = 0, 1, 2, 3  # the exit codes (other errors are raised)


class Kind(Enum):
    DRIFT = "drift"  # the tenant's doing: a person should look
    CHANGE = "change"  # what the manifest asks for and apply would do


@dataclass(frozen=True)
class Finding:
    """One export's finding: what apply would do about it (None: nothing), and why."""

    name: str
    kind: Kind
    action: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    findings: tuple[Finding, ...]  # by name
    problems: tuple[Broken, ...]  # recorded exports the check could not compare (drift too)
    checked: int  # exports and records compared
    notes: tuple[str, ...] = ()
    errors: tuple[Broken, ...] = ()  # the manifest's own mistakes (nothing recorded): exit 1

    @property
    def drift(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind is Kind.DRIFT)

    @property
    def changes(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind is Kind.CHANGE)

    @property
    def code(self) -> int:
        if self.drift or self.problems:  # before the errors: the drift issue lists them too
            return DRIFT
        if self.errors:
            return ERROR
        return CHANGES if self.findings else CLEAN

    @property
    def verdict(self) -> str:
        return {CLEAN: "clean", CHANGES: "changes", DRIFT: "drift", ERROR: "error"}[self.code]


def assess(
    plan: Plan, roles: Mapping[str, Role | None], recorded: frozenset[str] = frozenset()
) -> Check:
    """The check of `plan` (made with every recorded export's status read), with `roles`, the
    live role of each export by name, for what no plan action shows: a provisioned role. A
    problem of a `recorded` name is drift (the tenant lost what was exported); one of a name
    nothing is recorded for is the manifest's own mistake (an error, not drift)."""
    findings = {}
    for step in plan.steps:
        kind = Kind.DRIFT if step.drift else Kind.CHANGE
        reasons = (*step.drift, *(r for r in step.reasons if r not in step.drift))
        if (moved := _role_moves(step)) is not None:
            reasons = (*reasons, moved)
        findings[step.name] = Finding(step.name, kind, step.action.verb, reasons)
    for name, role in sorted(roles.items()):
        if role is None or not role.provisioned:
            continue
        why = provisioned(role)
        found = findings.get(name)
        reasons = (why, *(r for r in (found.reasons if found else ()) if r != why))
        findings[name] = Finding(name, Kind.DRIFT, found.action if found else None, reasons)
    checked = len(plan.steps) + len(plan.unchanged) + len(plan.broken)
    ordered = tuple(findings[n] for n in sorted(findings))
    drifted = tuple(b for b in plan.broken if b.name in recorded)
    errors = tuple(b for b in plan.broken if b.name not in recorded)
    return Check(ordered, drifted, checked, plan.notes, errors)


_ROLE_FIELDS = {
    "role.identity_count": "members",
    "role.entitlement_count": "entitlements",
    "role.name": "name",
}


def _role_moves(step: Step) -> str | None:
    """What changed in the role, in counts (`rmsync plan` names each entitlement)."""
    said = []
    for change in step.changes:
        if change.field == "role.excluded_entitlements":
            old, new = set(change.old or ()), set(change.new or ())
            said.append(f"excluded in the tenant +{len(new - old)} -{len(old - new)}")
        elif change.field in _ROLE_FIELDS:
            said.append(f"{_ROLE_FIELDS[change.field]} {change.old} → {change.new}")
    if not said:
        return None
    return "what changed: " + ", ".join(said) + " (rmsync plan names the entitlements)"


def summary(check: Check) -> str:
    n = len(check.drift) + len(check.problems)
    drift = render.counted(n, "export")
    if check.code == DRIFT:
        return (
            f"Drift: {drift} no longer as recorded (the tenant changed, or an archive on "
            "disk); "
            f"{render.counted(len(check.changes), 'other change')} the manifest asks for."
        )
    if check.code == ERROR:
        return (
            f"The manifest has {render.counted(len(check.errors), 'mistake')} of its own (nothing "
            "recorded is concerned): fix it; `rmsync plan` shows the same."
        )
    if check.code == CHANGES:
        return (
            f"No drift; {render.counted(len(check.changes), 'change')} the manifest asks for "
            "(apply makes them)."
        )
    return f"No drift and no changes: {render.counted(check.checked, 'export')} as recorded."


def text(check: Check) -> str:
    """The check for a person: drift first, then changes, then what could not be checked."""
    lines = [f"rmsync check: {check.verdict}", ""]
    for title, found in (("Drift (the tenant changed)", check.drift), ("Changes", check.changes)):
        if found:
            lines.append(f"{title}:")
            lines += [line for f in found for line in _finding_lines(f)]
            lines.append("")
    for title, broken in (
        ("Could not be checked (drift too: the tenant lacks what was recorded):", check.problems),
        ("The manifest's own mistakes:", check.errors),
    ):
        if broken:
            lines.append(title)
            for first, rest, names in _grouped(broken):
                lines += [f"  {visible(first)}{names}", *(f"    {visible(x)}" for x in rest)]
            lines.append("")
    lines.append(summary(check))
    lines += [f"Note: {visible(note)}" for note in check.notes]
    return "\n".join(lines) + "\n"


_SYMBOLS = {"export": "+", "re-export": "!", "update": "~", "download": "<", "forget": "-"}


def _grouped(broken: Sequence[Broken]) -> list[tuple[str, list[str], str]]:
    """Each problem once (render.grouped), as its first line, the rest, and its names."""
    said = []
    for b, names in render.grouped(broken):
        first, *rest = str(b).split("\n")
        also = f" ({', '.join(names)})" if len(names) > 1 else ""
        said.append((first, [x.strip() for x in rest], also))
    return said


def _finding_lines(found: Finding) -> list[str]:
    does = f" ({found.action})" if found.action else ""
    symbol = _SYMBOLS.get(found.action or "", "!")
    head = f"  {symbol} {visible(found.name)}{does}"
    return [head, *(f"      {visible(reason)}" for reason in found.reasons)]


def markdown(check: Check, manifest: str, limit: int = render.MARKDOWN_LIMIT) -> str:
    """The check as an issue body: the marker line first (a job finds its one issue by it),
    a heading, the verdict, and one line per finding; tenant text escaped. Never longer than
    `limit` characters (GitHub refuses an issue body over 65,536): the lines that do not fit
    are counted, and `rmsync check` lists them all."""
    whole = _markdown(check, manifest)
    if len(whole) <= limit:
        return whole
    kept, used = [], 0
    lines = whole.splitlines()
    room = limit - 200  # the closing line
    for line in lines:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    left = sum(1 for line in lines[len(kept) :] if line.startswith("- "))
    kept += ["", f"_… and {left:,} more: `rmsync check` lists them all._"]
    return "\n".join(kept) + "\n"


def _markdown(check: Check, manifest: str) -> str:
    lines = [
        MARKER,
        f"### rmsync check: {render.md_code(manifest)}",
        "",
        f"**{render.md_text(summary(check))}**",
    ]
    for title, found in (("Drift (the tenant changed)", check.drift), ("Changes", check.changes)):
        if found:
            lines += ["", f"#### {title}", ""]
            lines += [_md_finding(f) for f in found]
    for title, broken in (("Could not be checked", check.problems), ("Mistakes", check.errors)):
        if broken:
            lines += ["", f"#### {title}", ""]
            lines += [
                f"- {render.md_text(render.one_line(chr(10).join([first, *rest])))}"
                f"{render.md_text(names)}"
                for first, rest, names in _grouped(broken)
            ]
    if check.notes:
        lines += ["", *(f"> {render.md_text(note)}" for note in check.notes)]
    return "\n".join(lines) + "\n"


def _md_finding(found: Finding) -> str:
    does = f" ({found.action})" if found.action else ""
    return f"- **{render.md_text(found.name)}**{does}: " + render.md_text("; ".join(found.reasons))


def dumps(check: Check, made_from: Mapping[str, Any] | None = None) -> str:
    """The check as a versioned JSON document: keys sorted, two-space indent, final newline."""
    doc = {
        "format_version": FORMAT,
        "result": check.verdict,
        "exit_code": check.code,
        "summary": summary(check),
        "made_from": made_from,
        "drift": _findings(check.drift),
        "changes": _findings(check.changes),
        "problems": _broken(check.problems),
        "errors": _broken(check.errors),
        "checked": check.checked,
        "notes": list(check.notes),
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _broken(broken: Sequence[Broken]) -> list[dict[str, Any]]:
    return [
        {"name": b.name, "file": b.file, "line": b.line, "field": b.field, "message": b.message}
        for b in broken
    ]


def _findings(found: Sequence[Finding]) -> list[dict[str, Any]]:
    return [{"name": f.name, "action": f.action, "reasons": list(f.reasons)} for f in found]
