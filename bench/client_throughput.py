"""How fast the SmartRecruiters client goes against the sandbox (run by hand; prints figures).

1. Limits off: the client's own ceiling: a full cursor crawl of GET /candidates (records/s,
   requests/s) and concurrent GET /candidates/{id} at 8 in flight (requests/s).
2. Limits on (10 req/s, 8 in flight, 1 GET /candidates): many callers sharing one credential for
   a fixed time: the share of the 10 req/s ceiling the client uses, and the 429s it caused.

    .venv/bin/python bench/client_throughput.py [--candidates 5000] [--seconds 20]

The sandbox runs as a subprocess (``syncd sandbox serve``), so it does not share this process's
interpreter with the client.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx

from syncd.ats import SmartRecruitersClient
from syncd.config import SmartRecruitersSettings
from syncd.sandbox.runner import spawn

TOKEN = "bench-token"


async def crawl(sr: SmartRecruitersClient) -> tuple[list[str], float]:
    started = time.perf_counter()
    ids = [c["id"] async for page in sr.candidates.pages() for c in page.items]
    return ids, time.perf_counter() - started


async def details(sr: SmartRecruitersClient, ids: list[str], workers: int) -> float:
    queue = list(ids)
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            await sr.candidates.get(queue.pop())

    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started


async def limits_off(base_url: str, n_details: int) -> dict[str, Any]:
    s = SmartRecruitersSettings(base_url=base_url, api_key=TOKEN, rate_limit=1e6)
    async with SmartRecruitersClient(s) as sr:
        ids, crawl_s = await crawl(sr)
        crawl_calls = sr.calls
        det_s = await details(sr, ids[:n_details], workers=8)
        det_calls = sr.calls - crawl_calls
    return {
        "records": len(ids),
        "crawl_seconds": crawl_s,
        "crawl_records_per_s": len(ids) / crawl_s,
        "crawl_requests_per_s": crawl_calls / crawl_s,
        "detail_requests_per_s": det_calls / det_s,
    }


async def limits_on(base_url: str, seconds: float, callers: int) -> dict[str, Any]:
    s = SmartRecruitersSettings(base_url=base_url, api_key=TOKEN)  # defaults: the real limits
    async with SmartRecruitersClient(s) as sr:
        ids = []
        async for page in sr.candidates.pages():
            ids += [c["id"] for c in page.items]
            if len(ids) >= 2000:
                break
        calls0, records = sr.calls, 0
        started = time.perf_counter()
        deadline = started + seconds

        async def crawler() -> None:
            nonlocal records
            while time.perf_counter() < deadline:
                async for page in sr.candidates.pages():
                    records += len(page.items)
                    if time.perf_counter() >= deadline:
                        return

        async def reader(i: int) -> None:
            nonlocal records
            k = i
            while time.perf_counter() < deadline:
                await sr.candidates.get(ids[k % len(ids)])
                records += 1
                k += callers

        await asyncio.gather(crawler(), *(reader(i) for i in range(callers - 1)))
        elapsed = time.perf_counter() - started
        calls = sr.calls - calls0
        retries = sr.retries
    return {
        "seconds": elapsed,
        "requests": calls,
        "requests_per_s": calls / elapsed,
        "records_per_s": records / elapsed,
        "share_of_ceiling": calls / elapsed / 10.0,
        "retries": retries,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--candidates", type=int, default=5000)
    ap.add_argument(
        "--details", type=int, default=1000, help="GET /candidates/{id} calls (limits off)"
    )
    ap.add_argument("--seconds", type=float, default=20.0, help="limits-on run length")
    ap.add_argument("--callers", type=int, default=32, help="concurrent callers (limits on)")
    args = ap.parse_args()

    common = ["--token", TOKEN, "--candidates", str(args.candidates), "--jobs", "50"]
    srv = spawn(*common, "--no-limits")
    try:
        off = asyncio.run(limits_off(srv.base_url, args.details))
    finally:
        srv.stop()
    print(f"limits off  ({off['records']} candidates with applications)")
    print(
        f"  crawl GET /candidates:      {off['crawl_records_per_s']:8.0f} records/s"
        f"  {off['crawl_requests_per_s']:6.1f} requests/s  ({off['crawl_seconds']:.1f} s)"
    )
    print(f"  GET /candidates/{{id}} x8:    {off['detail_requests_per_s']:8.1f} requests/s")

    srv = spawn(*common)
    try:
        on = asyncio.run(limits_on(srv.base_url, args.seconds, args.callers))
        stats = httpx.get(f"{srv.base_url}/_sandbox/stats").json()
    finally:
        srv.stop()
    print(
        f"limits on   (10 req/s ceiling, {args.callers} callers on one credential, "
        f"{on['seconds']:.1f} s)"
    )
    print(
        f"  {on['requests']} requests: {on['requests_per_s']:.2f} requests/s = "
        f"{on['share_of_ceiling'] * 100:.1f}% of the ceiling; {on['records_per_s']:.0f} records/s"
    )
    print(f"  429s seen by the sandbox: {stats['throttled']}; client retries: {on['retries']}")


if __name__ == "__main__":
    main()
