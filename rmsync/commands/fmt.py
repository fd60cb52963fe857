"""`rmsync fmt`: put manifest files in canonical form (also as a pre-commit hook)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rmsync import options


@click.command()
@options.manifest
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing: name each file not in canonical form and exit 1 if there is one.",
)
@click.option(
    "--diff", "show_diff", is_flag=True, help="Print each change as a unified diff; write nothing."
)
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def command(manifest_path: Path, check: bool, show_diff: bool, files: tuple[Path, ...]) -> None:
    """Put manifest files in canonical form: keys in the documented order, two-space indents,
    quotes only where YAML needs them; comments, the order of exports and sets, and the
    meaning are kept. Only a valid manifest is formatted.

    FILES (as pre-commit passes them) are each formatted as a manifest instead of --manifest.
    """
    import difflib

    from rmsync import atomic, fmt
    from rmsync.errors import DocumentError, Problem, RmsyncError
    from rmsync.manifest import LOCK_NAMES, load_manifest, manifest_files

    problems: list[Problem] = []
    paths: list[Path] = []
    for given in files or (manifest_path,):
        if given.name in LOCK_NAMES or _is_lockfile(given):
            raise RmsyncError(
                f"{given} is the lockfile, which rmsync writes itself: fmt formats manifests"
            )
        try:
            load_manifest(given)  # only a valid manifest: its keys are known
        except DocumentError as exc:
            problems += exc.problems
            continue
        except OSError as exc:
            raise RmsyncError(f"{given}: cannot read it: {exc.strerror}") from None
        paths += manifest_files(given)
    if problems:
        raise DocumentError(problems)
    changed = []
    for path in paths:
        text = path.read_bytes().decode("utf-8")  # as it is: CRLF line ends too
        canonical = fmt.formatted(text, str(path))
        if canonical == text:
            continue
        changed.append(path)
        if show_diff:
            lines = difflib.unified_diff(
                text.splitlines(True), canonical.splitlines(True), f"{path}", f"{path} (fmt)"
            )
            click.echo("".join(lines), nl=False)
        if not check and not show_diff:  # --diff shows, as --check does, and writes nothing
            atomic.write_text(path, canonical)
    n, of = len(changed), len(paths)
    if check or show_diff:
        for path in changed:
            click.echo(f"would reformat {path}")
        click.echo(f"{n} of {of} manifest file{'s' if of != 1 else ''} not in canonical form.")
        if changed and check:
            sys.exit(1)
        return
    for path in changed:
        click.echo(f"reformatted {path}")
    click.echo(f"{n} of {of} manifest file{'s' if of != 1 else ''} reformatted.")


def _is_lockfile(path: Path) -> bool:
    """A lockfile under another name: it opens with the lockfile's own header."""
    from rmsync.lockfile import HEADER

    try:
        with path.open("rb") as handle:
            return handle.read(len(HEADER.encode())).decode("utf-8", "replace") == HEADER
    except OSError:
        return False
