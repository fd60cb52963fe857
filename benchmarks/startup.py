"""How long rmsync takes to start: `--help` and `validate` against `import click, yaml`.

Each command runs as a fresh process, alternating with the baseline so that all see the same
machine; the median of the runs is compared. The target (issue 8) is at most 2x the baseline.
rmsync runs as users and pre-commit hooks run it: the `rmsync` console script beside this
Python (`python -m rmsync` where there is none). For reference, the run also times importing
jsonschema, which costs about as much as click and yaml together: `validate` loads it only to
explain a file that is not valid (rmsync/schemacheck.py recognises a valid one).

    python benchmarks/startup.py --runs 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("rmsync")
RMSYNC = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "rmsync"]
BASELINE = "baseline: python -c 'import click, yaml'"
COMMANDS = {
    BASELINE: [sys.executable, "-c", "import click, yaml"],
    "reference: python -c 'import click, yaml, jsonschema'": [
        sys.executable,
        "-c",
        "import click, yaml, jsonschema",
    ],
    "rmsync --help": [*RMSYNC, "--help"],
    "rmsync validate": [*RMSYNC, "validate", "--manifest", "examples/rmsync.yaml"],
    "rmsync plan --help": [*RMSYNC, "plan", "--help"],
}
MEASURED = ("rmsync --help", "rmsync validate", "rmsync plan --help")
TARGET = 2.0


# As installed: pip writes bytecode for every module it installs, but an editable install
# (and PYTHONDONTWRITEBYTECODE, set on some CI machines) leaves rmsync's modules to be
# compiled on every start. The warm-up run writes all bytecode to a folder of its own.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def once(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, env=ENV)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args} failed ({done.returncode}): {done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="rmsync-startup-") as bytecode:
        ENV["PYTHONPYCACHEPREFIX"] = bytecode
        measure(runs)


def measure(runs: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for args in COMMANDS.values():  # warm the file cache and the bytecode once
        once(args)
    for _ in range(runs):
        for name, args in COMMANDS.items():
            times[name].append(once(args))
    medians = {name: statistics.median(found) for name, found in times.items()}
    baseline = medians[BASELINE]
    print(f"runs: {runs} of each, interleaved; median wall time; rmsync as {' '.join(RMSYNC)}")
    for name, seconds in medians.items():
        print(f"{name}: {seconds * 1000:.0f} ms")
    for name in MEASURED:
        ratio = medians[name] / baseline
        verdict = "met" if ratio <= TARGET else "MISSED"
        print(f"ratio {name} / baseline: {ratio:.2f} (target <= {TARGET:.1f}: {verdict})")


if __name__ == "__main__":
    main()
