"""Webhook-to-HRIS latency of ``syncd run``: a hire made in the sandbox (the API's real limits
on) reaches a webhook receiver through the sandbox's signed callback, the daemon's refresh by id
and its push, with the pull an hour away. Prints p50/p95/max over N hires, then the daemon's
RSS and CPU after an optional stretch of steady sandbox activity.

    .venv/bin/python bench/daemon_webhook_latency.py --hires 20
    .venv/bin/python bench/daemon_webhook_latency.py --hires 20 --soak-seconds 300 --activity 2
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncd.daemon.activation import activated
from syncd.sandbox.runner import listening_socket, serve_in_thread
from syncd.sandbox.server import SandboxOptions
from tests.receiver import serve_receiver

TOKEN = "bench-token"
SECRET = "whsec_" + base64.b64encode(b"bench-daemon-secret-0123456789ab").decode()


def rss_and_cpu(pid: int) -> tuple[float, float]:
    """(resident MiB, CPU seconds user+system) of a process, from /proc."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


def wait(what: str, check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hires", type=int, default=20)
    ap.add_argument("--candidates", type=int, default=300)
    ap.add_argument("--soak-seconds", type=float, default=0.0)
    ap.add_argument("--activity", type=float, default=1.0, help="sandbox steps/s while soaking")
    args = ap.parse_args()

    sandbox = serve_in_thread(
        SandboxOptions(seed=7, jobs=20, candidates=args.candidates, api_keys=[TOKEN])
    )
    receiver = serve_receiver(SECRET)
    work = Path(tempfile.mkdtemp(prefix="syncd-bench-daemon-"))
    (work / "secret").write_text(SECRET)
    (work / "syncd.toml").write_text(
        f'[sinks.hr]\ntype = "webhook"\nurl = "{receiver.hooks}"\n'
        f'secret_file = "{work / "secret"}"\nstart = "now"\n'
    )
    # The daemon's socket, bound here and passed to it (socket activation): the callback URL
    # names its port before it starts, and no other process can take the port in between.
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    callback = f"http://127.0.0.1:{port}/webhooks/smartrecruiters"
    env = {
        **os.environ,
        "SYNCD_CONFIG": str(work / "syncd.toml"),
        "SYNCD_DATABASE_URL": f"sqlite:///{work / 'mirror.db'}",
        "SYNCD_SMARTRECRUITERS__BASE_URL": sandbox.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_WEBHOOKS__CALLBACK_URL": callback,
        "SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS": "3600",
        "SYNCD_SCHEDULE__PUSH_INTERVAL_SECONDS": "3600",
        "SYNCD_LOG_LEVEL": "warning",
    }
    syncd = [sys.executable, "-m", "syncd"]
    subprocess.run([*syncd, "migrate"], env=env, check=True, capture_output=True)
    cmd, fds = activated([*syncd, "run"], sock)
    with sock:
        proc = subprocess.Popen(cmd, env=env, pass_fds=fds)
    try:
        ctl = httpx.Client(base_url=f"{sandbox.base_url}/_sandbox", timeout=60)
        started = time.monotonic()
        done = 'syncd_passes_total{mode="incremental",resource="offers",status="ok"}'
        wait(
            "the first pull",
            lambda: done in httpx.get(f"http://127.0.0.1:{port}/metrics").text,
            timeout=900,
        )
        print(f"first pull (backfill of {args.candidates} candidates): "
              f"{time.monotonic() - started:.1f}s")  # fmt: skip
        subprocess.run([*syncd, "webhooks", "subscribe"], env=env, check=True)
        snap = ctl.get("/snapshot").json()
        apps, seen = [], set()
        for a in sorted(snap["applications"].values(), key=lambda a: a["id"]):
            if a["status"] in ("OFFERED", "INTERVIEW") and a["candidateId"] not in seen:
                seen.add(a["candidateId"])
                apps.append(a)
        latencies = []
        for a in apps[: args.hires]:
            n = len(receiver.state.hires())
            t0 = time.monotonic()
            ctl.post("/hire", json={"candidateId": a["candidateId"], "jobId": a["jobId"]})
            wait("the hire at the receiver", lambda n=n: len(receiver.state.hires()) > n)
            latencies.append(time.monotonic() - t0)
        q = statistics.quantiles(latencies, n=20)
        print(
            f"webhook-to-HRIS latency over {len(latencies)} hires: p50 "
            f"{statistics.median(latencies) * 1000:.0f} ms, p95 {q[18] * 1000:.0f} ms, max "
            f"{max(latencies) * 1000:.0f} ms"
        )
        rss, cpu = rss_and_cpu(proc.pid)
        print(f"daemon after the hires: RSS {rss:.0f} MiB, CPU {cpu:.1f}s")
        if args.soak_seconds:
            t_end = time.monotonic() + args.soak_seconds
            samples = []
            next_sample = time.monotonic() + 30
            while time.monotonic() < t_end:
                steps = max(1, round(args.activity))
                ctl.post("/activity", json={"steps": steps})  # changes: webhooks and pulls
                time.sleep(1.0)
                if time.monotonic() >= next_sample:
                    samples.append(rss_and_cpu(proc.pid))
                    next_sample += 30
            samples.append(rss_and_cpu(proc.pid))
            print(
                f"soak {args.soak_seconds:.0f}s at {args.activity}/s activity: RSS "
                + " ".join(f"{r:.0f}" for r, _ in samples)
                + f" MiB; CPU {samples[-1][1] - cpu:.1f}s"
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        print(f"syncd run exited {proc.wait(timeout=60)}")
        receiver.stop()
        sandbox.stop()


if __name__ == "__main__":
    main()
