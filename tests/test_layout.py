"""The layout is the design: each module imports only from the layers below it, the pure
stages load no I/O library, and a command loads only what it uses."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rmsync"

# Bottom to top: a module may import (at any depth, even lazily) only from lower layers.
LAYERS: list[set[str]] = [
    {"models", "errors", "safetext", "schemacheck"},
    {"bundled", "atomic", "interrupts", "ratelimit", "yamlload", "review", "where", "debuglog"},
    {"fastyaml"},
    {"manifest", "lockfile", "api", "plan", "render", "runlock", "archive", "selection"},
    {"config", "planfile", "downloads", "report", "archivediff", "check"},
    {"importer", "apply", "tenantlist", "fmt"},
    {"workflow"},
    {"output", "options"},
    {"commands"},
    {"cli"},
    {"entry"},
    {"__main__"},
]
PURE = {
    "plan",
    "render",
    "review",
    "report",
    "where",
    "selection",
    "check",
}  # no I/O, no clock: they may import only the vocabulary
VOCABULARY = {"models", "errors", "safetext"}
HEAVY = ("httpx", "jsonschema", "yaml", "click")
# The sandbox is a tenant, not a client: it shares only the vocabulary and the file helpers.
SANDBOX_MAY_USE = {"models", "errors", "safetext", "yamlload", "ratelimit", "bundled", "atomic"}
# What a pure stage may not touch: files, processes, the network, the clock, the environment.
IMPURE_MODULES = {"os", "io", "pathlib", "time", "socket", "subprocess", "shutil", "tempfile"}
IMPURE_CALLS = {"now", "utcnow", "today", "time", "monotonic", "open", "getenv", "print"}


def layer(name: str) -> int:
    top = name.split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts if path.stem == "__init__" else parts[:-1])


def from_names(node: ast.ImportFrom | ast.Import, path: Path) -> set[str]:
    """The absolute names an import statement brings in; `from P import x` counts as P and
    as P.x, since x may be a module."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    base = importlib.util.resolve_name("." * node.level + (node.module or ""), package_of(path))
    return {base, *(f"{base}.{a.name}" for a in node.names)}


def imported(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (lazily too), as an absolute name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom | ast.Import):
            found |= from_names(node, path)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            arg = node.args[0] if node.args else None
            if arg is not None:
                found.add(ast.unparse(arg).strip("f'\"").split("{")[0].rstrip("."))
    return found


def imports(path: Path) -> set[str]:
    """The rmsync modules `path` imports, as names below `rmsync.` (the attributes of a
    module it imports, such as `__version__`, are left out)."""
    found = set()
    for name in imported(path):
        if not name.startswith("rmsync."):
            continue
        module = PACKAGE.joinpath(*name.removeprefix("rmsync.").split("."))
        if module.with_suffix(".py").is_file() or (module / "__init__.py").is_file():
            found.add(name.removeprefix("rmsync."))
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


@pytest.mark.parametrize("path", sorted((PACKAGE / "sandbox").glob("*.py")), ids=lambda p: p.stem)
def test_the_sandbox_uses_only_the_vocabulary_and_file_helpers(path: Path) -> None:
    outside = {n for n in imports(path) if n.split(".")[0] != "sandbox"}
    assert outside <= SANDBOX_MAY_USE, f"sandbox/{path.name} imports {outside - SANDBOX_MAY_USE}"


def test_every_module_has_a_layer() -> None:
    for name, _ in modules():
        layer(name)  # StopIteration names a module with no place in LAYERS


@pytest.mark.parametrize("name", sorted(PURE))
def test_the_pure_stages_import_only_the_vocabulary(name: str) -> None:
    path = PACKAGE / f"{name}.py"
    assert imports(path) <= VOCABULARY | PURE  # a pure stage may use another (render: review)
    assert not {m.split(".")[0] for m in imported(path)} & IMPURE_MODULES


@pytest.mark.parametrize("name", sorted(PURE))
def test_the_pure_stages_call_no_clock_file_or_environment(name: str) -> None:
    tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
    calls = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert not calls & IMPURE_CALLS


def test_no_module_loads_the_sandbox_when_it_is_imported() -> None:
    for name, path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom | ast.Import):
                top |= from_names(node, path)
        assert not [n for n in top if n.startswith("rmsync.sandbox")], f"{name} loads it"


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


def test_validate_of_a_valid_manifest_does_not_load_jsonschema() -> None:
    found = loaded(run_main(["validate", "--manifest", "examples/rmsync.yaml"]))
    assert "rmsync.schemacheck" in found  # it did check
    heavy = [m for m in ("jsonschema", "tempfile", "rmsync.render") if m in found]
    assert not heavy, f"validate of a valid manifest loads {heavy}"


def test_validate_of_an_invalid_manifest_asks_jsonschema_why(tmp_path: Path) -> None:
    bad = tmp_path / "rmsync.yaml"
    bad.write_text("version: 1\nexports: {x: {potential_role_id: 7}}\n")
    found = loaded(run_main(["validate", "--manifest", str(bad)]))
    assert "jsonschema" in found
