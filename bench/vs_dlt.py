"""syncd beside dlt on the same pages: one sandbox (its own process, limits off), syncd's core
backfill of the audit feed and the candidates, then dlt's ``rest_api`` source loading the same two
endpoints into SQLite through its sqlalchemy destination (merge on id). Each tool runs in its own
subprocess, so the CPU seconds and peak RSS printed are its own; API calls are the sandbox's count
of the two endpoints' requests during that tool's run.

    .venv/bin/pip install -e '.[bench]'          # dlt, never a runtime dependency of syncd
    .venv/bin/python bench/vs_dlt.py             # 20,000 candidates
    .venv/bin/python bench/vs_dlt.py --candidates 100000

syncd runs ``backfill --resources audit,candidates`` without per-record follow-ups: no
application details nor full candidate records (``SYNCD_SYNC__APPLICATION_DETAILS_STATUSES=[]``),
no interviews, no approvals, the client's rate limit raised. What each side writes differs
(syncd: typed columns, raw JSON, content hashes, status histories, the outbox, checkpoints; dlt:
columns flattened from the JSON and child tables for lists), so rows written are printed beside
the records read.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from backfill import TOKEN, cpu_seconds, env_for, start_sandbox  # this folder, beside the script

ENDPOINTS = ("candidates", "audit-api")  # the sandbox counts calls by the path's first part


@dataclass
class Side:
    name: str
    seconds: float
    cpu: float
    rss_mib: float
    records: int
    rows: int
    calls: int
    sandbox_cpu: float = 0.0  # what the sandbox spent serving this side's calls

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    def line(self) -> str:
        return (
            f"{self.name:<6} {self.records:>8,} records in {self.seconds:6.1f}s = "
            f"{self.rate:>7,.0f} records/s; rows written {self.rows:>8,}; API calls "
            f"{self.calls:>6,}; CPU {self.cpu:6.1f}s; peak RSS {self.rss_mib:4.0f} MiB; "
            f"sandbox CPU {self.sandbox_cpu:.1f}s"
        )


def measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, float]:
    """Run ``cmd`` (its stderr to ``log``); (seconds, CPU seconds, peak RSS MiB) of that process
    and its children."""
    t0 = time.perf_counter()
    with log.open("ab") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise SystemExit(
            "\n".join([*tail, f"{cmd[2:4]} exited {os.waitstatus_to_exitcode(status)}"])
        )
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def sandbox_calls(base_url: str) -> int:
    stats = httpx.get(f"{base_url}/_sandbox/stats", timeout=30).json()["stats"]
    return sum(int(stats.get(f"calls:GET {e}", 0)) for e in ENDPOINTS)


def table_rows(path: Path, skip: tuple[str, ...]) -> dict[str, int]:
    """Rows per table of a SQLite file (tables whose name starts with one of ``skip`` left out)."""
    with sqlite3.connect(path) as db:
        names = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith(skip)
        ]
        return {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}


def run_syncd(base_url: str, workdir: Path) -> Side:
    db = workdir / "syncd.db"
    env = env_for(
        base_url,
        f"sqlite:///{db}",
        limits=False,
        SYNCD_SYNC__APPLICATION_DETAILS_STATUSES="[]",
        SYNCD_SYNC__INTERVIEW_STATUSES="[]",
        SYNCD_SYNC__APPROVALS="false",
    )
    syncd = [sys.executable, "-m", "syncd"]
    log = workdir / "syncd.log"
    measured([*syncd, "migrate"], env, log)
    calls0 = sandbox_calls(base_url)
    seconds, cpu, rss = measured([*syncd, "backfill", "--resources", "audit,candidates"], env, log)
    calls = sandbox_calls(base_url) - calls0
    rows = table_rows(db, ("alembic", "sqlite_"))
    with sqlite3.connect(db) as conn:
        (records,) = conn.execute(
            "SELECT SUM(fetched) FROM sync_runs WHERE resource IN ('audit', 'candidates')"
        ).fetchone()
    return Side("syncd", seconds, cpu, rss, int(records), sum(rows.values()), calls)


def run_dlt(base_url: str, workdir: Path) -> Side:
    db = workdir / "dlt.db"
    env = {
        **os.environ,
        "RUNTIME__LOG_LEVEL": "WARNING",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(workdir / "dlt-data"),
    }
    calls0 = sandbox_calls(base_url)
    seconds, cpu, rss = measured(
        [sys.executable, __file__, "--dlt-worker", base_url, str(db), str(workdir)],
        env,
        workdir / "dlt.log",  # dlt logs the load jobs it retries (SQLite's "database is locked")
    )
    calls = sandbox_calls(base_url) - calls0
    rows = table_rows(db, ("_dlt", "sqlite_"))
    records = rows["candidates"] + rows["audit_events"]
    return Side("dlt", seconds, cpu, rss, records, sum(rows.values()), calls)


def dlt_worker(base_url: str, db: str, workdir: str) -> None:
    """The dlt side, in its own process: the ``rest_api`` source over the two endpoints, merged
    on id into a SQLite file."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {
                "base_url": base_url,
                "auth": {
                    "type": "api_key",
                    "name": "X-SmartToken",
                    "api_key": TOKEN,
                    "location": "header",
                },
            },
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": [
                {
                    "name": "candidates",
                    "endpoint": {
                        "path": "candidates",
                        "params": {"limit": 100},
                        "data_selector": "content",
                        "paginator": {
                            "type": "cursor",
                            "cursor_path": "nextPageId",
                            "cursor_param": "pageId",
                        },
                    },
                },
                {
                    "name": "audit_events",
                    "endpoint": {
                        "path": "audit-api/v201910/audit-events",
                        "params": {"limit": 100, "eventDateAfter": "1970-01-01T00:00:00.000Z"},
                        "data_selector": "content",
                        "paginator": {
                            "type": "cursor",
                            "cursor_path": "nextPageId",
                            "cursor_param": "nextPageId",
                        },
                    },
                },
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="vs_syncd",
        destination=dlt.destinations.sqlalchemy(f"sqlite:///{db}"),
        dataset_name="main",
        pipelines_dir=str(Path(workdir) / "pipelines"),
    )
    pipeline.run(source)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--dlt-worker":
        dlt_worker(*sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidates", type=int, default=20_000)
    ap.add_argument("--jobs", type=int, default=500)
    a = ap.parse_args()
    if importlib.util.find_spec("dlt") is None:
        raise SystemExit("vs_dlt: dlt is not installed; run: .venv/bin/pip install -e '.[bench]'")
    t0 = time.perf_counter()
    sb = start_sandbox(a.candidates, a.jobs, limits=False)
    up = time.perf_counter() - t0
    print(f"sandbox: {a.candidates:,} candidates, {a.jobs} jobs, up in {up:.1f}s")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            load = Path("/proc/loadavg").read_text().split()[:3]
            sides = []
            for run in (run_syncd, run_dlt):
                cpu0 = cpu_seconds(sb.proc.pid)
                side = run(sb.base_url, Path(tmp))
                side.sandbox_cpu = cpu_seconds(sb.proc.pid) - cpu0
                sides.append(side)
            syncd, dlt = sides
            print(syncd.line())
            print(dlt.line())
            print(
                f"syncd / dlt: {syncd.rate / dlt.rate:.2f}x records/s; "
                f"load average before the run {' '.join(load)}, after "
                f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
            )
    finally:
        sb.stop()


if __name__ == "__main__":
    main()
