"""Backfill benchmark: a generated tenant served by `syncd sandbox serve` (its own process, so its
memory does not count), `syncd backfill` as a subprocess; prints records/s, API calls, peak RSS.

    .venv/bin/python bench/backfill.py --candidates 100000 --db sqlite
    .venv/bin/python bench/backfill.py --candidates 100000 --db postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/backfill.py --candidates 2000 --limits   # the API's real limits on
    .venv/bin/python bench/backfill.py --candidates 100000 --core   # without interviews, approvals
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from syncd.mirror import schema as s
from syncd.mirror.db import make_engine, normalize_url
from syncd.sandbox.runner import ProcessServer, spawn

TOKEN = "bench-token"


def start_sandbox(candidates: int, jobs: int, limits: bool) -> ProcessServer:
    args = ["--candidates", str(candidates), "--jobs", str(jobs), "--token", TOKEN]
    if not limits:
        args.append("--no-limits")
    return spawn(*args)


def database(spec: str, workdir: Path) -> tuple[str, Any]:
    """A fresh database: a SQLite file, or a new schema in the PostgreSQL given."""
    if spec == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    name = "bench_" + uuid.uuid4().hex[:8]
    eng = make_engine(spec)
    with eng.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    eng.dispose()
    sep = "&" if "?" in spec else "?"

    def drop() -> None:
        e = make_engine(spec)
        with e.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        e.dispose()

    return normalize_url(spec) + f"{sep}options=-csearch_path%3D{name}", drop


def env_for(base_url: str, db_url: str, limits: bool, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SYNCD_DATABASE_URL": db_url,
        "SYNCD_SMARTRECRUITERS__BASE_URL": base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_LOG_LEVEL": "warning",
        **extra,
    }
    if not limits:
        env["SYNCD_SMARTRECRUITERS__RATE_LIMIT"] = "100000"
    return env


def run_syncd(env: dict[str, str], *args: str) -> tuple[float, float, float]:
    """Run ``syncd ARGS``; returns (seconds, peak RSS MiB, CPU seconds) of that process alone.
    CPU seconds are the steadier figure on a shared machine."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", *args], env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"syncd {' '.join(args)} exited with {proc.returncode}")
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, cpu


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (Linux /proc): how much of the machine the sandbox
    took while serving the backfill."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def last_runs(db_url: str) -> dict[str, Any]:
    eng = make_engine(db_url)
    with eng.connect() as conn:
        rid = conn.execute(select(s.sync_runs.c.run_id).order_by(s.sync_runs.c.id.desc())).first()
        rows = conn.execute(select(s.sync_runs).where(s.sync_runs.c.run_id == rid[0])).all()
        cands = conn.execute(select(func.count()).select_from(s.candidates)).scalar_one()
        apps = conn.execute(select(func.count()).select_from(s.applications)).scalar_one()
    eng.dispose()
    return {"runs": rows, "candidates": cands, "applications": apps}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--db", default="sqlite", help="'sqlite' or a PostgreSQL URL")
    ap.add_argument("--limits", action="store_true", help="sandbox and client at 10 req/s")
    ap.add_argument(
        "--core",
        action="store_true",
        help="without interviews and approvals (SYNCD_SYNC__INTERVIEW_STATUSES=[], "
        "SYNCD_SYNC__APPROVALS=false): the per-record calls they add dominate a backfill",
    )
    a = ap.parse_args()
    t0 = time.perf_counter()
    sb = start_sandbox(a.candidates, a.jobs, a.limits)
    print(
        f"sandbox: {a.candidates} candidates, {a.jobs} jobs up in {time.perf_counter() - t0:.1f}s"
    )
    drop = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url, drop = database(a.db, Path(tmp))
            extra = (
                {"SYNCD_SYNC__INTERVIEW_STATUSES": "[]", "SYNCD_SYNC__APPROVALS": "false"}
                if a.core
                else {}
            )
            env = env_for(sb.base_url, url, a.limits, **extra)
            run_syncd(env, "migrate")
            sandbox_cpu = cpu_seconds(sb.proc.pid)
            seconds, rss, cpu = run_syncd(env, "backfill")
            sandbox_cpu = cpu_seconds(sb.proc.pid) - sandbox_cpu
            info = last_runs(url)
            calls = sum(r.api_calls for r in info["runs"])
            print(
                f"database: {'sqlite' if a.db == 'sqlite' else 'postgresql'}  limits: {a.limits}  "
                f"interviews and approvals: {'off' if a.core else 'on'}"
            )
            for r in info["runs"]:
                span = (r.ended_at - r.started_at).total_seconds()
                print(
                    f"  {r.resource:<11} fetched {r.fetched:>8}  calls {r.api_calls:>6}  "
                    f"{span:7.1f}s  {r.status}"
                )
            print(
                f"backfill: {info['candidates']} candidates, {info['applications']} applications "
                f"in {seconds:.1f}s = {info['candidates'] / seconds:,.0f} candidates/s; "
                f"{calls} API calls ({calls / seconds:.1f}/s); peak RSS {rss:.0f} MiB; "
                f"syncd CPU {cpu:.1f}s; sandbox CPU {sandbox_cpu:.1f}s"
            )
            if a.limits:
                floor = calls / 10.0
                print(
                    f"at 10 req/s these calls need >= {floor:.1f}s; took {seconds:.1f}s "
                    f"({100 * (seconds / floor - 1):+.1f}%)"
                )
    finally:
        sb.stop()
        if drop:
            drop()


if __name__ == "__main__":
    main()
