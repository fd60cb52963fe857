"""Plans as people and programs read them: Terraform-style text, and JSON.

Owns: the exact bytes of every plan rendering (sorted, stable, colour only when asked).
Must not: do I/O, read the clock or the environment, or import HTTP or CLI libraries.
"""

from __future__ import annotations

import json
from typing import Any

from rmsync.models import Role
from rmsync.plan import Action, Change, Plan, Provenance, Step

PLAN_FORMAT = 1
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


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def role_line(role: Role) -> str:
    return (
        f'"{role.name}" ({role.identity_count} identities, {role.entitlement_count} entitlements)'
    )


def summary(plan: Plan) -> str:
    if not plan.changed:
        return "No changes. The lockfile matches the manifest and the tenant."
    n = plan.counts()
    downloads = f"{n[Action.DOWNLOAD]} to download, " if n[Action.DOWNLOAD] else ""
    return (
        f"Plan: {n[Action.EXPORT]} to export, {n[Action.REEXPORT]} to re-export, "
        f"{n[Action.UPDATE]} to update, {downloads}{n[Action.FORGET]} to forget."
    )


def text(plan: Plan, color: bool = False) -> str:
    """The plan as a reviewer reads it; ends with the summary line."""
    if not plan.changed:
        return summary(plan) + "\n"
    lines = ["rmsync will perform the following actions:", ""]
    for step in plan.steps:
        lines += [*_block(step, color), ""]
    lines.append(_paint(summary(plan), "1", color))
    return "\n".join(lines) + "\n"


def _block(step: Step, color: bool) -> list[str]:
    symbol = _paint(f"{step.action.value:>3}", _COLOURS[step.action], color)
    head = [
        f"  # {step.name} {_HEADLINE[step.action]}: {'; '.join(step.reasons)}",
        f"{symbol} {step.action.verb} {step.name}",
    ]
    rows: list[tuple[str, str, str]] = []
    if step.role is not None:
        rows.append((" ", "potential_role", f"{step.potential_role_id} {role_line(step.role)}"))
    else:
        rows.append((" ", "potential_role", step.potential_role_id))
    changed = {c.field: c for c in step.changes}
    rows += [
        _row("session_id", step.session_id, changed),
        _row("min_entitlement_popularity", step.params.min_entitlement_popularity, changed),
        _row("include_common_access", step.params.include_common_access, changed),
    ]
    rows += [("~", c.field, _change(c)) for c in step.changes if c.field not in _SHOWN]
    if step.record is not None:
        rows.append((" ", "export_id", step.record.export_id))
    if step.download is not None:
        rows.append((" ", "download", step.download))
    width = max(len(name) for _, name, _ in rows)
    return head + [f"      {mark} {name.ljust(width)} = {value}" for mark, name, value in rows]


_SHOWN = {"session_id", "potential_role_id", "min_entitlement_popularity", "include_common_access"}


def _row(name: str, value: Any, changed: dict[str, Change]) -> tuple[str, str, str]:
    change = changed.get(name)
    return ("~", name, _change(change)) if change else (" ", name, _value(value))


def _change(change: Change) -> str:
    return f"{_value(change.old)} → {_value(change.new)}"


def as_json(plan: Plan) -> str:
    """The plan as a versioned JSON document (schemas/plan.schema.json): keys sorted, two-space
    indent, final newline. It holds no secret: no credentials, no tokens, no tenant URL."""
    counts = {action.verb: n for action, n in plan.counts().items()}
    source = plan.provenance
    doc = {
        "format_version": PLAN_FORMAT,
        "made_from": None if source is None else _provenance(source),
        "summary": {"changed": plan.changed, "counts": counts, "text": summary(plan)},
        "actions": [_step_json(step) for step in plan.steps],
        "unchanged": list(plan.unchanged),
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _provenance(source: Provenance) -> dict[str, Any]:
    return {
        "manifest": {"path": source.manifest, "sha256": source.manifest_digest},
        "lockfile": {"path": source.lockfile, "sha256": source.lockfile_digest},
        "api_version": source.api_version,
        "targets": None if source.targets is None else list(source.targets),
        "replace": list(source.replace),
    }


def _step_json(step: Step) -> dict[str, Any]:
    role = step.role
    return {
        "action": step.action.verb,
        "symbol": step.action.value,
        "name": step.name,
        "reasons": list(step.reasons),
        "changes": [
            {"field": c.field, "old": _plain(c.old), "new": _plain(c.new)} for c in step.changes
        ],
        "session_id": step.session_id,
        "potential_role_id": step.potential_role_id,
        "params": {
            "min_entitlement_popularity": step.params.min_entitlement_popularity,
            "include_common_access": step.params.include_common_access,
        },
        "role": None if role is None else {"id": role.id, **role.fingerprint.as_dict()},
        "recorded_export_id": step.record.export_id if step.record else None,
        "download": step.download,
        "status": step.status.value if step.status else None,
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


MARKDOWN_LIMIT = 60_000
_MD_ORDER = (Action.EXPORT, Action.REEXPORT, Action.UPDATE, Action.DOWNLOAD, Action.FORGET)


def markdown(plan: Plan, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: counts, a banner for exports started or records forgotten, and
    the per-export details folded away; never longer than `limit` characters."""
    head = ["### rmsync plan", ""]
    if not plan.changed:
        return "\n".join([*head, summary(plan), ""])
    counts = plan.counts()
    starts = counts[Action.EXPORT] + counts[Action.REEXPORT]
    if starts or counts[Action.FORGET]:
        parts = [f"start {starts} export{'s' if starts != 1 else ''}"] if starts else []
        forgets = counts[Action.FORGET]
        parts += [f"forget {forgets} record{'s' if forgets != 1 else ''}"] if forgets else []
        head += ["> [!WARNING]", f"> Applying this plan will {' and '.join(parts)}.", ""]
    head += ["| action | count |", "| --- | ---: |"]
    head += [f"| `{a.value}` {a.verb} | {counts[a]} |" for a in _MD_ORDER if counts[a]]
    head += ["", f"**{summary(plan)}**", ""]
    open_, close = ["<details><summary>Details</summary>", "", "```diff"], ["```", "</details>", ""]
    blocks = ["\n".join(_block(step, False)) for step in plan.steps]
    budget = limit - len("\n".join(head + open_ + close)) - 200
    shown: list[str] = []
    used = 0
    for block in blocks:
        used += len(block) + 2
        if used > budget:
            break
        shown.append(block)
    cut = len(blocks) - len(shown)
    note = []
    if cut:
        note = [
            f"_{cut} more actions are not shown (this comment stays under {limit:,} characters); "
            "run `rmsync plan` for all of them._",
            "",
        ]
    return "\n".join(head + open_ + ["\n\n".join(shown)] + close + note)
