"""`rmsync sessions`: the tenant's role-mining sessions, as a table or JSON."""

from __future__ import annotations

import os
from pathlib import Path

import click

from rmsync import options


@click.command()
@click.option("--name", help="Only sessions whose name starts with this (the tenant's `sw`).")
@options.as_json
@options.tenant_manifest
@options.base_url
def command(
    name: str | None, as_json: bool, manifest_path: Path | None, base_url: str | None
) -> None:
    """List the tenant's role-mining sessions: name, id, state, saved, scope, how many
    potential roles, when created (never who created them)."""
    from rmsync import config, render, safetext, tenantlist, workflow

    manifest = tenantlist.settings(manifest_path)
    with workflow.connect(config.target(manifest, base_url, os.environ), manifest) as client:
        found = tenantlist.sessions(client, name)
    if as_json:
        click.echo(tenantlist.sessions_json(found))
        return
    if found:
        for line in tenantlist.sessions_table(found):
            click.echo(line)
        click.echo()
    which = f" whose name starts with {safetext.quoted(name)}" if name else ""
    click.echo(f"{render.counted(len(found), 'session')}{which}.")
