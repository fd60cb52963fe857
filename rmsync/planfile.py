"""The plan document (`plan --json`, `plan --out`), both ways, and what ties it to its inputs.

Owns: the document's format and version (schemas/plan.schema.json): writing it, reading and
checking it, rebuilding its steps; hashing the manifest files and the lockfile, and saying
exactly why a saved plan is stale; and what a saved plan may say at all: its files are inside
the folder it is applied in, and each action is one the (unchanged) manifest and lockfile back,
asking for exactly what the manifest's export of that name asks for and saving where it says.
The manifest is the reviewed truth; a plan file only chooses which actions. Must not: talk to
the tenant (the caller passes the live roles and exports) or decide new actions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from rmsync import atomic, bundled, render, review
from rmsync.errors import RmsyncError
from rmsync.lockfile import access_dict, access_from
from rmsync.manifest import manifest_files
from rmsync.models import (
    EXPORTING,
    Action,
    Broken,
    Change,
    Entitlement,
    ExportJob,
    ExportParams,
    Live,
    Lock,
    Manifest,
    Plan,
    Provenance,
    Request,
    Role,
    Status,
    Step,
    param_names,
)
from rmsync.plan import renamed

FORMAT = 1


class PlanFileError(RmsyncError):
    """The plan file cannot be read, or no longer matches what it was made from."""


def dumps(plan: Plan) -> str:
    """The plan as a versioned JSON document (schemas/plan.schema.json): keys sorted, two-space
    indent, final newline. It holds no secret: no credentials, no tokens, no tenant URL."""
    counts = {action.verb: n for action, n in plan.counts().items()}
    source = plan.provenance
    doc = {
        "format_version": FORMAT,
        "made_from": None if source is None else _provenance(source),
        "summary": {"changed": plan.changed, "counts": counts, "text": render.summary(plan)},
        "actions": [_step_json(step) for step in plan.steps],
        "unchanged": list(plan.unchanged),
        "notes": list(plan.notes),
        "offline": plan.offline,
        "problems": [
            {"name": b.name, "file": b.file, "line": b.line, "field": b.field, "message": b.message}
            for b in plan.broken
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def provenance_json(source: Provenance) -> dict[str, Any]:
    """What a document was made from, as the plan document says it (`made_from`)."""
    return _provenance(source)


def _provenance(source: Provenance) -> dict[str, Any]:
    return {
        "manifest": {"path": source.manifest, "sha256": source.manifest_digest},
        "lockfile": {"path": source.lockfile, "sha256": source.lockfile_digest},
        "api_version": source.api_version,
        "targets": None if source.targets is None else list(source.targets),
        "replace": list(source.replace),
        "exclude": list(source.excluded),
    }


def _step_json(step: Step) -> dict[str, Any]:
    role = step.role
    return {
        "action": step.action.verb,
        "symbol": step.action.value,
        "name": step.name,
        "reasons": list(step.reasons),
        "changes": [
            {"field": c.field, "old": _plain(c.old), "new": _plain(c.new)} for c in step.changes
        ],
        "session_id": step.session_id,
        "potential_role_id": step.potential_role_id,
        "params": {name: getattr(step.params, name) for name in param_names()},
        "role": None if role is None else {"id": role.id, **role.fingerprint.as_dict()},
        "recorded_export_id": step.record.export_id if step.record else None,
        "download": step.download,
        "status": step.status.value if step.status else None,
        "access": None if step.access is None else access_dict(step.access),
        "moved_from": step.moved_from,
        "selector": None if step.selector is None else str(step.selector),
        "review": _review_json(step),
    }


def _review_json(step: Step) -> dict[str, Any] | None:
    """What the export will carry and what changed, by name, for programs (the text plan's
    `access:` and `since the last export:` lines, as data). None: no access was read."""
    found = review.review(step)
    if found is None:
        return None

    def named(items: tuple[Entitlement, ...]) -> list[dict[str, Any]]:
        return [{"id": e.id, "name": e.name, "source": e.source} for e in items]

    since = found.since
    return {
        "members": found.members,
        "carries": named(found.carried),
        "left_out": {
            "min_entitlement_popularity": named(found.below_popularity),
            "include_common_access": named(found.common),
        },
        "excluded": named(found.excluded),
        "effects": [
            {
                "field": e.field,
                "old": e.old,
                "new": e.new,
                "dropped": named(e.dropped),
                "added": named(e.added),
            }
            for e in found.effects
        ],
        "since_last_export": None
        if since is None
        else {
            "excluded": named(since.excluded),
            "included_again": named(since.included_again),
            "added": named(since.added),
            "removed": named(since.removed),
            "holders": [
                {"id": e.id, "name": e.name, "source": e.source, "old": old, "new": e.holders}
                for e, old in since.holders
            ],
            "members": None if since.members is None else list(since.members),
            "members_by": [
                {"attribute": a, "value": v, "old": old, "new": new}
                for a, v, old, new in since.members_by
            ],
        },
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def save(path: Path, plan: Plan) -> None:
    """Write the plan document to `path` atomically (`plan --out`), once the files it names
    are inside this folder: it is applied from here, and refused otherwise."""
    here = Path.cwd().resolve()
    for given in (plan.provenance.manifest, plan.provenance.lockfile) if plan.provenance else ():
        wrong = _outside(given, here)
        if wrong is not None:
            raise PlanFileError(
                f"{path}: not saved: {_text(given)} {wrong}, and a saved plan is applied from "
                "the folder it names its files in; run plan --out in the repository, with a "
                "relative --manifest"
            )
    refused = atomic.not_a_file(path)
    if refused is not None:
        raise PlanFileError(f"{path}: the plan was not saved: {refused}")
    try:
        atomic.write_text(path, dumps(plan))
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot write the plan: {exc.strerror}") from None


def digest_manifest(path: Path, exclude: Path | None = None) -> str:
    """sha256 over every manifest file's name and bytes, in order (less the lockfile)."""
    digest = hashlib.sha256()
    for file in manifest_files(path, exclude):
        digest.update(file.name.encode() + b"\0")
        before = digest.copy()
        try:
            with file.open("rb") as handle:  # read as it streams, hashed as the bytes whole
                while chunk := handle.read(1 << 18):
                    digest.update(chunk)
        except OSError:
            digest = before  # what it read before it failed does not count
            digest.update(b"<unreadable>")
        digest.update(b"\0")
    return digest.hexdigest()


def digest_lockfile(path: Path) -> str | None:
    """sha256 of the lockfile, read as it streams (it can be 80 MB), or None if there is none."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def schema() -> dict[str, Any]:
    return bundled.schema("plan.schema.json")


def read(path: Path) -> dict[str, Any]:
    """A plan document from `path`, checked against the plan schema; every problem is one line
    naming the file and the line. JSON that rmsync does not write (NaN, duplicate keys, deep
    nesting, huge numbers: see yamlload.load_json) is refused too."""
    from rmsync.errors import DocumentError
    from rmsync.yamlload import load_json  # only when a plan file is read: jsonschema is slow

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan: {exc.strerror}") from None
    remake = "make a new plan with `rmsync plan --out`"
    try:
        located = load_json(data, str(path))
    except DocumentError as exc:
        first = exc.problems[0]
        raise PlanFileError(
            f"{first.file}:{first.line}: not a plan file: {first.message}; {remake}"
        ) from None
    doc = located.data
    if isinstance(doc, dict) and doc.get("format_version") not in (None, FORMAT):
        raise PlanFileError(
            f"{path}:{located.line_of(['format_version'])}: plan format "
            f"{str(doc.get('format_version'))[:20]} is not {FORMAT}; use the rmsync that made it"
        )
    from jsonschema import Draft202012Validator  # only when a plan file is read: it is slow to load
    from jsonschema.exceptions import best_match

    # best_match: the most specific error (inside an anyOf, the branch that nearly fit), so
    # that `members: -5` is named as such, not as a whole object that fits no branch
    error = best_match(Draft202012Validator(schema()).iter_errors(doc))
    if error is not None:
        at = list(error.absolute_path)
        where = "/".join(str(p) for p in at) or "(document)"
        line, message = located.line_of(at), error.message
        message = message if len(message) <= 200 else message[:200] + "…"  # a 1 MB value
        raise PlanFileError(f"{path}:{line}: not a valid plan file: {where}: {message}; {remake}")
    if doc["made_from"] is None:
        raise PlanFileError(
            f"{path}:{located.line_of(['made_from'])}: this plan was printed, not saved; "
            "make one with plan --out"
        )
    return dict(doc)


def provenance(doc: Mapping[str, Any]) -> Provenance:
    made = doc["made_from"]
    targets = made["targets"]
    return Provenance(
        manifest=made["manifest"]["path"],
        manifest_digest=made["manifest"]["sha256"],
        lockfile=made["lockfile"]["path"],
        lockfile_digest=made["lockfile"]["sha256"],
        api_version=made["api_version"],
        targets=None if targets is None else tuple(targets),
        replace=tuple(made["replace"]),
        excluded=tuple(made.get("exclude", ())),
    )


_AGAIN = "run plan --out again"


def checked_provenance(path: Path, doc: Mapping[str, Any]) -> Provenance:
    """What the saved plan at `path` was made from, once its manifest and lockfile paths are
    relative and stay inside the current folder (no `..` out, no absolute path, no link that
    leads out): it is applied from the folder `plan` ran in, and writes only inside it."""
    source = provenance(doc)
    here = Path.cwd().resolve()
    for field, given in (
        ("made_from.manifest.path", source.manifest),
        ("made_from.lockfile.path", source.lockfile),
    ):
        wrong = _outside(given, here)
        if wrong is not None:
            raise PlanFileError(
                f"{path}: {field}: {_text(given)} {wrong}; a saved plan's files must be inside "
                f"the folder it is applied in ({here}): {_AGAIN} there"
            )
    lock = Path(source.lockfile)
    if ".git" in lock.parts or lock.suffix not in (".yaml", ".yml"):
        raise PlanFileError(
            f"{path}: made_from.lockfile.path: {_text(source.lockfile)} is not a lockfile's "
            f"place (a .yaml or .yml file outside .git/, such as rmsync.lock.yaml); {_AGAIN}"
        )
    if source.lockfile.endswith("/") or lock.name in ("", "..") or (here / lock).is_dir():
        raise PlanFileError(
            f"{path}: made_from.lockfile.path: {_text(source.lockfile)} is not a file name (a "
            f"lockfile is a file, such as rmsync.lock.yaml); {_AGAIN}"
        )
    if (here / lock).resolve() == (here / source.manifest).resolve():
        raise PlanFileError(
            f"{path}: made_from.lockfile.path: {source.lockfile} is the manifest, not a "
            f"lockfile; {_AGAIN}"
        )
    return source


def _text(path: str) -> str:
    """A path as given, quoted when it holds what a terminal would not show as it is."""
    return path if path and path.isprintable() else json.dumps(path)


def _outside(given: str, here: Path) -> str | None:
    """Why the path `given` (relative to `here`) is not a place inside `here`, if it is not."""
    if "\0" in given:
        return "is not a path (it holds a NUL character)"
    relative = Path(given)
    if relative.is_absolute():
        return "is an absolute path"
    try:
        resolved = (here / relative).resolve()
    except (OSError, RuntimeError, ValueError):
        return "cannot be resolved (a loop of links?)"
    if resolved.is_relative_to(here):
        return None
    if Path(os.path.normpath(here / relative)).is_relative_to(here):
        return "leads outside this folder through a link"
    return "leads outside this folder"


def stale_inputs(source: Provenance) -> list[str]:
    """What changed on disk since the plan was made: the manifest, the lockfile, or both.
    Raises PlanFileError when the manifest is not there at all (the wrong folder)."""
    manifest, lock = Path(source.manifest), Path(source.lockfile)
    if not manifest.exists() or (source.lockfile_digest is not None and not lock.exists()):
        missing = source.manifest if not manifest.exists() else source.lockfile
        raise PlanFileError(
            f"{missing} is not here ({Path.cwd()}): a saved plan names its files as `plan` was "
            "given them, so apply it from the folder `plan` ran in"
        )
    found = []
    if digest_manifest(manifest, exclude=lock) != source.manifest_digest:
        found.append(f"the manifest ({source.manifest}) changed")
    if digest_lockfile(lock) != source.lockfile_digest:
        found.append(f"the lockfile ({source.lockfile}) changed")
    return found


def rebuild(doc: Mapping[str, Any], lock: Lock) -> Plan:
    """The plan's steps as apply runs them, with records from the (unchanged) lockfile."""
    steps = tuple(_step(a, lock) for a in doc["actions"])
    broken = tuple(
        Broken(
            name=p["name"], file=p["file"], line=p["line"], field=p["field"], message=p["message"]
        )
        for p in doc.get("problems", ())
    )
    return Plan(steps, tuple(doc["unchanged"]), provenance(doc), broken)


def _step(action: Mapping[str, Any], lock: Lock) -> Step:
    role = action["role"]
    return Step(
        action=Action(action["symbol"]),
        name=action["name"],
        reasons=tuple(action["reasons"]),
        request=Request(
            action["session_id"],
            action["potential_role_id"],
            ExportParams.from_fields(action["params"]),
        ),
        changes=tuple(Change(c["field"], c["old"], c["new"]) for c in action["changes"]),
        role=None if role is None else _role(role, action["session_id"]),
        record=lock.get(action.get("moved_from") or action["name"]),
        status=None if action["status"] is None else Status(action["status"]),
        download=action["download"],
        access=access_from(action["access"]) if action.get("access") else None,
        moved_from=action.get("moved_from"),
    )


def _role(data: Mapping[str, Any], session_id: str) -> Role:
    return Role(
        id=data["id"],
        name=data["name"],
        session_id=session_id,
        identity_count=data["identity_count"],
        entitlement_count=data["entitlement_count"],
        excluded_entitlements=tuple(data["excluded_entitlements"]),
        modified=data["modified"],
    )


def changed_roles(plan: Plan, live: Mapping[str, Role | None]) -> list[str]:
    """Each role the plan will export whose live state is no longer what the plan saw, and
    how. An update or a forget records what the tenant says of the export, not of its role:
    its role is not read again (the plan may have seen only its summary)."""
    found = []
    for step in plan.steps:
        if step.role is None or step.action not in EXPORTING:
            continue
        now = live.get(step.potential_role_id)
        if now is None:
            found.append(f"{step.name}: potential role {step.potential_role_id} is gone")
            continue
        before, after = step.role.fingerprint.as_dict(), now.fingerprint.as_dict()
        diffs = [
            f"{k} {before[k]} → {after[k]}"
            for k in sorted(before)
            if k != "name" and before[k] != after[k]
        ]
        if diffs:
            found.append(f"{step.name} ({step.role.name}): {', '.join(diffs)}")
    return found


def check_actions(path: Path, doc: Mapping[str, Any], manifest: Manifest, lock: Lock) -> None:
    """Refuse a saved plan whose actions the manifest and lockfile (both unchanged since the
    plan was made) cannot back: every problem at once, each as `path: field: message`."""
    source = provenance(doc)
    problems = []
    if source.api_version != manifest.api_version.value:
        problems.append(
            f"made_from.api_version: {source.api_version} is not the manifest's api_version "
            f"({manifest.api_version.value})"
        )
    seen: set[str] = set()
    lock, moves = renamed(manifest, lock)  # records under the names the manifest moves them to
    for i, action in enumerate(doc["actions"]):
        found = _action_problems(action, source, manifest, lock, seen)
        if action.get("moved_from") != moves.get(action["name"]):
            said = moves.get(action["name"])
            found.append(
                (
                    "moved_from",
                    f"{action.get('moved_from')} is not what the manifest's moved: says for "
                    f"{action['name']} ({said or 'no rename'})",
                )
            )
        problems += [f"actions[{i}].{field}: {message}" for field, message in found]
        seen.add(action["name"])
    if problems:
        raise PlanFileError(
            "\n".join(f"{path}: {p}" for p in problems)
            + f"\n{path} does not match its manifest and lockfile: a saved plan only chooses "
            "among the manifest's exports; the manifest decides what each asks for and where "
            f"it is saved. {_AGAIN.capitalize()}."
        )


def _action_problems(
    action: Mapping[str, Any],
    source: Provenance,
    manifest: Manifest,
    lock: Lock,
    seen: set[str],
) -> list[tuple[str, str]]:
    """(field, message) for each thing `action` says that the manifest and lockfile do not."""
    name, symbol, verb = action["name"], action["symbol"], action["action"]
    kind = Action(symbol)
    if kind.verb != verb:
        return [("symbol", f"{symbol} is not the symbol of {verb}")]
    if name in seen:
        return [("name", f"{name} is in the plan twice")]
    export, record = manifest.export(name), lock.get(name)
    if export is None and record is None:
        return [
            ("name", f"{name} is not an export in the manifest and has no record in the lockfile")
        ]
    if source.targets is not None and name not in source.targets:
        targets = ", ".join(source.targets)
        return [("name", f"{name} is not one of the plan's targets ({targets})")]
    if name in source.excluded:
        return [("name", f"{name} is one the plan leaves out (--exclude)")]
    problems = []
    recorded = None if record is None else record.export_id
    if action["recorded_export_id"] != recorded:
        problems.append(
            (
                "recorded_export_id",
                f"{action['recorded_export_id']} is not the export the lockfile records for "
                f"{name} ({recorded or 'none'})",
            )
        )
    role = action["role"]
    if role is not None and role["id"].lower() != action["potential_role_id"].lower():
        problems.append(("role.id", f"{role['id']} is not the action's potential_role_id"))
    if kind in (Action.EXPORT, Action.REEXPORT) and role is None:
        problems.append(("role", "an export or re-export needs the role the plan saw; it is null"))
    if export is None:
        assert record is not None
        if kind is not Action.FORGET:
            problems.append(
                ("action", f"{verb} of {name}, which the manifest does not declare (only forget)")
            )
        return problems + _asks(action, name, "the lockfile's record of", record.request, None)
    if kind is Action.FORGET:
        problems.append(("action", f"forget of {name}, which the manifest still declares"))
    elif kind is Action.EXPORT and record is not None:
        problems.append(("action", f"export of {name}, which the lockfile records already"))
    elif kind is not Action.EXPORT and record is None:
        problems.append(("action", f"{verb} needs a record of {name} in the lockfile; it has none"))
    elif kind is Action.UPDATE and record is not None and record.name != name:
        pass  # a rename (moved:): a lockfile update whatever the export's state
    elif kind is Action.UPDATE and record is not None and not record.running:
        state = record.status.value + (" and gone from the tenant" if record.gone_at else "")
        problems.append(
            ("action", f"update of {name}, whose recorded export is {state}, not running")
        )
    elif kind is Action.DOWNLOAD and action["status"] != Status.SUCCESS.value:
        problems.append(
            ("status", f"{action['status']} is not SUCCESS: only a finished export is downloaded")
        )
    elif kind is Action.DOWNLOAD and record is not None and record.status is not Status.SUCCESS:
        problems.append(
            ("status", f"the lockfile records {name} as {record.status.value}, not SUCCESS")
        )
    if kind is Action.DOWNLOAD and export.download is None:
        problems.append(("action", f"download of {name}, for which the manifest declares none"))
    return problems + _asks(action, name, "the manifest's", export.request, export.download)


def _asks(
    action: Mapping[str, Any],
    name: str,
    whose: str,
    wanted: Request,
    download: str | None,
) -> list[tuple[str, str]]:
    """Each field of the action's request and download that is not `wanted`'s."""
    problems = []
    given = Request(
        action["session_id"],
        action["potential_role_id"],
        ExportParams.from_fields(action["params"]),
    ).fields()
    for key, value in wanted.fields().items():
        field = key if key in ("session_id", "potential_role_id") else f"params.{key}"
        if given[key] != value or type(given[key]) is not type(value):
            problems.append(
                (
                    field,
                    f"{_shown(given[key])} is not what {whose} {name} asks for ({_shown(value)})",
                )
            )
    if action["download"] != download:
        problems.append(
            (
                "download",
                f"{_shown(action['download'])} is not where {name} is saved: the manifest "
                f"declares {download or 'no download'} for {name}",
            )
        )
    return problems


def _shown(value: object) -> str:
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)


def moved_exports(plan: Plan, exports: Mapping[str, ExportJob | None]) -> list[str]:
    """Each update whose export the tenant no longer reports as the plan says it will record
    (`exports`: the live state of every update's recorded export, by export id)."""
    found = []
    for step in plan.steps:
        export_id = step.record.export_id if step.record else None
        if step.action is not Action.UPDATE or export_id is None or export_id not in exports:
            continue
        job = exports[export_id]
        now = None if job is None else job.status
        if now is not step.status:
            found.append(
                f"{step.name}: export {export_id} is {now.value if now else 'gone'}, not "
                f"{step.status.value if step.status else 'gone'} as the plan says"
            )
    return found


def with_live(plan: Plan, live: Live) -> Plan:
    """The saved plan with what the tenant reports now where the plan only repeats it: each
    role as it is (its name may have changed; the rest was checked by `changed_roles`), and
    each update's ERROR reason. What is recorded is what the tenant said, never the file."""
    steps = []
    for step in plan.steps:
        role = live.roles.get(step.potential_role_id) if step.role is not None else None
        job = live.exports.get(step.record.export_id or "") if step.record else None
        steps.append(
            replace(
                step,
                role=role or step.role,
                detail=job.detail if job is not None and step.action is Action.UPDATE else None,
            )
        )
    return replace(plan, steps=tuple(steps))
