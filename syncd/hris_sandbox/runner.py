"""Run an HRIS sandbox for tests, benchmarks and demos: in a background thread of this process
(``serve_in_thread``) or as a real ``syncd hris-sandbox serve`` subprocess (``spawn``). Both
serve real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from syncd.hris_sandbox.server import HrisOptions, HrisSandbox, create_app
from syncd.sandbox.runner import ProcessServer, listening_socket, spawn_serving, wait_healthy


@dataclass
class HrisThreadServer:
    base_url: str
    sandbox: HrisSandbox
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve_in_thread(options: HrisOptions, port: int | None = None) -> HrisThreadServer:
    """uvicorn on 127.0.0.1 (a free port unless given) in a daemon thread, once /health answers."""
    gate = create_app(options)
    sock = listening_socket(port)
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        gate,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,  # a request a fault holds must not delay stop()
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"hris-sandbox-{port}", daemon=True
    )
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    wait_healthy(base_url)
    return HrisThreadServer(base_url, gate.sandbox, server, thread)


@contextlib.contextmanager
def running(options: HrisOptions) -> Iterator[HrisThreadServer]:
    srv = serve_in_thread(options)
    try:
        yield srv
    finally:
        srv.stop()


def spawn(vendor: str, *args: str, env: dict[str, str] | None = None) -> ProcessServer:
    """``syncd hris-sandbox serve --vendor VENDOR --port 0`` (the port read from its ``serving``
    line); ``args`` are extra options. Returns once /health answers."""
    cmd = [sys.executable, "-m", "syncd", "hris-sandbox", "serve", "--vendor", vendor]
    proc, base_url = spawn_serving(
        [*cmd, "--port", "0", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,  # the URL again, already read from stderr
    )
    try:
        wait_healthy(base_url, proc=proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return ProcessServer(base_url, proc)
