"""Files rmsync ships beside its code: the JSON schemas and the examples.

Owns: finding them both in an installed wheel (rmsync/schemas, rmsync/examples) and in a
source checkout (schemas/ and examples/ at the top). Must not: interpret them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


def folder(name: str) -> Path:
    """`schemas` or `examples`: inside the installed package, else at the checkout's top."""
    packaged = _PACKAGE / name
    return packaged if packaged.is_dir() else _PACKAGE.parent / name


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON schema from schemas/, such as `manifest.schema.json`."""
    loaded: dict[str, Any] = json.loads((folder("schemas") / name).read_text(encoding="utf-8"))
    return loaded
