"""Run the sandbox for tests, benchmarks and the demo: in a background thread of this process
(``serve_in_thread``) or as a real subprocess (``spawn``). Both serve real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import httpx
import uvicorn

from syncd.sandbox.server import Sandbox, SandboxOptions, create_app


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 where a connection is refused, for as long as the block runs: bound
    here and never listening, so no other process can take it meanwhile (a port only found free
    could be). Without SO_REUSEADDR: Linux lets two sockets share a port when both set it and
    neither listens yet, and the other one could then listen."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


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


# What ``syncd sandbox serve``, ``syncd hris-sandbox serve`` and ``tests/receiver.py`` print on
# stderr once their socket listens (with --port 0, the port the system gave).
SERVING = re.compile(rb"serving (http://\S+)")


def sandbox_serving_line(
    seed: int, jobs: int, candidates: int, seconds: float, host: str, port: int
) -> str:
    """The line ``syncd sandbox serve`` prints on stderr once it listens (``SERVING`` finds its
    URL; the README's ``make demo`` transcript starts with it): ``seconds`` is how long the
    tenant took to generate."""
    return (
        f"sandbox: seed={seed} jobs={jobs} candidates={candidates} generated in "
        f"{seconds:.1f}s; serving http://{host}:{port}"
    )


def spawn_serving(
    cmd: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    **popen: Any,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server ``cmd`` that binds its own port (``--port 0``) and return it with the base
    URL it prints (``serving http://HOST:PORT`` on stderr), read with a deadline.

    The rest of its stderr is copied to this process's stderr (descriptor 2, where the server's
    lines went before it was read here) by a daemon thread until the server exits, so that the
    server never blocks on a full pipe. ``popen`` goes to ``subprocess.Popen`` (``stdout``,
    ``cwd``). Raises ``RuntimeError`` when the server exits first (its exit code and last lines
    named) and ``TimeoutError`` after ``timeout`` seconds; the server is killed then."""
    proc = subprocess.Popen(
        list(cmd), env=None if env is None else dict(env), stderr=subprocess.PIPE, **popen
    )
    assert proc.stderr is not None
    found: queue.Queue[str | None] = queue.Queue()
    tail: list[bytes] = []

    def pump(stream: IO[bytes]) -> None:
        url_seen = False
        for line in stream:
            if not url_seen:
                m = SERVING.search(line)
                if m:
                    url_seen = True
                    found.put(m.group(1).decode())
                tail.append(line)
                del tail[:-20]
            with contextlib.suppress(OSError):
                os.write(2, line)
        stream.close()
        if not url_seen:
            found.put(None)  # exited (or closed stderr) without saying where it serves

    threading.Thread(target=pump, args=(proc.stderr,), name="serving-pump", daemon=True).start()
    try:
        url = found.get(timeout=timeout)
    except queue.Empty:
        proc.kill()
        proc.wait()
        raise TimeoutError(f"server did not say where it serves within {timeout}s") from None
    if url is None:
        code = proc.wait(timeout=30)
        last = b"".join(tail).decode(errors="replace").strip()[-1500:]
        raise RuntimeError(f"server exited with code {code} before serving: {last}")
    return proc, url


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


def spawn(*args: str, port: int = 0, env: dict[str, str] | None = None) -> ProcessServer:
    """``syncd sandbox serve`` as a subprocess on ``port`` (0: the one the system gives, read from
    its ``serving`` line); ``args`` are extra CLI options. Returns once /health answers."""
    cmd = [sys.executable, "-m", "syncd", "sandbox", "serve", "--port", str(port), *args]
    proc, base_url = spawn_serving(cmd, env={**os.environ, **(env or {})})
    try:
        wait_healthy(base_url, proc=proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return ProcessServer(base_url, proc)
