"""How fast `plan` reads live state: against the rate-limit bound and against a naive client.

Starts the sandbox tenant in-process with a generated seed and a rate limit, writes a manifest
naming every role, then measures in one run:
  - rmsync's live read (concurrent, keep-alive, throttled to the limit so it never sees a 429);
  - a naive client: one request at a time on one kept-alive connection, sleeping on every 429.
The bound is the fewest seconds the rate limit allows for that many requests.

    python benchmarks/plan_throughput.py --roles 400 --rate 100 --window 1
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import yaml

from rmsync.api import Client
from rmsync.manifest import load_manifest
from rmsync.models import ApiVersion, Credentials
from rmsync.ratelimit import Limit
from rmsync.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox
from rmsync.sandbox.generate import generate_seed
from rmsync.sandbox.seed import parse_seed
from rmsync.yamlload import load_text

CREDS = Credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


def manifest_for(seed: dict[str, object], folder: Path) -> Path:
    lines = ["version: 1", "exports:"]
    for session in seed["sessions"]:  # type: ignore[attr-defined]
        for role in session["potential_roles"]:
            lines += [
                f"  r-{role['id'][:8]}-{role['id'][-4:]}:",
                f"    session_id: {session['id']}",
                f"    potential_role_id: {role['id']}",
            ]
    path = folder / "rmsync.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def rmsync_read(base_url: str, role_ids: list[str], limit: Limit) -> tuple[float, int]:
    start = time.perf_counter()
    with Client(base_url, CREDS, ApiVersion.BETA, limit=limit) as client:
        client.live(role_ids, [])
        sent = client.requests
    return time.perf_counter() - start, sent


def naive_read(base_url: str, role_ids: list[str]) -> tuple[float, int, int]:
    """One GET per role, one after another, on one kept-alive connection (as rmsync has: a
    fair peer, not one paying a new connection and TLS context per request)."""
    start = time.perf_counter()
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    with httpx.Client(base_url=base_url) as http:
        token = http.post("/oauth/token", data=form).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        sent, refused = 1, 0
        for role_id in role_ids:
            while True:
                response = http.get(f"/beta/role-mining-potential-roles/{role_id}", headers=headers)
                sent += 1
                if response.status_code != 429:
                    break
                refused += 1
                time.sleep(float(response.headers["Retry-After"]))
    return time.perf_counter() - start, sent, refused


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--roles", type=int, default=400)
    parser.add_argument("--rate", type=int, default=100, help="requests per window (ISC: 100)")
    parser.add_argument(
        "--window", type=float, default=1.0, help="window seconds (ISC: 10; smaller runs faster)"
    )
    args = parser.parse_args()
    data = generate_seed(args.roles, sessions=10, identities=500, seed=3)
    seed = parse_seed(load_text(yaml.safe_dump(data), "generated"))
    limit = Limit(args.rate, args.window)
    with TemporaryDirectory() as tmp:
        manifest = load_manifest(manifest_for(data, Path(tmp)))
        role_ids = [e.potential_role_id for e in manifest.exports]
        log: list[str] = []
        with Sandbox(seed, rate_limit=limit, log=log.append) as sandbox:
            ours, ours_sent = rmsync_read(sandbox.base_url, role_ids, limit)
        ours_refused = sum(line.endswith(" 429") for line in log)
        with Sandbox(seed, rate_limit=limit) as sandbox:
            naive, naive_sent, refused = naive_read(sandbox.base_url, role_ids)
    # One GET per role; the first window's worth go at once, each further one waits a window.
    bound = (math.ceil(len(role_ids) / args.rate) - 1) * args.window
    print(f"roles: {len(role_ids)}; rate limit: {args.rate} requests per {args.window:g} s")
    print(
        f"rmsync live read: {ours:.2f} s for {ours_sent} requests ({ours_refused} refused with 429)"
    )
    print(f"naive client:     {naive:.2f} s for {naive_sent} requests ({refused} refused with 429)")
    print(f"rate-limit bound: {bound:.2f} s")
    print(
        f"ratio rmsync / bound: {ours / bound:.2f}"
        if bound
        else "ratio rmsync / bound: n/a (under one window)"
    )
    print(f"ratio naive / rmsync: {naive / ours:.2f}")


if __name__ == "__main__":
    main()
