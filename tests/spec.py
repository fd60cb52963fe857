"""The official role-mining OpenAPI specs (../shared/sailpoint-spec) as JSON-schema validators.

Tests use it to prove that every response the sandbox sends, and every request the tests
send, conforms to the spec of its API version.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = Path(os.environ.get("RMSYNC_SPEC_DIR", ROOT.parent / "shared" / "sailpoint-spec"))
FILES = {
    "beta": "beta-role-mining.yaml",
    "v2024": "v2025-role-mining.yaml",  # the spec's README: v2024 equals v2025 but for its name
    "v2025": "v2025-role-mining.yaml",
    "v2026": "v2026-role-mining.yaml",
    "v1": "v1-role-mining.yaml",
}
PREFIX = {"beta": "/beta", "v2024": "/v2024", "v2025": "/v2025", "v2026": "/v2026", "v1": ""}
METHODS = ("get", "post", "patch", "put", "delete")

FORMATS = FormatChecker()


def _date_time(value: object) -> bool:
    if isinstance(value, str):
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


FORMATS.checks("date-time", raises=ValueError)(_date_time)


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects → JSON Schema 2020-12 (`nullable` becomes a null type)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: to_json_schema(v)
        for k, v in node.items()
        if k not in ("nullable", "example", "examples")
    }
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass(frozen=True)
class Operation:
    version: str
    method: str
    path: str
    raw: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.raw["operationId"]).removesuffix("V1")

    def url(self, **params: str) -> str:
        return PREFIX[self.version] + re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], self.path)


class Spec:
    """One version's spec: its operations and validators for their bodies."""

    def __init__(self, version: str) -> None:
        path = SPEC_DIR / FILES[version]
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: CI has ../shared beside the repo; set RMSYNC_SPEC_DIR"
            )
        self.version = version
        self.raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.schema = to_json_schema(copy.deepcopy(self.raw))
        resource = Resource.from_contents(self.schema, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:spec", resource)

    def operations(self) -> list[Operation]:
        return [
            Operation(self.version, method.upper(), path, op)
            for path, item in self.raw["paths"].items()
            for method, op in item.items()
            if method in METHODS
        ]

    def operation(self, op_id: str) -> Operation:
        return next(op for op in self.operations() if op.id == op_id)

    def _validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"urn:spec#{pointer}"}, registry=self.registry, format_checker=FORMATS
        )

    def _pointer(self, op: Operation) -> str:
        escaped = op.path.replace("~", "~0").replace("/", "~1")
        return f"/paths/{escaped}/{op.method.lower()}"

    def response(self, op: Operation, status: int) -> tuple[str, dict[str, Any]]:
        """(JSON pointer, response object) for `status`; statuses the operation does not list
        fall back to the shared component response of that status (the spec's common errors)."""
        responses = op.raw["responses"]
        if str(status) in responses:
            pointer, found = f"{self._pointer(op)}/responses/{status}", responses[str(status)]
        else:
            pointer, found = (
                f"/components/responses/{status}",
                self.raw["components"]["responses"][str(status)],
            )
        while "$ref" in found:
            pointer = found["$ref"].removeprefix("#")
            found = self._resolve(pointer)
        return pointer, found

    def _resolve(self, pointer: str) -> Any:
        node: Any = self.raw
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def check_response(self, op: Operation, status: int, content_type: str, body: Any) -> None:
        """Raise AssertionError unless `body` is what the spec allows for this status."""
        pointer, response = self.response(op, status)
        media = content_type.split(";")[0].strip()
        content = response.get("content", {})
        assert media in content, f"{op.id} {status}: content type {media} not in {sorted(content)}"
        schema_pointer = f"{pointer}/content/{media.replace('/', '~1')}/schema"
        if media == "application/json":
            errors = list(self._validator(schema_pointer).iter_errors(body))
            assert not errors, f"{op.id} {status}: {[e.message for e in errors][:5]}"

    def check_request(self, op: Operation, body: Any, media: str = "application/json") -> None:
        """Raise AssertionError unless `body` is a request body the spec allows."""
        pointer = f"{self._pointer(op)}/requestBody/content/{media.replace('/', '~1')}/schema"
        errors = list(self._validator(pointer).iter_errors(body))
        assert not errors, f"{op.id} request: {[e.message for e in errors][:5]}"

    def request_example(self, op: Operation) -> Any:
        """The spec's own example body for `op`, if it has one."""
        content = op.raw.get("requestBody", {}).get("content", {})
        for media in content.values():
            if "example" in media:
                return media["example"]
            if "example" in media.get("schema", {}):
                return media["schema"]["example"]
        return None


@cache
def spec(version: str) -> Spec:
    return Spec(version)
