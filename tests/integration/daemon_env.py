"""Shared pieces of the daemon tests: ``syncd run`` as a real subprocess, waiting for a state
with a deadline (never a fixed sleep), and the daemon's /metrics parsed with prometheus-client's
own parser."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from syncd.daemon.activation import activated
from syncd.mirror.db import make_engine
from syncd.sandbox.runner import listening_socket

T = TypeVar("T")


def wait_for(
    what: str,
    check: Callable[[], T | None],
    timeout: float = 120.0,
    log: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns a truthy value; fail naming ``what`` at the deadline (with
    the tail of ``log()``, the daemon's log, when given). The default deadline is only reached
    when something is wrong: on a loaded 2-core machine a daemon's first pull alone has taken
    over 60 s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    tail = "\n" + log()[-4000:] if log is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r}){tail}")


@dataclass
class DaemonProc:
    proc: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics: (name, sorted labels) -> value."""
        out = {}
        for family in text_string_to_metric_families(self.get("/metrics").text):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def events(self) -> list[dict[str, Any]]:
        """The daemon's JSON log lines so far; a last line still being written is left for
        later."""
        lines = self.output().splitlines(keepends=True)
        return [orjson.loads(x) for x in lines if x.startswith("{") and x.endswith("\n")]


def start_daemon(
    env: dict[str, str],
    tmp: Path,
    name: str = "daemon",
    sock: socket.socket | None = None,
    *,
    wait: bool = True,
) -> DaemonProc:
    """``syncd run`` in its own process, its stderr in a file; returns once /healthz answers.

    Its HTTP socket (``sock``, else a new ``listening_socket()``) is bound here and passed to it
    by socket activation (``LISTEN_FDS``, ``syncd.daemon.activation``), then closed here: the
    port is known before the daemon starts (a test binds ``sock`` first when a webhook callback
    URL in ``env`` must name it) and no other process can take it in between, as a port only
    found free could be under parallel tests. The daemon then ignores ``SYNCD_HTTP__PORT``.
    ``wait=False``: returns at once (a test of the daemon's start-up)."""
    sock = sock or listening_socket()
    port = int(sock.getsockname()[1])
    log = tmp / f"{name}.log"
    full = {**env, "SYNCD_LOG_FORMAT": "json"}
    cmd, fds = activated([sys.executable, "-m", "syncd", "run"], sock)
    with sock, open(log, "w") as fh:
        proc = subprocess.Popen(
            cmd, env=full, stdout=fh, stderr=subprocess.STDOUT, text=True, pass_fds=fds
        )
    d = DaemonProc(proc, port, log)
    if not wait:
        return d

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"syncd run exited {proc.returncode}: {d.output()[-2000:]}")
        return d.get("/healthz").status_code == 200

    wait_for("/healthz", healthy, timeout=90)
    return d


def daemon_env(base: dict[str, str], **schedule: float) -> dict[str, str]:
    """``base`` with short intervals for tests (``poll_interval_seconds=1`` ...)."""
    env = {k: v for k, v in base.items() if not k.startswith("SYNCD_SCHEDULE__")}
    defaults = {"poll_interval_seconds": 1.0, "push_interval_seconds": 1.0}
    for k, v in {**defaults, **schedule}.items():
        env[f"SYNCD_SCHEDULE__{k.upper()}"] = str(v)
    env.pop("NOTIFY_SOCKET", None)
    return {**os.environ, **env} if "PATH" not in env else env


def sandbox_stats(base_url: str) -> tuple[dict[str, float], float]:
    """The sandbox's own count of the API calls it answered, by group (as /metrics names them:
    the path's first segment without ``-api``), and of its 429 answers."""
    stats = httpx.get(f"{base_url}/_sandbox/stats", timeout=30).json()["stats"]
    calls: dict[str, float] = {}
    for key, n in stats.items():
        if key.startswith("calls:"):
            group = key.split(" ", 1)[1].removesuffix("-api")
            calls[group] = calls.get(group, 0.0) + n
    return calls, float(stats.get("throttled", 0))


def by_labels(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, *keep: str
) -> dict[tuple[str, ...], float]:
    """The samples of ``name`` summed over every label but ``keep`` (zeros left out)."""
    out: dict[tuple[str, ...], float] = {}
    for (n, labels), v in samples.items():
        if n == name and v:
            d = dict(labels)
            key = tuple(d[k] for k in keep)
            out[key] = out.get(key, 0.0) + v
    return out


def runs(db_url: str, tenant: str) -> list[tuple[str, str, str]]:
    """(resource, mode, status) of every recorded run, oldest first."""
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            rows = conn.execute(
                text("SELECT resource, mode, status FROM sync_runs WHERE tenant = :t ORDER BY id"),
                {"t": tenant},
            ).all()
    finally:
        eng.dispose()
    return [(r[0], r[1], r[2]) for r in rows]
