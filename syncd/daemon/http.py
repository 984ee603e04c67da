"""The daemon's HTTP server (Starlette under uvicorn, in the daemon's own event loop):

- ``GET /healthz``: 200 while the process and its event loop are alive (the loop's heartbeat is
  younger than ``HEALTH_STALE_SECONDS``).
- ``GET /readyz``: 200 when the database answers (on SQLite: its file is still the one the
  daemon locked, neither deleted nor replaced), its schema is at the head revision, the process
  knows whether it leads or stands by, and (leader) the last successful pass of each resource is
  younger than 3x ``schedule.poll_interval_seconds`` (a daemon that just started gets that long
  for its first pass); else 503 with the failing checks.
- ``GET /metrics``: Prometheus text format (``syncd.daemon.metrics``).
- ``POST /webhooks/smartrecruiters/{tenant}``: SmartRecruiters callbacks of one tenant
  (``syncd.daemon.hooks_in``); ``POST /webhooks/smartrecruiters`` too when one tenant is served.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from collections.abc import Generator, Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import structlog
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd.daemon.hooks_in import PATH as HOOKS_PATH
from syncd.mirror.db import current_revision, describe_db_error, head_revision

HEALTH_STALE_SECONDS = 10.0
PASS_MODES = ("incremental", "sweep", "backfill")


def readiness(daemon: Any) -> dict[str, Any]:
    """The checks of ``/readyz`` (blocking: run it in a worker thread)."""
    from syncd.mirror import schema as s
    from syncd.sync.catalogue import CATALOGUE

    checks: dict[str, Any] = {"role": daemon.role}
    lost = daemon.file_problem() if hasattr(daemon, "file_problem") else None
    if lost is not None:  # SQLite: the file was deleted or replaced; the daemon is stopping
        checks["database"] = lost
        return checks
    try:
        with daemon.db.connect() as conn:
            conn.execute(text("SELECT 1"))
            t = s.sync_runs
            rows = conn.execute(
                select(t.c.resource, func.max(t.c.ended_at))
                .where(
                    t.c.tenant == daemon.tenant,
                    t.c.status == "ok",
                    t.c.mode.in_(PASS_MODES),  # a refresh by id is not a pass
                )
                .group_by(t.c.resource)
            ).all()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable ({describe_db_error(exc)})"
        return checks
    current, head = current_revision(daemon.db), head_revision(daemon.db)
    checks["migrations"] = "ok" if current == head else f"schema at {current}, syncd needs {head}"
    if daemon.role == "leader":
        limit = 3 * daemon.settings.schedule.poll_interval_seconds
        last = {r: e.replace(tzinfo=UTC).timestamp() for r, e in rows if e is not None}
        now = time.time()
        stale = {}
        for res in CATALOGUE:
            since = max(last.get(res.name, 0.0), daemon.started)
            if now - since > limit:
                ok_at = last.get(res.name)
                stale[res.name] = (
                    datetime.fromtimestamp(ok_at, UTC).isoformat() if ok_at else "never"
                )
        checks["passes"] = "ok" if not stale else {"last ok older than 3x interval": stale}
    return checks


def is_ready(checks: dict[str, Any]) -> bool:
    return (
        checks.get("database") == "ok"
        and checks.get("migrations") == "ok"
        and checks.get("role") in ("leader", "standby")
        and checks.get("passes", "ok") == "ok"
    )


def create_app(fleet: Any, intake: Any = None) -> Starlette:
    """The routes over a ``syncd.daemon.fleet.Fleet`` whose daemons each have their ``hooks``
    (a ``HookIntake``); or over one daemon-like object and its ``intake`` (the single-tenant
    form). One tenant without ``[tenants]``: ``/readyz`` and ``/metrics`` as they always were.
    Several: ``/readyz`` answers per tenant (ready when every tenant is), every metric gets a
    ``tenant`` label, callbacks go to ``/webhooks/smartrecruiters/{tenant}``."""
    beat = fleet  # whose ``loop_beat`` /healthz reads
    if not hasattr(fleet, "daemons"):
        if intake is not None:
            fleet.hooks = intake
        one = {str(getattr(fleet, "tenant", "default")): fleet}
        fleet = SimpleNamespace(daemons=one, multi=False, leading=[])
    daemons: dict[str, Any] = fleet.daemons
    sole = next(iter(daemons.values())) if len(daemons) == 1 else None

    async def healthz(request: Request) -> Response:
        lag = time.monotonic() - beat.loop_beat
        ok = lag < HEALTH_STALE_SECONDS
        return JSONResponse(
            {"status": "ok" if ok else "stalled", "heartbeat_age_seconds": round(lag, 3)},
            status_code=200 if ok else 503,
        )

    async def readyz(request: Request) -> Response:
        if not fleet.multi and sole is not None:
            checks = await run_in_threadpool(readiness, sole)
            ready = is_ready(checks)
            body: dict[str, Any] = {"ready": ready, "checks": checks}
        else:
            tenants = {}
            for name, d in daemons.items():
                checks = await run_in_threadpool(readiness, d)
                tenants[name] = {"ready": is_ready(checks), "checks": checks}
            ready = all(t["ready"] for t in tenants.values())
            body = {"ready": ready, "leading": fleet.leading, "tenants": tenants}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        for d in daemons.values():
            with contextlib.suppress(Exception):  # a database down must not hide the counters
                await run_in_threadpool(d.observer.refresh_from_mirror, d.db, d.tenant,
                                        d.sink_names)  # fmt: skip
        if not fleet.multi and sole is not None:
            return Response(sole.observer.exposition(), media_type=CONTENT_TYPE_LATEST)
        by_tenant = {name: d.observer.registry for name, d in daemons.items()}
        return Response(tenant_exposition(by_tenant), media_type=CONTENT_TYPE_LATEST)

    async def hook(request: Request) -> Response:
        d = daemons.get(request.path_params["tenant"])
        if d is None:
            return JSONResponse({"error": "no such tenant"}, status_code=404)
        with structlog.contextvars.bound_contextvars(tenant=d.tenant):
            response: Response = await d.hooks.handle(request)
        return response

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route(HOOKS_PATH + "/{tenant}", hook, methods=["POST"]),
    ]
    if sole is not None:  # one tenant: the path SmartRecruiters subscriptions already name
        routes.append(Route(HOOKS_PATH, sole.hooks.handle, methods=["POST"]))
    return Starlette(routes=routes)


def tenant_exposition(registries: dict[str, CollectorRegistry]) -> bytes:
    """The metrics of several tenants' registries in one exposition: each sample labelled with
    its ``tenant`` (``syncd_leader`` has it already), families merged by name."""
    merged: dict[str, Metric] = {}
    for tenant, registry in registries.items():
        for family in registry.collect():
            out = merged.get(family.name)
            if out is None:
                out = Metric(family.name, family.documentation, family.type, family.unit)
                merged[family.name] = out
            for sample in family.samples:
                labels = sample.labels
                if "tenant" not in labels:
                    labels = {"tenant": tenant, **labels}
                out.samples.append(sample._replace(labels=labels))

    class Merged:
        def collect(self) -> Iterable[Metric]:
            return list(merged.values())

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Merged())
    return generate_latest(registry)


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the daemon's loop: the daemon owns SIGTERM/SIGINT, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts (a port in use is a config error).
    ``port`` 0 binds any free port (the one bound is in the ``daemon_started`` log line). A socket
    passed by socket activation (``syncd.daemon.activation``) is used as it is instead, and
    ``host`` and ``port`` are then not read.

    Raises ``syncd.config.ConfigError`` (exit 2) naming the setting to change."""
    from syncd.daemon.activation import inherited_socket

    passed = inherited_socket()
    if passed is not None:
        return passed
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from syncd.config import ConfigError

        raise ConfigError(_bind_error(host, port, exc)) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _bind_error(host: str, port: int, exc: OSError) -> str:
    """One line naming the setting to change: the port when it is taken or privileged, the host
    when it is no address of this machine (EADDRNOTAVAIL) or not an address at all (gaierror)."""
    what = f"cannot listen on {host}:{port} ({exc.strerror or exc})"
    if exc.errno == errno.EADDRINUSE:
        return f"SYNCD_HTTP__PORT: {what}; choose a free port"
    if exc.errno == errno.EACCES and port < 1024:
        return f"SYNCD_HTTP__PORT: {what}; choose a port above 1023"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"SYNCD_HTTP__HOST: {what}; use an address of this machine (127.0.0.1, or 0.0.0.0 "
            "for every interface)"
        )
    return f"SYNCD_HTTP__HOST/SYNCD_HTTP__PORT: {what}; choose another host or port"


def make_server(app: Starlette) -> EmbeddedServer:
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    return EmbeddedServer(config)
