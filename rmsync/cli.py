"""The `rmsync` command: thin click commands that parse, call, print and exit.

Owns: every print and every exit code; converting RmsyncError (and anything unexpected)
into a short message on stderr and exit 1. Exit 2 is kept for `--detailed-exitcode`.
Must not: hold logic another module could own.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import traceback
from pathlib import Path

import click
import yaml

from rmsync import __version__
from rmsync.errors import RmsyncError
from rmsync.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Limit,
    Sandbox,
    Schedule,
    load_seed,
)
from rmsync.sandbox.generate import generate_seed


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rmsync")
def cli() -> None:
    """Declarative, Git-reviewed sync of SailPoint ISC role-mining exports."""


@cli.group(invoke_without_command=True)
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
@click.option("-q", "--quiet", is_flag=True, help="Do not print a line per request.")
@click.pass_context
def sandbox(
    ctx: click.Context,
    host: str,
    port: int,
    seed_path: Path | None,
    token_lifetime: int,
    rate_limit: int,
    no_rate_limit: bool,
    export_seconds: float,
    quiet: bool,
) -> None:
    """Serve a local ISC tenant with the role-mining API until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    seed = load_seed(seed_path)
    schedule = Schedule(queued=export_seconds / 3, running=export_seconds * 2 / 3)
    try:
        server = Sandbox(
            seed,
            host=host,
            port=port,
            token_lifetime=token_lifetime,
            schedule=schedule,
            rate_limit=None if no_rate_limit else Limit(rate_limit),
            log=None if quiet else _log,
        )
    except OSError as exc:
        raise RmsyncError(
            f"cannot listen on {host}:{port}: {exc.strerror} (try another --port)"
        ) from None
    client = seed.clients[0]
    secret = client.client_secret if seed_path is None else "<as in your seed file>"
    click.echo(f"rmsync sandbox: the {seed.tenant} tenant is serving at {server.base_url}")
    click.echo(f"  export SAIL_BASE_URL={server.base_url}")
    click.echo(f"  export SAIL_CLIENT_ID={client.client_id}")
    click.echo(f"  export SAIL_CLIENT_SECRET={secret}")
    click.echo("Press Ctrl+C to stop.", nl=True)
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("rmsync sandbox: stopped.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _log(line: str) -> None:
    click.echo(line, err=True)


@sandbox.command("generate-seed")
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
    text = yaml.safe_dump(generate_seed(roles, sessions, identities, random_seed), sort_keys=False)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RmsyncError(f"{out}: cannot write: {exc.strerror}") from None
    click.echo(f"wrote {out} ({roles} roles, client {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET})")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; every failure is a message and exit 1, never a traceback."""
    try:
        cli.main(args=argv, prog_name="rmsync", standalone_mode=False)
    except click.UsageError as exc:
        exc.show()
        sys.exit(1)
    except (click.Abort, EOFError):
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except RmsyncError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except Exception:
        report = _write_report()
        click.echo(
            f"rmsync: internal error; the full report is in {report}. Please file it.", err=True
        )
        sys.exit(1)
    sys.exit(0)


def _write_report() -> str:
    with tempfile.NamedTemporaryFile(
        "w", prefix="rmsync-crash-", suffix=".txt", delete=False
    ) as fh:
        fh.write(traceback.format_exc())
        return fh.name
