"""`rmsync sandbox`: serve a local ISC tenant, and generate large seeds for it.

The only command module that imports rmsync.sandbox, and only when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rmsync.errors import RmsyncError

if TYPE_CHECKING:
    from rmsync.sandbox import ArchiveLayout, FaultPlan, Sandbox, Seed


@click.group(invoke_without_command=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (loopback only by default).",
)
@click.option(
    "--port",
    default=8787,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port; 0 picks a free one.",
)
@click.option(
    "--seed",
    "seed_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Seed YAML (default: the packaged Acme org).",
)
@click.option(
    "--token-lifetime",
    default=749,
    show_default=True,
    type=click.IntRange(1),
    help="Seconds an access token lives.",
)
@click.option(
    "--rate-limit",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="Requests per client id and API version per 10 s.",
)
@click.option("--no-rate-limit", is_flag=True, help="Turn the rate limit off.")
@click.option(
    "--export-seconds",
    default=1.5,
    show_default=True,
    type=click.FloatRange(0),
    help="Time an async export takes to finish.",
)
@click.option(
    "--mining-seconds",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Time a role-mining run (a created session, or a re-run) takes to finish.",
)
@click.option(
    "--faults",
    "faults_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fault plan YAML: errors, drops, latency and more, by route and count or rate.",
)
@click.option(
    "--archive-layout",
    type=click.Choice(["rmsync", "titled"]),
    default="rmsync",
    show_default=True,
    help="Export archive files and columns: rmsync's own, or title-case ones (Identities.csv, "
    "Entitlements.csv) with a column readers do not know.",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print a line per request.")
@click.pass_context
def command(
    ctx: click.Context,
    host: str,
    port: int,
    seed_path: Path | None,
    token_lifetime: int,
    rate_limit: int,
    no_rate_limit: bool,
    export_seconds: float,
    mining_seconds: float,
    faults_path: Path | None,
    archive_layout: ArchiveLayout,
    quiet: bool,
) -> None:
    """Serve a local ISC tenant with the role-mining API until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    from rmsync.interrupts import Interrupted

    try:
        faults = _faults(faults_path)
        server, seed = _sandbox_server(
            seed_path,
            host,
            port,
            token_lifetime,
            None if no_rate_limit else rate_limit,
            export_seconds,
            mining_seconds,
            faults,
            archive_layout,
            quiet,
        )
        client = seed.clients[0]
        secret = client.client_secret if seed_path is None else "<as in your seed file>"
        click.echo(f"rmsync sandbox: the {seed.tenant} tenant is serving at {server.base_url}")
        click.echo(f"  export SAIL_BASE_URL={server.base_url}")
        click.echo(f"  export SAIL_CLIENT_ID={client.client_id}")
        click.echo(f"  export SAIL_CLIENT_SECRET={secret}")
        if no_rate_limit:  # else rmsync keeps to ISC's limit, and a large plan waits for nothing
            click.echo("  export SAIL_RATE_LIMIT=off")
        elif rate_limit != 100:
            click.echo(f"  export SAIL_RATE_LIMIT={rate_limit}/10s")
        if faults is not None:
            click.echo(f"Faults from {faults_path}: {_describe(faults)}.")
        if archive_layout != "rmsync":
            click.echo(f"Export archives use the {archive_layout} layout.")
        click.echo("Press Ctrl+C to stop.")
        sys.stdout.flush()
        server.serve_forever()
    except Interrupted:
        click.echo("rmsync sandbox: stopped.")


def _faults(path: Path | None) -> FaultPlan | None:
    from rmsync.sandbox import load_faults

    return None if path is None else load_faults(path)


def _describe(faults: FaultPlan) -> str:
    rules = len(faults.rules)
    read_only = len(faults.read_only_clients)
    parts = [f"{rules} rule{'s' * (rules != 1)}"]
    if read_only:
        parts.append(f"{read_only} read-only client{'s' * (read_only != 1)}")
    return ", ".join(parts)


def _sandbox_server(
    seed_path: Path | None,
    host: str,
    port: int,
    token_lifetime: int,
    rate_limit: int | None,
    export_seconds: float,
    mining_seconds: float,
    faults: FaultPlan | None,
    archive_layout: ArchiveLayout,
    quiet: bool,
) -> tuple[Sandbox, Seed]:
    from rmsync.sandbox import Limit, Sandbox, Schedule, load_seed

    seed = load_seed(seed_path)
    schedule = Schedule(
        queued=export_seconds / 3, running=export_seconds * 2 / 3, mining=mining_seconds
    )
    try:
        server = Sandbox(
            seed,
            host=host,
            port=port,
            token_lifetime=token_lifetime,
            schedule=schedule,
            rate_limit=None if rate_limit is None else Limit(rate_limit),
            log=None if quiet else _log,
            faults=faults,
            archive_layout=archive_layout,
        )
    except OSError as exc:
        raise RmsyncError(
            f"cannot listen on {host}:{port}: {exc.strerror} (try another --port)"
        ) from None
    return server, seed


def _log(line: str) -> None:
    click.echo(line, err=True)


@command.command("generate-seed")
@click.option("--roles", default=1000, show_default=True, type=click.IntRange(0))
@click.option("--sessions", default=10, show_default=True, type=click.IntRange(1))
@click.option("--identities", default=2000, show_default=True, type=click.IntRange(10))
@click.option("--random-seed", default=1, show_default=True, type=int)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of stdout.",
)
def generate(
    roles: int, sessions: int, identities: int, random_seed: int, out: Path | None
) -> None:
    """Print a large, deterministic seed (for benchmarks); its client is the default demo one."""
    import yaml

    from rmsync import atomic
    from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from rmsync.sandbox.generate import generate_seed

    text = yaml.safe_dump(generate_seed(roles, sessions, identities, random_seed), sort_keys=False)
    if out is None:
        click.echo(text, nl=False)
        return
    refused = atomic.not_a_file(out)
    if refused is not None:
        raise RmsyncError(f"{out}: the seed was not written: {refused}")
    try:
        atomic.write_text(out, text)
    except OSError as exc:
        raise RmsyncError(f"{out}: cannot write the seed: {exc.strerror}") from None
    click.echo(f"wrote {out} ({roles} roles, client {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET})")
