"""The quick lockfile reader (issue 13): for every text it reads, the same data as the careful
reader (rmsync.yamlload); for everything else, None, so the careful reader explains it.
Held to that on documents PyYAML writes in every style, on near misses of a real lockfile,
and on the lockfiles the suite keeps."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rmsync import fastyaml, lockfile
from rmsync.errors import DocumentError
from rmsync.yamlload import load_text
from tests.test_lockfile import HOSTILE, sample
from tests.test_schemacheck import NEAR

ROOT = Path(__file__).resolve().parents[1]
LOCKFILES = sorted(
    p
    for p in (ROOT / "tests").rglob("*.yaml")
    if p.read_text(encoding="utf-8", errors="replace").startswith(lockfile.HEADER)
)
SETTINGS = settings(NEAR, max_examples=300)  # derandomized: the same examples every run
# text that YAML reads in many ways: indicators, quotes, lookalikes of numbers and flags
TRICKY = [
    *("a", "b c", "x: y", "k #c", "- z", "null", "~", "Yes", "on", "0x1F", "010", "1_000"),
    *("1:20", "-1", "+1", "1.5", ".5", "1.", ".inf", "2026-11-30", "=", "<<", "&a", "*a"),
    *("!t", "[]", "{}", "'q'", '"d"', "it's", "é", "a\\b", "a b ", " a", "\u00a0"),
]
SCALARS = st.one_of(
    st.sampled_from(TRICKY + HOSTILE),
    st.text(alphabet="ab :#'\"-.1é\\", max_size=8),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
KEYS = st.one_of(
    st.text(alphabet="ab_1é", min_size=1, max_size=4),
    st.sampled_from(TRICKY),
    st.text(alphabet="ab :#-1é", max_size=6),
)
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=12,
)
# read the quick way, as the careful reader reads them
QUICK = [
    "a: '''q'''\n",
    "a: 'x: y'\n",
    "a: it's\n",
    'a: "it\'s"\n',
    "a: ~\nb: Yes\nc: null\nd: false\n",
    "a: -1\nb: 1.5\nc: 0\n",
    "k: {}\nl: []\n",
    "a:\n- 1\n- b\nc: d\n",
    "- a: 1\n  b:\n  - x\n- 3\n",
    "New York: 6\n",
    "'no': 1\n'123':\n  'it''s': x\n",
]
# left to the careful reader: outside the subset, or not what they seem
CAREFUL = [
    "a:  x\n",
    "a: x \n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: |\n  x\n",
    "a: b\n  c\n",
    "a: 1\na: 2\n",
    "a: 0x1F\n",
    "a: 1_000\n",
    "a: .inf\n",
    "a: 010\n",
    'a: "\\u00e9"\n',
    "a: [1, 2]\n",
    "? a\n: b\n",
    "a: x # c\n",
    "a:\n",
    "\ufeffa: 1\n",
    "a: 'x\n  y'\n",
    "a: 1\n\nb: 2\n",
    "a: 1\r\n",
    "yes: 1\n",
    "a:\n  - 1\n   - 2\n",
    "- - 1\n",
    "'a' : 1\n",
    "'a\n  b': 1\n",
    "a: b: c\n",
    "a #b: c\n",
    "a : b\n",
    "\ta: 1\n",
    "a:\n\tb: 1\n",
    "".join(f"{'  ' * n}k:\n" for n in range(60)) + "  " * 60 + "k: 1\n",  # too deep
]


@pytest.mark.parametrize("text", QUICK)
def test_what_is_read_the_quick_way(text: str) -> None:
    assert agree(text), text


@pytest.mark.parametrize("text", CAREFUL)
def test_what_is_left_to_the_careful_reader(text: str) -> None:
    assert fastyaml.load(text) is None, text


def careful(text: str) -> object:
    """The careful reader's data, or the problems it finds."""
    try:
        located = load_text(text, "rmsync.lock.yaml")
    except DocumentError as exc:
        return exc.problems
    return located.problems or located.data


def agree(text: str, header: str = "", end: str = "") -> bool:
    """Assert that the quick reader gives None or the careful reader's data, value for value
    and type for type (1, 1.0 and True are equal in Python, not in a lockfile); say which."""
    quick = fastyaml.load(text, header, end)
    if quick is None:
        return False
    assert typed(careful(text)) == typed(quick), text
    return True


def typed(value: object) -> object:
    """`value` with each scalar tagged with its type."""
    if isinstance(value, dict):
        return {typed(k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


@SETTINGS
@given(
    doc=st.dictionaries(KEYS, DOCS, min_size=1, max_size=5),
    unicode=st.booleans(),
    width=st.sampled_from([1000, 1000, 1000, 12]),  # mostly as rmsync writes, sometimes folded
    dumper=st.sampled_from([yaml.SafeDumper, yaml.CSafeDumper]),
)
def test_documents_pyyaml_writes_are_read_as_the_careful_reader_reads_them(
    doc: dict[object, object], unicode: bool, width: int, dumper: type[yaml.SafeDumper]
) -> None:
    text = yaml.dump(doc, Dumper=dumper, sort_keys=False, width=width, allow_unicode=unicode)
    agree(text)


@cache
def real_lockfile() -> str:
    """The golden lockfile's records, and one more for each tricky text, as an error (each
    quoted or not, as the dumper sees fit): a file read the quick way, before the edits."""
    golden = (ROOT / "tests" / "golden" / "apply" / "rmsync.lock.yaml").read_text()
    lock = lockfile.loads(golden, "rmsync.lock.yaml")
    base = sample().records["alpha"]
    for n, word in enumerate(TRICKY[:-1]):  # no-break space: escaped, the file too
        lock = lock.put(replace(base, name=f"r{n}", error=word))
    text = lockfile.dumps(lock)
    assert fastyaml.load(text, lockfile.HEADER, lockfile.END) is not None
    return text


EDITS = st.sampled_from(["insert", "delete", "duplicate line", "drop line", "indent", "dedent"])
CHARS = st.sampled_from([" ", "-", ":", "#", "'", '"', "\\", "&", "*", "!", "\n", "\t", "x", "1"])


@SETTINGS
@given(st.data())
def test_near_misses_of_a_lockfile_are_read_as_the_careful_reader_reads_them_or_left_to_it(
    data: st.DataObject,
) -> None:
    text = real_lockfile()
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        lines = text.split("\n")
        at = data.draw(st.integers(0, len(lines) - 1), label="line")
        edit = data.draw(EDITS, label="edit")
        line = lines[at]
        if edit == "insert":
            col = data.draw(st.integers(0, len(line)), label="column")
            lines[at] = line[:col] + data.draw(CHARS, label="char") + line[col:]
        elif edit == "delete" and line:
            col = data.draw(st.integers(0, len(line) - 1), label="column")
            lines[at] = line[:col] + line[col + 1 :]
        elif edit == "duplicate line":
            lines.insert(at, line)
        elif edit == "drop line":
            del lines[at]
        elif edit == "indent":
            lines[at] = "  " + line
        elif edit == "dedent":
            lines[at] = line.removeprefix("  ")
        text = "\n".join(lines)
    agree(text, lockfile.HEADER, lockfile.END)


@pytest.mark.parametrize("path", LOCKFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_lockfile_the_suite_keeps_is_read_alike(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    end = lockfile.END if text.endswith(lockfile.END) else ""
    quick = agree(text, lockfile.HEADER, end)
    # what rmsync wrote (a golden file's lockfile, not one a test damaged) goes the quick way
    assert quick or "golden" not in path.parts or not end, path


def test_what_rmsync_writes_is_read_the_quick_way() -> None:
    """The quick way is taken, not only allowed: else the speed is a claim, not a fact."""
    text = lockfile.dumps(sample())
    assert agree(text, lockfile.HEADER, lockfile.END)
    assert lockfile._quick(io.StringIO(text)) == sample()
    golden = (ROOT / "tests" / "golden" / "apply" / "rmsync.lock.yaml").read_text()
    assert lockfile._quick(io.StringIO(golden)) == lockfile.loads(golden, "rmsync.lock.yaml")
    assert agree(golden, lockfile.HEADER, lockfile.END)


@SETTINGS
@given(st.data())
def test_near_misses_of_a_lockfile_give_the_lock_the_careful_reader_gives_or_are_left_to_it(
    data: st.DataObject,
) -> None:
    text = real_lockfile()
    starts = [m.start() for m in re.finditer(r"^  [^ ]", text, re.MULTILINE)]
    records = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=False)][:-1]
    for _ in range(data.draw(st.integers(1, 2), label="edits")):
        edit = data.draw(st.sampled_from(["line", "record twice", "outdent", "comment"]))
        lines = text.split("\n")
        at = data.draw(st.integers(0, len(lines) - 1), label="line")
        if edit == "line":
            col = data.draw(st.integers(0, len(lines[at])), label="column")
            char = data.draw(CHARS, label="char")
            lines[at] = lines[at][:col] + char + lines[at][col:]
        elif edit == "record twice":  # a record's lines again, where a record could start
            starts_here = [n for n, line in enumerate(lines) if lockfile._RECORD.match(line)]
            at = data.draw(st.sampled_from(starts_here), label="before")
            lines[at:at] = data.draw(st.sampled_from(records), label="record").split("\n")[:-1]
        elif edit == "outdent":
            lines[at] = lines[at].lstrip(" ")
        else:
            lines.insert(at, "# a comment")
        text = "\n".join(lines)
    quick = lockfile._quick(io.StringIO(text))
    if quick is not None:
        assert lockfile._careful(text, "rmsync.lock.yaml") == quick, text
