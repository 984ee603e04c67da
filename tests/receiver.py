"""A webhook receiver for tests and benchmarks: verifies every request with the
``standardwebhooks`` package, keeps what it received, and answers as told (503 for the next N
requests, 422 for chosen external keys, a status per key for readback).

In a thread: ``serve_receiver(secret)``; in its own process:
``python -m tests.receiver --port P --secret whsec_…`` (``GET /_received`` gives the log).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Received:
    webhook_id: str
    type: str
    external_key: str | None
    body: dict[str, Any]


@dataclass
class ReceiverState:
    secret: str
    received: list[Received] = field(default_factory=list)
    unverified: int = 0
    fail_next: int = 0  # answer 503 to this many requests
    fail_status: int = 503
    retry_after: str | None = None  # the Retry-After header of those answers
    times: list[float] = field(default_factory=list)  # time.monotonic() of every POST
    # Seconds every POST is held before it is answered (a slow target); set to 0 to let the
    # requests held go on at once.
    hold: float = 0.0
    reject: dict[str, tuple[int, str]] = field(default_factory=dict)  # external_key -> answer
    status: dict[str, str] = field(default_factory=dict)  # external_key -> status (readback)
    default_status: str = "active"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hires(self) -> dict[str, set[str]]:
        """external_key -> the webhook ids it arrived under (hires only)."""
        out: dict[str, set[str]] = {}
        for r in self.received:
            if r.type == "application.hired" and r.external_key:
                out.setdefault(r.external_key, set()).add(r.webhook_id)
        return out


def create_receiver(state: ReceiverState) -> Starlette:
    wh = Webhook(state.secret)

    async def hooks(request: Request) -> Response:
        body = await request.body()
        try:
            payload = wh.verify(body, dict(request.headers))
        except Exception:
            state.unverified += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        data = payload.get("data") or {}
        key = data.get("external_key") or data.get("employeeNumber")
        with state.lock:
            state.times.append(time.monotonic())
        held = time.monotonic() + state.hold
        while state.hold and time.monotonic() < held:
            await asyncio.sleep(0.02)
        with state.lock:
            if state.fail_next > 0:
                state.fail_next -= 1
                headers = {"retry-after": state.retry_after} if state.retry_after else None
                return JSONResponse(
                    {"error": "unavailable"}, status_code=state.fail_status, headers=headers
                )
            if key in state.reject:
                code, message = state.reject[key]
                return JSONResponse({"message": message}, status_code=code)
            state.received.append(
                Received(request.headers["webhook-id"], payload["type"], key, payload)
            )
            n = len(state.received)
        return JSONResponse({"id": f"emp-{n}"}, status_code=200)

    async def status(request: Request) -> Response:
        key = request.path_params["key"]
        if key not in state.hires():
            return JSONResponse({"message": "not found"}, status_code=404)
        return JSONResponse({"id": key, "status": state.status.get(key, state.default_status)})

    async def received(request: Request) -> Response:
        rows = [r.__dict__ for r in state.received]
        return Response(
            orjson.dumps({"received": rows, "unverified": state.unverified}),
            media_type="application/json",
        )

    async def head(request: Request) -> Response:
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route("/hooks", hooks, methods=["POST"]),
            Route("/hooks", head, methods=["HEAD"]),
            Route("/hires/{key}", status, methods=["GET"]),
            Route("/_received", received, methods=["GET"]),
        ]
    )


@dataclass
class ReceiverServer:
    url: str
    state: ReceiverState
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def hooks(self) -> str:
        return f"{self.url}/hooks"

    @property
    def status_url(self) -> str:
        return self.url + "/hires/{external_key}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve_receiver(secret: str) -> ReceiverServer:
    """The receiver under uvicorn in a daemon thread of this process, on a port bound here."""
    from syncd.sandbox.runner import listening_socket, wait_healthy

    state = ReceiverState(secret)
    app = create_receiver(state)
    app.add_route("/health", lambda r: JSONResponse({"ok": True}))
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    return ReceiverServer(url, state, server, thread)


def main() -> None:
    """``python -m tests.receiver --port 0 --secret S``: prints ``serving http://HOST:PORT`` on
    stderr once it listens (the port the system gave for 0; ``spawn_serving`` reads it)."""
    from syncd.cli_listen import listen_socket

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret", required=True)
    args = ap.parse_args()
    app = create_receiver(ReceiverState(args.secret))
    app.add_route("/health", lambda r: JSONResponse({"ok": True}))
    sock = listen_socket("127.0.0.1", args.port)
    print(
        f"receiver: serving http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
