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
from typing import TYPE_CHECKING

import click

from rmsync import options
from rmsync.errors import RmsyncError

if TYPE_CHECKING:
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
    help="Show the identities' names too (people's names: only to a terminal or to --out FILE).",
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

    Lists the identities that came in or went out (by id; with --names by name too), the
    entitlements that came in or went out and those whose holder counts moved (by id, name
    and source). The previous archive is the one a download replaced, kept beside it as
    <stem>.previous<suffix>.
    """
    _refuse_names_to_a_log(names, as_json, out)
    from rmsync import archive, archivediff
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
            text = archivediff.dumps(
                {"export": name, "previous": None, "current": archivediff.summary(relative, new)}
            )
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
        text = archivediff.dumps(archivediff.document(name, paths, old, new, changes, names))
    else:
        text = archivediff.text(name, paths, old, new, changes, names)
    _emit(text, out, name, private=names)


def _refuse_names_to_a_log(names: bool, as_json: bool, out: Path | None) -> None:
    """People's names go to a terminal or to a named file, never to a pipe or a CI log
    (`--out -` is stdout, as it is for most tools)."""
    if not names or (out is not None and str(out) != "-"):
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
    if out is None or str(out) == "-":
        click.echo(text, nl=False)
        return
    from rmsync import atomic

    refused = atomic.not_a_file(out)
    if refused is not None:
        raise DiffError(f"--out {out}: not written: {refused}")
    try:
        atomic.write_text(out, text, private=private)
    except OSError as exc:
        raise DiffError(f"--out {out}: cannot write there: {exc.strerror or exc}") from None
    click.echo(f"Wrote the comparison of {name} to {out}.")
