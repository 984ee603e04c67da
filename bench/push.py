"""The push side's figures.

1. Deliveries per second through the dispatcher to a webhook receiver running in its own process
   (``tests/receiver.py``: verifies every signature with ``standardwebhooks``). The mirror is a
   SQLite file (or PostgreSQL with ``--db URL``) seeded with N hires; the sink starts at
   ``beginning``; write-back is off (it is a SmartRecruiters call per hire, bounded by its limits).

       .venv/bin/python bench/push.py --hires 2000 --concurrency 8,32

2. ``--latency K``: the time from a hire made in the sandbox to its delivery when
   ``syncd sync --once`` and ``syncd push --once`` run back to back (real subprocesses), K times;
   prints p50 and p95.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backfill import database, env_for, run_syncd, start_sandbox

from syncd.delivery.dispatcher import Dispatcher
from syncd.delivery.sinks import configure
from syncd.mirror import schema as s
from syncd.mirror.db import make_engine, migrate
from syncd.mirror.records import content_hash
from syncd.mirror.store import Mirror
from syncd.sandbox.runner import spawn_serving, wait_healthy
from tests.integration.push_env import SECRET

TENANT = "bench"


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    # On the port it binds itself (--port 0), read from its "serving" line.
    proc, url = spawn_serving(
        [sys.executable, "-m", "tests.receiver", "--port", "0", "--secret", SECRET],
        cwd=Path(__file__).resolve().parents[1],
    )
    wait_healthy(url, proc=proc)
    return proc, url


def seed(url: str, n: int) -> None:
    """N hired applications with their candidate, job and HIRED history entry."""
    eng = make_engine(url)
    migrate(eng)
    m = Mirror(eng, TENANT)
    now = datetime(2026, 11, 1)

    def rec(raw: dict[str, object], **cols: object) -> dict[str, object]:
        return {**cols, "raw": raw, "content_hash": content_hash(raw)}

    jobs = [
        rec({"id": f"j{i}"}, id=f"j{i}", title=f"Job {i}", department="Engineering")
        for i in range(20)
    ]
    cands, apps, hist = [], [], []
    for i in range(n):
        cid, jid = f"c{i:06d}", f"j{i % 20}"
        cands.append(
            rec(
                {"id": cid},
                id=cid,
                first_name="Bench",
                last_name=f"Person{i}",
                email=f"p{i}@example.com",
            )
        )
        apps.append(
            rec(
                {"id": f"a{i}"},
                candidate_id=cid,
                job_id=jid,
                application_id=f"a{i:06d}",
                status="HIRED",
                starts_on=now + timedelta(days=30),
                created_on=now - timedelta(days=20),
                history_pending=False,
                details_pending=False,
            )
        )
        hist.append(
            rec(
                {"i": i},
                candidate_id=cid,
                job_id=jid,
                changed_on=now + timedelta(seconds=i),
                status="HIRED",
                ordinal=0,
            )
        )
    with m.begin() as conn:
        m.upsert(conn, s.jobs, jobs, now=now)
        m.upsert(conn, s.candidates, cands, now=now)
        m.upsert(conn, s.applications, apps, now=now)
        m.insert_new(conn, s.application_status_history, hist, now=now)
    eng.dispose()


async def dispatch(eng: Any, cs: Any) -> Any:
    """Passes until nothing is open (a pass ends at a throttled or unavailable target and
    schedules its retries: the next pass comes when the target asked, as the daemon does). The
    last pass's report with ``delivered`` summed over the passes."""
    from sqlalchemy import text

    delivered = 0
    async with cs.sink:
        while True:
            report = await Dispatcher(eng, TENANT, write_back=None).run_sink(cs)
            delivered += report.delivered
            with eng.connect() as conn:
                open_ = conn.execute(
                    text("SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'in_flight')")
                ).scalar_one()
            if not open_:
                report.delivered = delivered
                return report
            await asyncio.sleep(report.resume_after or 0.05)


def queue(eng: Any, cs: Any) -> float:
    """The sink's first pass queues every hire in the mirror (start = beginning): a one-off,
    timed apart from the deliveries."""
    from syncd.delivery.dispatcher import SinkReport

    t0 = time.perf_counter()
    asyncio.run(Dispatcher(eng, TENANT, write_back=None)._start(cs, SinkReport(cs.name)))
    return time.perf_counter() - t0


def throughput(db: str, hires: int, concurrencies: list[int], workdir: Path) -> None:
    receiver, rurl = start_receiver()
    secret = workdir / "secret"
    secret.write_text(SECRET)
    try:
        print(
            f"{'hires':>6} {'concurrency':>11} {'seconds':>8} {'deliveries/s':>13} "
            f"{'syncd CPU s':>13} {'per CPU s':>14} {'queue s':>8}"
        )
        for c in concurrencies:
            url, drop = database(db, workdir / f"c{c}")
            (workdir / f"c{c}").mkdir(exist_ok=True)
            if db == "sqlite":
                url = f"sqlite:///{workdir / f'c{c}' / 'bench.db'}"
            seed(url, hires)
            eng = make_engine(url)
            sinks = configure(
                {
                    "hr": {
                        "type": "webhook",
                        "url": f"{rurl}/hooks",
                        "secret_file": str(secret),
                        "start": "beginning",
                        "concurrency": c,
                        "batch_size": 500,
                    }
                }
            )
            queued = queue(eng, sinks[0])
            t0, c0 = time.perf_counter(), time.process_time()
            report = asyncio.run(dispatch(eng, sinks[0]))
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert report.delivered == hires, report
            print(
                f"{hires:>6} {c:>11} {seconds:>8.2f} {hires / seconds:>13.0f} {cpu:>13.2f} "
                f"{hires / cpu:>14.0f} {queued:>8.2f}"
            )
            eng.dispose()
            if drop:
                drop()
        got = httpx.get(f"{rurl}/_received", timeout=60).json()
        print(f"receiver: {len(got['received'])} verified, {got['unverified']} unverified")
    finally:
        receiver.terminate()
        receiver.wait()


def latency(k: int, workdir: Path) -> None:
    sb = start_sandbox(300, 20, limits=False)
    receiver, rurl = start_receiver()
    try:
        url = f"sqlite:///{workdir / 'lat.db'}"
        secret = workdir / "secret"
        secret.write_text(SECRET)
        cfg = workdir / "syncd.toml"
        cfg.write_text(
            f'[sinks.hr]\ntype = "webhook"\nurl = "{rurl}/hooks"\nsecret_file = "{secret}"\n'
        )
        env = env_for(
            sb.base_url, url, False, SYNCD_CONFIG=str(cfg), SYNCD_TENANT=TENANT,
            SYNCD_SYNC__LAG_WINDOW_SECONDS="1",
        )  # fmt: skip
        run_syncd(env, "migrate")
        run_syncd(env, "backfill")
        run_syncd(env, "push", "--once")
        snap = httpx.get(f"{sb.base_url}/_sandbox/snapshot", timeout=60).json()
        apps = [a for a in snap["applications"].values() if a["status"] in ("OFFERED", "INTERVIEW")]
        seen: set[str] = set()
        picked = []
        for a in sorted(apps, key=lambda a: a["id"]):
            if a["candidateId"] not in seen:
                seen.add(a["candidateId"])
                picked.append(a)
        times = []
        for a in picked[:k]:
            before = len(httpx.get(f"{rurl}/_received", timeout=30).json()["received"])
            t0 = time.perf_counter()
            httpx.post(
                f"{sb.base_url}/_sandbox/hire",
                json={"candidateId": a["candidateId"], "jobId": a["jobId"]},
                timeout=30,
            ).raise_for_status()
            run_syncd(env, "sync", "--once")
            run_syncd(env, "push", "--once")
            after = len(httpx.get(f"{rurl}/_received", timeout=30).json()["received"])
            assert after == before + 1, (before, after)
            times.append(time.perf_counter() - t0)
        times.sort()
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        print(
            f"status change -> delivery, sync --once + push --once back to back, {len(times)} "
            f"hires: p50 {statistics.median(times):.2f} s, p95 {p95:.2f} s "
            f"(min {times[0]:.2f}, max {times[-1]:.2f})"
        )
    finally:
        receiver.terminate()
        receiver.wait()
        sb.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hires", type=int, default=2000)
    ap.add_argument("--concurrency", default="8,32")
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--latency", type=int, default=0, help="K hires for the latency figure")
    a = ap.parse_args()
    os.environ.setdefault("SYNCD_LOG_LEVEL", "warning")
    with tempfile.TemporaryDirectory() as tmp:
        if a.hires:
            throughput(a.db, a.hires, [int(x) for x in a.concurrency.split(",")], Path(tmp))
        if a.latency:
            latency(a.latency, Path(tmp))


if __name__ == "__main__":
    main()
