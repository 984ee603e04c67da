"""The second half of ``syncd demo``: ``syncd run`` for about a minute against the demo tenant.

A local HRIS stand-in (a Standard Webhooks receiver that verifies every signature and answers
each hire's status as ``active``) is the sink; the daemon is subscribed to the sandbox's
webhooks; recruiters hire in the sandbox while it changes; each hire is shown as it arrives in
the HRIS, then its onboarding status flows back to SmartRecruiters. Ends with SIGTERM (exit 0)
and a summary.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd.daemon.activation import activated
from syncd.sandbox.runner import listening_socket, wait_healthy

SECRET = "whsec_" + base64.b64encode(b"syncd-demo-hris-secret-000000000").decode()


class DemoHris:
    """A webhook receiver standing in for the HRIS: hires by external key, arrival times."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.refused = 0
        sock = listening_socket()
        port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}"
        wh = Webhook(SECRET)

        async def hooks(request: Request) -> Response:
            try:
                payload = wh.verify(await request.body(), dict(request.headers))
            except Exception:
                self.refused += 1
                return JSONResponse({"error": "bad signature"}, status_code=401)
            key = (payload.get("data") or {}).get("external_key")
            if payload.get("type") == "application.hired" and key:
                self.arrived.setdefault(key, time.monotonic())
            return JSONResponse({"id": key}, status_code=200)

        async def status(request: Request) -> Response:
            key = request.path_params["key"]
            if key not in self.arrived:
                return JSONResponse({"message": "not found"}, status_code=404)
            return JSONResponse({"id": key, "status": "active"})

        async def health(request: Request) -> Response:
            return JSONResponse({"ok": True})

        app = Starlette(
            routes=[
                Route("/hooks", hooks, methods=["POST"]),
                Route("/hires/{key}", status, methods=["GET"]),
                Route("/health", health, methods=["GET"]),
            ]
        )
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        wait_healthy(self.url)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _config(out: Path, hris: DemoHris) -> Path:
    (out / "hris-secret").write_text(SECRET + "\n")
    path = out / "syncd.toml"
    path.write_text(
        "[sinks.hris]\n"
        'type = "webhook"\n'
        f'url = "{hris.url}/hooks"\n'
        f'secret_file = "{(out / "hris-secret").resolve()}"\n'
        f'status_url = "{hris.url}/hires/{{external_key}}"\n'
        'status_map = { active = "ONBOARDING_SUCCESSFUL", failed = "ONBOARDING_FAILED" }\n'
        'status_policy = "on-activation"\n'
        'start = "now"\n'
    )
    return path


def _to_hire(base: str) -> list[dict[str, Any]]:
    snap = httpx.get(f"{base}/_sandbox/snapshot", timeout=30).json()
    seen: set[str] = set()
    out = []
    for a in sorted(snap["applications"].values(), key=lambda a: a["id"]):
        if a["status"] == "OFFERED" and a["candidateId"] not in seen:
            seen.add(a["candidateId"])
            out.append(a)
    return out


def run_daemon_story(
    console: Console, base: str, token: str, db_file: Path, tenant: str, seconds: float
) -> int:
    """Steps 7 to 9 of the demo; returns the daemon's exit code."""
    out = db_file.parent
    hris = DemoHris()
    # The daemon's socket, bound here and passed to it (socket activation): the callback URL
    # names its port before it starts, and no other process can take the port in between.
    sock = listening_socket()
    http_port = int(sock.getsockname()[1])
    callback = f"http://127.0.0.1:{http_port}/webhooks/smartrecruiters"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")},
        "SYNCD_CONFIG": str(_config(out, hris)),
        "SYNCD_DATABASE_URL": f"sqlite:///{db_file}",
        "SYNCD_TENANT": tenant,
        "SYNCD_SMARTRECRUITERS__BASE_URL": base,
        "SYNCD_SMARTRECRUITERS__API_KEY": token,
        "SYNCD_WEBHOOKS__CALLBACK_URL": callback,
        "SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS": "20",
        "SYNCD_SCHEDULE__PUSH_INTERVAL_SECONDS": "5",
        "SYNCD_LOG_LEVEL": "warning",
    }
    syncd = [sys.executable, "-m", "syncd"]
    log = open(out / "syncd-run.log", "w")  # noqa: SIM115 (closed below, after the process)
    cmd, fds = activated([*syncd, "run"], sock)
    with sock:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=fds)
    ops = f"http://127.0.0.1:{http_port}"
    code = -1
    try:
        _wait(lambda: httpx.get(f"{ops}/healthz", timeout=5).status_code == 200, proc, 60)
        console.print(
            f"[bold]7. syncd run[/] (pid {proc.pid}): /healthz /readyz /metrics on {ops}; "
            f"the HRIS stand-in at {hris.url}"
        )
        sub = subprocess.run(
            [*syncd, "webhooks", "subscribe"], env=env, capture_output=True, text=True
        )
        console.print("   webhooks: " + (sub.stdout.strip() or sub.stderr.strip()))
        control = httpx.Client(base_url=f"{base}/_sandbox", timeout=30)
        candidates = _to_hire(base)
        hired: dict[str, float] = {}
        shown: set[str] = set()
        t_end = time.monotonic() + seconds
        next_hire = time.monotonic() + 2
        console.print(f"[bold]8. recruiters at work[/] for {seconds:.0f}s (activity + hires):")
        while time.monotonic() < t_end:
            control.post("/activity", json={"steps": 2})
            hiring = time.monotonic() < t_end - 8  # the last hires get time to arrive
            if hiring and time.monotonic() >= next_hire and candidates:
                a = candidates.pop(0)
                control.post("/hire", json={"candidateId": a["candidateId"], "jobId": a["jobId"]})
                hired[f"sr-{a['id']}"] = time.monotonic()
                console.print(f"   {time.strftime('%H:%M:%S')} hired in SmartRecruiters: "
                              f"application {a['id'][:8]}")  # fmt: skip
                next_hire = time.monotonic() + 10
            for key, at in list(hris.arrived.items()):
                if key in hired and key not in shown:
                    shown.add(key)
                    console.print(
                        f"   {time.strftime('%H:%M:%S')} arrived in the HRIS: application "
                        f"{key[3:11]} ({at - hired[key]:.1f}s after the hire)"
                    )
            time.sleep(1.0)
        metrics = httpx.get(f"{ops}/metrics", timeout=10).text
        ready = httpx.get(f"{ops}/readyz", timeout=10).json()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        snap = httpx.get(f"{base}/_sandbox/snapshot", timeout=30).json()
        onboarding = [
            snap["applications"][k[3:]].get("onboardingStatus")
            for k in hired
            if k[3:] in snap["applications"]
        ]
        t = Table(title="9. summary", title_justify="left")
        t.add_column("what")
        t.add_column("value", justify="right")
        t.add_row("hires made in SmartRecruiters", str(len(hired)))
        t.add_row("hires delivered to the HRIS", str(len(set(hired) & set(hris.arrived))))
        lat = [hris.arrived[k] - hired[k] for k in hired if k in hris.arrived]
        if lat:
            t.add_row("hire to HRIS, slowest", f"{max(lat):.1f}s")
        t.add_row(
            "onboarding status written back",
            f"{sum(1 for s in onboarding if s == 'ONBOARDING_SUCCESSFUL')} ONBOARDING_SUCCESSFUL",
        )
        accepted = _metric_sum(metrics, "syncd_webhook_callbacks_total", 'outcome="accepted"')
        t.add_row("webhook callbacks accepted", accepted)
        t.add_row(
            "passes and refreshes ended ok",
            _metric_sum(metrics, "syncd_passes_total", 'status="ok"'),
        )
        t.add_row("API calls", _metric_sum(metrics, "syncd_api_calls_total", ""))
        t.add_row("/readyz", "ready" if ready.get("ready") else "not ready")
        t.add_row("syncd run exit after SIGTERM", str(code))
        console.print(t)
        console.print(
            f'Explore it: sqlite3 {db_file} "SELECT sink, state, COUNT(*) FROM deliveries '
            "GROUP BY 1, 2\"   (the daemon's log: "
            f"{out / 'syncd-run.log'})"
        )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        hris.stop()
    return code


def _metric_sum(text: str, name: str, having: str) -> str:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and having in line:
            total += float(line.rsplit(" ", 1)[1])
    return f"{total:.0f}"


def _wait(check: Any, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"syncd run exited {proc.returncode}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("syncd run did not answer /healthz")
