"""How long rmsync takes to start: `--help` and `validate` against `import click, yaml`.

Each command runs as a fresh process, alternating with the baseline so that all see the same
machine; the median of the runs is compared. The target (issue 8) is at most 2x the baseline.
The floor is what `validate` cannot avoid: it checks files against JSON schemas, so it loads
jsonschema, whose own import (its referencing and bundled metaschemas) costs about as much as
click and yaml together.

    python benchmarks/startup.py --runs 15
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "baseline: python -c 'import click, yaml'": ["-c", "import click, yaml"],
    "floor: python -c 'import click, yaml, jsonschema'": [
        "-c",
        "import click, yaml, jsonschema",
    ],
    "rmsync --help": ["-m", "rmsync", "--help"],
    "rmsync validate": ["-m", "rmsync", "validate", "--manifest", "examples/rmsync.yaml"],
    "rmsync plan --help": ["-m", "rmsync", "plan", "--help"],
}


def once(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args} failed ({done.returncode}): {done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for args in COMMANDS.values():  # warm the file cache and the bytecode once
        once(args)
    for _ in range(runs):
        for name, args in COMMANDS.items():
            times[name].append(once(args))
    medians = {name: statistics.median(found) for name, found in times.items()}
    baseline = next(iter(medians.values()))
    print(f"runs: {runs} of each, interleaved; median wall time")
    for name, seconds in medians.items():
        print(f"{name}: {seconds * 1000:.0f} ms")
    floor = list(medians.values())[1]
    for name, seconds in list(medians.items())[2:]:
        print(f"ratio {name} / baseline: {seconds / baseline:.2f}")
    print(f"ratio rmsync validate / floor: {medians['rmsync validate'] / floor:.2f}")


if __name__ == "__main__":
    main()
