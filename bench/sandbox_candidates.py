"""Benchmark: generate a large sandbox tenant and crawl ``GET /candidates`` to the end.

Starts ``syncd sandbox serve --no-limits`` as a subprocess (so the crawler and the server do not
share a GIL), then walks the cursor with ``limit=100`` and prints:

- startup time (tenant generation plus interpreter start, until /health answers),
- pages/s and records/s over the whole crawl,
- page latency of the first 10 pages vs the last 10 (a page must cost the same at the end of a
  crawl as at the start), and overall p50/p95,
- the server's peak RSS (VmHWM).

Usage: .venv/bin/python bench/sandbox_candidates.py [--candidates 100000] [--jobs 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from syncd.sandbox.runner import spawn

TOKEN = "bench-token"


def rss_kib(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out


def crawl(base_url: str, limit: int) -> tuple[list[float], int, int]:
    """(per-page seconds, records, totalFound)."""
    latencies: list[float] = []
    records = 0
    total = 0
    params: dict[str, Any] = {"limit": limit}
    with httpx.Client(base_url=base_url, headers={"X-SmartToken": TOKEN}, timeout=60) as c:
        while True:
            started = time.perf_counter()
            r = c.get("/candidates", params=params)
            body = r.json()
            latencies.append(time.perf_counter() - started)
            r.raise_for_status()
            total = total or body["totalFound"]
            records += len(body["content"])
            if "nextPageId" not in body:
                return latencies, records, total
            params["pageId"] = body["nextPageId"]


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.2f} ms"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    started = time.perf_counter()
    server = spawn(
        "--no-limits",
        "--candidates",
        str(args.candidates),
        "--jobs",
        str(args.jobs),
        "--seed",
        str(args.seed),
        "--token",
        TOKEN,
    )
    try:
        startup = time.perf_counter() - started
        after_start = rss_kib(server.proc.pid)
        t0 = time.perf_counter()
        latencies, records, total = crawl(server.base_url, args.limit)
        elapsed = time.perf_counter() - t0
        mem = rss_kib(server.proc.pid)
    finally:
        server.stop()

    pages = len(latencies)
    lat = sorted(latencies)
    print(f"candidates generated      {args.candidates} (jobs {args.jobs}, seed {args.seed})")
    print(f"startup (generate+serve)  {startup:.2f} s")
    print(f"crawl                     {pages} pages, {records} records in {elapsed:.2f} s")
    print(f"totalFound                {total}")
    rate = f"{pages / elapsed:.1f} pages/s, {records / elapsed:.0f} records/s"
    print(f"throughput                {rate}")
    print(f"first page                {latencies[0] * 1000:.2f} ms (counts totalFound)")
    print(f"first 10 pages median     {ms(latencies[:10])}")
    print(f"last 10 pages median      {ms(latencies[-10:])}")
    print(f"all pages p50 / p95       {ms(lat)} / {lat[int(0.95 * (pages - 1))] * 1000:.2f} ms")
    print(f"server RSS after start    {after_start['VmRSS'] / 1024:.0f} MiB")
    print(f"server peak RSS (VmHWM)   {mem['VmHWM'] / 1024:.0f} MiB")
    if records != total:
        print(f"MISMATCH: crawled {records} records, totalFound {total}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
