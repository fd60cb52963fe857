"""`rmsync validate`: check manifests and the lockfile offline (also as a pre-commit hook)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rmsync import options


@click.command()
@options.manifest
@options.lockfile
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github", "json"]),
    default="text",
    show_default=True,
    help="github: print problems as GitHub Actions annotations on the files' lines; json: a "
    "document for programs (schemas/validate.schema.json).",
)
@options.json_format
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def command(
    manifest_path: Path,
    lockfile_path: Path | None,
    fmt: str,
    as_json: bool,
    files: tuple[Path, ...],
) -> None:
    """Check the manifest and lockfile offline: schema, names, duplicates, download paths.

    FILES (as pre-commit passes them) are each checked as a manifest instead of --manifest.
    """
    fmt = options.one_format(fmt, as_json)
    from rmsync import lockfile, output
    from rmsync.config import Inputs
    from rmsync.errors import DocumentError, Problem

    exports = records = manifests = sets = 0
    problems: list[Problem] = []
    for path in files or (manifest_path,):
        inputs = Inputs(path, lockfile_path)
        found: list[Problem] = []
        try:
            manifest = inputs.manifest()
        except DocumentError as exc:
            found += exc.problems
        try:
            lock = lockfile.read(inputs.lock_path)
        except DocumentError as exc:
            found += exc.problems
        if found:
            problems += found
            continue
        exports, records = exports + len(manifest.exports), records + len(lock.records)
        sets += len(manifest.sets)
        manifests += len(manifest.files)
    if fmt == "json":
        counts = {"manifest_files": manifests, "exports": exports, "sets": sets, "records": records}
        click.echo(output.validate_json(problems, counts), nl=False)
        if problems:
            n = len(problems)
            click.echo(f"Error: {n} problem{'s' if n != 1 else ''} (in the document)", err=True)
            sys.exit(1)
        return
    if problems and fmt == "github":
        output.github_annotations(problems)
        sys.exit(1)
    if problems:
        raise DocumentError(problems)
    each = f" and {sets} set{'s' if sets != 1 else ''}" if sets else ""
    click.echo(
        f"Valid: {exports} export{'s' if exports != 1 else ''}{each} in {manifests} manifest file"
        f"{'s' if manifests != 1 else ''}; "
        f"{records} record{'s' if records != 1 else ''} in the lockfile."
    )
