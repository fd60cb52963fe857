"""The command-line options several commands share, and the one duration parameter type.

Owns: each shared option's name, type, default and help text, so that `plan`, `apply`,
`refresh`, `validate` and `show` spell them the same way. Must not: import anything but
click at import time (every command, `--help` included, loads this module).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:  # click.ParamType is generic in its stubs only in newer releases
    _ParamType = click.ParamType[float, object]
else:
    _ParamType = click.ParamType


class Seconds(_ParamType):
    """A duration such as 90s, 30m or 1h (a bare number is seconds), as seconds."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        from rmsync.models import Duration  # not at import: `rmsync --help` needs no models

        try:
            return Duration.parse(str(value), bare=True).seconds
        except ValueError:
            self.fail(f"{value!r} is not a duration such as 90s, 30m or 1h", param, ctx)


manifest = click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path),
    default=Path("rmsync.yaml"),
    show_default=True,
    help="A manifest file, or a folder whose *.yaml files are merged.",
)
lockfile = click.option(
    "--lockfile",
    "lockfile_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The lockfile [default: rmsync.lock.yaml beside the manifest].",
)
base_url = click.option(
    "--base-url", help="The tenant's API root (over SAIL_BASE_URL and the manifest)."
)
color = click.option("--no-color", is_flag=True, help="No colour (NO_COLOR works too).")
replace = click.option(
    "--replace", multiple=True, metavar="NAME", help="Re-export this one anyway (repeatable)."
)
target = click.option(
    "--target", "targets", multiple=True, metavar="NAME", help="Only this export (repeatable)."
)
exclude = click.option(
    "--exclude",
    "excluded",
    multiple=True,
    metavar="NAME",
    help="Leave this export out (a set and its members: sets.NAME): no action, no problem "
    "(repeatable).",
)
as_json = click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
tenant_manifest = click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path),
    help="The manifest whose tenant settings to use [default: rmsync.yaml, if there is one].",
)
download_missing = click.option(
    "--download-missing",
    is_flag=True,
    help="A missing archive is a change (download it again). Default: only an altered one is, "
    "since archives stay out of Git.",
)
wait = click.option(
    "--wait", is_flag=True, help="Follow started and pending exports until SUCCESS or ERROR."
)
timeout = click.option(
    "--timeout", type=Seconds(), default="30m", show_default=True, help="How long --wait waits."
)
lock_timeout = click.option(
    "--lock-timeout",
    type=Seconds(),
    default="0s",
    show_default=True,
    help="How long to wait for another apply to finish.",
)


refresh = click.option(
    "--refresh",
    type=click.Choice(["summary", "full"]),
    default="summary",
    show_default=True,
    help="How roles are read: summary, by the page from their sessions' summaries (250 a "
    "request; a change that moves no count waits, see README); full, each role whole.",
)
rate_limit = click.option(
    "--rate-limit",
    metavar="N/DURATION",
    help="The tenant's rate limit per client id and API version: 100/10s (ISC's, the "
    "default), another such as 50/10s, or off (SAIL_RATE_LIMIT too).",
)


def environ(rate_limit: str | None) -> dict[str, str]:
    """This process's environment, with --rate-limit as SAIL_RATE_LIMIT when given."""
    env = dict(os.environ)
    if rate_limit is not None:
        env["SAIL_RATE_LIMIT"] = rate_limit
    return env


json_format = click.option("--json", "as_json", is_flag=True, help="The same as --format json.")


def one_format(fmt: str, as_json: bool) -> str:
    """The format asked for: --format's, or json for --json; a --format naming another
    format beside --json is a usage error (two formats at once)."""
    given = click.get_current_context().get_parameter_source("fmt")
    if as_json and given is click.core.ParameterSource.COMMANDLINE and fmt != "json":
        raise click.UsageError(f"--json and --format {fmt} ask for two formats: give one")
    return "json" if as_json else fmt


F = TypeVar("F", bound=Callable[..., object])


def planning(command: F) -> F:
    """The options of everything that plans (`plan` and `apply`), in the order --help lists
    them: --manifest, --lockfile, --base-url, --rate-limit, --no-color, --target, --exclude,
    --replace, --download-missing, --refresh."""
    stack = (
        refresh,
        download_missing,
        replace,
        exclude,
        target,
        color,
        rate_limit,
        base_url,
        lockfile,
        manifest,
    )
    for option in stack:
        command = option(command)
    return command
