"""`syncd report html` on a mirror of N candidates: prints the seconds the command takes (its own
process, as a user runs it) and, in this process, how they split between the database (the
reporting views) and drawing (altair + vl-convert). Target: under 30 s at 100k candidates on SQLite.

    .venv/bin/python bench/report_html.py --candidates 10000
    .venv/bin/python bench/report_html.py --candidates 100000 --keep /tmp/mirror-100k
    .venv/bin/python bench/report_html.py --candidates 10000 --db postgresql://postgres@127.0.0.1/test

The mirror is filled by a backfill from a generated sandbox tenant (interviews and approvals off:
the report does not read them). With --keep DIR a SQLite mirror is kept in DIR and reused by the
next run with the same DIR (the backfill of 100k candidates takes minutes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backfill import database, env_for, run_syncd, start_sandbox
from sqlalchemy import func, select

from syncd.mirror import schema as s
from syncd.mirror.db import make_engine
from syncd.mirror.reporting import dashboard_data
from syncd.mirror.store import utcnow
from syncd.report_html import render

TENANT = "default"


def fill(n: int, db_url: str) -> float:
    sb = start_sandbox(n, max(20, n // 200), limits=False)
    try:
        env = env_for(
            sb.base_url,
            db_url,
            False,
            SYNCD_SYNC__INTERVIEW_STATUSES="[]",
            SYNCD_SYNC__APPROVALS="false",
        )
        run_syncd(env, "migrate")
        seconds, _, _ = run_syncd(env, "backfill")
        return seconds
    finally:
        sb.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--keep", help="directory of a SQLite mirror to reuse (made if absent)")
    a = ap.parse_args()
    drop = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if a.db == "sqlite":
            url = f"sqlite:///{work / f'mirror-{a.candidates}.db'}"
            reuse = (work / f"mirror-{a.candidates}.db").exists()
        else:
            url, drop = database(a.db, work)
            reuse = False
        try:
            if reuse:
                print(f"reusing {url}")
            else:
                print(f"backfill of {a.candidates} candidates: {fill(a.candidates, url):.1f}s")
            engine = make_engine(url)
            with engine.connect() as conn:
                counts = {
                    t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                    for t in (s.candidates, s.applications, s.application_status_history, s.offers)
                }
            print("mirror: " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))

            out = work / "report.html"
            env = {**os.environ, "SYNCD_DATABASE_URL": url, "SYNCD_TENANT": TENANT}
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "syncd", "report", "html", "--output", str(out)],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            command_s = time.perf_counter() - t0

            t0 = time.perf_counter()
            with engine.connect() as conn:
                data = dashboard_data(conn, TENANT)
            query_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            render(data, TENANT, utcnow())
            draw_s = time.perf_counter() - t0
            engine.dispose()
            size = out.stat().st_size / 1024
            print(
                f"syncd report html: {command_s:.2f}s (in process: views {query_s:.2f}s, "
                f"charts {draw_s:.2f}s), {size:.0f} KiB"
            )
        finally:
            if drop:
                drop()


if __name__ == "__main__":
    main()
