"""Scale-out of ``syncd run`` on PostgreSQL: R replicas (real processes) spread M sandbox tenants
(one ``syncd sandbox serve`` process and one credential each, the API's real limits on) by the
per-tenant locks; then the replica leading the most tenants is killed with SIGKILL. Prints:

- seconds from the replicas' start until every tenant is led by exactly one replica, and until
  every replica leads its fair share (ceil(M / R)) or less;
- leaders per replica (from each replica's ``/metrics`` ``syncd_leader{tenant}``; pg_locks
  checked: one writer-lock holder per tenant);
- seconds until each tenant's first complete pass is in the mirror (candidates and jobs as the
  sandbox has them), and the records synced per tenant;
- seconds from the SIGKILL until the survivors lead every tenant again, and the new spread.

    SYNCD_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/scale_out.py --replicas 3 --tenants 6
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncd.daemon.activation import activated
from syncd.mirror.db import make_engine, migrate, normalize_url
from syncd.mirror.lock import writer_lock_holders
from syncd.sandbox.runner import ProcessServer, listening_socket, spawn


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def wait(what: str, check: Callable[[], Any], timeout: float = 300.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = check()
        except (httpx.HTTPError, OSError):
            got = None
        if got:
            return got
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def leaders(port: int) -> set[str]:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        s.labels["tenant"]
        for fam in text_string_to_metric_families(body)
        for s in fam.samples
        if s.name == "syncd_leader" and s.value == 1.0
    }


def counts(db: Engine, tenant: str) -> dict[str, int]:
    out = {}
    with db.connect() as conn:
        for table in ("jobs", "candidates", "applications", "offers", "audit_events"):
            out[table] = int(
                conn.execute(
                    text(f"SELECT count(*) FROM {table} WHERE tenant = :t"), {"t": tenant}
                ).scalar_one()
            )
    return out


def first_passes(db: Engine, wall0: float) -> dict[str, float]:
    """Per tenant: seconds from ``wall0`` until every resource had a pass that ended ok (the
    latest of each resource's first ok end), from ``sync_runs``."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT tenant, resource, min(ended_at) FROM sync_runs WHERE status = 'ok' "
                "GROUP BY tenant, resource"
            )
        ).all()
    out: dict[str, float] = {}
    for tenant, _, ended in rows:
        at = ended.replace(tzinfo=UTC).timestamp() - wall0
        out[tenant] = max(out.get(tenant, 0.0), at)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--tenants", type=int, default=6)
    ap.add_argument("--candidates", type=int, default=150)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--leader-check", type=float, default=5.0, help="leader_check_seconds")
    ap.add_argument("--poll", type=float, default=30.0, help="poll_interval_seconds")
    ap.add_argument(
        "--postgres", default=os.environ.get("SYNCD_TEST_POSTGRES_URL", ""), help="a database URL"
    )
    args = ap.parse_args()
    if not args.postgres:
        raise SystemExit("set SYNCD_TEST_POSTGRES_URL or --postgres to a PostgreSQL URL")
    print(f"load before: {load()}")

    base = normalize_url(args.postgres)
    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    db = make_engine(url)
    migrate(db)

    work = Path(tempfile.mkdtemp(prefix="syncd-bench-scale-"))
    names = [f"tenant-{i + 1}" for i in range(args.tenants)]
    sandboxes: dict[str, ProcessServer] = {}
    replicas: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        for i, n in enumerate(names):
            # Each on the port it binds itself (--port 0), read from its "serving" line.
            sandboxes[n] = spawn(
                *("--seed", str(100 + i), "--candidates", str(args.candidates)),
                *("--jobs", str(args.jobs), "--token", f"key-{n}"),
            )
        truth = {
            n: httpx.get(f"{sb.base_url}/_sandbox/snapshot", timeout=60).json()
            for n, sb in sandboxes.items()
        }
        lines = []
        for n, sb in sandboxes.items():
            lines += [f"[tenants.{n}.smartrecruiters]", f'api_key = "key-{n}"']
            lines += [f'base_url = "{sb.base_url}"', ""]
        (work / "syncd.toml").write_text("\n".join(lines))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_") or k == "PATH"} | {
            "SYNCD_CONFIG": str(work / "syncd.toml"),
            "SYNCD_DATABASE_URL": url,
            "SYNCD_SCHEDULE__LEADER_CHECK_SECONDS": str(args.leader_check),
            "SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS": str(args.poll),
            "SYNCD_LOG_LEVEL": "info",
            "SYNCD_LOG_FORMAT": "json",
        }
        t0, wall0 = time.monotonic(), time.time()
        for i in range(args.replicas):
            # Its HTTP socket bound here and passed to it (socket activation): no other process
            # can take the port between its choice and the replica's start.
            sock = listening_socket()
            port = int(sock.getsockname()[1])
            cmd, fds = activated([sys.executable, "-m", "syncd", "run"], sock)
            log = open(work / f"replica-{i + 1}.log", "wb")  # noqa: SIM115 (closed with the process)
            with sock:
                proc = subprocess.Popen(
                    cmd, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=fds
                )
            replicas.append((proc, port))
        share = math.ceil(len(names) / len(replicas))

        def mirrored(n: str) -> bool:
            c = counts(db, n)
            return c["candidates"] == len(truth[n]["candidates"]) and c["jobs"] == len(
                truth[n]["jobs"]
            )

        def all_mirrored() -> bool:
            return all(mirrored(n) for n in names)

        def spread(live: list[tuple[subprocess.Popen[bytes], int]]) -> list[set[str]] | None:
            got = [leaders(p) for _, p in live]
            led = [t for s in got for t in s]
            return got if sorted(led) == sorted(names) else None

        wait("every tenant led once", lambda: spread(replicas))
        all_led = time.monotonic() - t0
        print(f"log: {work}")
        print(f"{len(replicas)} replicas, {len(names)} tenants (fair share {share})")
        print(f"every tenant led by exactly one replica: {all_led:.1f} s after the start")

        def balanced() -> list[set[str]] | None:
            got = spread(replicas)
            return got if got and all(len(s) <= share for s in got) else None

        got = wait("every replica within its share", balanced, timeout=120)
        settled = time.monotonic() - t0
        assert writer_lock_holders(db, names) == dict.fromkeys(names, 1), "pg_locks disagrees"
        print(f"every replica within its share: {settled:.1f} s after the start")
        for i, s in enumerate(got):
            print(f"  replica {i + 1}: leads {len(s)}: {', '.join(sorted(s))}")

        wait("every tenant mirrored", all_mirrored, timeout=600, every=0.5)
        first_pass = first_passes(db, wall0)
        print("first ok pass of every resource (s after the start) and records per tenant:")
        for n in names:
            c = counts(db, n)
            print(
                f"  {n}: {first_pass[n]:6.1f} s  jobs {c['jobs']}, candidates {c['candidates']}, "
                f"applications {c['applications']}, offers {c['offers']}, "
                f"audit events {c['audit_events']}"
            )

        victim = max(range(len(replicas)), key=lambda i: len(got[i]))
        proc, _ = replicas[victim]
        moved = got[victim]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        tk = time.monotonic()
        live = [r for i, r in enumerate(replicas) if i != victim]
        after = wait("the survivors leading every tenant", lambda: spread(live), timeout=120)
        takeover = time.monotonic() - tk
        assert writer_lock_holders(db, names) == dict.fromkeys(names, 1), "pg_locks disagrees"
        print(
            f"SIGKILL of replica {victim + 1} (led {len(moved)}): its tenants led again "
            f"{takeover:.1f} s later (leader_check_seconds {args.leader_check})"
        )
        for i, s in zip([i for i in range(len(replicas)) if i != victim], after, strict=True):
            print(f"  replica {i + 1}: leads {len(s)}: {', '.join(sorted(s))}")
        for proc, _ in live:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=60) for proc, _ in live]
        print(f"survivors' exit codes after SIGTERM: {codes}")
        logs = [(work / f"replica-{i + 1}.log").read_text() for i in range(len(replicas))]
        hand_backs = [log.count('"event": "handing_back"') for log in logs]
        takes = [log.count('"event": "leading"') for log in logs]
        print(f"tenants taken per replica (whole run): {takes}; handed back: {hand_backs}")
        with db.connect() as conn:
            by_status = dict(
                conn.execute(text("SELECT status, count(*) FROM sync_runs GROUP BY status")).all()
            )
        print(f"recorded runs by status: {by_status}")
        print(f"load after: {load()}")
    finally:
        for proc, _ in replicas:
            if proc.poll() is None:
                proc.kill()
        for sb in sandboxes.values():
            sb.stop()
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
