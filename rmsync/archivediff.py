"""`rmsync diff` as people and programs read it: one archive compared with the one it replaced.

Owns: the exact bytes of the comparison, as text and as a JSON document: identities by id (by
name only when asked: the caller decides where that may go), entitlements by id, name and
source, holder counts that moved, and what either archive had that could not be read. Must
not: read archives (rmsync.archive does), do I/O, or decide where names may be shown.
"""

from __future__ import annotations

import json
from typing import Any

from rmsync.archive import ArchiveChanges, ArchiveData, ArchivedEntitlement
from rmsync.safetext import visible

# -- text ------------------------------------------------------------------------------------


def text(
    name: str,
    paths: tuple[str, str],
    old: ArchiveData,
    new: ArchiveData,
    changes: ArchiveChanges,
    names: bool,
) -> str:
    lines = [f"rmsync diff {name}: {paths[0]} → {paths[1]}", ""]
    if not (old.identities or old.entitlements or new.identities or new.entitlements):
        lines.append("Nothing to compare: rmsync could read no identity or entitlement in either.")
    elif changes.empty:
        people = _counted(len(new.identities), "identity", "identities")
        access = _counted(len(new.entitlements), "entitlement", "entitlements")
        lines.append(
            f"No changes: both list the same {people} and {access}, with the same holder counts."
        )
    else:
        lines.append(
            f"Identities: {len(old.identities):,} → {len(new.identities):,} "
            f"({_in_out(changes.identities_in, changes.identities_out)})"
        )
        for sign, ids, data in (
            ("+", changes.identities_in, new),
            ("-", changes.identities_out, old),
        ):
            lines += [f"  {sign} {_identity(i, data, names)}" for i in ids]
        lines.append(
            f"Entitlements: {len(old.entitlements):,} → {len(new.entitlements):,} "
            f"({_in_out(changes.entitlements_in, changes.entitlements_out)})"
        )
        for sign, items in (("+", changes.entitlements_in), ("-", changes.entitlements_out)):
            lines += [f"  {sign} {_entitlement(e)}" for e in items]
        moved = changes.holders_moved
        lines.append(f"Holder counts: {f'{len(moved):,} moved' if moved else 'none moved'}")
        for m in moved:
            label = f"{visible(m.id)}  {visible(m.name)}" if m.name else visible(m.id)
            lines.append(f"  ~ {label}: {m.old:,} → {m.new:,}")
    if old.unread and old.unread == new.unread:
        lines += ["", "Not read in either archive:", *(f"  {s}" for s in new.unread)]
    else:
        for where, data in zip(paths, (old, new), strict=True):
            if data.unread:
                lines += ["", f"Not read in {where}:", *(f"  {s}" for s in data.unread)]
    return "\n".join(lines) + "\n"


def _counted(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _in_out(came: tuple[Any, ...], went: tuple[Any, ...]) -> str:
    parts = [f"{len(came):,} in"] if came else []
    parts += [f"{len(went):,} out"] if went else []
    return ", ".join(parts) or "none in or out"


def _identity(identity: str, data: ArchiveData, names: bool) -> str:
    shown = visible(identity)
    person = data.names.get(identity) if names else None
    return f"{shown}  {visible(person)}" if person else shown


def _entitlement(e: ArchivedEntitlement) -> str:
    """An entitlement by id, name and source: names of access, never of a person."""
    label = f"{e.name} ({e.source})" if e.source else e.name
    return f"{visible(e.id)}  {visible(label)}" if label else visible(e.id)


# -- JSON ------------------------------------------------------------------------------------


def document(
    name: str,
    paths: tuple[str, str],
    old: ArchiveData,
    new: ArchiveData,
    changes: ArchiveChanges,
    names: bool,
) -> dict[str, Any]:
    """Identities by id; with --names (which --json allows only with --out) by name too.
    Entitlements by id, name and source: access, not people."""

    def identity(i: str, data: ArchiveData) -> dict[str, Any]:
        return {"id": i, "name": data.names.get(i)} if names else {"id": i}

    def entitlement(e: ArchivedEntitlement) -> dict[str, Any]:
        return {"id": e.id, "name": e.name, "source": e.source, "holders": e.holders}

    return {
        "export": name,
        "previous": summary(paths[0], old),
        "current": summary(paths[1], new),
        "identities": {
            "in": [identity(i, new) for i in changes.identities_in],
            "out": [identity(i, old) for i in changes.identities_out],
        },
        "entitlements": {
            "in": [entitlement(e) for e in changes.entitlements_in],
            "out": [entitlement(e) for e in changes.entitlements_out],
        },
        "holders_moved": [
            {"id": m.id, "name": m.name, "old": m.old, "new": m.new} for m in changes.holders_moved
        ],
    }


def summary(path: str, data: ArchiveData) -> dict[str, Any]:
    return {
        "path": path,
        "identities": len(data.identities),
        "entitlements": len(data.entitlements),
        "unread": list(data.unread),
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
