"""Bringing existing work in: manifest entries for a session's potential roles.

Owns: which file takes the new entries and which files their names must be unique across
(a folder layout), turning role names into unique, stable export names, and adding entries
to a manifest's text without disturbing anything else in it (comments, order, layout), and
writing the edited manifest only once its new text loads. Must not: talk to the tenant.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from rmsync import atomic, config, safetext
from rmsync.errors import DocumentError, RmsyncError
from rmsync.manifest import ManifestError, folder_of, load_manifest, manifest_files
from rmsync.models import Export, Manifest, Role, Session, is_uuid, slug
from rmsync.yamlload import load_file

NEW_MANIFEST = "# rmsync manifest: see the README for every field.\nversion: 1\nexports:\n"


class ManifestEditError(RmsyncError):
    """The manifest's text cannot take new entries safely."""


def layout(manifest: Path, to: Path | None) -> tuple[Path, Path]:
    """(the manifest whose names the new ones must not repeat, the file that takes them).

    A folder needs `to`, a file in it. A file is the whole manifest, unless other manifests
    lie beside it: then they are one folder manifest (they would share its lockfile anyway)."""
    if manifest.is_dir():
        if to is None:
            raise ManifestEditError(
                f"--manifest {manifest} is a folder: name the file in it that takes the new "
                "entries with --to FILE (a new or existing *.yaml file in that folder)"
            )
        if to.suffix not in (".yaml", ".yml") or to.resolve().parent != manifest.resolve():
            raise ManifestEditError(f"--to {to} must be a *.yaml file directly in {manifest}")
        return manifest, to
    if to is not None and to.resolve() != manifest.resolve():
        raise ManifestEditError(
            "--to goes with a folder --manifest; a file takes the entries itself"
        )
    folder = manifest.parent
    if not folder.is_dir():
        raise ManifestEditError(f"{folder}: no such folder; create it first (mkdir -p {folder})")
    siblings = [
        p for p in manifest_files(folder) if p.resolve() != manifest.resolve() and _is_manifest(p)
    ]
    return (folder if siblings else manifest), manifest


def _is_manifest(path: Path) -> bool:
    try:
        data = load_file(path).data
    except DocumentError:
        return False
    return isinstance(data, dict) and data.get("version") == 1 and "exports" in data


def has_manifest(path: Path) -> bool:
    """True when `path` holds manifest files to read (a new manifest does not yet)."""
    return path.exists() and bool(manifest_files(path)) if path.is_dir() else path.exists()


@dataclass(frozen=True)
class Entry:
    """A new export: the role, and how its entry names it. By name (the default) where the
    tenant's names are unambiguous: a re-run session mints new ids, names stay; by id where
    another session or role has the same name."""

    name: str
    session_id: str
    role: Role
    session_name: str | None = None  # name the session by this (None: by its id)
    by_role_name: bool = False  # name the role by its name (else: by its id)


def plan_entries(
    manifest: Manifest | None,
    session: Session,
    roles: Iterable[Role],
    prefix: str,
    *,
    by_name: bool = True,
    sessions: Sequence[Session] = (),
) -> tuple[list[Entry], list[tuple[Role, str]]]:
    """New entries for roles not yet in the manifest, and (role, existing name) for the rest.

    With `by_name`, an entry names its session by name when no other of `sessions` has that
    name (ignoring case), and its role by name when no other role of the session has it."""
    exports = manifest.exports if manifest else ()
    taken = {e.name for e in exports}
    added, skipped = [], []
    roles = sorted(roles, key=lambda r: (r.name, r.id))
    if odd := [role.id for role in roles if not is_uuid(role.id)]:
        raise ManifestEditError(
            f"the tenant gave potential role ids that are not UUIDs: "
            f"{', '.join(safetext.quoted(i) for i in odd)}; nothing was written"
        )
    alike = Counter(r.name.casefold() for r in roles)
    same = [s for s in sessions if s.name and session.name and _alike(s.name, session.name)]
    session_name = session.name if by_name and session.name and len(same) <= 1 else None
    for role in roles:
        known = next((e.name for e in exports if _names(e, session, role)), None)
        if known is not None:
            skipped.append((role, known))
            continue
        base = slug(role.name, prefix)
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        by_role_name = by_name and bool(role.name) and alike[role.name.casefold()] == 1
        added.append(Entry(name, session.id, role, session_name, by_role_name))
    return added, skipped


def _alike(one: str, other: str) -> bool:
    return one.casefold() == other.casefold()


def _names(export: Export, session: Session, role: Role) -> bool:
    """Whether `export` already names `role` of `session`: by ids, or by a selector."""
    chosen = export.selector
    if chosen is None:
        return (export.session_id, export.potential_role_id) == (session.id, role.id)
    same_session = chosen.session_id == session.id or (
        chosen.session_name is not None
        and session.name is not None
        and _alike(chosen.session_name, session.name)
    )
    same_role = chosen.role_id == role.id or (
        chosen.role_name is not None and _alike(chosen.role_name, role.name)
    )
    return same_session and same_role


def render_entries(entries: Iterable[Entry], indent: int = 2) -> str:
    """The entries as YAML lines. An entry that names its role by id says the role's name in
    a comment: the name as `safetext.visible` shows it, so that no character of it can end
    the comment's line."""
    pad, inner = " " * indent, " " * (indent + 2)
    lines = []
    for entry in entries:
        if entry.session_name is None and not entry.by_role_name:
            lines += [
                f"{pad}{_scalar(entry.name, key=True)}:  # {safetext.visible(entry.role.name)}",
                f"{inner}session_id: {entry.session_id}",
                f"{inner}potential_role_id: {entry.role.id}",
            ]
            continue
        session = (
            f"{{name: {_flow_scalar(entry.session_name)}}}"
            if entry.session_name is not None
            else f"{{id: {entry.session_id}}}"
        )
        role = f"name: {_scalar(entry.role.name)}" if entry.by_role_name else f"id: {entry.role.id}"
        role_named = "" if entry.by_role_name else f"  # {safetext.visible(entry.role.name)}"
        lines += [
            f"{pad}{_scalar(entry.name, key=True)}:{role_named}",
            f"{inner}potential_role:",
            f"{inner}  session: {session}",
            f"{inner}  {role}",
        ]
    return "\n".join(lines) + "\n"


def _scalar(text: str, key: bool = False) -> str:
    """`text` as a YAML scalar that reads back as itself: plain where YAML allows it, else
    quoted as `rmsync fmt` writes it (a key in single quotes, a value in double ones)."""
    dumped = yaml.safe_dump(text, allow_unicode=True, width=1_000_000, default_style=None)
    dumped = dumped.removesuffix("\n...\n").removesuffix("\n")
    if "\n" in dumped or yaml.safe_load(dumped) != text or (dumped[:1] == "'" and not key):
        return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML one
    return dumped


def _flow_scalar(text: str) -> str:
    """`text` as a scalar inside `{...}`, where `,` `[` `]` `{` `}` end a plain one."""
    plain = _scalar(text)
    if plain[:1] not in "\"'" and any(c in plain for c in ",[]{}"):
        return json.dumps(text, ensure_ascii=False)
    return plain


def insert(text: str, entries: list[Entry]) -> str:
    """`text` with `entries` added at the end of its `exports` mapping."""
    if not entries:
        return text
    node = _exports_node(text)
    if node is None:
        raise ManifestEditError("the manifest has no `exports:` mapping to add to")
    block = render_entries(entries, node.value[0][0].start_mark.column if node.value else 2)
    if node.flow_style or not node.value:
        if node.value:
            raise ManifestEditError(
                "`exports` is written in flow style ({...}); write it as a block to import into it"
            )
        start, end = node.start_mark.index, node.end_mark.index
        return text[:start].rstrip(" ") + "\n" + block + text[end:].lstrip("\n")
    last = _last_scalar(node)
    line_end = text.find("\n", last.end_mark.index)
    cut = len(text) if line_end == -1 else line_end + 1
    head = text[:cut] if text[:cut].endswith("\n") else text[:cut] + "\n"
    return head + block + text[cut:]


def _last_scalar(node: yaml.Node) -> yaml.Node:
    """The node that ends last in the text: block collections end where the next key begins."""
    while (
        isinstance(node, yaml.MappingNode | yaml.SequenceNode)
        and node.value
        and not node.flow_style
    ):
        item = node.value[-1]
        node = item[1] if isinstance(node, yaml.MappingNode) else item
    return node


def _exports_node(text: str) -> yaml.MappingNode | None:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "exports":
            if isinstance(value, yaml.MappingNode):
                return value
            if isinstance(value, yaml.ScalarNode) and value.value in ("", "~", "null"):
                return yaml.MappingNode(
                    "tag:yaml.org,2002:map", [], value.start_mark, value.end_mark, flow_style=True
                )
    return None


def existing_manifest(whole: Path) -> Manifest | None:
    """The manifest already at `whole` (a file or a folder), if there is one."""
    if not has_manifest(whole):
        return None
    return load_manifest(whole, exclude=config.lock_path(folder_of(whole), None))


def write_checked(path: Path, text: str) -> None:
    """Write the edited manifest only if it still loads: the temporary copy is checked first."""
    try:
        with atomic.replacing(path) as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            try:
                load_manifest(Path(handle.name))
            except ManifestError as exc:
                problems = str(exc).replace(handle.name, str(path))
                raise ManifestEditError(
                    f"{path}: the edited manifest would not be valid, so it was not written:\n"
                    + problems
                ) from None
    except OSError as exc:
        raise RmsyncError(f"{path}: cannot write the manifest: {exc.strerror}") from None
