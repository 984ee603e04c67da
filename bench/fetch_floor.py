"""The API side of a backfill alone: the calls a core backfill makes (jobs and their children, the
audit feed, candidates, the details of applications in the detail statuses, offers), made with
syncd's client at its concurrency, each record mapped by the catalogue's mapper, and nothing
written. What a backfill costs above these figures is the mirror's work.

    .venv/bin/python bench/fetch_floor.py --candidates 100000
    .venv/bin/python bench/fetch_floor.py --candidates 100000 --no-map   # HTTP and JSON only
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from typing import Any

from backfill import TOKEN, cpu_seconds, start_sandbox  # this folder, beside the script

from syncd.ats import SmartRecruitersClient
from syncd.ats.paging import Walk
from syncd.config import SmartRecruitersSettings, SyncSettings
from syncd.mirror import records as rec
from syncd.sync.catalogue import AUDIT, CANDIDATES, JOBS, OFFERS


async def walk(base_url: str, mapping: bool) -> dict[str, Any]:
    sync = SyncSettings()
    details_statuses = set(sync.application_details_statuses)
    settings = SmartRecruitersSettings(base_url=base_url, api_key=TOKEN, rate_limit=100_000)
    sem = asyncio.Semaphore(settings.max_concurrency)
    counts: dict[str, float] = {}

    async def one(coro: Any) -> Any:
        async with sem:
            return await coro

    async with SmartRecruitersClient(settings) as sr:
        for res in (JOBS, AUDIT, CANDIDATES, OFFERS):
            t0 = time.perf_counter()
            n = 0
            wanted: list[tuple[str, str]] = []
            params = {"limit": sync.page_size, **res.incremental.params(None)}
            async for page in res.list(sr, res, params, None, Walk()):
                n += len(page.items)
                if res is JOBS:
                    await asyncio.gather(
                        *(one(sr.jobs.status_history(j["id"])) for j in page.items),
                        *(one(sr.jobs.positions(j["id"])) for j in page.items),
                    )
                for item in page.items:
                    if mapping:
                        res.mapper(item)
                    if res is not CANDIDATES:
                        continue
                    for a in rec.assignments(item):
                        if mapping:
                            rec.assignment_row(item["id"], a)
                        if a.get("status") in details_statuses:
                            wanted.append((item["id"], a["job"]["id"]))
            # The details calls, as the follow-up walk makes them: in batches of 400.
            for i in range(0, len(wanted), 400):
                got = await asyncio.gather(
                    *(one(sr.applications.get(c, j)) for c, j in wanted[i : i + 400])
                )
                if mapping:
                    for body in got:
                        rec.application_detail_fields(body)
            counts[res.name] = n
            counts[f"{res.name}_s"] = time.perf_counter() - t0
        counts["calls"] = sr.calls
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--no-map", action="store_true", help="skip the catalogue's mappers")
    a = ap.parse_args()
    sb = start_sandbox(a.candidates, a.jobs, False)
    try:
        sb_cpu = cpu_seconds(sb.proc.pid)
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        counts = asyncio.run(walk(sb.base_url, not a.no_map))
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        sb_cpu = cpu_seconds(sb.proc.pid) - sb_cpu
    finally:
        sb.stop()
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    for name in ("jobs", "audit", "candidates", "offers"):
        print(f"  {name:<11} {int(counts[name]):>8} records  {counts[name + '_s']:7.1f}s")
    print(
        f"fetch{'' if a.no_map else ' + map'}, no writes: {a.candidates} candidates in "
        f"{seconds:.1f}s = {a.candidates / seconds:,.0f} candidates/s; {int(counts['calls'])} "
        f"API calls; client CPU {cpu:.1f}s; sandbox CPU {sb_cpu:.1f}s"
    )


if __name__ == "__main__":
    main()
