"""A reviewer's report of one export (`rmsync report NAME`): text, Markdown or CSV.

Owns: the exact bytes of the report: the export's parameters and record (export id, status,
dates, the archive's sha256, size and content counts), the role's metrics (quality, density,
freshness), its members by attribute (counts), and the entitlement table: every entitlement by
name and source, how many members hold it, its popularity in the organisation, and whether the
export carries it or why not. Must not: do I/O, read the clock, import HTTP or CLI libraries,
or name a person: a report holds ids, counts and entitlement names only.
"""

from __future__ import annotations

import csv

from rmsync import render, review
from rmsync.models import Access, Entitlement, Record, Request, Role, Subject
from rmsync.safetext import visible

CARRIED = "carried"
BELOW = "left out: below min_entitlement_popularity"
COMMON = "left out: common access"
EXCLUDED = "excluded in the tenant"


def rows(access: Access, request: Request) -> list[tuple[str, Entitlement]]:
    """(what the export does with it, entitlement) for every entitlement of the role."""
    carried, below, common = review.split(access, request.params)
    return [
        *((CARRIED, e) for e in carried),
        *((BELOW, e) for e in below),
        *((COMMON, e) for e in common),
        *((EXCLUDED, e) for e in access.excluded),
    ]


def _facts(
    name: str, request: Request, record: Record | None, role: Role | None
) -> list[tuple[str, str]]:
    facts = [("export", name), ("session_id", request.session_id)]
    facts.append(("potential_role_id", request.potential_role_id))
    if role is not None:
        facts.append(("role", role.name))
        metrics = [(k, getattr(role, k)) for k in ("quality", "density", "freshness")]
        facts += [(k, str(v)) for k, v in metrics if v is not None]
    elif record is not None:
        facts.append(("role", record.role.name))
    facts += [
        (k, render.plain(v))
        for k, v in request.fields().items()
        if k not in ("session_id", "potential_role_id")
    ]
    if record is None:
        facts.append(("recorded", "no: not exported yet"))
        return facts
    if record.request != request:  # the manifest changed since: say which one this follows
        was = record.request.fields()
        moved = [
            f"{k} {render.plain(was[k])} → {render.plain(v)}"
            for k, v in request.fields().items()
            if was[k] != v
        ]
        facts.append(
            (
                "note",
                "the manifest changed since this export ("
                + ", ".join(moved)
                + "): the table follows the manifest; --recorded follows the export",
            )
        )
    facts += [
        ("export_id", record.export_id or "none: the start was not confirmed"),
        ("status", record.status.value),
        ("started_at", record.started_at),
        ("finished_at", record.finished_at or "-"),
    ]
    saved = record.download
    if saved is not None:
        facts += [
            ("archive", saved.path),
            ("sha256", saved.sha256),
            ("size", f"{saved.size:,} bytes"),
        ]
        if saved.content is not None:
            content = saved.content
            facts.append(
                (
                    "archive content",
                    f"{render.counted(content.identities, 'identity', 'identities')}, "
                    f"{render.counted(content.entitlements, 'entitlement')} ({content.digest})",
                )
            )
    return facts


def _members(access: Access) -> list[str]:
    """`department: Finance 5, HR 1`, as the tenant wrote them: each format escapes them."""
    return [
        f"{key}: " + ", ".join(f"{v} {n}" for v, n in counts) for key, counts in access.members_by
    ]


def text(subject: Subject) -> str:
    """The report for a terminal."""
    request, access, source = subject.request, subject.access, subject.source
    facts = _facts(subject.name, request, subject.record, subject.role)
    width = max(len(k) for k, _ in facts)
    lines = [f"{k.ljust(width)}  {visible(v)}" for k, v in facts]
    lines += ["", f"access ({source}): {render.counted(access.members, 'member')}"]
    lines += [f"  {visible(line)}" for line in _members(access)]
    lines.append("")
    for what, e in rows(access, request):
        lines.append(f"  {what}: {render.label(e)}: {render.held(e, access.members)}")
    return "\n".join(lines) + "\n"


def markdown(subject: Subject) -> str:
    """The report as Markdown, for a review ticket or a pull request."""
    name, request, access, source = subject.name, subject.request, subject.access, subject.source
    lines = [f"### rmsync report: {render.md_code(name)}", "", "| | |", "| --- | --- |"]
    facts = _facts(name, request, subject.record, subject.role)
    lines += [f"| {k} | {render.md_text(v)} |" for k, v in facts]
    lines += [
        "",
        f"**Access** ({render.md_text(source)}): {render.counted(access.members, 'member')}",
        "",
    ]
    lines += [f"- {render.md_text(line)}" for line in _members(access)]
    table = [
        "| | entitlement | source | held by | in the org |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    table += [render.md_row(what, e, access.members) for what, e in rows(access, request)]
    return "\n".join([*lines, "", *table]) + "\n"


def csv_text(subject: Subject) -> str:
    """The entitlement table as CSV: one row per entitlement, ids and counts included."""
    request, access = subject.request, subject.access
    out = _Text()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "entitlement_id",
            "entitlement",
            "source",
            "in_export",
            "holders",
            "members",
            "popularity",
            "popularity_in_org",
            "common_access",
        ]
    )
    for what, e in rows(access, request):
        writer.writerow(
            [
                e.id,
                _cell(e.name),
                _cell(e.source),
                what,
                e.holders,
                access.members,
                e.popularity,
                "" if e.popularity_in_org is None else e.popularity_in_org,
                str(e.common).lower(),
            ]
        )
    return "".join(out.parts)


class _Text:
    """What csv.writer writes to: text kept in memory (no file, no io)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)


def _cell(text: str) -> str:
    """A cell a spreadsheet shows, never runs: a leading =, +, - or @ is quoted with ', and
    control and direction-changing characters are written as escapes (safetext.visible)."""
    text = visible(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
