"""`rmsync diff NAME`: what changed between an export's previous archive and its current one.

Owns: finding the two archives (the manifest's `download:` and the previous version that
rmsync keeps beside it), the rule that people's names go only to a terminal or to a file
named with --out (never to a log: --names with stdout not a terminal and no --out is
refused), and the comparison as text or JSON. Must not: read an archive itself
(rmsync.archive does) or write anywhere but stdout and --out.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rmsync import options
from rmsync.errors import RmsyncError

if TYPE_CHECKING:
    from rmsync.archive import ArchiveChanges, ArchiveData, ArchivedEntitlement
    from rmsync.models import Export


class DiffError(RmsyncError):
    """There is nothing rmsync can compare, or the output asked for may not be given."""


@click.command()
@click.argument("name")
@options.manifest
@options.lockfile
@click.option(
    "--names",
    is_flag=True,
    help="Show names too: entitlements' and identities' (people's names: only to a terminal "
    "or to --out FILE).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the comparison to FILE (atomically) instead of printing it.",
)
def command(
    name: str,
    manifest_path: Path,
    lockfile_path: Path | None,
    names: bool,
    as_json: bool,
    out: Path | None,
) -> None:
    """Compare the previous archive of export NAME with its current one.

    Lists the identities and entitlements that came in or went out, and the entitlements
    whose holder counts moved: by id, and with --names by name too. The previous archive is
    the one a download replaced, kept beside it as <stem>.previous<suffix>.
    """
    _refuse_names_to_a_log(names, as_json, out)
    from rmsync import archive
    from rmsync.config import Inputs
    from rmsync.safetext import visible

    inputs = Inputs(manifest_path, lockfile_path)
    manifest = inputs.manifest()
    export = manifest.export(name)
    if export is None:
        known = ", ".join(e.name for e in manifest.exports) or "none"
        raise DiffError(
            f"{visible(name)!r} is not an export of {_where(manifest.files)} (its exports: "
            f"{known}); name one of them"
        )
    relative = _download_of(export)
    current = manifest.folder / relative
    kept = archive.previous_path(Path(relative)).as_posix()
    if not current.is_file():
        raise DiffError(
            f"{relative}: no archive of {name} there yet; run `rmsync apply --wait` to download it"
        )
    _note_if_altered(inputs.lock_path, name, relative, manifest.folder)
    new = archive.read(current)
    if not archive.previous_path(current).is_file():
        if as_json:  # the same document, with nothing to compare with
            text = _json({"export": name, "previous": None, "current": _summary(relative, new)})
        else:
            text = (
                f"no previous archive of {name} to compare with: {kept} is kept when a new "
                f"download replaces {relative}\n"
            )
        _emit(text, out, name, private=False)
        return
    old = archive.read(archive.previous_path(current))
    changes = archive.compare(old, new)
    paths = (kept, relative)
    if as_json:
        text = _json(_document(name, paths, old, new, changes, names))
    else:
        text = _text(name, paths, old, new, changes, names)
    _emit(text, out, name, private=names)


def _refuse_names_to_a_log(names: bool, as_json: bool, out: Path | None) -> None:
    """People's names go to a terminal or to a named file, never to a pipe or a CI log."""
    if not names or out is not None:
        return
    if as_json:
        raise DiffError(
            "--names with --json gives people's names to a program: write them to a file "
            "with --out FILE, or leave out --names for ids only"
        )
    if not sys.stdout.isatty():
        raise DiffError(
            "--names shows people's names, so only on a terminal or in a file: stdout is not "
            "a terminal here (it may be a log); add --out FILE, or leave out --names for ids "
            "only"
        )


def _where(files: tuple[str, ...]) -> str:
    return files[0] if len(files) == 1 else "the manifest"


def _download_of(export: Export) -> str:
    if export.download is None:
        raise DiffError(
            f"{export.file}:{export.line}: {export.name} has no `download:`, so rmsync keeps no "
            f"archive of it; add `download: exports/{export.name}.zip` and run "
            "`rmsync apply --wait`"
        )
    return export.download


def _note_if_altered(lock_path: Path, name: str, relative: str, folder: Path) -> None:
    """Say (on stderr) if the current archive is not the one the lockfile records."""
    if not lock_path.is_file():
        return
    from rmsync import lockfile
    from rmsync.downloads import hash_files

    record = lockfile.read(lock_path).get(name)
    saved = None if record is None else record.download
    if saved is None or saved.path != relative:
        return
    if hash_files(folder, [relative])[relative] != saved.sha256:
        click.echo(
            f"note: {relative} is not the archive {lock_path.name} records for {name} (its "
            "sha256 differs): it changed since rmsync saved it",
            err=True,
        )


def _emit(text: str, out: Path | None, name: str, private: bool) -> None:
    """Print `text`, or write it to `out`: readable by its owner only when it names people."""
    if out is None:
        click.echo(text, nl=False)
        return
    from rmsync import atomic

    try:
        atomic.write_text(out, text, private=private)
    except OSError as exc:
        raise DiffError(f"--out {out}: cannot write there: {exc.strerror or exc}") from None
    click.echo(f"Wrote the comparison of {name} to {out}.")


# -- text ------------------------------------------------------------------------------------


def _text(
    name: str,
    paths: tuple[str, str],
    old: ArchiveData,
    new: ArchiveData,
    changes: ArchiveChanges,
    names: bool,
) -> str:
    from rmsync.safetext import visible

    lines = [f"rmsync diff {name}: {paths[0]} → {paths[1]}", ""]
    if changes.empty:
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
            lines += [f"  {sign} {_entitlement(e, names)}" for e in items]
        moved = changes.holders_moved
        lines.append(f"Holder counts: {f'{len(moved):,} moved' if moved else 'none moved'}")
        for m in moved:
            label = f"{visible(m.id)}  {visible(m.name)}" if names else visible(m.id)
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
    from rmsync.safetext import visible

    shown = visible(identity)
    person = data.names.get(identity) if names else None
    return f"{shown}  {visible(person)}" if person else shown


def _entitlement(e: ArchivedEntitlement, names: bool) -> str:
    from rmsync.safetext import visible

    if not names:
        return visible(e.id)
    label = f"{e.name} ({e.source})" if e.source else e.name
    return f"{visible(e.id)}  {visible(label)}" if label else visible(e.id)


# -- JSON ------------------------------------------------------------------------------------


def _document(
    name: str,
    paths: tuple[str, str],
    old: ArchiveData,
    new: ArchiveData,
    changes: ArchiveChanges,
    names: bool,
) -> dict[str, Any]:
    """Ids only; with --names (which --json allows only with --out) names too."""

    def identity(i: str, data: ArchiveData) -> dict[str, Any]:
        return {"id": i, "name": data.names.get(i)} if names else {"id": i}

    def entitlement(e: ArchivedEntitlement) -> dict[str, Any]:
        found: dict[str, Any] = {"id": e.id, "holders": e.holders}
        return {**found, "name": e.name, "source": e.source} if names else found

    return {
        "export": name,
        "previous": _summary(paths[0], old),
        "current": _summary(paths[1], new),
        "identities": {
            "in": [identity(i, new) for i in changes.identities_in],
            "out": [identity(i, old) for i in changes.identities_out],
        },
        "entitlements": {
            "in": [entitlement(e) for e in changes.entitlements_in],
            "out": [entitlement(e) for e in changes.entitlements_out],
        },
        "holders_moved": [
            {"id": m.id, **({"name": m.name} if names else {}), "old": m.old, "new": m.new}
            for m in changes.holders_moved
        ],
    }


def _summary(path: str, data: ArchiveData) -> dict[str, Any]:
    return {
        "path": path,
        "identities": len(data.identities),
        "entitlements": len(data.entitlements),
        "unread": list(data.unread),
    }


def _json(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
