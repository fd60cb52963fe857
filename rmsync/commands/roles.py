"""`rmsync roles`: a session's potential roles and their metrics, chosen with `--where`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from rmsync import options


@click.command()
@click.option(
    "--session", "given", required=True, metavar="ID|NAME", help="The session: its id or name."
)
@click.option(
    "--where",
    "conditions",
    multiple=True,
    metavar="COND",
    help="Only roles that meet it, such as quality>=80, saved=true, type=SPECIALIZED or "
    "'name sw Acc' (repeatable: all must hold).",
)
@options.as_json
@options.tenant_manifest
@options.base_url
def command(
    given: str,
    conditions: tuple[str, ...],
    as_json: bool,
    manifest_path: Path | None,
    base_url: str | None,
) -> None:
    """List a session's potential roles with the tenant's metrics (identities, entitlements,
    quality, density, freshness, saved, type, created), all of them or those that meet every
    --where condition."""
    from rmsync import config, render, tenantlist, where, workflow

    chosen = where.from_cli(conditions)  # before any request: a typo costs nothing
    manifest = tenantlist.settings(manifest_path)
    with workflow.connect(config.target(manifest, base_url, os.environ), manifest) as client:
        session = tenantlist.mined(tenantlist.find_session(client, given), "list its roles")
        found = tenantlist.roles(client, session, chosen)
    if as_json:
        click.echo(tenantlist.roles_json(session, chosen, found))
        return
    if found:
        for line in tenantlist.roles_table(found):
            click.echo(line)
        click.echo()
    which = f" where {' and '.join(where.shown(c) for c in chosen)}" if chosen else ""
    label = tenantlist.session_label(session)
    click.echo(f"{render.counted(len(found), 'potential role')} in {label}{which}.")
