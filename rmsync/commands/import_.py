"""`rmsync import`: add manifest entries for every potential role of a session."""

from __future__ import annotations

import os
from pathlib import Path

import click

from rmsync import options


@click.command("import")
@click.option(
    "--session",
    "given",
    required=True,
    metavar="ID|NAME",
    help="The role-mining session to bring in: its id or its name.",
)
@click.option(
    "--by",
    type=click.Choice(["name", "id"]),
    default="name",
    show_default=True,
    help="How each entry names its role: by session and role name (followed across a "
    "session's re-runs; ids where a name is not unique), or by ids.",
)
@click.option("--name-prefix", default="", help="Put this before every new export name.")
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path),
    default=Path("rmsync.yaml"),
    show_default=True,
    help="The manifest: a file (made if missing) or a folder of manifest files.",
)
@click.option(
    "--to",
    "to_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With a folder --manifest: the file in it to add the entries to (made if missing).",
)
@options.base_url
def command(
    given: str,
    by: str,
    name_prefix: str,
    manifest_path: Path,
    to_path: Path | None,
    base_url: str | None,
) -> None:
    """Add manifest entries for every potential role of a session (named after the roles);
    the session is given by id or by name."""
    from rmsync import config, importer, render, safetext, tenantlist, workflow
    from rmsync.api import NotFoundError
    from rmsync.errors import RmsyncError
    from rmsync.models import ApiVersion, Manifest

    whole, file = importer.layout(manifest_path, to_path)
    existing = importer.existing_manifest(whole)
    text = file.read_text(encoding="utf-8") if file.exists() else importer.NEW_MANIFEST
    bare = Manifest(
        api_version=ApiVersion.BETA, base_url=None, exports=(), files=(), folder=file.parent
    )
    manifest = existing or bare
    with workflow.connect(config.target(manifest, base_url, os.environ), manifest) as client:
        every = client.sessions()
        session = tenantlist.mined(tenantlist.find_session(client, given, every), "import")
        try:
            roles = client.session_roles(session.id)
        except NotFoundError:
            raise RmsyncError(f"the tenant has no role-mining session {session.id}") from None
    added, skipped = importer.plan_entries(
        existing, session, roles, name_prefix, by_name=by == "name", sessions=every
    )
    if added or file.exists():
        importer.write_checked(file, importer.insert(text, added))
    for role, name in skipped:
        shown = f"{safetext.visible(role.name)} ({safetext.visible(role.id)})"
        click.echo(f"  = {name}: {shown} is already in the manifest")
    for entry in added:
        click.echo(f"  + {entry.name}: {safetext.visible(entry.role.name)} ({entry.role.id})")
    there = f"{len(skipped)} {'was' if len(skipped) == 1 else 'were'} there already"
    click.echo(f"Added {render.counted(len(added), 'export')} to {file}; {there}.")
