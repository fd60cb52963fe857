"""One module per command, each exposing `command`; `rmsync.cli` loads one only when needed.

A command parses its options, calls the workflow (or the module that owns the work), prints
through rmsync.output and returns. Must not: hold logic another module could own, or import
a heavy library (httpx, jsonschema, the sandbox) before the command runs: `rmsync --help`
loads every command module.
"""

from __future__ import annotations

# name → its module under rmsync.commands (`rmsync --help` lists them sorted)
COMMANDS = {
    "plan": "plan",
    "apply": "apply",
    "refresh": "refresh",
    "check": "check",
    "validate": "validate",
    "fmt": "fmt",
    "show": "show",
    "diff": "diff",
    "report": "report",
    "import": "import_",
    "sessions": "sessions",
    "roles": "roles",
    "demo": "demo",
    "sandbox": "sandbox",
}
