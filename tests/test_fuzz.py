"""Fuzzing what rmsync reads: manifests, lockfiles, plan files and the command line (issue 9).

Whatever the input, rmsync ends with exit 0 or 1 (2 only for `plan --detailed-exitcode`), says
why on stderr, never prints a traceback or "internal error", leaves no crash report, and returns
in time. The examples are the same on every run (derandomized): CI is not flaky. A long run:
`RMSYNC_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py`; other examples than CI's:
`RMSYNC_FUZZ_SEED=N` (a failure prints the seed and the input to reproduce it).
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from rmsync import lockfile
from rmsync.models import Lock
from tests.builders import ACCOUNTING, FINANCE, record
from tests.run import Ran, rmsync

EXAMPLES = int(os.environ.get("RMSYNC_FUZZ_EXAMPLES", "200"))
SEED = os.environ.get("RMSYNC_FUZZ_SEED")
HANG = 10  # seconds: an example still running then has hung, and fails at once
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=2),
    derandomize=SEED is None,  # the same examples every run, for CI; more for a long run
    database=None,  # nothing saved between runs: derandomized runs need no replay
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MANIFEST = (
    "version: 1\n"
    "tenant:\n"
    "  api_version: v2025\n"
    "defaults:\n"
    "  min_entitlement_popularity: 0\n"
    "  refresh_after: 30d\n"
    "exports:\n"
    "  accounting-core:\n"
    f"    session_id: {FINANCE}\n"
    f"    potential_role_id: {ACCOUNTING}\n"
    "    min_entitlement_popularity: 10\n"
    "    include_common_access: false\n"
    "    download: exports/accounting-core.zip\n"
)
PAYROLL = replace(record("payroll", 1), export_id="6513270e-269e-4d37-b2a7-4de452e6b438")
LOCKFILE = lockfile.dumps(Lock({"payroll": PAYROLL}))
GOLDEN_PLAN = Path(__file__).parent / "golden" / "plan" / "plan.json"


def saved_plan() -> dict[str, Any]:
    """The golden plan as `plan --out` saves it: made from rmsync.yaml and its lockfile."""
    doc: dict[str, Any] = json.loads(GOLDEN_PLAN.read_text(encoding="utf-8"))
    doc["made_from"] = {
        "manifest": {"path": "rmsync.yaml", "sha256": "0" * 64},
        "lockfile": {"path": "rmsync.lock.yaml", "sha256": None},
        "api_version": "v2025",
        "targets": None,
        "replace": [],
    }
    return doc


PLAN = json.dumps(saved_plan(), indent=2)
FILES = {"rmsync.yaml": MANIFEST, "rmsync.lock.yaml": LOCKFILE, "plan.json": PLAN}


def fuzz(test: Callable[..., None]) -> Callable[..., None]:
    """FUZZ's settings, and RMSYNC_FUZZ_SEED's seed when one is set."""
    return FUZZ(seed(int(SEED))(test) if SEED is not None else test)


class Hung(BaseException):
    """Raised in an example that runs past HANG seconds (not an Exception: nothing catches it)."""


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def temp_dir_is(path: Path) -> Iterator[None]:
    """tempfile's folder (cached once per process, so TMPDIR alone would not do) is `path`."""
    old, tempfile.tempdir = tempfile.tempdir, str(path)
    try:
        yield
    finally:
        tempfile.tempdir = old


def run(*args: str, files: Mapping[str, str | bytes], exit_codes: tuple[int, ...] = (0, 1)) -> Ran:
    """`rmsync ARGS` in a fresh folder holding `files`; fails on anything but a clean end."""
    with tempfile.TemporaryDirectory(prefix="rmsync-fuzz-") as name:
        work, tmp = Path(name) / "work", Path(name) / "tmp"
        work.mkdir()
        tmp.mkdir()
        for file, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            (work / file).write_bytes(data)
        env = {"TMPDIR": str(tmp), "HOME": str(work), "PATH": os.environ.get("PATH", "")}
        with temp_dir_is(tmp), bounded(HANG):
            ran = rmsync(*args, cwd=work, env=env)
        reports = sorted(tmp.glob("rmsync-crash-*.txt"))
        shown = f"rmsync {' '.join(map(repr, args))} with {sorted(files)}"
        assert not reports, f"{shown} crashed:\n{reports[0].read_text()}"
    assert "Traceback" not in ran.err, f"{shown}:\n{ran.err}"
    assert "internal error" not in ran.err, f"{shown}:\n{ran.err}"
    assert ran.code in exit_codes, f"{shown}: exit {ran.code}\n{ran.err}"
    said = ran.err.strip() or ("github" in " ".join(args) and ran.out.strip())  # annotations
    assert ran.code == 0 or said, f"{shown}: exit {ran.code} and nothing said why"
    return ran


@pytest.fixture(scope="module", autouse=True)
def warm() -> None:
    """Every command path once before fuzzing: the first import would break the deadline."""
    run("validate", files=FILES)
    run("show", "plan.json", files=FILES)
    run("show", files=FILES)
    run("plan", files=FILES)


# -- The four causes of the fuzzing report, and the plan file's own, through the CLI ---------

CONTROL = "control character U+{0} is not allowed in YAML; delete it, or write it as \\u{0} inside double quotes"
DEEP_FIELD = "exports" + "[0]" * 49
TAG = "is not a valid !!{}; remove the tag or fix the value"
CRASHERS = {
    "control character": (
        f"version: 1\nexports:\n  a:\n    session_id: {FINANCE[:-1]}\x01\n",
        f"4: {CONTROL.format('0001')}",
    ),
    "NUL": ("version: 1\x00\n", f"1: {CONTROL.format('0000')}"),
    "deep nesting": (
        "version: 1\nexports: " + "[" * 600 + "]" * 600 + "\n",
        f"2: {DEEP_FIELD}: nested more than 50 levels deep; rmsync files need a few levels, flatten it",
    ),
    "huge integer": (
        f"version: {'1' * 5000}\n",
        "1: version: a number of 5000 characters is too long for any rmsync field; check the value",
    ),
    "!!timestamp": (
        "version: 1\nexports:\n  a: !!timestamp hello\n",
        "3: exports.a: YAML tag !!timestamp is not allowed in rmsync files; remove it",
    ),
    "!!int": ("version: !!int abc\n", f"1: version: 'abc' {TAG.format('int')}"),
    "!!float": (
        "version: 1\ndefaults: {min_entitlement_popularity: !!float abc}\n",
        f"2: defaults.min_entitlement_popularity: 'abc' {TAG.format('float')}",
    ),
    "!!bool": (
        "version: 1\ndefaults:\n  include_common_access: !!bool maybe\n",
        f"3: defaults.include_common_access: 'maybe' {TAG.format('bool')}",
    ),
    "bad key": ("version: 1\n!!int abc: 1\n", f"2: 'abc' {TAG.format('int')}"),
}


@pytest.mark.parametrize("case", list(CRASHERS))
def test_fuzzing_crashers_are_located_errors_in_validate(case: str) -> None:
    text, where_what = CRASHERS[case]
    ran = run("validate", "--manifest", "m.yaml", files={"m.yaml": text})
    assert ran.code == 1
    assert ran.err == f"Error: m.yaml:{where_what}\n"


@pytest.mark.parametrize("case", list(CRASHERS))
def test_fuzzing_crashers_are_located_errors_in_a_lockfile(case: str) -> None:
    text, where_what = CRASHERS[case]
    ran = run("show", "--lockfile", "l.yaml", files={"l.yaml": text})
    assert ran.code == 1
    assert ran.err == f"Error: l.yaml:{where_what}; restore the lockfile from Git\n"


def line_in_plan(key: str) -> int:
    return PLAN[: PLAN.index(f'"{key}"')].count("\n") + 1


PLAN_FILES = {
    "deep nesting": (
        b'{"actions":\n' + b"[" * 5000 + b"]" * 5000 + b"}",
        "2: not a plan file: nested more than 50 levels deep",
    ),
    "huge integer": (
        b'{"format_version":\n' + b"1" * 5000 + b"}",
        "2: not a plan file: a number of 5000 characters is too long",
    ),
    "not UTF-8": (b'{\n"a": "\xff"}', "2: not a plan file: not UTF-8 text (byte 0xff)"),
    "NaN": (
        PLAN.replace('"format_version": 1', '"format_version": NaN').encode(),
        f"{line_in_plan('format_version')}: not a plan file: NaN is not a JSON number",
    ),
    "Infinity": (b'{"a": [1,\n Infinity]}', "2: not a plan file: Infinity is not a JSON number"),
    "duplicate key": (
        PLAN.replace("{", '{"actions": [],', 1).encode(),
        f'{line_in_plan("actions")}: not a plan file: duplicate key "actions" (first on line 1)',
    ),
    "half surrogate": (
        b'{"a": "\\udc00"}',
        "1: not a plan file: text with half a UTF-16 surrogate pair (\\udc00)",
    ),
    "not JSON": (
        b"{\n'a': 1}",
        "2: not a plan file: not JSON: Expecting property name enclosed in double quotes (column 1)",
    ),
}


@pytest.mark.parametrize("case", list(PLAN_FILES))
def test_plan_files_that_are_not_plain_json_are_located_errors(case: str) -> None:
    data, where_what = PLAN_FILES[case]
    ran = run("show", "plan.json", files={**FILES, "plan.json": data})
    assert ran.code == 1
    assert ran.err == f"Error: plan.json:{where_what}; make a new plan with `rmsync plan --out`\n"


def test_a_plan_file_that_breaks_the_schema_names_the_line_and_the_field() -> None:
    data = PLAN.replace('"symbol": "+"', '"symbol": "' + "x" * 300 + '"')
    ran = run("show", "plan.json", files={**FILES, "plan.json": data})
    assert ran.code == 1
    line = data[: data.index('"symbol"')].count("\n") + 1
    assert ran.err.startswith(
        f"Error: plan.json:{line}: not a valid plan file: actions/0/symbol: '{'x' * 100}"
    )
    assert ran.err.endswith("…; make a new plan with `rmsync plan --out`\n")
    assert len(ran.err) < 350  # not 300 x's and more


def test_the_saved_plan_the_fuzzers_start_from_is_shown() -> None:
    ran = run("show", "plan.json", files=FILES)
    assert ran.code == 0, ran.err
    assert "accounting-core" in ran.out


# Crashes the fuzzers found outside the loaders (issue 9), each now a clear error.
DOWNLOAD = "exports/accounting-core.zip"
ELSEWHERE = {
    "NUL in a download path (manifest._download_problems: ValueError)": (
        ["validate"],
        {"rmsync.yaml": MANIFEST.replace(DOWNLOAD, '"exports/a\\u0000.zip"')},
    ),
    "download path too long (manifest._unwritable: OSError ENAMETOOLONG)": (
        ["validate"],
        {"rmsync.yaml": MANIFEST.replace(DOWNLOAD, "exports/" + "a/" * 3000 + "x.zip")},
    ),
    "base_url 'http://[::1' (config._trusted: ValueError from urlsplit)": (
        ["plan"],
        {"rmsync.yaml": MANIFEST.replace("v2025\n", "v2025\n  base_url: 'http://[::1'\n")},
    ),
    "apply --lockfile '' (runlock.lock_file_for: ValueError, empty name)": (
        ["apply", "--lockfile", ""],
        {},
    ),
}


@pytest.mark.parametrize("case", list(ELSEWHERE))
def test_crashes_found_elsewhere_are_clear_errors(case: str) -> None:
    args, changed = ELSEWHERE[case]
    run(*args, files={**FILES, **changed})


def test_a_crash_fails_the_test_with_its_report(monkeypatch: pytest.MonkeyPatch) -> None:
    from rmsync import yamlload

    def broken(*args: object) -> None:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(yamlload, "load_text", broken)
    with pytest.raises(
        AssertionError, match=r"(?s)crashed:\n\s*Traceback.*ZeroDivisionError: planted"
    ):
        run("validate", files=FILES)


def test_a_hang_fails_the_test() -> None:
    with pytest.raises(Hung), bounded(0.05):
        signal.pause()


# -- Property-based: random bytes, text and YAML/JSON built from risky pieces --------------

# Depths around rmsync's limit (50), Python's recursion limit (1,000) and libyaml's (1,000).
DEPTHS = st.sampled_from([2, 49, 50, 51, 300, 499, 998, 999, 1000, 1001, 5000]) | st.integers(
    1, 6000
)
DEEP = DEPTHS.flatmap(
    lambda n: st.sampled_from(["[" * n + "]" * n, "{a: " * n + "1" + "}" * n, "[" * n])
)
YAML_PIECES = st.one_of(
    st.sampled_from(
        [
            # tags, plain and not
            "!!timestamp hello",
            "!!timestamp 2026-01-01",
            "!!int abc",
            "!!int 1.5",
            "!!float abc",
            "!!bool maybe",
            "!!binary @@@",
            "!!binary aGk=",
            "!!null x",
            "!!set {a}",
            "!!omap [a]",
            "!!pairs [a: 1]",
            "!!str {a: 1}",
            "!!map [1]",
            "!!seq x",
            "!!python/object:os.system x",
            "!foo x",
            "!<tag:yaml.org,2002:int> x",
            "!!merge x",
            "!!int",
            "!!int +",
            "!!float ''",
            "!!bool",
            "!!timestamp",
            "!!binary",
            "! 1",
            "!!str",
            "!!int '7'",
            # anchors, aliases, merge keys, complex keys
            "&a x",
            "*a",
            "&a [*a]",
            "<<: *a",
            "<<: {k: 1}",
            "<<",
            "? [a]\n: 1",
            "? {a: 1}\n: 2",
            "=",
            # control characters and unusual text
            "\x00",
            "\x01",
            "\x07",
            "\x1b[2J",
            "\x7f",
            "\x85",
            "\x9f",
            "\ufeff",
            "\ufffe",
            "\u2028",
            "\u202e",
            "é",
            "😀",
            "\r\n",
            "\r",
            "\t",
            "\\",
            '"',
            "'",
            '"\\u0000"',
            '"a\\x01b"',
            '"\\ud800"',
            '"exports/a\\u0000.zip"',
            "exports/../x.zip",
            # numbers
            "1" * 5000,
            "9" * 4301,
            "0x" + "f" * 5000,
            "1" + ":30" * 80,
            "1e999",
            ".nan",
            "-.inf",
            "10.0",
            "0o777",
            "012",
            "1_000",
            "-0",
            "1e1",
            "0x0A",
            "true",
            "~",
            # structure
            "]",
            "}",
            "- " * 60,
            "---",
            "...",
            "%YAML 1.2\n---",
            "%TAG !e! tag:e,2000:\n---",
            "|",
            ">-",
            "? ",
            ": ",
            "#",
            "null",
            "",
            "{",
            "[",
            ",",
            "a: 1\na: 2",
            "exports: {}",
            "version: 2",
            "version: 99",
            "exports:\n  x: {}",
        ]
    ),
    DEEP,
    st.text(max_size=30),
)
JSON_PIECES = st.one_of(
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "1e999",
            "-1e999",
            "1" * 5000,
            "-" + "9" * 4301,
            '"\\ud800"',
            '"\\u0000"',
            '"\x01"',
            '"\\u202e"',
            "\ufeff",
            "// c",
            "/* c */",
            "'a'",
            "[1,]",
            "{}",
            "[]",
            "null",
            "true",
            "0",
            "-0",
            "1.5",
            '"a": 1, "a": 2',
            '"format_version": 1,',
            '"actions": [],',
            '"made_from": null,',
            '{"a": 1, "a": 2}',
            ",",
            ":",
            "{",
            "}",
            "[",
            "]",
            '"',
            "\\",
            "\r\n",
            "\t",
            "😀",
        ]
    ),
    DEPTHS.map(lambda n: "[" * n + "]" * n),
    DEPTHS.map(lambda n: '{"a": ' * n + "1" + "}" * n),
    st.text(max_size=30),
)


@st.composite
def mutated(draw: st.DrawFn, base: str, pieces: st.SearchStrategy[str]) -> bytes:
    """`base`, its lines changed in a few places by risky pieces: inserted as lines, put in
    place of a value, or added at the end of a line; sometimes with a BOM or bytes that are
    not UTF-8."""
    lines = base.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        piece = draw(pieces)
        how = draw(st.sampled_from(["line", "value", "end"]))
        if how == "line":
            lines.insert(at, piece + "\n")
        elif how == "value":
            lines[at] = lines[at].partition(":")[0] + ": " + piece + "\n"
        else:
            lines[at] = lines[at].rstrip("\n") + piece + "\n"
    data = "".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + data[at:]
    return data


# Values for a field that YAML reads and the schema may pass: paths, URLs, text, numbers.
VALUES_FOR_A_FIELD = st.one_of(
    st.sampled_from(
        [
            '"exports/a\\u0000.zip"',
            "exports/" + "a/" * 3000 + "x.zip",
            "exports/" + "a" * 300 + ".zip",
            "'http://[::1'",
            "http://[::1]:99999",
            "https://x:y@host",
            "https://\u00e9.example",
            "exports/CON.zip",
            "exports/.zip",
            "./x.zip",
            "exports//x.zip",
            "a\\b.zip",
            "~/x.zip",
            "0d",
            "999999999999w",
            "1m",
            "-1d",
            "100",
            "101",
            "-1",
            "0",
            "true",
            "null",
            "[]",
            "{}",
            "''",
            '"\\u202e"',
            "v2025",
            "V2025",
            "beta",
            "9f36f5e5-1e81-4eca-b087-548959d91c71",
            "9F36F5E5-1E81-4ECA-B087-548959D91C71",
            "x" * 10000,
        ]
    ),
    st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40).map(json.dumps),
)


@st.composite
def field_changed(draw: st.DrawFn, base: str) -> bytes:
    """`base` with one to three fields' values replaced by values the schema may let through."""
    lines = base.splitlines(keepends=True)
    fields = [i for i, line in enumerate(lines) if ": " in line]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.sampled_from(fields))
        lines[at] = lines[at].partition(": ")[0] + ": " + draw(VALUES_FOR_A_FIELD) + "\n"
    return "".join(lines).encode()


def anything(base: str, pieces: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        mutated(base, pieces),
        field_changed(base),
        st.binary(max_size=2000),
        st.text(max_size=500).map(str.encode),
        st.lists(pieces, max_size=8).map(lambda p: "\n".join(p).encode("utf-8", "surrogatepass")),
    )


@fuzz
@given(data=anything(MANIFEST, YAML_PIECES))
def test_any_manifest_is_validated_or_clearly_refused(data: bytes) -> None:
    run("validate", files={**FILES, "rmsync.yaml": data})


@fuzz
@given(data=anything(LOCKFILE, YAML_PIECES), show=st.booleans())
def test_any_lockfile_is_read_or_clearly_refused(data: bytes, show: bool) -> None:
    run("show" if show else "validate", files={**FILES, "rmsync.lock.yaml": data})


@fuzz
@given(data=anything(PLAN, JSON_PIECES))
def test_any_plan_file_is_shown_or_clearly_refused(data: bytes) -> None:
    run("show", "plan.json", files={**FILES, "plan.json": data})


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**30)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["+", "-/+", "~", "<=", "-", "SUCCESS", "export", FINANCE, "../x.zip"]),
    containers,
    max_leaves=8,
)


def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value, the value itself first."""
    yield path
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        yield from paths(inner, (*path, key))


PLACES = list(paths(saved_plan()))


@st.composite
def changed_plans(draw: st.DrawFn) -> bytes:
    """The saved plan with a few values replaced by any JSON (NaN and Infinity too)."""
    doc = saved_plan()
    for _ in range(draw(st.integers(1, 3))):
        place = draw(st.sampled_from(PLACES[1:]))
        parent: Any = doc
        try:
            for key in place[:-1]:
                parent = parent[key]
            parent[place[-1]] = draw(JSON_VALUES)
        except (KeyError, IndexError, TypeError):  # an earlier change took the place away
            continue
    return json.dumps(doc).encode()


@fuzz
@given(data=changed_plans())
def test_any_plan_with_values_changed_is_shown_or_clearly_refused(data: bytes) -> None:
    run("show", "plan.json", files={**FILES, "plan.json": data})


# -- The command line: any arguments to the commands that need no tenant --------------------

COMMANDS = ["validate", "show", "plan", "apply", "refresh", "import", "demo", "sandbox", "nope", ""]
OPTIONS = [
    "--manifest",
    "--lockfile",
    "--format",
    "--json",
    "--out",
    "--detailed-exitcode",
    "--target",
    "--replace",
    "--no-color",
    "--wait",
    "--timeout",
    "--base-url",
    "--auto-approve",
    "--lock-timeout",
    "--session",
    "--to",
    "--quiet",
    "-q",
    "--help",
    "-h",
    "--version",
    "--",
    "-",
    "-x",
    "--manifest=",
    "--timeout=-1m",
    "--format=github",
]
VALUES = [
    "rmsync.yaml",
    "plan.json",
    "rmsync.lock.yaml",
    ".",
    "..",
    "/",
    "/dev/null",
    "nowhere",
    "text",
    "github",
    "markdown",
    "json",
    "30m",
    "0s",
    "-1m",
    "9" * 30 + "d",
    "1e9",
    "",
    " ",
    "beta",
    "v9",
    "http://127.0.0.1:1",
    "a,b",
    "=",
    "\u202e",
    "é",
    "accounting-core",
]
ARGUMENTS = st.lists(
    st.sampled_from(OPTIONS)
    | st.sampled_from(VALUES)
    | st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12),
    max_size=6,
)


@fuzz
@given(command=st.sampled_from(COMMANDS), arguments=ARGUMENTS)
def test_any_arguments_end_in_a_clear_message(command: str, arguments: list[str]) -> None:
    if command in ("demo", "sandbox"):  # they start a tenant: only their help is offline
        arguments = [*arguments, "--help"]
    argv = [command, *arguments] if command else arguments
    codes = (0, 1, 2) if command == "plan" and "--detailed-exitcode" in arguments else (0, 1)
    run(*argv, files=FILES, exit_codes=codes)


def test_the_fuzzers_are_deterministic_and_bounded() -> None:
    assert FUZZ.derandomize == (SEED is None)
    assert FUZZ.database is None
    assert FUZZ.max_examples == EXAMPLES
    assert FUZZ.deadline == timedelta(seconds=2)
