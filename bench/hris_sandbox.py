"""Benchmark: how fast the HRIS sandboxes take creates and answer lookups, limits off.

Starts ``syncd hris-sandbox serve --vendor V --no-limits`` as a subprocess (the client and the
server do not share a GIL), then for each vendor creates N employees one after the other, the
way a sink does (lookup, then create), and prints creates/s, lookups/s and p50/p95 latencies.
This is the sandbox's ceiling; hires per second through the sinks are measured with the sinks.

Usage: .venv/bin/python bench/hris_sandbox.py [--hires 300] [--vendor bamboohr|personio]
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from syncd.hris_sandbox.runner import spawn


def bamboohr(base: str, n: int) -> tuple[list[float], list[float]]:
    creates, lookups = [], []
    with httpx.Client(base_url=base, auth=("bench-key", "x"), timeout=30) as c:
        for i in range(n):
            number = f"SR-bench-{i}"
            started = time.perf_counter()
            r = c.post(
                "/api/v2/datasets/employee/data",
                json={"fields": ["employeeId"], "filter": f"employeeNumber eq '{number}'"},
            )
            lookups.append(time.perf_counter() - started)
            assert r.status_code == 200 and r.json()["data"] == []
            started = time.perf_counter()
            r = c.post(
                "/api/v1/employees",
                json={
                    "firstName": "Bench",
                    "lastName": f"Hire{i}",
                    "employeeNumber": number,
                    "workEmail": f"bench{i}@example.org",
                    "hireDate": "2031-01-01",
                },
            )
            creates.append(time.perf_counter() - started)
            assert r.status_code == 201
    return creates, lookups


def personio(base: str, n: int) -> tuple[list[float], list[float]]:
    creates, lookups = [], []
    auth = {"client_id": "bench", "client_secret": "bench-secret"}
    token = httpx.post(f"{base}/v1/auth", json=auth).json()["data"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        for i in range(n):
            email = f"bench{i}@example.org"
            started = time.perf_counter()
            r = c.get("/v1/company/employees", params={"email": email, "limit": 1})
            lookups.append(time.perf_counter() - started)
            assert r.status_code == 200 and r.json()["data"] == []
            started = time.perf_counter()
            person = {
                "email": email,
                "first_name": "Bench",
                "last_name": f"Hire{i}",
                "hire_date": "2031-01-01",
            }
            r = c.post("/v1/company/employees", json={"employee": person})
            creates.append(time.perf_counter() - started)
            assert r.status_code == 200
    return creates, lookups


def summary(name: str, seconds: list[float]) -> str:
    p95 = statistics.quantiles(seconds, n=20)[18] * 1000
    p50 = statistics.median(seconds) * 1000
    return f"{name}: {len(seconds) / sum(seconds):6.0f}/s  p50 {p50:5.1f} ms  p95 {p95:5.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hires", type=int, default=300)
    parser.add_argument("--vendor", choices=("bamboohr", "personio"), action="append")
    args = parser.parse_args()
    for vendor in args.vendor or ["bamboohr", "personio"]:
        creds = (
            ["--api-key", "bench-key"]
            if vendor == "bamboohr"
            else ["--client-id", "bench", "--client-secret", "bench-secret"]
        )
        proc = spawn(vendor, "--no-limits", "--employees", "20", *creds)
        try:
            started = time.perf_counter()
            creates, lookups = (bamboohr if vendor == "bamboohr" else personio)(
                proc.base_url, args.hires
            )
            wall = time.perf_counter() - started
        finally:
            proc.stop()
        print(
            f"{vendor}: {args.hires} lookups + creates in {wall:.2f}s "
            f"({args.hires / wall:.0f} hires/s, one client, sequential)"
        )
        print("  " + summary("create", creates))
        print("  " + summary("lookup", lookups))


if __name__ == "__main__":
    main()
