"""Plans as people and programs read them: Terraform-style text, and JSON.

Owns: the exact bytes of every plan rendering (sorted, stable, colour only when asked), and
how a string from the tenant or a file is shown in any output (`visible`, `quoted`): on its
line, never obeyed.
Must not: do I/O, read the clock or the environment, or import HTTP or CLI libraries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from rmsync import review
from rmsync.models import (
    Action,
    Broken,
    Change,
    Entitlement,
    Plan,
    Provenance,
    Review,
    Role,
    Step,
)
from rmsync.safetext import quoted, visible

_COLOURS = {
    Action.EXPORT: "32",
    Action.REEXPORT: "35",
    Action.UPDATE: "33",
    Action.DOWNLOAD: "36",
    Action.FORGET: "31",
}
_HEADLINE = {
    Action.EXPORT: "will be exported",
    Action.REEXPORT: "will be re-exported",
    Action.UPDATE: "will be updated in the lockfile",
    Action.DOWNLOAD: "will be downloaded",
    Action.FORGET: "will be forgotten",
}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def plain(value: Any) -> str:
    """A value as the plan shows it: true/false, null, [a, b], text made visible."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(visible(str(v)) for v in value) + "]"
    return visible(str(value))


def counted(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 export`, `2 exports`: `n` and the noun in the number it takes."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def role_line(role: Role) -> str:
    identities = counted(role.identity_count, "identity", "identities")
    entitlements = counted(role.entitlement_count, "entitlement")
    return f"{quoted(role.name)} ({identities}, {entitlements})"


def summary(plan: Plan) -> str:
    if not plan.changed and plan.broken:
        return "No changes for the other exports."
    if not plan.changed and plan.offline:
        return "No changes. The lockfile matches the manifest (the tenant was not asked)."
    if not plan.changed:
        return "No changes. The lockfile matches the manifest and the tenant."
    n = plan.counts()
    downloads = f"{n[Action.DOWNLOAD]} to download, " if n[Action.DOWNLOAD] else ""
    return (
        f"Plan: {n[Action.EXPORT]} to export, {n[Action.REEXPORT]} to re-export, "
        f"{n[Action.UPDATE]} to update, {downloads}{n[Action.FORGET]} to forget."
    )


OFFLINE = (
    "Offline: planned from the manifest and the lockfile only; the tenant was not asked.",
    "Not checked: whether roles changed, vanished or were re-mined, how recorded exports are "
    "doing, what a new export will carry, which role a new name finds, and which roles newly "
    "meet a set's conditions. apply plans afresh against the tenant.",
)
UNKNOWN = "(not known offline: the tenant finds it at apply)"


def text(plan: Plan, color: bool = False) -> str:
    """The plan as a reviewer reads it; ends with the summary line (and then the exports that
    could not be planned, each at its manifest line). Offline, a banner says so first."""
    lines = [*(_paint(x, "33", color) for x in OFFLINE), ""] if plan.offline else []
    if plan.changed:
        lines += ["rmsync will perform the following actions:", ""]
        for step in plan.steps:
            lines += [*_block(step, color), ""]
    lines.append(_paint(summary(plan), "1", color))
    lines += [f"Note: {visible(note)}." for note in plan.notes]
    lines += broken_lines(plan.broken, color)
    return "\n".join(lines) + "\n"


def broken_lines(broken: Sequence[Broken], color: bool = False) -> list[str]:
    """The exports a plan could not act on, and why: each a problem of that export alone."""
    if not broken:
        return []
    head = f"rmsync could not plan {counted(len(broken), 'export')}; the rest of the plan stands:"
    lines = ["", _paint(head, "31", color)]
    for b, names in grouped(broken):  # a message may list candidates, one a line
        first, *rest = str(b).split("\n")
        also = f" ({', '.join(names)})" if len(names) > 1 else ""
        lines += [f"  {visible(first)}{also}", *(f"    {visible(x.strip())}" for x in rest)]
    return lines


def grouped(broken: Sequence[Broken]) -> list[tuple[Broken, list[str]]]:
    """One problem said once: a set's missing session keeps each member, but says it once."""
    found: dict[tuple[str, int, str, str], tuple[Broken, list[str]]] = {}
    for b in broken:
        found.setdefault((b.file, b.line, b.field, b.message), (b, []))[1].append(b.name)
    return list(found.values())


def _block(step: Step, color: bool, access: bool = True) -> list[str]:
    symbol = _paint(f"{step.action.value:>3}", _COLOURS[step.action], color)
    head = [
        f"  # {visible(step.name)} {_HEADLINE[step.action]}: {visible('; '.join(step.reasons))}",
        f"{symbol} {step.action.verb} {visible(step.name)}",
    ]
    changed = {c.field: c for c in step.changes}
    fields = step.request.fields()
    mark, role = _row("potential_role_id", step.potential_role_id, changed)[::2]
    if step.role is not None:
        role += f" {role_line(step.role)}"
    rows = [(mark, "potential_role", role)]
    if step.selector is not None:  # the role by name, or a set's member: then the ids
        rows.insert(0, (" ", "potential_role_by", _selected_by(step)))
    if step.moved_from is not None:  # a rename: the record's old name, the manifest's new one
        rows.insert(0, ("~", "name", f"{visible(step.moved_from)} → {visible(step.name)}"))
    rows += [_row(n, value, changed) for n, value in fields.items() if n != "potential_role_id"]
    named = _names(step)
    rows += [("~", c.field, _change(c, named)) for c in step.changes if c.field not in fields]
    if step.record is not None:
        rows.append(
            (" ", "export_id", plain(step.record.export_id or "none: the start was not confirmed"))
        )
    if step.download is not None:
        rows.append((" ", "download", visible(step.download)))
    width = max(len(name) for _, name, _ in rows)
    lines = head + [f"      {mark} {name.ljust(width)} = {value}" for mark, name, value in rows]
    found = review.review(step) if access else None
    return lines + ([] if found is None else access_lines(found, step))


def _selected_by(step: Step) -> str:
    """`session "Finance Q3 2026", role "Accounting core" (by name)`, or for a set's member
    `set finance: session "Finance Q3 2026", role "Payroll specialists"`."""
    found, selector = step.resolved, step.selector
    session = quoted(found.session_name) if found and found.session_name else step.session_id
    if found is not None and found.how.startswith("set "):
        return f"{visible(found.how)}: session {session}, role {quoted(found.role_name)}"
    assert selector is not None
    role = quoted(selector.role_name) if selector.role_name is not None else selector.role_id
    name = selector.session_name
    given = quoted(name) if name is not None else selector.session_id
    return f"session {given}, role {role} ({selector.how})"


def percent(value: float) -> str:
    """`100%`, `16.7%`, `19.96%`: a percentage to two decimals, without trailing zeros, so
    that a value just under a threshold never reads as the threshold itself."""
    return f"{value + 0.0:.2f}".rstrip("0").rstrip(".") + "%"


def held(e: Entitlement, members: int) -> str:
    """`held by 5 of 6 (83.3%), 12% of the org`: counts, never who."""
    org = "" if e.popularity_in_org is None else f", {percent(e.popularity_in_org)} of the org"
    return f"held by {e.holders} of {members} ({percent(e.popularity)}){org}"


def label(e: Entitlement) -> str:
    return visible(e.label)


def labels(items: Sequence[Entitlement]) -> str:
    return ", ".join(label(e) for e in items)


def access_lines(found: Review, step: Step) -> list[str]:
    """What the export will carry and leave out (by name, with why), and what changed in the
    role since the last export."""
    params = step.params
    every = len(found.carried) + len(found.below_popularity) + len(found.common)
    lines = [
        f"      access: {counted(found.members, 'member')}; the export carries "
        f"{len(found.carried)} of {counted(every, 'entitlement')}"
        + (f" ({len(found.excluded)} more excluded in the tenant)" if found.excluded else "")
    ]
    lines += [f"        + {label(e)}: {held(e, found.members)}" for e in found.carried]
    below = f"below min_entitlement_popularity {params.min_entitlement_popularity}%"
    also = not params.include_common_access  # common access too: both parameters leave it out
    lines += [
        f"        - {label(e)}: {below}{' (and common access)' if also and e.common else ''}: "
        f"{held(e, found.members)}"
        for e in found.below_popularity
    ]
    common = "common access, left out by include_common_access false"
    lines += [f"        - {label(e)}: {common}: {held(e, found.members)}" for e in found.common]
    lines += [
        f"        x {label(e)}: excluded in the tenant: {held(e, found.members)}"
        for e in found.excluded
    ]
    return lines + since_lines(found, step)


def since_lines(found: Review, step: Step) -> list[str]:
    if step.record is None:
        return []
    said = [
        f"{e.field} {plain(e.old)} → {plain(e.new)}: {_effect(e.dropped, e.added)}"
        for e in found.effects
    ]
    since = found.since
    if since is None:
        said.append("what the role held at the last export was not recorded (older lockfile)")
        then = step.record.role.identity_count
        if then != found.members:
            said.append(f"members {then} → {found.members}")
    else:
        parts = [
            ("excluded in the tenant", since.excluded),
            ("included again", since.included_again),
            ("new to the role", since.added),
            ("no longer in the role", since.removed),
        ]
        said += [f"{what}: {labels(items)}" for what, items in parts if items]
        if since.holders:
            moved = ", ".join(f"{label(e)} {old} → {e.holders}" for e, old in since.holders)
            said.append(f"holders moved: {moved}")
        members = []
        if since.members is not None:
            members.append(f"members {since.members[0]} → {since.members[1]}")
        members += [
            f"{visible(a)}={visible(v)} {old} → {new}" for a, v, old, new in since.members_by
        ]
        if members:
            said.append("; ".join(members))
    if not said:
        said.append("the role's access is as it was")
    head = "      since the last export:"
    if step.record.potential_role_id != step.potential_role_id:  # the name moved to a role
        head = f"      since the last export (of role {step.record.potential_role_id}):"
    return [head, *(f"        {line}" for line in said)]


def _effect(dropped: Sequence[Entitlement], added: Sequence[Entitlement]) -> str:
    parts = []
    if dropped:
        parts.append(f"{counted(len(dropped), 'entitlement')} dropped ({labels(dropped)})")
    if added:
        parts.append(f"{counted(len(added), 'entitlement')} added ({labels(added)})")
    return "; ".join(parts) or "the same entitlements"


def _row(name: str, value: Any, changed: dict[str, Change]) -> tuple[str, str, str]:
    change = changed.get(name)
    if change and change.new == "" and name in _IDS:  # offline: the tenant finds the new one
        return ("~", name, f"{plain(change.old)} → {UNKNOWN}")
    if change:
        return ("~", name, _change(change))
    return (" ", name, UNKNOWN if value == "" and name in _IDS else plain(value))


_IDS = frozenset({"session_id", "potential_role_id"})


def _change(change: Change, named: dict[str, str] | None = None) -> str:
    """`old → new`; entitlement ids (the role's excluded ones) by name where the access read
    for the step, or recorded with the last export, names them."""
    if named and change.field == "role.excluded_entitlements":
        return f"{_named(change.old, named)} → {_named(change.new, named)}"
    return f"{plain(change.old)} → {plain(change.new)}"


def _names(step: Step) -> dict[str, str]:
    """Entitlement id → `name (source)`, from what the step knows of the role's access."""
    found: dict[str, str] = {}
    for access in (step.record.access if step.record else None, step.access):
        if access is not None:
            found.update((e.id, e.label) for e in (*access.entitlements, *access.excluded))
    return found


def _named(value: Any, named: dict[str, str]) -> str:
    if not isinstance(value, list | tuple):
        return plain(value)
    return "[" + ", ".join(visible(named.get(str(v), str(v))) for v in value) + "]"


MARKDOWN_LIMIT = 60_000
_MD_ORDER = (Action.EXPORT, Action.REEXPORT, Action.UPDATE, Action.DOWNLOAD, Action.FORGET)
# GitHub colours a ```diff line by its first character (the source.diff grammar): `+` inserted,
# `-` deleted, `!` changed; `~` and `<=` (not `< `) match no rule and stay plain.
_MD_SYMBOL = {
    Action.EXPORT: "+",
    Action.REEXPORT: "!",
    Action.UPDATE: "~",
    Action.DOWNLOAD: "<=",
    Action.FORGET: "-",
}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~$])")
_COMMENT_SAFE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", **{chr(n): f"&#{n};" for n in (*range(32), 127)}}
)
# GitHub links these in a comment's text (not in code): @mentions (users, teams, and e-mail
# addresses), #123 and GH-123 references, and bare URLs. A backslash does not stop it (the
# mention filter runs after Markdown) and neither does an entity for the `@` or `#` itself; a
# zero-width space after them does, and renders as nothing.
_MD_AUTOLINK = re.compile(r"(@|#(?=\d)|\bGH-(?=\d)|:(?=//)|\bwww(?=\.))", re.IGNORECASE)
_ZWSP = "&#8203;"


def markdown(plan: Plan, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: a hidden marker naming the manifest, a heading, a banner for
    exports started or records forgotten, the summary, one line per changed export, counts,
    what each export will carry (one folded table each), and the details folded away. Never
    longer than `limit` characters: the details (the text plan's diff, which `rmsync plan`
    repeats) are cut first, then the access tables, then the list, each saying so."""
    title = "\n".join(_md_title(plan.provenance))
    if plan.offline:
        title += f"\n\n> [!NOTE]\n> {md_text(' '.join(OFFLINE))}"
    problems = _md_broken(plan.broken)
    notes = [f"_Note: {md_text(note)}._" for note in plan.notes[:20]]
    if not plan.changed:
        return "\n\n".join([title, *problems, summary(plan), *notes]) + "\n"
    head = [title, *problems, *_md_banner(plan.counts()), f"**{summary(plan)}**", *notes]
    top = "\n\n".join(head)
    table = _md_table(plan.counts())
    room = limit - len(top) - len(table) - len("\n\n") * 4 - len("\n")
    listed = _md_list(plan.steps, room - len(_md_no_details(limit)) - len(_md_no_access(limit)))
    access, whole = _md_access(plan.steps, limit, room - len(listed) - len(_md_no_details(limit)))
    left = room - len(listed) - len(access)
    details = _md_details(plan.steps, limit, left) if whole else _md_no_details(limit)
    return "\n\n".join(filter(None, [top, listed, table, access, details])) + "\n"


def _md_access(steps: Sequence[Step], limit: int, room: int) -> tuple[str, bool]:
    """What each export that starts will carry, by name: one fold per export, cut to `room`
    characters (whole folds, with a note); and whether all of it is there."""
    folds = [fold for step in steps if (fold := _md_access_fold(step))]
    if not folds:
        return "", True
    head = "#### What the exports will carry"
    whole = "\n\n".join([head, *folds])
    if len(whole) <= room:
        return whole, True
    shown = _fitting(folds, room - len(head) - len(_md_access_cut(len(folds), limit)) - 4, 2)
    if not shown:
        return (_md_no_access(limit) if len(_md_no_access(limit)) <= room else ""), False
    cut = _md_access_cut(len(folds) - shown, limit)
    return "\n\n".join([head, *folds[:shown], cut]), False


def _md_access_cut(cut: int, limit: int) -> str:
    tables = "export's access table is" if cut == 1 else "exports' access tables are"
    return (
        f"_{cut:,} more {tables} not shown (this comment stays under {limit:,} characters); "
        "run `rmsync plan` for them._"
    )


def _md_no_access(limit: int) -> str:
    return (
        f"_What the exports will carry is not shown (this comment stays under {limit:,} "
        "characters); run `rmsync plan` for it._"
    )


def _md_access_fold(step: Step) -> str:
    found = review.review(step)
    if found is None:
        return ""
    every = len(found.carried) + len(found.below_popularity) + len(found.common)
    head = (
        f"<b>{_md_html(step.name)}</b>: carries {len(found.carried)} of "
        f"{counted(every, 'entitlement')}, {counted(found.members, 'member')}"
    )
    rows = [
        "| | entitlement | source | held by | in the org |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    params = step.params
    for what, items in (
        ("carried", found.carried),
        (
            f"below {params.min_entitlement_popularity}% (min_entitlement_popularity)",
            found.below_popularity,
        ),
        ("common access (include_common_access false)", found.common),
        ("excluded in the tenant", found.excluded),
    ):
        rows += [md_row(what, e, found.members) for e in items]
    since = [f"- {md_text(line.strip())}" for line in since_lines(found, step)[1:]]
    body = "\n".join(rows) + ("\n\nSince the last export:\n\n" + "\n".join(since) if since else "")
    return f"<details><summary>{head}</summary>\n\n{body}\n\n</details>"


def md_row(what: str, e: Entitlement, members: int) -> str:
    org = "" if e.popularity_in_org is None else percent(e.popularity_in_org)
    cells = [
        _md_cell(what),
        _md_cell(e.name),
        _md_cell(e.source),
        f"{e.holders} of {members} ({percent(e.popularity)})",
        org,
    ]
    return "| " + " | ".join(cells) + " |"


def _md_cell(text: str) -> str:
    """Text in a table cell: literal, on one line, its pipes escaped."""
    return md_text(text) or " "


def _md_html(text: str) -> str:
    """Text inside an HTML element (a fold's summary): entities for markup, mentions cut."""
    return _MD_AUTOLINK.sub(lambda m: m.group() + _ZWSP, _md_visible(text).translate(_COMMENT_SAFE))


def _md_broken(broken: Sequence[Broken]) -> list[str]:
    """A caution block naming each export that could not be planned: short, never cut."""
    if not broken:
        return []
    head = f"> [!CAUTION]\n> rmsync could not plan {counted(len(broken), 'export')}; "
    head += "apply refuses this plan until they are fixed or left out with `--exclude`:"
    groups = len(grouped(broken))
    more = [f"> - … and {groups - 50:,} more"] if groups > 50 else []
    items = [
        f"> - {md_text(one_line(str(b)))}"
        + (f" ({md_text(', '.join(names))})" if len(names) > 1 else "")
        for b, names in grouped(broken)[:50]
    ]
    return ["\n".join([head, *items, *more])]


def _md_title(source: Provenance | None) -> list[str]:
    """The marker a workflow finds its own comment by, and the heading."""
    if source is None:
        return ["<!-- rmsync -->", "### rmsync plan"]
    marker = source.manifest.translate(_COMMENT_SAFE)
    heading = f"{md_code(source.manifest)} ({md_text(source.api_version)})"
    return [f"<!-- rmsync: {marker} -->", f"### rmsync plan: {heading}"]


def _md_banner(counts: dict[Action, int]) -> list[str]:
    starts = _count(counts[Action.EXPORT] + counts[Action.REEXPORT], "start", "export")
    said = " and ".join(filter(None, [starts, _count(counts[Action.FORGET], "forget", "record")]))
    return [f"> [!WARNING]\n> Applying this plan will {said}."] if said else []


def _count(n: int, verb: str, noun: str) -> str:
    return f"{verb} {counted(n, noun)}" if n else ""


def _md_table(counts: dict[Action, int]) -> str:
    rows = [f"| `{_MD_SYMBOL[a]}` {a.verb} | {counts[a]} |" for a in _MD_ORDER if counts[a]]
    return "\n".join(["| action | count |", "| --- | ---: |", *rows])


def _md_list(steps: Sequence[Step], room: int) -> str:
    """One line per step, cut to `room` characters with a last line saying how many are not."""
    items = [_md_item(step) for step in steps]
    if _fitting(items, room) == len(items):
        return "\n".join(items)
    shown = _fitting(items, room - len(_md_more(len(items))) - 1)
    return "\n".join([*items[:shown], _md_more(len(items) - shown)])


def _md_item(step: Step) -> str:
    why = md_text("; ".join(step.reasons))
    name = f"**{md_text(step.name)}** {_HEADLINE[step.action]}"
    return f"- `{_MD_SYMBOL[step.action]}` {name}" + (f": {why}" if why else "")


def _md_more(n: int) -> str:
    return f"- … and {n:,} more"


def _md_details(steps: Sequence[Step], limit: int, room: int) -> str:
    """The folded diff block, cut to `room` characters with a note inside the fold."""
    blocks = ["\n".join(_md_block(step)) for step in steps]
    legend = _md_legend(steps)
    if len(whole := _md_fold(legend, blocks, "")) <= room:
        return whole
    widest = _md_fold(legend, [], _md_cut_note(len(blocks), limit))
    shown = _fitting(blocks, room - len(widest), separator=2)
    if not shown:
        return _md_no_details(limit)
    return _md_fold(legend, blocks[:shown], _md_cut_note(len(blocks) - shown, limit))


def _md_fold(legend: list[str], blocks: list[str], note: str) -> str:
    body = "\n\n".join(blocks)
    fence = _md_fence(body, 3)
    diff = [f"{fence}diff", body, fence]
    notes = ["", note, ""] if note else []
    return "\n".join(
        ["<details><summary>Details</summary>", "", *legend, *diff, *notes, "</details>"]
    )


def _md_legend(steps: Sequence[Step]) -> list[str]:
    """A line for each symbol that differs from the text plan's, if the plan uses it."""
    used = {step.action for step in steps}
    differ = [a for a in _MD_ORDER if a in used and _MD_SYMBOL[a] != a.value]
    said = ", ".join(
        f"`{_MD_SYMBOL[a]}` marks each {a.verb} (`{a.value}` in the text plan)" for a in differ
    )
    return [f"In this diff, {said}.", ""] if differ else []


def _md_block(step: Step) -> list[str]:
    """The text plan's block with the symbol in column 0, where GitHub colours it."""
    comment, _, *rows = _block(step, False, access=False)
    head = f"{_MD_SYMBOL[step.action]} {step.action.verb} {visible(step.name)}"
    return [_no_comment(line) for line in (comment, head, *rows)]


def _md_cut_note(cut: int, limit: int) -> str:
    are = "actions are" if cut != 1 else "action is"
    return (
        f"_{cut:,} more {are} not shown (this comment stays under {limit:,} characters); "
        "run `rmsync plan` for all of them._"
    )


def _md_no_details(limit: int) -> str:
    return (
        f"_The details are not shown (this comment stays under {limit:,} characters); "
        "run `rmsync plan` for them._"
    )


def _fitting(pieces: Sequence[str], room: int, separator: int = 1) -> int:
    """How many of `pieces`, joined by `separator` characters, fit in `room` characters."""
    totals = accumulate(len(piece) + separator for piece in pieces)
    return sum(1 for total in totals if total - separator <= room)


def _md_visible(text: str) -> str:
    return _no_comment(visible(text))


def _no_comment(text: str) -> str:
    """Never `<!--`: no string in a comment's source may look like the start of its hidden
    marker (or of any HTML comment) to whatever searches for it."""
    return text.replace("<!--", "\\x3c!--")


def one_line(text: str) -> str:
    """A message that lists candidates a line each, on one line: `…; its roles: A (…); B (…)`."""
    head, *rest = text.split("\n")
    joined = head
    for line in rest:
        joined += (" " if joined.endswith(":") else "; ") + line.strip()
    return joined


def md_text(text: str) -> str:
    """Free text on one line, rendered literally: no HTML, emphasis, links, code, tables,
    mentions or references."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(_md_visible(text).split()))
    return _MD_AUTOLINK.sub(lambda m: m.group() + _ZWSP, escaped)


def md_code(text: str) -> str:
    """`text` as a code span on one line, fenced by more backticks than it holds."""
    text = _md_visible(text)
    fence = _md_fence(text, 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_fence(text: str, least: int) -> str:
    """Backticks enough to fence `text`: more than its longest run of them, and `least`."""
    return "`" * max([least, *(len(run) + 1 for run in re.findall("`+", text))])
