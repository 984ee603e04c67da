"""``syncd demo``: start a sandbox tenant on a free loopback port and show it through the API."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx

from syncd.sandbox.runner import free_port


def run_demo() -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "syncd",
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--seed",
            "7",
            "--jobs",
            "20",
            "--candidates",
            "500",
            "--token",
            "demo-token",
        ],
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    print("demo: the sandbox did not start", file=sys.stderr)
                    return 1
                time.sleep(0.1)
        headers = {"X-SmartToken": "demo-token"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
            jobs = api.get("/jobs", params={"limit": 3, "sort": "job_id"}).json()
            print(f"Sandbox tenant at {base}: {jobs['totalFound']} jobs")
            for j in jobs["content"]:
                print(f"  job {j['id']}  {j['status']:<9} {j['title']}")
            cands = api.get("/candidates", params={"limit": 3}).json()
            print(f"{cands['totalFound']} candidates; the first three:")
            for c in cands["content"]:
                a = c["primaryAssignment"]
                print(
                    f"  {c['firstName']} {c['lastName']:<10} {a['status']:<10} {a['job']['title']}"
                )
            c = cands["content"][0]
            hist = api.get(
                f"/candidates/{c['id']}/jobs/{c['primaryAssignment']['job']['id']}/status/history"
            ).json()
            print("status history of the first application:")
            print(json.dumps(hist["content"], indent=2))
        return 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
