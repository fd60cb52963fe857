"""The layout is the design: each module imports only from the layers below it, the pure
stages load no I/O library, and a command loads only what it uses."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rmsync"

# Bottom to top: a module may import (at any depth, even lazily) only from lower layers.
LAYERS: list[set[str]] = [
    {"models", "errors"},
    {"bundled", "atomic", "interrupts", "ratelimit", "yamlload"},
    {"manifest", "lockfile", "api", "plan", "render", "runlock"},
    {"config", "planfile", "downloads"},
    {"importer", "apply"},
    {"workflow"},
    {"output", "options"},
    {"commands"},
    {"cli"},
    {"__main__"},
]
PURE = {"plan", "render"}  # no I/O, no clock: they may import only models and errors
HEAVY = ("httpx", "jsonschema", "yaml", "click")


def layer(name: str) -> int:
    top = name.split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def imports(path: Path) -> set[str]:
    """Every rmsync module `path` imports, anywhere in it, as a name below `rmsync.`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "rmsync":
                found |= {f"{a.name}" for a in node.names if a.name != "__version__"}
            elif node.module.startswith("rmsync."):
                found.add(node.module.removeprefix("rmsync."))
        elif isinstance(node, ast.Import):
            found |= {
                a.name.removeprefix("rmsync.") for a in node.names if a.name.startswith("rmsync.")
            }
    return found


def modules() -> list[tuple[str, Path]]:
    core = [(p.stem, p) for p in sorted(PACKAGE.glob("*.py")) if p.stem != "__init__"]
    commands = [(f"commands.{p.stem}", p) for p in sorted((PACKAGE / "commands").glob("*.py"))]
    return core + commands


@pytest.mark.parametrize(("name", "path"), modules(), ids=[n for n, _ in modules()])
def test_each_module_imports_only_from_the_layers_below(name: str, path: Path) -> None:
    mine = layer(name)
    for target in sorted(imports(path)):
        if target.split(".")[0] == "sandbox":
            assert name in ("commands.sandbox", "commands.demo"), f"{name} imports the sandbox"
            continue
        if target == "commands" and name == "cli":
            continue
        assert layer(target) < mine, f"rmsync.{name} (layer {mine}) imports rmsync.{target}"


def test_every_module_has_a_layer() -> None:
    for name, _ in modules():
        layer(name)  # StopIteration names a module with no place in LAYERS


@pytest.mark.parametrize("name", sorted(PURE))
def test_the_pure_stages_import_only_the_vocabulary(name: str) -> None:
    assert imports(PACKAGE / f"{name}.py") <= {"models", "errors"}


def test_only_the_sandbox_and_demo_commands_import_the_sandbox_and_only_when_run() -> None:
    for name, path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, ast.ImportFrom | ast.Import)]
        for node in top:
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            assert not str(module).startswith("rmsync.sandbox"), f"{name} loads the sandbox"


def loaded(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_plan_and_render_load_no_http_cli_yaml_or_schema_library() -> None:
    found = loaded("import rmsync.plan, rmsync.render")
    assert not [m for m in HEAVY if m in found]


def run_main(args: list[str]) -> str:
    return (
        "import contextlib, io\n"
        "from rmsync.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main({args!r})"
    )


def test_help_loads_no_command_s_dependencies() -> None:
    found = loaded(run_main(["--help"]))
    heavy = [m for m in (*HEAVY[:3], "rmsync.sandbox", "rmsync.workflow") if m in found]
    assert not heavy, f"rmsync --help loads {heavy}"


def test_validate_loads_neither_http_nor_the_sandbox() -> None:
    found = loaded(run_main(["validate", "--manifest", "examples/rmsync.yaml"]))
    assert "yaml" in found  # it did run
    assert not [m for m in ("httpx", "rmsync.api", "rmsync.sandbox") if m in found]
