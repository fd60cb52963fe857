"""The `rmsync` command group: its commands, its version, and the one place errors end.

Owns: loading a command module only when it is needed (rmsync.commands), and the error
funnel every run goes through, inside click so that tests run it in-process as users do:
RmsyncError (and anything unexpected) becomes a short message on stderr and exit 1, never a
traceback; Ctrl-C and SIGTERM end with 130 and 143; exit 2 is kept for
`plan --detailed-exitcode` and `check` (changes), 3 for `check` (drift). Must not: hold a
command's options or logic (rmsync.commands and the modules below them do), or import anything
heavy before a command runs.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from rmsync import __version__, interrupts
from rmsync.commands import COMMANDS
from rmsync.errors import RmsyncError
from rmsync.interrupts import Interrupted


class Rmsync(click.Group):
    """A group whose commands are imported when used, and whose runs end in `_funnel`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command: click.Command = importlib.import_module(f"rmsync.commands.{module}").command
        return command

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; every way it ends is an exit code (see the module's docstring).
        With `standalone_mode=False`, as click documents: no exit, exceptions propagate."""
        args = _debug_first(sys.argv[1:] if args is None else list(args))
        if not standalone_mode:
            return super().main(args, prog_name or "rmsync", complete_var, False, **extra)
        interrupts.install(_stopping)  # before anything is printed: an early signal ends cleanly
        try:
            code = super().main(args, prog_name or "rmsync", complete_var, False, **extra)
        except BaseException as exc:
            _funnel(exc)
        sys.exit(code if isinstance(code, int) else 0)  # an int: click's exit code (--help)


def _stopping(signum: int, again: bool, firm: bool) -> None:
    """Said the moment a signal waits for what is under way (from the signal handler: one
    unbuffered write to the standard error's descriptor, never the buffered stream it may
    have interrupted)."""
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    if again:
        message = (
            "Still stopping: waiting for the answers to the starts already sent, so that "
            "none is lost.\n"
        )
    elif firm:
        message = (
            "Stopping: nothing more is sent; the starts already sent are answered and recorded "
            "first, so that none is lost.\n"
        )
    else:
        message = (
            "Stopping: what is under way is finished and recorded first "
            f"({name} again stops at once).\n"
        )
    with contextlib.suppress(OSError):  # no standard error to write to: stopping is enough
        os.write(2, message.encode())


def _debug_first(args: list[str]) -> list[str]:
    """`rmsync plan --debug` as `rmsync --debug plan`: people put it after the command."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *(a for i, a in enumerate(args) if a != "--debug" or i >= end)]


def _funnel(exc: BaseException) -> NoReturn:
    if isinstance(exc, SystemExit):
        raise exc
    if isinstance(exc, Interrupted):
        _interrupted(exc)
    if isinstance(exc, click.Abort):  # click turns EOF at a prompt (and a bare ^C) into Abort
        if isinstance(exc.__context__, KeyboardInterrupt):
            _interrupted(Interrupted(2))
        click.echo("Aborted: no answer was given; nothing was changed.", err=True)
        sys.exit(1)
    if isinstance(exc, click.ClickException):
        exc.show()
        sys.exit(1)
    if isinstance(exc, RmsyncError):
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    if isinstance(exc, KeyboardInterrupt):
        _interrupted(Interrupted(2))
    if not isinstance(exc, Exception):
        raise exc
    report = _write_report()
    click.echo(f"rmsync: internal error; the full report is in {report}. Please file it.", err=True)
    sys.exit(1)


def _log(ctx: click.Context, param: click.Parameter, debug: bool) -> None:
    """Where the traffic log goes: set up now when asked for (or set up by an earlier run in
    this process, which must not leak into this one); else by the API client, when a command
    reaches a tenant (`validate` never loads logging)."""
    if debug or os.environ.get("RMSYNC_LOG") or "rmsync.debuglog" in sys.modules:
        from rmsync import debuglog

        debuglog.configure(debug)


@click.group(cls=Rmsync, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rmsync")
@click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    callback=_log,
    help="Log every request and answer (method, path, status, time, retries, rate-limit "
    "waits) on stderr, credentials redacted; RMSYNC_LOG=debug does the same.",
)
def cli() -> None:
    """Declarative, Git-reviewed sync of SailPoint ISC role-mining exports."""


def main(argv: list[str] | None = None) -> NoReturn:
    """The console script: `rmsync ARGS` (argv defaults to the process's arguments)."""
    cli.main(args=argv, prog_name="rmsync")
    raise AssertionError("unreachable: Rmsync.main always exits")  # pragma: no cover


def _interrupted(exc: Interrupted) -> NoReturn:
    note = exc.note or "nothing was changed"
    click.echo(f"\nInterrupted ({exc}): {note}.", err=True)
    sys.exit(exc.exit_code)


def _write_report() -> str:
    import tempfile  # only after a crash: validate in a pre-commit hook starts faster
    import traceback

    with tempfile.NamedTemporaryFile(
        "w", prefix="rmsync-crash-", suffix=".txt", delete=False
    ) as fh:
        fh.write(traceback.format_exc())
        return fh.name
