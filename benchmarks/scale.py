"""Speed at scale (issue 13), measured in one run: requests against their bound, wall time
against the rate limit's bound and against a naive client, local CPU and memory per entry, and
the memory a large download costs.

Four parts, each against the sandbox tenant started in-process with a generated seed:

1. Requests (`--entries` roles over `--sessions` sessions, rate limit off, so it is quick): an
   all-new plan, apply, a no-op plan (roles by the page from their sessions' summaries) and
   `--refresh full`, against the bound Σ⌈n_s/250⌉ + K + 1 (listings, unfinished exports,
   token) and against a naive client sending one GET per role.
2. Apply at the rate limit (`--apply-entries` roles, the tenant's real limit `--rate-limit`
   and `--latency` on every request): `apply --wait` of every export, wall time against its
   rate-limit bound (the requests it sent, at the allowed rate: the first window's worth at
   once), 429s seen; and a naive client (one POST per role, then one status GET per export
   until each ends, one request at a time, sleeping out each 429's Retry-After).
3. Local cost (`--sizes`, rate limit off): for each size a real apply makes the lockfile, then
   `rmsync plan` (a no-op) and `rmsync validate` run as their own processes: CPU per entry
   (the process's user and system time) and peak memory (its maximum resident set).
4. A `--download-mb` archive streamed by `fetch` from a real server: the peak of Python's
   allocations during it (tracemalloc).

    python benchmarks/scale.py --entries 1000 --sessions 10 --sizes 1000,10000,50000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import yaml
from plan_throughput import manifest_for as throughput_manifest  # benchmarks/, beside this

from rmsync import config, workflow
from rmsync.api import Client
from rmsync.downloads import fetch
from rmsync.models import (
    Credentials,
    ExportParams,
    Fingerprint,
    Limit,
    Record,
    Request,
    Status,
    Target,
    Ui,
)
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, Schedule
from rmsync.sandbox.generate import generate_seed
from rmsync.sandbox.seed import Seed, parse_seed
from rmsync.yamlload import load_text

CREDS = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
ISC = Limit(100, 10.0)  # per client id and API version


def manifest_for(seed: dict[str, object], folder: Path) -> tuple[Path, Counter[str]]:
    """The manifest naming every role (as plan_throughput.py writes it), and roles per session."""
    sessions: list[dict[str, Any]] = seed["sessions"]  # type: ignore[assignment]
    per_session = Counter({s["id"]: len(s["potential_roles"]) for s in sessions})
    return throughput_manifest(seed, folder), per_session


def seeded(entries: int, sessions: int, identities: int = 2000) -> tuple[dict[str, Any], Seed]:
    doc = generate_seed(entries, sessions=sessions, identities=identities)
    return doc, parse_seed(load_text(yaml.safe_dump(doc), "seed.yaml"))


def quiet() -> Ui:
    return Ui(lambda plan: None, lambda plan: None, lambda outcome: None, lambda progress: None)


def at_limit(requests: int, limit: Limit = ISC) -> float:
    """The fewest seconds `limit` allows for `requests` (the first window's worth at once)."""
    return max(0.0, (requests - limit.requests) * limit.window / limit.requests)


def measured_plan(where: Target, inputs: config.Inputs, full: bool) -> tuple[float, int]:
    """(wall s, requests) of one plan, its client's requests counted."""
    manifest = inputs.manifest()
    chosen = workflow.options(refresh="full" if full else "summary")
    wall = time.perf_counter()
    with workflow.connect(where, manifest) as client:
        workflow.make_job(client, inputs, manifest, chosen)
        sent = client.requests
    return time.perf_counter() - wall, sent


def applied(where: Target, inputs: config.Inputs, wait: float = 600.0) -> tuple[float, int]:
    """(wall s, requests) of `apply --wait`, plan included, as the command runs it."""
    manifest = inputs.manifest()
    start = time.perf_counter()
    with workflow.connect(where, manifest) as client:
        job = workflow.make_job(client, inputs, manifest, workflow.options())
        result = workflow.apply(client, job, quiet(), wait)
        sent = client.requests
    assert not result.failures(), result.failures()
    return time.perf_counter() - start, sent


# -- 1. requests ---------------------------------------------------------------------------


def requests_part(entries: int, sessions: int) -> None:
    doc, seed = seeded(entries, sessions)
    with (
        TemporaryDirectory() as tmp,
        Sandbox(seed=seed, rate_limit=None, schedule=Schedule(0, 0, 0)) as sb,
    ):
        folder = Path(tmp)
        path, per_session = manifest_for(doc, folder)
        inputs = config.Inputs(path)
        where = Target(sb.base_url, CREDS, None)
        n, s = sum(per_session.values()), len(per_session)
        bound = sum(math.ceil(k / 250) for k in per_session.values()) + 0 + 1
        print(f"## 1. requests: {n} entries in {s} sessions; sandbox rate limit off")
        _, sent = measured_plan(where, inputs, full=False)
        print(f"all-new plan: {sent} requests ({sent / n:.2f} per entry: each read whole, and")
        print("  its access: two reads, three where the role excludes entitlements)")
        took, all_sent = applied(where, inputs)
        print(f"plan and apply --wait of {n} new exports: {all_sent} requests, {took:.2f} s")
        wall, sent = measured_plan(where, inputs, full=False)
        print(
            f"no-op plan: {sent} requests (bound {bound}: Σ⌈n_s/250⌉ + K + 1, K = 0), {wall:.2f} s"
        )
        full_wall, full_sent = measured_plan(where, inputs, full=True)
        print(f"no-op plan --refresh full: {full_sent} requests, {full_wall:.2f} s")
        role_ids = [r["id"] for x in doc["sessions"] for r in x["potential_roles"]]
        naive_wall, naive_sent = naive_read(sb.base_url, role_ids)
        print(f"naive client, one GET per role: {naive_sent} requests, {naive_wall:.2f} s")
        print(
            f"at ISC's limit (computed): no-op plan {at_limit(sent):.1f} s, --refresh full "
            f"{at_limit(full_sent):.1f} s, naive {at_limit(naive_sent):.1f} s"
        )
        print(f"ratio requests no-op plan / bound: {sent / bound:.2f}")
        print(f"ratio requests naive / no-op plan: {naive_sent / sent:.1f}")


def naive_read(base_url: str, role_ids: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    with httpx.Client(base_url=base_url, timeout=30) as http:
        headers = _naive_token(http)
        for role_id in role_ids:
            http.get(f"/beta/role-mining-potential-roles/{role_id}", headers=headers)
    return time.perf_counter() - start, len(role_ids) + 1


def _naive_token(http: httpx.Client) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    return {
        "Authorization": f"Bearer {http.post('/oauth/token', data=form).json()['access_token']}"
    }


# -- 2. apply at the rate limit ------------------------------------------------------------


def apply_part(entries: int, limit: Limit, latency: float) -> None:
    doc, seed = seeded(entries, max(1, entries // 100), identities=500)
    delayed = {"faults": [{"path": "**", "latency": latency}]} if latency else None
    print(
        f"## 2. apply --wait at the rate limit: {entries} new exports; sandbox rate limit "
        f"{limit.requests}/{limit.window:g}s, {latency * 1000:.0f} ms latency on every request"
    )
    with TemporaryDirectory() as tmp:
        log: list[str] = []
        with Sandbox(seed=seed, rate_limit=limit, faults=delayed, log=log.append) as sb:
            path, _ = manifest_for(doc, Path(tmp))
            took, sent = applied(Target(sb.base_url, CREDS, limit), config.Inputs(path))
        refused = sum(line.endswith(" 429") for line in log)
        bound = at_limit(sent, limit)
        print(f"rmsync: {sent} requests, {took:.1f} s, {refused} refused with 429")
        ratio = f"{took / bound:.2f}" if bound else "n/a (all within the first window)"
        print(f"rate-limit bound for its requests: {bound:.1f} s; ratio {ratio}")
        log.clear()
        with Sandbox(seed=seed, rate_limit=limit, faults=delayed, log=log.append) as sb:
            naive_took, naive_sent = naive_apply(sb.base_url, doc)
        refused = sum(line.endswith(" 429") for line in log)
        print(
            f"naive client: {naive_sent} requests, {naive_took:.1f} s, {refused} refused with 429"
        )
        print(
            f"ratio rmsync / naive: {took / naive_took:.2f} (rmsync also reads each role and its "
            "access for the review and the lockfile)"
        )


def naive_apply(base_url: str, doc: dict[str, Any]) -> tuple[float, int]:
    """One POST per role, then a status GET per export until each ends, one at a time."""
    start, sent = time.perf_counter(), 1
    with httpx.Client(base_url=base_url, timeout=30) as http:
        headers = _naive_token(http)

        def send(method: str, url: str, **kw: Any) -> httpx.Response:
            nonlocal sent
            while True:
                response = http.request(method, url, headers=headers, **kw)
                sent += 1
                if response.status_code != 429:
                    return response
                time.sleep(float(response.headers["Retry-After"]))

        running = []
        for session in doc["sessions"]:
            for role in session["potential_roles"]:
                url = f"/beta/role-mining-sessions/{session['id']}/potential-roles/{role['id']}"
                body = {"minEntitlementPopularity": 0, "includeCommonAccess": True}
                job = send("POST", f"{url}/export-async", json=body).json()
                running.append(f"{url}/export-async/{job['exportId']}")
        while running:
            time.sleep(1)
            running = [u for u in running if send("GET", u).json()["status"] != "SUCCESS"]
    return time.perf_counter() - start, sent


# -- 3. local cost -------------------------------------------------------------------------


def local_part(sizes: list[int]) -> None:
    print("## 3. local cost: rmsync plan (a no-op) and validate as their own processes")
    base, _ = command([sys.executable, "-m", "rmsync", "--version"], {}, Path.cwd())
    print(f"start-up alone (rmsync --version): {base[0]:.2f} s CPU, {base[1]:.0f} MB")
    for n in sizes:
        doc, seed = seeded(n, max(1, n // 100), identities=500)
        with (
            TemporaryDirectory() as tmp,
            Sandbox(seed=seed, rate_limit=None, schedule=Schedule(0, 0, 0)) as sb,
        ):
            folder = Path(tmp)
            path, _ = manifest_for(doc, folder)
            applied(Target(sb.base_url, CREDS, None), config.Inputs(path))
            size = (folder / "rmsync.lock.yaml").stat().st_size
            env = {
                "SAIL_BASE_URL": sb.base_url,
                "SAIL_CLIENT_ID": DEFAULT_CLIENT_ID,
                "SAIL_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
                "SAIL_RATE_LIMIT": "off",
            }
            plan, code = command([sys.executable, "-m", "rmsync", "plan"], env, folder)
            assert code == 0, code
            valid, code = command([sys.executable, "-m", "rmsync", "validate"], {}, folder)
            assert code == 0, code
        print(
            f"{n} entries (lockfile {size / 1e6:.1f} MB): no-op plan {plan[0]:.2f} s CPU, "
            f"{plan[0] / n * 1000:.2f} ms per entry, {plan[1]:.0f} MB peak; validate "
            f"{valid[0]:.2f} s CPU, {valid[0] / n * 1000:.2f} ms per entry, {valid[1]:.0f} MB"
        )


def command(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[tuple[float, float], int]:
    """((CPU s, peak MB), exit code) of one process, from its own resource usage.

    Linux keeps a process's peak resident size across exec, and a child spawned from this
    process (which holds a large sandbox) would start from this one's: so a small launcher
    spawns it, and reads its usage."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SAIL_", "RMSYNC_"))}
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *argv],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, peak_kb, code, err = json.loads(done.stdout)
    if code:
        print(err, file=sys.stderr)
    return (cpu, peak_kb / 1024), code


_LAUNCHER = """
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read().decode()
_, status, usage = os.wait4(proc.pid, 0)
code = os.waitstatus_to_exitcode(status)
print(json.dumps([usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code, err]))
"""


# -- 4. a large download -------------------------------------------------------------------


def download_part(megabytes: int) -> None:
    with TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive = folder / "big.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("identities.csv", "Identity ID,Name\n")
            zf.writestr("entitlements.csv", "Entitlement ID,Name\n")
            with zf.open("padding.bin", "w", force_zip64=True) as member:
                for _ in range(megabytes):
                    member.write(os.urandom(1 << 20))
        size = archive.stat().st_size
        with serving(archive) as base_url, Client(base_url, CREDS, limit=None) as client:
            record = Record(
                name="big",
                request=Request("s" * 32, "r" * 32, ExportParams()),
                export_id="e" * 32,
                status=Status.SUCCESS,
                started_at="2026-11-30T00:00:00Z",
                finished_at="2026-11-30T00:00:01Z",
                role=Fingerprint("big", 1, 1, (), None),
            )
            tracemalloc.start()
            saved = fetch(
                client,
                record,
                "out/big.zip",
                folder,
                lambda: "2026-11-30T00:00:02Z",
                max_bytes=size + 1,
            )
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert saved.download is not None and saved.download.size == size
        print(f"## 4. download: a {size / 1e6:.0f} MB archive streamed to disk and hashed")
        print(f"peak Python allocations during it: {peak / 1e6:.1f} MB")


@contextmanager
def serving(archive: Path) -> Iterator[str]:
    """A real server: a token, and `archive` as every download, sent in 1 MiB chunks."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"access_token": "t", "expires_in": 600}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(archive.stat().st_size))
            self.end_headers()
            with archive.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    self.wfile.write(chunk)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1000, help="part 1 (default 1000)")
    parser.add_argument("--sessions", type=int, default=10, help="part 1 (default 10)")
    parser.add_argument("--apply-entries", type=int, default=200, help="part 2 (default 200)")
    parser.add_argument("--rate-limit", default="100/10s", help="part 2 (default ISC's 100/10s)")
    parser.add_argument("--latency", type=float, default=0.05, help="part 2, seconds (0.05)")
    parser.add_argument("--sizes", default="1000", help="part 3: entries, comma-separated")
    parser.add_argument("--download-mb", type=int, default=200, help="part 4 (default 200)")
    args = parser.parse_args()
    requests_part(args.entries, args.sessions)
    limit = Limit.parse(args.rate_limit)
    assert limit is not None, "part 2 needs a rate limit"
    apply_part(args.apply_entries, limit, args.latency)
    local_part([int(n) for n in args.sizes.split(",")])
    download_part(args.download_mb)


if __name__ == "__main__":
    main()
