"""Speed at scale (issue 13), measured in one run: requests a plan sends against its bound,
wall time against the rate limit's bound and against a naive client, and local CPU per entry.

Starts the sandbox tenant in-process with a generated seed (ENTRIES roles over SESSIONS
sessions), writes a manifest naming every role by ids, and measures, with rmsync's own client:
  - an all-new plan (every role read whole: each has an action), then apply (every export
    starts and ends at once) and the lockfile write;
  - a no-op plan (roles by the page from their sessions' summaries) and the same with
    `--refresh full` (each role whole);
  - a naive client over the same sandbox: one GET per role, one after another, keep-alive
    (a fair peer: one connection, one TLS context, as rmsync has).
The bound for a plan over N entries in S sessions with K unfinished exports is
Σ⌈n_s/250⌉ + K + 1 requests (the listings, the statuses, the token). The sandbox's rate limit
is off, so the run is quick; the time the tenant's limit (100 requests per 10 s) would impose
on each request count is computed, and said as such.

    python benchmarks/scale.py --entries 1000 --sessions 10
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import yaml
from plan_throughput import manifest_for as throughput_manifest  # benchmarks/, beside this

from rmsync import config, lockfile, workflow
from rmsync.models import Credentials, Target, Ui
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from rmsync.sandbox.generate import generate_seed
from rmsync.sandbox.seed import parse_seed
from rmsync.yamlload import load_text

CREDS = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
ISC = 100 / 10.0  # requests per second the tenant allows per client id and API version


def manifest_for(seed: dict[str, object], folder: Path) -> tuple[Path, Counter[str]]:
    """The manifest naming every role (as plan_throughput.py writes it), and roles per session."""
    sessions: list[dict[str, Any]] = seed["sessions"]  # type: ignore[assignment]
    per_session = Counter({s["id"]: len(s["potential_roles"]) for s in sessions})
    return throughput_manifest(seed, folder), per_session


def quiet() -> Ui:
    return Ui(lambda plan: None, lambda plan: None, lambda outcome: None, lambda progress: None)


def measured_plan(where: Target, inputs: config.Inputs, full: bool) -> tuple[float, float, int]:
    """(wall s, CPU s, requests) of one plan, its client's requests counted."""
    manifest = inputs.manifest()
    chosen = workflow.options(refresh="full" if full else "summary")
    wall, cpu = time.perf_counter(), time.process_time()
    with workflow.connect(where, manifest) as client:
        workflow.make_job(client, inputs, manifest, chosen)
        sent = client.requests
    return time.perf_counter() - wall, time.process_time() - cpu, sent


def naive_read(base_url: str, role_ids: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    with httpx.Client(base_url=base_url, timeout=30) as http:
        form = {
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        }
        token = http.post("/oauth/token", data=form).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for role_id in role_ids:
            http.get(f"/beta/role-mining-potential-roles/{role_id}", headers=headers)
    return time.perf_counter() - start, len(role_ids) + 1


def at_limit(requests: int) -> float:
    """The fewest seconds ISC's limit allows for `requests` (the first window is free)."""
    return max(0.0, (requests - 100) / ISC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args()
    seed_doc = generate_seed(args.entries, sessions=args.sessions)
    seed = parse_seed(load_text(yaml.safe_dump(seed_doc), "seed.yaml"))
    with (
        TemporaryDirectory() as tmp,
        Sandbox(seed=seed, rate_limit=None, schedule=Schedule(0, 0, 0)) as sb,
    ):
        folder = Path(tmp)
        path, per_session = manifest_for(seed_doc, folder)
        inputs = config.Inputs(path)
        where = Target(sb.base_url, CREDS, None)
        n, s = sum(per_session.values()), len(per_session)
        bound = sum(math.ceil(k / 250) for k in per_session.values()) + 0 + 1
        print(f"entries: {n} in {s} sessions; sandbox rate limit off (ISC's computed: 100/10s)")

        wall, cpu, sent = measured_plan(where, inputs, full=False)
        print(f"all-new plan: {sent} requests, {wall:.2f} s (every role has an action: read whole)")
        manifest = inputs.manifest()
        start = time.perf_counter()
        with workflow.connect(where, manifest) as client:
            job = workflow.make_job(client, inputs, manifest, workflow.options())
            workflow.apply(client, job, quiet(), 60.0)
            applied = client.requests
        took = time.perf_counter() - start
        print(f"plan and apply of {n} new exports: {applied} requests, {took:.2f} s")
        size = (folder / "rmsync.lock.yaml").stat().st_size
        start = time.process_time()
        lockfile.dumps(lockfile.read(folder / "rmsync.lock.yaml"))
        spent = time.process_time() - start
        print(f"lockfile: {size:,} bytes, read and written in {spent:.3f} s CPU")

        wall, cpu, sent = measured_plan(where, inputs, full=False)
        print(
            f"no-op plan: {sent} requests (bound {bound}: Σ⌈n_s/250⌉ + K + 1, K = 0), "
            f"{wall:.2f} s, {cpu / n * 1000:.2f} ms CPU per entry"
        )
        full_wall, _, full_sent = measured_plan(where, inputs, full=True)
        print(f"no-op plan --refresh full: {full_sent} requests, {full_wall:.2f} s")
        role_ids = [r["id"] for x in seed_doc["sessions"] for r in x["potential_roles"]]
        naive_wall, naive_sent = naive_read(sb.base_url, role_ids)
        print(f"naive client, one GET per role: {naive_sent} requests, {naive_wall:.2f} s")
        print(
            f"at ISC's limit: no-op plan {at_limit(sent):.1f} s, --refresh full "
            f"{at_limit(full_sent):.1f} s, naive {at_limit(naive_sent):.1f} s (computed)"
        )
        print(f"ratio requests no-op plan / bound: {sent / bound:.2f}")
        print(f"ratio requests naive / no-op plan: {naive_sent / sent:.1f}")


if __name__ == "__main__":
    main()
