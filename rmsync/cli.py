"""The `rmsync` command: thin click commands that parse, call, print and exit.

Owns: every print and every exit code; converting RmsyncError (and anything unexpected)
into a short message on stderr and exit 1. Exit 2 is kept for `--detailed-exitcode`.
Must not: hold logic another module could own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from rmsync import __version__, bundled, config, importer, lockfile, planfile, render, runlock
from rmsync.api import Client, Credentials, NotFoundError
from rmsync.apply import (
    Outcome,
    Progress,
    Timing,
    apply_plan,
    download_ready,
    hash_files,
    wait_for,
)
from rmsync.config import Target
from rmsync.errors import RmsyncError
from rmsync.lockfile import Lock
from rmsync.manifest import ApiVersion, Manifest, folder_of, load_manifest
from rmsync.plan import Action, Options, Plan, Provenance, make_plan, refresh_only
from rmsync.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Limit,
    Sandbox,
    Schedule,
    load_seed,
)
from rmsync.sandbox.generate import generate_seed
from rmsync.yamlload import DocumentError, Problem


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
            if text and text[-1] in units:
                return float(text[:-1]) * units[text[-1]]
            return float(text)
        except ValueError:
            self.fail(f"{value!r} is not a duration such as 90s, 30m or 1h", param, ctx)


replace_option = click.option(
    "--replace", multiple=True, metavar="NAME", help="Re-export this one anyway (repeatable)."
)
target_option = click.option(
    "--target", "targets", multiple=True, metavar="NAME", help="Only this export (repeatable)."
)


@dataclass(frozen=True)
class _Job:
    """What plan and apply share: the inputs, the client settings and the computed plan."""

    manifest: Manifest
    lock_path: Path
    lock: Lock
    target: Target
    plan: Plan
    options: Options


def _color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def _options(targets: tuple[str, ...] = (), replace: tuple[str, ...] = ()) -> Options:
    return Options(datetime.now(UTC), frozenset(replace), frozenset(targets) if targets else None)


def _prepare(
    manifest_path: Path,
    lockfile_path: Path | None,
    target_of: Callable[[Manifest], Target],
    options: Options,
) -> _Job:
    manifest_digest = planfile.digest_manifest(manifest_path)
    manifest = load_manifest(manifest_path)
    path = config.lock_path(manifest.folder, lockfile_path)
    lock_digest = planfile.digest_lockfile(path)
    lock = lockfile.read(path)
    where = target_of(manifest)
    chosen = options.targets
    source = Provenance(
        str(manifest_path),
        manifest_digest,
        str(path),
        lock_digest,
        manifest.api_version.value,
        None if chosen is None else tuple(sorted(chosen)),
        tuple(sorted(options.replace)),
    )

    def wanted(name: str) -> bool:
        return chosen is None or name in chosen

    with Client(where.base_url, where.credentials, manifest.api_version) as client:
        pending = [
            (r.session_id, r.potential_role_id, r.export_id)
            for r in lock.records.values()
            if not r.status.final and manifest.export(r.name) is not None and wanted(r.name)
        ]
        roles = [e.potential_role_id for e in manifest.exports if wanted(e.name)]
        live = client.live(roles, pending)
    files = hash_files(manifest.folder, [e.download for e in manifest.exports if e.download])
    plan = replace(make_plan(manifest, lock, live, options, files), provenance=source)
    return _Job(manifest, path, lock, where, plan, options)


def _env_target(base_url: str | None) -> Callable[[Manifest], Target]:
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
    job = _prepare(manifest_path, lockfile_path, _env_target(base_url), _options(targets, replace))
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
        _save(out, render.as_json(job.plan))
        click.echo(
            f"\nSaved this plan to {out}; `rmsync apply {out}` applies exactly it.",
            err=fmt != "text",
        )
    if detailed_exitcode and job.plan.changed:
        sys.exit(2)


def _save(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except OSError as exc:
        raise RmsyncError(f"{path}: cannot write the plan: {exc.strerror}") from None


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
    if plan_file is not None:
        if targets or replace:
            raise RmsyncError(
                "a saved plan is applied as it is: give --target and --replace to `plan --out`"
            )
        _apply_saved(plan_file, base_url, _color(no_color), timeout if wait else None, lock_timeout)
        return
    lock_path = config.lock_path(folder_of(manifest_path), lockfile_path)
    with runlock.held(lock_path, lock_timeout):
        job = _prepare(
            manifest_path, lockfile_path, _env_target(base_url), _options(targets, replace)
        )
        _apply(job, _color(no_color), auto_approve, timeout if wait else None)


def _apply_saved(
    path: Path, base_url: str | None, color: bool, wait: float | None, lock_timeout: float
) -> None:
    doc = planfile.read(path)
    source = planfile.provenance(doc)
    with runlock.held(Path(source.lockfile), lock_timeout):
        stale = planfile.stale_inputs(source)
        if stale:
            raise RmsyncError(
                f"{path} is stale: {'; '.join(stale)} since it was made; run plan again"
            )
        manifest = load_manifest(Path(source.manifest))
        lock = lockfile.read(Path(source.lockfile))
        saved = planfile.rebuild(doc, lock)
        where = config.target(manifest, base_url, os.environ)
        with Client(where.base_url, where.credentials, manifest.api_version) as client:
            live = client.live([s.potential_role_id for s in saved.steps if s.role], [])
        moved = planfile.changed_roles(saved, live.roles)
        if moved:
            raise RmsyncError(
                f"{path} is stale: the tenant changed since it was made:\n  " + "\n  ".join(moved)
            )
        targets = frozenset(source.targets) if source.targets is not None else None
        options = Options(None, frozenset(source.replace), targets)
        _apply(
            _Job(manifest, Path(source.lockfile), lock, where, saved, options), color, True, wait
        )


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
    """Update recorded export statuses from the tenant; start nothing."""
    lock_path = config.lock_path(folder_of(manifest_path), lockfile_path)
    with runlock.held(lock_path, lock_timeout):
        job = _prepare(manifest_path, lockfile_path, _env_target(base_url), _options(targets))
        only = replace(job, plan=refresh_only(job.plan))
        _apply(only, False, True, timeout if wait else None)


def _apply(job: _Job, color: bool, auto_approve: bool, wait: float | None = None) -> None:
    click.echo(render.text(job.plan, color), nl=False)
    if job.plan.changed and not auto_approve:
        _confirm()
    where = job.target
    outcomes: list[Outcome] = []
    broken: list[str] = []
    with Client(where.base_url, where.credentials, job.manifest.api_version) as client:
        lock = job.lock
        if job.plan.changed:
            click.echo("")
            lock, outcomes = apply_plan(
                job.plan, client, job.lock, job.lock_path, _now, _report, job.manifest.folder
            )
            _summary(outcomes)
        if wait is not None:
            chosen = job.options.targets
            names = sorted(n for n in lock.records if chosen is None or n in chosen)
            timing = Timing(timeout=wait)
            lock = wait_for(client, lock, job.lock_path, names, _now, timing, _progress())
        wanted = {s.name: s.download for s in job.plan.steps if s.download and s.action in _STARTS}
        folder = job.manifest.folder
        lock, broken = download_ready(client, lock, job.lock_path, wanted, folder, _report)
    failures = [f"{o.step.name}: {o.error}" for o in outcomes if not o.ok] + broken
    if failures:
        raise RmsyncError(
            f"{len(failures)} actions failed (the rest is recorded in {job.lock_path}):\n  "
            + "\n  ".join(failures)
        )


_STARTS = (Action.EXPORT, Action.REEXPORT, Action.UPDATE)


def _confirm() -> None:
    if not sys.stdin.isatty():
        raise RmsyncError(
            "apply asks for confirmation: run it in a terminal, or pass --auto-approve"
        )
    answer = click.prompt(
        "\nDo you want to perform these actions? Only 'yes' will be accepted",
        default="",
        show_default=False,
    )
    if answer.strip() != "yes":
        raise RmsyncError("apply cancelled: nothing was changed")


def _summary(outcomes: list[Outcome]) -> None:
    failed = sum(not o.ok for o in outcomes)
    done = Counter(o.step.action for o in outcomes if o.ok)
    downloaded = f"{done[Action.DOWNLOAD]} downloaded, " if done[Action.DOWNLOAD] else ""
    click.echo(
        f"\nApply complete: {done[Action.EXPORT]} exported, {done[Action.REEXPORT]} re-exported, "
        f"{done[Action.UPDATE]} updated, {downloaded}{done[Action.FORGET]} forgotten, "
        f"{failed} failed."
    )


def _progress() -> Callable[[Progress], None]:
    """On a terminal, one line rewritten in place; elsewhere (CI), one line per state change."""
    terminal = sys.stdout.isatty()

    def report(p: Progress) -> None:
        if terminal:
            done = p.total - p.running
            bar = "#" * round(20 * done / p.total)
            end = "\n" if p.running == 0 else ""
            line = f"Waiting: [{bar:<20}] {done}/{p.total} finished ({p.name}: {p.new.value})"
            click.echo(f"\r{line}\x1b[K{end}", nl=False)
        else:
            click.echo(
                f"{p.name}: {p.old.value} → {p.new.value} ({p.running} of {p.total} still running)"
            )

    return report


def _report(outcome: Outcome) -> None:
    step = outcome.step
    if outcome.ok:
        detail = f" (export {outcome.export_id})" if outcome.export_id else ""
        click.echo(f"{step.name}: {step.action.verb} done{detail}")
    else:
        click.echo(f"{step.name}: {step.action.verb} FAILED: {outcome.error}", err=True)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
            counts.append(_validate(path, lockfile_path))
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


def _validate(manifest_path: Path, lockfile_path: Path | None) -> tuple[int, int, int]:
    manifest = load_manifest(manifest_path)
    lock = lockfile.read(config.lock_path(manifest.folder, lockfile_path))
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
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--lockfile",
    "lockfile_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(config.LOCKFILE_NAME),
    show_default=True,
)
@color_option
def show(path: Path | None, lockfile_path: Path, no_color: bool) -> None:
    """Print a saved plan (PATH.json) as text, or the lockfile as a table."""
    if path is not None and path.suffix == ".json":
        doc = planfile.read(path)
        saved = planfile.rebuild(doc, lockfile.read(Path(planfile.provenance(doc).lockfile)))
        click.echo(render.text(saved, _color(no_color)), nl=False)
        return
    lockfile_path = path or lockfile_path
    if not lockfile_path.exists():
        raise RmsyncError(f"{lockfile_path}: no lockfile yet (run `rmsync apply` to make one)")
    lock = lockfile.read(lockfile_path)
    rows = [("NAME", "STATUS", "EXPORT ID", "ROLE", "STARTED", "FINISHED")]
    for name in sorted(lock.records):
        r = lock.records[name]
        rows.append(
            (name, r.status.value, r.export_id, r.role.name, r.started_at, r.finished_at or "-")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@cli.command("import")
@click.option("--session", "session_id", required=True, help="The role-mining session to bring in.")
@click.option("--name-prefix", default="", help="Put this before every new export name.")
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("rmsync.yaml"),
    show_default=True,
    help="The manifest file to add to (made if missing).",
)
@base_url_option
def import_(session_id: str, name_prefix: str, manifest_path: Path, base_url: str | None) -> None:
    """Add manifest entries for every potential role of a session (named after the roles)."""
    if not re.fullmatch(r"[0-9a-fA-F-]{36}", session_id):
        raise RmsyncError(f"--session {session_id!r} is not a session id (a UUID)")
    exists = manifest_path.exists()
    manifest = load_manifest(manifest_path) if exists else None
    text = manifest_path.read_text(encoding="utf-8") if exists else importer.NEW_MANIFEST
    api_version = manifest.api_version if manifest else ApiVersion.BETA
    where = config.target(manifest or _bare(manifest_path), base_url, os.environ)
    with Client(where.base_url, where.credentials, api_version) as client:
        try:
            roles = client.session_roles(session_id.lower())
        except NotFoundError:
            raise RmsyncError(f"the tenant has no role-mining session {session_id}") from None
    added, skipped = importer.plan_entries(manifest, session_id.lower(), roles, name_prefix)
    new_text = importer.insert(text, added)
    _check_and_write(manifest_path, new_text)
    for role, name in skipped:
        click.echo(f"  = {name}: {role.name} ({role.id}) is already in the manifest")
    for entry in added:
        click.echo(f"  + {entry.name}: {entry.role.name} ({entry.role.id})")
    click.echo(f"Added {len(added)} exports to {manifest_path}; {len(skipped)} were there already.")


def _bare(path: Path) -> Manifest:
    return Manifest(ApiVersion.BETA, None, (), (), path.parent)


def _check_and_write(path: Path, text: str) -> None:
    """Write the edited manifest only if it still loads: a temporary copy is checked first."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".yaml.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        load_manifest(Path(tmp))
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@cli.command()
def demo() -> None:
    """Run plan, apply and plan again on examples/ against an in-process sandbox tenant."""
    with (
        tempfile.TemporaryDirectory(prefix="rmsync-demo-") as tmp,
        Sandbox(schedule=Schedule(0, 0)) as sb,
    ):
        folder = Path(tmp)
        for example in bundled.folder("examples").glob("*.yaml"):
            shutil.copy(example, folder / example.name)
        creds = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        where = Target(sb.base_url, creds)
        manifest = folder / "rmsync.yaml"
        click.echo(f"rmsync demo: sandbox tenant at {sb.base_url}; manifest copied to {manifest}\n")
        click.echo("$ rmsync plan")
        click.echo(
            render.text(_prepare(manifest, None, lambda _: where, _options()).plan, _color(False)),
            nl=False,
        )
        click.echo("\n$ rmsync apply --auto-approve")
        _apply(
            _prepare(manifest, None, lambda _: where, _options()), _color(False), auto_approve=True
        )
        click.echo("\n$ rmsync plan")
        click.echo(
            render.text(_prepare(manifest, None, lambda _: where, _options()).plan, _color(False)),
            nl=False,
        )
        click.echo(f"\n$ cat {config.LOCKFILE_NAME}")
        click.echo((folder / config.LOCKFILE_NAME).read_text(encoding="utf-8"), nl=False)


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
    except KeyboardInterrupt:
        click.echo("Interrupted: every result so far is recorded in the lockfile.", err=True)
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
