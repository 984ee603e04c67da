"""Run the sandbox for tests, benchmarks and the demo: in a background thread of this process
(``serve_in_thread``) or as a real subprocess (``spawn``). Both serve real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import uvicorn

from syncd.sandbox.server import Sandbox, SandboxOptions, create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_socket(port: int | None = None) -> socket.socket:
    """A TCP socket bound on 127.0.0.1 (a free port unless given) for uvicorn to serve on. Bound
    here, not by uvicorn later: a port only chosen could be taken by another process (a parallel
    test) in between, and /health would then answer from that process's server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port or 0))
    # Listening at once (uvicorn's default backlog): a connection made before uvicorn's loop runs
    # waits in the backlog instead of being refused.
    sock.listen(2048)
    return sock


def wait_healthy(
    base_url: str, timeout: float = 120.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{base_url}/health", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with code {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"sandbox at {base_url} not healthy after {timeout}s") from None
            time.sleep(0.05)


@dataclass
class ThreadServer:
    base_url: str
    sandbox: Sandbox
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve_in_thread(options: SandboxOptions | None = None, port: int | None = None) -> ThreadServer:
    app = create_app(options)
    sandbox: Sandbox = app.sandbox
    sock = listening_socket(port)
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{port}", daemon=True
    )
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    wait_healthy(base_url)
    return ThreadServer(base_url, sandbox, server, thread)


@contextlib.contextmanager
def running(options: SandboxOptions | None = None) -> Iterator[ThreadServer]:
    srv = serve_in_thread(options)
    try:
        yield srv
    finally:
        srv.stop()


@dataclass
class ProcessServer:
    base_url: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def spawn(*args: str, port: int | None = None, env: dict[str, str] | None = None) -> ProcessServer:
    """``syncd sandbox serve`` as a subprocess; ``args`` are extra CLI options."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "syncd", "sandbox", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})})
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, proc=proc)
    except BaseException:
        proc.kill()
        raise
    return ProcessServer(base_url, proc)
