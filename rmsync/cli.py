"""The `rmsync` command: thin click commands that parse, call the workflow, print and exit.

Owns: every print and every exit code; converting RmsyncError (and anything unexpected)
into a short message on stderr and exit 1; Ctrl-C and SIGTERM into 130 and 143. Exit 2 is
kept for `--detailed-exitcode`. Must not: hold logic another module could own.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
import yaml

from rmsync import (
    __version__,
    atomic,
    bundled,
    config,
    importer,
    interrupts,
    lockfile,
    planfile,
    render,
    runlock,
    workflow,
)
from rmsync.api import Client, Credentials, NotFoundError
from rmsync.apply import Outcome, Progress
from rmsync.config import Target
from rmsync.errors import RmsyncError
from rmsync.interrupts import Interrupted
from rmsync.lockfile import Lock, LockfileError
from rmsync.manifest import ApiVersion, Manifest, ManifestError, folder_of, load_manifest
from rmsync.plan import Action, Plan
from rmsync.workflow import Inputs, Result, Ui
from rmsync.yamlload import DocumentError, Problem

if TYPE_CHECKING:
    from rmsync.sandbox import Sandbox, Seed


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
    try:
        server, seed = _sandbox_server(
            seed_path,
            host,
            port,
            token_lifetime,
            None if no_rate_limit else rate_limit,
            export_seconds,
            quiet,
        )
        client = seed.clients[0]
        secret = client.client_secret if seed_path is None else "<as in your seed file>"
        click.echo(f"rmsync sandbox: the {seed.tenant} tenant is serving at {server.base_url}")
        click.echo(f"  export SAIL_BASE_URL={server.base_url}")
        click.echo(f"  export SAIL_CLIENT_ID={client.client_id}")
        click.echo(f"  export SAIL_CLIENT_SECRET={secret}")
        click.echo("Press Ctrl+C to stop.")
        sys.stdout.flush()
        server.serve_forever()
    except Interrupted:
        click.echo("rmsync sandbox: stopped.")


def _sandbox_server(
    seed_path: Path | None,
    host: str,
    port: int,
    token_lifetime: int,
    rate_limit: int | None,
    export_seconds: float,
    quiet: bool,
) -> tuple[Sandbox, Seed]:
    from rmsync.sandbox import Limit, Sandbox, Schedule, load_seed

    seed = load_seed(seed_path)
    schedule = Schedule(queued=export_seconds / 3, running=export_seconds * 2 / 3)
    try:
        server = Sandbox(
            seed,
            host=host,
            port=port,
            token_lifetime=token_lifetime,
            schedule=schedule,
            rate_limit=None if rate_limit is None else Limit(rate_limit),
            log=None if quiet else _log,
        )
    except OSError as exc:
        raise RmsyncError(
            f"cannot listen on {host}:{port}: {exc.strerror} (try another --port)"
        ) from None
    return server, seed


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
    from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from rmsync.sandbox.generate import generate_seed

    text = yaml.safe_dump(generate_seed(roles, sessions, identities, random_seed), sort_keys=False)
    if out is None:
        click.echo(text, nl=False)
        return
    _write(out, text, "the seed")
    click.echo(f"wrote {out} ({roles} roles, client {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET})")


def _write(path: Path, text: str, what: str) -> None:
    try:
        atomic.write_text(path, text)
    except OSError as exc:
        raise RmsyncError(f"{path}: cannot write {what}: {exc.strerror}") from None


# -- plan, apply and friends -----

manifest_option = click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path),
    default=Path("rmsync.yaml"),
    show_default=True,
    help="A manifest file, or a folder whose *.yaml files are merged.",
)
lockfile_option = click.option(
    "--lockfile",
    "lockfile_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The lockfile [default: rmsync.lock.yaml beside the manifest].",
)
base_url_option = click.option(
    "--base-url", help="The tenant's API root (over SAIL_BASE_URL and the manifest)."
)
color_option = click.option("--no-color", is_flag=True, help="No colour (NO_COLOR works too).")


if TYPE_CHECKING:  # click.ParamType is generic in its stubs only in newer releases
    _ParamType = click.ParamType[float, object]
else:
    _ParamType = click.ParamType


class _Seconds(_ParamType):
    """A duration such as 90s, 30m or 1h (a bare number is seconds)."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip()
        units = {"s": 1, "m": 60, "h": 3600}
        try:
            seconds = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
        except ValueError:
            seconds = -1.0
        if not seconds >= 0 or seconds == float("inf"):
            self.fail(f"{value!r} is not a duration such as 90s, 30m or 1h", param, ctx)
        return seconds


replace_option = click.option(
    "--replace", multiple=True, metavar="NAME", help="Re-export this one anyway (repeatable)."
)
target_option = click.option(
    "--target", "targets", multiple=True, metavar="NAME", help="Only this export (repeatable)."
)


def _color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def _target(base_url: str | None) -> Callable[[Manifest], Target]:
    return lambda manifest: config.target(manifest, base_url, os.environ)


@cli.command()
@manifest_option
@lockfile_option
@base_url_option
@color_option
@target_option
@replace_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for people, json for programs, markdown for a pull-request comment.",
)
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the plan here, for `rmsync apply FILE`.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 for no changes, 2 for changes.")
def plan(
    manifest_path: Path,
    lockfile_path: Path | None,
    base_url: str | None,
    no_color: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    fmt: str,
    as_json: bool,
    out: Path | None,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would do: compare the manifest and lockfile with the tenant."""
    inputs = Inputs(manifest_path, lockfile_path)
    manifest = inputs.manifest()
    with workflow.connect(_target(base_url)(manifest), manifest) as client:
        job = workflow.make_job(client, inputs, manifest, workflow.options(targets, replace))
    fmt = "json" if as_json else fmt
    if fmt == "json":
        click.echo(render.as_json(job.plan), nl=False)
    elif fmt == "markdown":
        comment = render.markdown(job.plan)
        click.echo(comment, nl=False)
        _step_summary(comment)
    else:
        click.echo(render.text(job.plan, _color(no_color)), nl=False)
    if out is not None:
        _write(out, render.as_json(job.plan), "the plan")
        click.echo(
            f"\nSaved this plan to {out}; `rmsync apply {out}` applies exactly it.",
            err=fmt != "text",
        )
    if detailed_exitcode and job.plan.changed:
        sys.exit(2)


def _step_summary(markdown: str) -> None:
    """On GitHub Actions, add the comment to the job's summary page too."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    except OSError as exc:
        raise RmsyncError(
            f"GITHUB_STEP_SUMMARY ({target}): cannot append: {exc.strerror}"
        ) from None


wait_option = click.option(
    "--wait", is_flag=True, help="Follow started and pending exports until SUCCESS or ERROR."
)
timeout_option = click.option(
    "--timeout", type=_Seconds(), default="30m", show_default=True, help="How long --wait waits."
)
lock_timeout_option = click.option(
    "--lock-timeout",
    type=_Seconds(),
    default="0s",
    show_default=True,
    help="How long to wait for another apply to finish.",
)


@cli.command()
@manifest_option
@lockfile_option
@base_url_option
@color_option
@target_option
@replace_option
@click.option(
    "--auto-approve", is_flag=True, help="Apply without asking (needed without a terminal)."
)
@wait_option
@timeout_option
@lock_timeout_option
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def apply(
    manifest_path: Path,
    lockfile_path: Path | None,
    base_url: str | None,
    no_color: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    auto_approve: bool,
    wait: bool,
    timeout: float,
    lock_timeout: float,
    plan_file: Path | None,
) -> None:
    """Start the missing exports and record every result in the lockfile.

    With PLAN_FILE (from `plan --out`), apply exactly that plan, without asking: it was reviewed.
    """
    color = _color(no_color)
    ui = _ui(color, confirm=not auto_approve and plan_file is None)
    if plan_file is not None:
        if targets or replace:
            raise RmsyncError(
                "a saved plan is applied as it is: give --target and --replace to `plan --out`"
            )
        doc = planfile.read(plan_file)
        lock_path = Path(planfile.provenance(doc).lockfile)
        with runlock.held(lock_path, lock_timeout), _recorded(lock_path):
            manifest = workflow.saved_manifest(plan_file, doc)
            with workflow.connect(_target(base_url)(manifest), manifest) as client:
                job = workflow.saved_job(client, plan_file, doc, manifest)
                result = workflow.apply(client, job, ui, timeout if wait else None)
        _conclude("Apply", result)
        return
    inputs = Inputs(manifest_path, lockfile_path)
    with runlock.held(inputs.lock_path, lock_timeout), _recorded(inputs.lock_path):
        manifest = inputs.manifest()
        with workflow.connect(_target(base_url)(manifest), manifest) as client:
            job = workflow.make_job(client, inputs, manifest, workflow.options(targets, replace))
            result = workflow.apply(client, job, ui, timeout if wait else None)
    _conclude("Apply", result)


@cli.command()
@manifest_option
@lockfile_option
@base_url_option
@target_option
@wait_option
@timeout_option
@lock_timeout_option
def refresh(
    manifest_path: Path,
    lockfile_path: Path | None,
    base_url: str | None,
    targets: tuple[str, ...],
    wait: bool,
    timeout: float,
    lock_timeout: float,
) -> None:
    """Update the recorded exports still running from the tenant; start nothing."""
    inputs = Inputs(manifest_path, lockfile_path)
    with runlock.held(inputs.lock_path, lock_timeout), _recorded(inputs.lock_path):
        manifest = inputs.manifest()
        known = {e.name for e in manifest.exports} | set(lockfile.read(inputs.lock_path).records)
        unknown = sorted(set(targets) - known)
        if unknown:
            raise DocumentError(
                Problem("<command line>", 1, "--target", f"{n!r} is not an export") for n in unknown
            )
        chosen = frozenset(targets) if targets else None
        with workflow.connect(_target(base_url)(manifest), manifest) as client:
            result = workflow.refresh(
                client, inputs, manifest, chosen, _ui(False), timeout if wait else None
            )
    if result.running == 0:
        click.echo("Nothing to refresh: no recorded export is still running.")
        return
    _conclude("Refresh", result)


class _recorded:
    """Say, when a run is interrupted, that every result so far is in the lockfile."""

    def __init__(self, lock_path: Path) -> None:
        self.lock_path = lock_path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, Interrupted) and not exc.note:
            exc.note = f"every result so far is recorded in {self.lock_path}"


def _ui(color: bool, confirm: bool = False) -> Ui:
    def show(plan: Plan) -> None:
        click.echo(render.text(plan, color), nl=False)

    def ask(plan: Plan) -> None:
        if confirm:
            _confirm()
        click.echo("")

    return Ui(show, ask, _report, _progress())


def _confirm() -> None:
    if not sys.stdin.isatty():
        raise RmsyncError(
            "apply asks for confirmation: run it in a terminal, or pass --auto-approve"
        )
    try:
        answer = click.prompt(
            "\nDo you want to perform these actions? Only 'yes' will be accepted",
            default="",
            show_default=False,
        )
    except Interrupted as exc:
        exc.note = "nothing was changed"
        raise
    if answer.strip() != "yes":
        raise RmsyncError("apply cancelled: nothing was changed")


def _conclude(verb: str, result: Result) -> None:
    """The closing summary, after any waiting, from what was recorded; exit 1 on a failure."""
    failures = result.failures()
    click.echo(f"\n{verb} {'failed' if failures else 'complete'}: {_counts(verb, result)}.")
    for name, what in failures.items():
        click.echo(f"  {name}: {what}")
    if failures:
        n = len(failures)
        raise RmsyncError(
            f"{n} export{'s' if n != 1 else ''} failed (listed above); every result is recorded "
            f"in {result.lock_path}"
        )


def _counts(verb: str, result: Result) -> str:
    done = result.counts()
    failed = len(result.failures())
    downloaded = f"{done[Action.DOWNLOAD]} downloaded, " if done[Action.DOWNLOAD] else ""
    if verb == "Refresh":
        still = len(result.timed_out) if result.wait is not None else _still(result)
        return f"{done[Action.UPDATE]} updated, {downloaded}{still} still running, {failed} failed"
    return (
        f"{done[Action.EXPORT]} exported, {done[Action.REEXPORT]} re-exported, "
        f"{done[Action.UPDATE]} updated, {downloaded}{done[Action.FORGET]} forgotten, "
        f"{failed} failed"
    )


def _still(result: Result) -> int:
    return sum(
        not r.status.final and r.gone_at is None
        for n, r in result.after.records.items()
        if n in result.before.records and not result.before.records[n].status.final
    )


def _progress() -> Callable[[Progress], None]:
    """On a terminal, one line rewritten in place; elsewhere (CI), one line per state change."""
    terminal = sys.stdout.isatty()

    def report(p: Progress) -> None:
        new = p.new.value if p.new else "gone (the tenant answered 404)"
        if terminal:
            done = p.total - p.running
            bar = "#" * round(20 * done / p.total)
            end = "\n" if p.running == 0 else ""
            line = f"Waiting: [{bar:<20}] {done}/{p.total} finished ({p.name}: {new})"
            click.echo(f"\r{line}\x1b[K{end}", nl=False)
        else:
            click.echo(f"{p.name}: {p.old.value} → {new} ({p.running} of {p.total} still running)")

    return report


def _report(outcome: Outcome) -> None:
    step = outcome.step
    if not outcome.ok:
        click.echo(f"{step.name}: {step.action.verb} FAILED: {outcome.error}", err=True)
    elif step.action is Action.UPDATE and step.record is not None:
        new = step.status.value if step.status else "gone (the tenant answered 404)"
        click.echo(f"{step.name}: {step.record.status.value} → {new}")
    else:
        detail = f" (export {outcome.export_id})" if outcome.export_id else ""
        click.echo(f"{step.name}: {step.action.verb} done{detail}")


@cli.command()
@manifest_option
@lockfile_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="github: print problems as GitHub Actions annotations on the files' lines.",
)
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def validate(
    manifest_path: Path, lockfile_path: Path | None, fmt: str, files: tuple[Path, ...]
) -> None:
    """Check the manifest and lockfile offline: schema, names, duplicates, download paths.

    FILES (as pre-commit passes them) are each checked as a manifest instead of --manifest.
    """
    counts, problems = [], []
    for path in files or (manifest_path,):
        try:
            counts.append(_validate(Inputs(path, lockfile_path)))
        except DocumentError as exc:
            problems += exc.problems
    if problems and fmt == "github":
        for problem in sorted(problems):
            click.echo(_annotation(problem))
        sys.exit(1)
    if problems:
        raise DocumentError(problems)
    manifests = sum(c[2] for c in counts)
    click.echo(
        f"Valid: {sum(c[0] for c in counts)} exports in {manifests} manifest "
        f"file{'s' if manifests != 1 else ''}; {sum(c[1] for c in counts)} records in the lockfile."
    )


def _validate(inputs: Inputs) -> tuple[int, int, int]:
    problems: list[Problem] = []
    manifest = lock = None
    try:
        manifest = inputs.manifest()
    except DocumentError as exc:
        problems += exc.problems
    try:
        lock = lockfile.read(inputs.lock_path)
    except DocumentError as exc:
        problems += exc.problems
    if manifest is None or lock is None:
        raise DocumentError(problems)
    return len(manifest.exports), len(lock.records), len(manifest.files)


def _annotation(problem: Problem) -> str:
    """A GitHub Actions workflow command: `::error file=F,line=L,title=T::message`."""

    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    message = f"{problem.field}: {problem.message}" if problem.field else problem.message
    return f"::error file={prop(problem.file)},line={problem.line},title=rmsync::{data(message)}"


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path),
    help="Show the lockfile of this manifest (file or folder) [default: rmsync.yaml].",
)
@lockfile_option
@color_option
def show(
    path: Path | None, manifest_path: Path | None, lockfile_path: Path | None, no_color: bool
) -> None:
    """Print a saved plan (PATH.json) as text, or a lockfile as a table.

    PATH may be a saved plan, a lockfile, or a manifest file or folder (its lockfile is shown).
    """
    if path is not None and path.suffix == ".json":
        doc = planfile.read(path)
        saved = planfile.rebuild(doc, lockfile.read(Path(planfile.provenance(doc).lockfile)))
        click.echo(render.text(saved, _color(no_color)), nl=False)
        return
    where = _lockfile_to_show(path, manifest_path, lockfile_path)
    if not where.exists():
        raise RmsyncError(f"{where}: no lockfile yet (run `rmsync apply` to make one)")
    _table(lockfile.read(where))


def _lockfile_to_show(path: Path | None, manifest: Path | None, flag: Path | None) -> Path:
    if path is None:
        return Inputs(manifest or Path("rmsync.yaml"), flag).lock_path
    if path.is_dir():
        return Inputs(path, flag).lock_path
    try:
        lockfile.read(path)
    except LockfileError as exc:
        try:  # a manifest given where a lockfile was expected: show the manifest's lockfile
            load_manifest(path)
        except (ManifestError, DocumentError):
            raise exc from None
        return Inputs(path, flag).lock_path
    return path


def _table(lock: Lock) -> None:
    rows = [("NAME", "STATUS", "EXPORT ID", "ROLE", "STARTED", "FINISHED")]
    for name in sorted(lock.records):
        r = lock.records[name]
        status = "GONE" if r.gone_at else r.status.value
        rows.append((name, status, r.export_id, r.role.name, r.started_at, r.finished_at or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@cli.command("import")
@click.option("--session", "session_id", required=True, help="The role-mining session to bring in.")
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
@base_url_option
def import_(
    session_id: str,
    name_prefix: str,
    manifest_path: Path,
    to_path: Path | None,
    base_url: str | None,
) -> None:
    """Add manifest entries for every potential role of a session (named after the roles)."""
    if not re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", session_id):
        raise RmsyncError(f"--session {session_id!r} is not a session id (a UUID)")
    whole, file = importer.layout(manifest_path, to_path)
    lock_path = config.lock_path(folder_of(whole), None)
    manifest = load_manifest(whole, exclude=lock_path) if importer.has_manifest(whole) else None
    text = file.read_text(encoding="utf-8") if file.exists() else importer.NEW_MANIFEST
    api_version = manifest.api_version if manifest else ApiVersion.BETA
    where = config.target(manifest or _bare(file), base_url, os.environ)
    with Client(where.base_url, where.credentials, api_version) as client:
        try:
            roles = client.session_roles(session_id.lower())
        except NotFoundError:
            raise RmsyncError(f"the tenant has no role-mining session {session_id}") from None
    added, skipped = importer.plan_entries(manifest, session_id.lower(), roles, name_prefix)
    if added or file.exists():
        _check_and_write(file, importer.insert(text, added))
    for role, name in skipped:
        click.echo(f"  = {name}: {role.name} ({role.id}) is already in the manifest")
    for entry in added:
        click.echo(f"  + {entry.name}: {entry.role.name} ({entry.role.id})")
    click.echo(f"Added {len(added)} exports to {file}; {len(skipped)} were there already.")


def _bare(path: Path) -> Manifest:
    return Manifest(ApiVersion.BETA, None, (), (), path.parent)


def _check_and_write(path: Path, text: str) -> None:
    """Write the edited manifest only if it still loads: the temporary copy is checked first."""
    try:
        with atomic.replacing(path) as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            try:
                load_manifest(Path(handle.name))
            except ManifestError as exc:
                problems = str(exc).replace(handle.name, str(path))
                raise importer.ManifestEditError(
                    f"{path}: the edited manifest would not be valid, so it was not written:\n"
                    + problems
                ) from None
    except OSError as exc:
        raise RmsyncError(f"{path}: cannot write the manifest: {exc.strerror}") from None


@cli.command()
def demo() -> None:
    """Run plan, apply and plan again on examples/ against an in-process sandbox tenant."""
    from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule

    with (
        tempfile.TemporaryDirectory(prefix="rmsync-demo-") as tmp,
        Sandbox(schedule=Schedule(0, 0)) as sb,
    ):
        folder = Path(tmp)
        for example in bundled.folder("examples").glob("*.yaml"):
            (folder / example.name).write_bytes(example.read_bytes())
        inputs = Inputs(folder / "rmsync.yaml")
        where = Target(sb.base_url, Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
        click.echo(f"rmsync demo: sandbox tenant at {sb.base_url}; manifest copied to {folder}\n")
        manifest = inputs.manifest()
        with workflow.connect(where, manifest) as client:
            click.echo("$ rmsync plan")
            job = workflow.make_job(client, inputs, manifest, workflow.options())
            click.echo(render.text(job.plan), nl=False)
            click.echo("\n$ rmsync apply --auto-approve")
            job = workflow.make_job(client, inputs, manifest, workflow.options())
            _conclude("Apply", workflow.apply(client, job, _ui(False), None))
            click.echo("\n$ rmsync plan")
            job = workflow.make_job(client, inputs, manifest, workflow.options())
            click.echo(render.text(job.plan), nl=False)
        click.echo(f"\n$ cat {config.LOCKFILE_NAME}")
        click.echo(inputs.lock_path.read_text(encoding="utf-8"), nl=False)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run the CLI; every failure is a message and exit 1, never a traceback;
    Ctrl-C and SIGTERM end with 130 and 143, as shells expect."""
    interrupts.install()  # before anything is printed: an early signal still ends cleanly
    try:
        cli.main(args=argv, prog_name="rmsync", standalone_mode=False)
    except Interrupted as exc:
        _interrupted(exc)
    except click.Abort as exc:  # click turns EOF at a prompt (and a bare ^C) into Abort
        if isinstance(exc.__context__, KeyboardInterrupt):
            _interrupted(Interrupted(2))
        click.echo("Aborted: no answer was given; nothing was changed.", err=True)
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


def _interrupted(exc: Interrupted) -> NoReturn:
    note = exc.note or "nothing was changed"
    click.echo(f"\nInterrupted ({exc}): {note}.", err=True)
    sys.exit(exc.exit_code)


def _write_report() -> str:
    with tempfile.NamedTemporaryFile(
        "w", prefix="rmsync-crash-", suffix=".txt", delete=False
    ) as fh:
        fh.write(traceback.format_exc())
        return fh.name
