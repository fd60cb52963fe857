"""The benchmarks run (tiny sizes, no timing assertions): they must not rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plan_throughput_benchmark_runs_and_prints_its_ratios() -> None:
    script = ROOT / "benchmarks" / "plan_throughput.py"
    result = subprocess.run(
        [sys.executable, str(script), "--roles", "30", "--rate", "20", "--window", "0.2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "roles: 30; rate limit: 20 requests per 0.2 s"
    assert "(0 refused with 429)" in lines[1]  # rmsync keeps under the limit by itself
    assert lines[-2].startswith("ratio rmsync / bound: ")
    assert lines[-1].startswith("ratio naive / rmsync: ")


def run(script: str, *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_startup_benchmark_runs_and_prints_its_ratios() -> None:
    lines = run("startup.py", "--runs", "1")
    assert lines[0].startswith("runs: 1 of each, interleaved; median wall time; rmsync as ")
    assert [line.split(" / ")[0] for line in lines if line.startswith("ratio")] == [
        "ratio rmsync --help",
        "ratio rmsync validate",
        "ratio rmsync plan --help",
    ]
    assert all("(target <= 2.0: " in line for line in lines if line.startswith("ratio"))


def test_plan_diff_benchmark_runs_and_prints_its_ratio() -> None:
    lines = run("plan_diff.py", "--exports", "50")
    assert lines[0] == "exports: 50, all unchanged"
    assert lines[-1].startswith("ratio DeepDiff / rmsync make_plan: ")


def test_scale_benchmark_runs_and_a_no_op_plan_keeps_to_its_bound() -> None:
    lines = run(
        "scale.py",
        *("--entries", "40", "--sessions", "3", "--apply-entries", "12"),
        *("--rate-limit", "30/1s", "--latency", "0", "--sizes", "30", "--download-mb", "2"),
    )
    assert lines[0] == "## 1. requests: 40 entries in 3 sessions; sandbox rate limit off"
    no_op = next(line for line in lines if line.startswith("no-op plan: "))
    sent, bound = no_op.split(" requests (bound ")
    assert int(sent.removeprefix("no-op plan: ")) <= int(bound.split(":")[0])
    applied = next(line for line in lines if line.startswith("rmsync: "))
    assert applied.endswith(", 0 refused with 429")  # it keeps under the tenant's limit
    assert any(line.startswith("rate-limit bound for its requests: ") for line in lines)
    assert any(line.startswith("30 entries (lockfile ") for line in lines)
    assert lines[-1].startswith("peak Python allocations during it: ")
