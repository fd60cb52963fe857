"""The plan document (`plan --json`, `plan --out`), both ways, and what ties it to its inputs.

Owns: the document's format and version (schemas/plan.schema.json): writing it, reading and
checking it, rebuilding its steps; hashing the manifest files and the lockfile, and saying
exactly why a saved plan is stale. Must not: talk to the tenant (the caller passes the live
roles) or decide new actions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rmsync import atomic, bundled, render
from rmsync.errors import RmsyncError
from rmsync.manifest import manifest_files
from rmsync.models import (
    Action,
    Change,
    ExportParams,
    Lock,
    Plan,
    Provenance,
    Request,
    Role,
    Status,
    Step,
    param_names,
)

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
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _provenance(source: Provenance) -> dict[str, Any]:
    return {
        "manifest": {"path": source.manifest, "sha256": source.manifest_digest},
        "lockfile": {"path": source.lockfile, "sha256": source.lockfile_digest},
        "api_version": source.api_version,
        "targets": None if source.targets is None else list(source.targets),
        "replace": list(source.replace),
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
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def save(path: Path, plan: Plan) -> None:
    """Write the plan document to `path` atomically (`plan --out`)."""
    try:
        atomic.write_text(path, dumps(plan))
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot write the plan: {exc.strerror}") from None


def digest_manifest(path: Path, exclude: Path | None = None) -> str:
    """sha256 over every manifest file's name and bytes, in order (less the lockfile)."""
    digest = hashlib.sha256()
    for file in manifest_files(path, exclude):
        digest.update(file.name.encode() + b"\0")
        try:
            digest.update(file.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
        digest.update(b"\0")
    return digest.hexdigest()


def digest_lockfile(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def schema() -> dict[str, Any]:
    return bundled.schema("plan.schema.json")


def read(path: Path) -> dict[str, Any]:
    """A plan document from `path`, checked against the plan schema."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan: {exc.strerror}") from None
    except ValueError as exc:
        raise PlanFileError(f"{path}: not a plan file (not JSON: {exc})") from None
    if isinstance(doc, dict) and doc.get("format_version") not in (None, FORMAT):
        raise PlanFileError(
            f"{path}: plan format {doc.get('format_version')} is not {FORMAT}; "
            "use the rmsync that made it"
        )
    from jsonschema import Draft202012Validator  # only when a plan file is read: it is slow to load

    errors = sorted(
        Draft202012Validator(schema()).iter_errors(doc), key=lambda e: list(e.absolute_path)
    )
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(document)"
        raise PlanFileError(f"{path}: not a valid plan file: {where}: {errors[0].message}")
    if doc["made_from"] is None:
        raise PlanFileError(f"{path}: this plan was printed, not saved; make one with plan --out")
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
    )


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
    return Plan(steps, tuple(doc["unchanged"]), provenance(doc))


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
        record=lock.get(action["name"]),
        status=None if action["status"] is None else Status(action["status"]),
        download=action["download"],
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
    """Each planned role whose live state is no longer what the plan saw, and how."""
    found = []
    for step in plan.steps:
        if step.role is None:
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
