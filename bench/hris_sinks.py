"""Hires per second into each HRIS sandbox through its sink (``bamboohr``, ``personio``), with
the sandbox's rate limits on and off.

A SQLite mirror seeded with N hires (``bench/push.py``'s seed), a sink with ``start =
"beginning"``, the dispatcher's pass timed (queueing apart); the HRIS sandbox runs as its own
``syncd hris-sandbox serve`` process. Every hire is a lookup and a create (two requests; Personio
also one ``/v1/auth`` per run). The run checks that the sandbox holds exactly N new employees.

    .venv/bin/python bench/hris_sinks.py --hires 300 --limited-hires 60 --concurrency 1,4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from push import dispatch, queue, seed  # bench/push.py

from syncd.delivery.sinks import configure
from syncd.hris_sandbox.runner import spawn
from syncd.mirror.db import make_engine

SEEDED = 20
KEY, CLIENT, SECRET = "bench-key", "bench-client", "bench-secret"


def sink_table(vendor: str, base_url: str, secret: Path, concurrency: int) -> dict[str, Any]:
    common = {
        "base_url": base_url,
        "start": "beginning",
        "concurrency": concurrency,
        "batch_size": 500,
        "max_attempts": 100,  # a throttled try counts as an attempt
        "retry_initial_seconds": 1,  # the throttled one again soon (Retry-After wins if longer)
    }
    if vendor == "bamboohr":
        secret.write_text(KEY)
        return {"type": "bamboohr", "api_key_file": str(secret), **common}
    secret.write_text(SECRET)
    return {"type": "personio", "client_id": CLIENT, "client_secret_file": str(secret), **common}


def run(vendor: str, hires: int, concurrency: int, limits: bool, workdir: Path) -> None:
    creds = ["--api-key", KEY] if vendor == "bamboohr" else ["--client-id", CLIENT]
    if vendor == "personio":
        creds += ["--client-secret", SECRET]
    args = [*creds, "--employees", str(SEEDED), *([] if limits else ["--no-limits"])]
    srv = spawn(vendor, *args)
    try:
        url = f"sqlite:///{workdir / f'{vendor}-{concurrency}-{limits}.db'}"
        seed(url, hires)
        eng = make_engine(url)
        (cs,) = configure({"hr": sink_table(vendor, srv.base_url, workdir / "secret", concurrency)})
        queue(eng, cs)
        t0 = time.perf_counter()
        report = dispatch_sync(eng, cs)
        seconds = time.perf_counter() - t0
        stats = httpx.get(f"{srv.base_url}/_sandbox/stats", timeout=30).json()
        assert report.delivered == hires, report
        assert stats["employees"] == SEEDED + hires, stats
        print(
            f"{vendor:>9} {'on' if limits else 'off':>6} {concurrency:>11} {hires:>6} "
            f"{seconds:>8.2f} {hires / seconds:>8.1f} {stats['throttled']:>9}"
        )
        eng.dispose()
    finally:
        srv.stop()


def dispatch_sync(eng: Any, cs: Any) -> Any:
    import asyncio

    return asyncio.run(dispatch(eng, cs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hires", type=int, default=300, help="hires per run, limits off")
    ap.add_argument("--limited-hires", type=int, default=60, help="hires per run, limits on")
    ap.add_argument("--concurrency", default="1,4", help="comma-separated")
    ap.add_argument("--vendors", default="bamboohr,personio")
    a = ap.parse_args()
    print(
        f"{'vendor':>9} {'limits':>6} {'concurrency':>11} {'hires':>6} {'seconds':>8} "
        f"{'hires/s':>8} {'throttled':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for vendor in a.vendors.split(","):
            for c in (int(x) for x in a.concurrency.split(",")):
                run(vendor, a.hires, c, False, Path(tmp))
                run(vendor, a.limited_hires, c, True, Path(tmp))


if __name__ == "__main__":
    main()
