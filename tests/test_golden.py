"""Golden files for what users read: each `tests/golden/<case>/` holding a `cmd` file is a case.

Inputs, in the case's folder:
  cmd        rmsync's arguments, one command a line (shlex-split), run in order in one folder;
             `# ...` lines are comments, `@advance N` moves the sandbox's fake clock N seconds
  env        optional: `NAME=value` lines set a variable, `-NAME` lines unset one
  seed.yaml  optional: the sandbox's seed (default: the packaged Acme seed)
  schedule   optional: `QUEUED RUNNING`, the seconds an export spends in each (default `0 0`:
             an export is done at once; the fake clock moves only on `@advance`)
  the rest   the project (rmsync.yaml, rmsync.lock.yaml, plan.json, folders...), copied to a
             fresh folder that the commands run in
Expected outputs:
  stdout, stderr, exit                of the last command
  <n>.stdout, <n>.stderr, <n>.exit    of command n (from 1) before the last, if there are more
  after/<path>                        each file the commands created or changed, as it ends up
Placeholders: `<BASE_URL>` (the sandbox), `<TMP>` (the folder the commands run in) and
`<NOW-40d>` (40 days before the run; also `h`, `m`) in `cmd`, `env` and the project's text files
are replaced before the run; in outputs the same values become the placeholders again, and a
time rmsync stamped during the run becomes `<NOW>`.
`pytest --update-golden` rewrites the expected outputs and drops stale ones: review the diff.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shlex
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule, load_seed
from tests.conftest import FakeClock
from tests.run import rmsync

GOLDEN = Path(__file__).parent / "golden"
INPUTS = {"cmd", "env", "seed.yaml", "schedule"}
STEP_OUTPUT = re.compile(r"(?:\d+\.)?(?:stdout|stderr|exit)")
AFTER = "after"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "cmd").is_file())
# The sandbox makes its export ids with a seeded generator: the same ids in every run, so
# they need no normalising.
ID_SEED = 8
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
AGO = re.compile(r"<NOW-(\d+)([dhm])>")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@dataclass
class Run:
    """What differs from one run of a case to the next, and its placeholders. Everything else
    is made the same in every run: the sandbox's clock is fake and its export ids seeded."""

    base_url: str
    folder: Path
    began: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    ago: dict[str, str] = field(default_factory=dict)  # each <NOW-...> used → its time

    def expand(self, text: str) -> str:
        text = text.replace("<BASE_URL>", self.base_url).replace("<TMP>", str(self.folder))
        return AGO.sub(self._ago, text)

    def _ago(self, match: re.Match[str]) -> str:
        amount, unit = match.groups()
        when = self.began - timedelta(**{UNITS[unit]: int(amount)})
        self.ago[match.group()] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        return self.ago[match.group()]

    def normalise(self, text: str, ended: datetime) -> str:
        # The sandbox listens on an ephemeral port. (No output shows it today; a plan file or
        # message that did would show <BASE_URL> in its golden file, plain to a reviewer.)
        text = text.replace(self.base_url, "<BASE_URL>")
        # pytest's tmp_path differs per run and per machine (none shows it today either).
        for folder in sorted({str(self.folder.resolve()), str(self.folder)}, key=len)[::-1]:
            text = text.replace(folder, "<TMP>")
        # rmsync stamps records (started_at, finished_at, gone_at) and judges refresh_after
        # with the machine's clock, which no test can stop without patching rmsync's
        # internals: times given as <NOW-40d> go back to that, times stamped during the run
        # become <NOW>; any other time (the seed's, a case's own) stays as it is.
        for placeholder, when in self.ago.items():
            text = text.replace(when, placeholder)

        def now(match: re.Match[str]) -> str:
            when = datetime.fromisoformat(match.group().replace("Z", "+00:00"))
            return "<NOW>" if self.began <= when <= ended else match.group()

        return STAMP.sub(now, text)


def commands(case: Path) -> list[str]:
    lines = (line.strip() for line in (case / "cmd").read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def schedule(case: Path) -> Schedule:
    path = case / "schedule"
    queued, running = path.read_text().split() if path.is_file() else ("0", "0")
    return Schedule(float(queued), float(running))


def environment(case: Path, run: Run) -> dict[str, str]:
    """The sandbox's URL and credentials and nothing else (no other SAIL_ variable, no
    NO_COLOR, no GITHUB_STEP_SUMMARY from the machine running the tests); then `env`."""
    env = {
        "SAIL_BASE_URL": run.base_url,
        "SAIL_CLIENT_ID": DEFAULT_CLIENT_ID,
        "SAIL_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    }
    extra = case / "env"
    for line in extra.read_text().splitlines() if extra.is_file() else []:
        line = run.expand(line.strip())
        if line.startswith("-"):
            env.pop(line[1:], None)
        elif line:
            name, _, value = line.partition("=")
            env[name] = value
    return env


def files(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by its relative path."""
    if not root.is_dir():
        return {}
    found = (path for path in sorted(root.rglob("*")) if path.is_file())
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in found}


def kept(produced: dict[str, bytes]) -> dict[str, bytes]:
    """What a case keeps of the files a run wrote: an archive lists people (even the sandbox's
    made-up ones), so only its sha256 goes in Git, as `<path>.sha256`."""
    return {
        (f"{name}.sha256" if name.endswith(".zip") else name): (
            hashlib.sha256(data).hexdigest().encode() + b"\n" if name.endswith(".zip") else data
        )
        for name, data in produced.items()
    }


def project(case: Path) -> Iterator[Path]:
    """The case's inputs that belong in the folder the commands run in."""
    for path in sorted(case.iterdir()):
        if path.name not in INPUTS | {AFTER} and not STEP_OUTPUT.fullmatch(path.name):
            yield path


def copy_project(case: Path, run: Run) -> None:
    """Copy the project, placeholders in text files expanded, anything else byte for byte."""
    run.folder.mkdir()
    for path in project(case):
        if path.is_dir():
            shutil.copytree(path, run.folder / path.name)
        else:
            shutil.copy2(path, run.folder / path.name)
    for name, data in files(run.folder).items():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        (run.folder / name).write_text(run.expand(text), encoding="utf-8")


def expected_outputs(case: Path) -> dict[str, bytes]:
    """The case's expected outputs, by their name in the case's folder."""
    steps = {p.name: p.read_bytes() for p in case.iterdir() if STEP_OUTPUT.fullmatch(p.name)}
    after = {f"{AFTER}/{name}": data for name, data in files(case / AFTER).items()}
    return steps | after


def normalised(data: bytes, run: Run, ended: datetime) -> bytes:
    """Text normalised as `Run` explains; what is not UTF-8 (a zip) stays as it is."""
    try:
        return run.normalise(data.decode("utf-8"), ended).encode("utf-8")
    except UnicodeDecodeError:
        return data


def difference(name: str, expected: bytes | None, actual: bytes | None) -> str:
    if expected is None:
        return f"{name} is missing: run pytest --update-golden and review it"
    if actual is None:
        return f"{name} is no longer produced: run pytest --update-golden and review it"
    try:
        old, new = expected.decode("utf-8"), actual.decode("utf-8")
    except UnicodeDecodeError:
        return f"{name} differs (binary: {len(expected)} bytes expected, {len(actual)} produced)"
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), "expected", "actual"
    )
    return f"{name} differs from its golden file:\n{''.join(lines)}"


def update(case: Path, expected: dict[str, bytes], actual: dict[str, bytes]) -> None:
    for name in expected.keys() - actual.keys():
        (case / name).unlink()
    for name, data in actual.items():
        (case / name).parent.mkdir(parents=True, exist_ok=True)
        (case / name).write_bytes(data)
    after = case / AFTER
    folders = sorted(after.rglob("*"), reverse=True) if after.is_dir() else []
    for folder in [*folders, after]:  # a file no longer written may leave empty folders
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def run_commands(case: Path, run: Run, clock: FakeClock) -> dict[str, bytes]:
    """Run each line of `cmd` in the project's folder; return every step's outputs."""
    lines = commands(case)
    last = sum(not line.startswith("@") for line in lines)
    assert last, f"{case / 'cmd'} has no command"
    env, number = environment(case, run), 0
    outputs: dict[str, bytes] = {}
    for line in lines:
        if line.startswith("@"):
            directive, seconds = line.split()
            assert directive == "@advance", f"{case / 'cmd'}: unknown directive {line!r}"
            clock.advance(float(seconds))
            continue
        number += 1
        ran = rmsync(*shlex.split(run.expand(line)), cwd=run.folder, env=env)
        prefix = "" if number == last else f"{number}."
        outputs |= {
            f"{prefix}stdout": ran.out.encode("utf-8"),
            f"{prefix}stderr": ran.err.encode("utf-8"),
            f"{prefix}exit": f"{ran.code}\n".encode(),
        }
    return outputs


@pytest.mark.parametrize("name", CASES)
def test_golden(
    name: str,
    tmp_path: Path,
    make_sandbox: Callable[..., Sandbox],
    clock: FakeClock,
    request: pytest.FixtureRequest,
) -> None:
    case = GOLDEN / name
    seed = load_seed(case / "seed.yaml") if (case / "seed.yaml").is_file() else None
    sandbox = make_sandbox(seed=seed, schedule=schedule(case), id_seed=ID_SEED)
    run = Run(sandbox.base_url, tmp_path / "work")
    copy_project(case, run)
    before = files(run.folder)
    produced = run_commands(case, run, clock)
    ended = datetime.now(UTC) + timedelta(seconds=1)
    after = files(run.folder)
    assert before.keys() <= after.keys(), f"the commands removed {before.keys() - after.keys()}"
    produced |= kept({f"{AFTER}/{p}": data for p, data in after.items() if before.get(p) != data})
    actual = {output: normalised(data, run, ended) for output, data in produced.items()}
    expected = expected_outputs(case)
    if request.config.getoption("--update-golden"):
        update(case, expected, actual)
    else:
        compare(case, expected, actual)


def compare(case: Path, expected: dict[str, bytes], actual: dict[str, bytes]) -> None:
    """Every expected output byte for byte; all differences reported at once."""
    problems = [
        difference(f"{case.name}/{output}", expected.get(output), actual.get(output))
        for output in sorted(expected.keys() | actual.keys())
        if expected.get(output) != actual.get(output)
    ]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
