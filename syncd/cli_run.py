"""``syncd run`` (the daemon) and ``syncd webhooks subscribe|list|delete``. docs/daemon.md."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # read by the command, not at import (syncd --help stays quick)
    from syncd.config import Settings

# Of the stop bound, what the end of a stop keeps after the jobs: releasing the locks, closing
# the client, the database and the HTTP server (they take well under a second).
STOP_RESERVE_SECONDS = 5.0
# How long before ``schedule.stop_grace_seconds`` (the supervisor's grace: systemd's
# TimeoutStopSec, Kubernetes' terminationGracePeriodSeconds, the same figure) the daemon has
# ended, or force-exits: its own exit never races the supervisor's SIGKILL.
STOP_MARGIN_SECONDS = 5.0


def stop_bound(grace: float) -> float:
    """Seconds after SIGTERM/SIGINT by which ``syncd run`` has exited: 0 once its jobs ended,
    else forced (143/130) at this bound. ``grace`` (s, > 0) minus a margin of 5 s (a sixth of
    the grace when that is shorter): 30 -> 25. docs/daemon.md (SIGTERM or SIGINT)."""
    return grace - min(STOP_MARGIN_SECONDS, grace / 6)


def _settings(all_tenants: bool = False) -> Settings:
    from syncd.cli import settings_or_exit

    return settings_or_exit(all_tenants=all_tenants)


def _run_settings() -> Settings:
    """The settings ``syncd run`` serves: every tenant of ``[tenants]``. ``SYNCD_TENANT`` set
    with ``[tenants]``: one not configured is refused as the one-shot commands refuse it; one of
    several configured is refused too (a replica serving one tenant while others serve all would
    upset the share rule on PostgreSQL, docs/daemon.md "Several tenants"), naming the fix;
    the only one configured is what is served anyway. Raises ConfigError (exit 2)."""
    from syncd.config import ConfigError

    settings = _settings(all_tenants=True)
    if settings.tenants and "tenant" in settings.model_fields_set:
        settings.select_tenant()  # not configured: the one-shot commands' line
        if len(settings.tenants) > 1:
            names = ", ".join(sorted(settings.tenants))
            raise ConfigError(
                f"SYNCD_TENANT: syncd run serves every configured tenant ({names}) and does "
                f"not take SYNCD_TENANT ({settings.tenant!r}); unset it for the daemon, or give "
                f"it a configuration whose [tenants] has only {settings.tenant!r}"
            )
    return settings


def _preflight(settings: Settings) -> socket.socket:
    """Everything that can be checked before the daemon starts: credentials, sinks, the mirror's
    schema, the HTTP port. Raises what the error boundary reports (exit 2 or 6)."""
    from syncd.cli_errors import USAGE, CommandError
    from syncd.delivery.sinks import configure
    from syncd.mirror.db import make_engine, normalize_url, require_schema
    from syncd.sinks.base import SinkError

    for name in settings.tenant_names():
        one = settings.for_tenant(name)
        if not one.smartrecruiters.has_credentials:
            raise CommandError(one.missing_credentials(), USAGE)
        try:
            configure(
                one.sinks, origin=one.sink_origin
            )  # built and checked; each push pass builds its own
        except SinkError as exc:
            prefix = f"tenant {name}: " if settings.tenants else ""
            raise CommandError(prefix + str(exc).replace("\n", "; "), USAGE) from None
    db = make_engine(settings.database_url, read_only=True)
    try:
        require_schema(db)
    finally:
        db.dispose()
    from syncd.mirror.db import sqlite_path
    from syncd.mirror.lock import MirrorBusyError, lock_holder, mirror_where

    # SQLite: a second daemon is refused for what it is (exit 5, the holder named), before its
    # port (probably the first one's) is tried. PostgreSQL: it will stand by.
    db_file = sqlite_path(normalize_url(settings.database_url))
    if db_file is not None:
        held, holder = lock_holder(settings.database_url, settings.tenant_names()[0])
        if held:
            raise MirrorBusyError(mirror_where(db_file), holder)
    from syncd.daemon.http import bind

    return bind(settings.http.host, settings.http.port)


@click.command("run")
def run_cmd() -> None:
    """Run syncd as a service: scheduled pulls, sweeps and pushes, the ops HTTP server
    (/healthz, /readyz, /metrics) and SmartRecruiters webhooks in. SIGTERM or SIGINT stops it
    cleanly (exit 0). docs/daemon.md."""
    import asyncio

    from syncd.cli_errors import NO_STDOUT
    from syncd.logging import configure_logging

    # Nothing goes to stdout: `syncd run 2>&1 | head -1` stops like any run (exit 0), not 141.
    click.get_current_context().meta[NO_STDOUT] = True
    settings = _run_settings()
    # From here a signal during the checks below (a second or so) is kept for ``serve``, which
    # logs ``stopping`` and exits 0 without starting anything; the bound's timer starts now.
    early = _EarlySignal(stop_bound(settings.schedule.stop_grace_seconds))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, early.handle)
    sock = _preflight(settings)
    from syncd.daemon.service import route_library_logs

    configure_logging(settings.log_level, settings.log_format)
    route_library_logs(settings.log_level)
    sys.exit(asyncio.run(serve(settings, sock, early)))


class _EarlySignal:
    """SIGTERM/SIGINT before the event loop's handlers are installed (``syncd run``'s checks):
    the first is kept (``signum``) and starts the forced exit at ``bound`` seconds, as in
    ``serve``; a second exits at once (128 + its number)."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self.signum: int | None = None

    def handle(self, signum: int, _frame: Any) -> None:
        if self.signum is not None:
            os._exit(128 + signum)
        self.signum = signum
        timer = threading.Timer(self.bound, os._exit, args=(128 + signum,))
        timer.daemon = True
        timer.start()


async def serve(settings: Settings, sock: socket.socket, early: _EarlySignal | None = None) -> int:
    """The daemon's life; returns the exit code (0 after SIGTERM/SIGINT once the jobs ended).
    ``early``: a signal received before this ran (it stops the daemon before it starts)."""
    import asyncio

    import structlog

    from syncd.daemon.fleet import Fleet
    from syncd.daemon.hooks_in import HookIntake
    from syncd.daemon.http import create_app, make_server
    from syncd.daemon.notify import Notifier
    from syncd.logging import get_logger

    if not settings.tenants:
        # Bound once: every event of the daemon and its jobs (tasks inherit the context) names
        # its one tenant. Several tenants: each tenant's jobs and callbacks bind their own.
        structlog.contextvars.bind_contextvars(tenant=settings.tenant)
    log = get_logger()
    grace = settings.schedule.stop_grace_seconds
    bound = stop_bound(grace)
    notify = Notifier()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int, timed: bool = False) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # a second signal: now
        log.warning(
            "stopping", signal=signal.Signals(signum).name, grace_seconds=grace, bound=bound
        )
        if timed:  # an early signal: its timer runs since it came
            stop.set()
            return
        # Past the bound the process exits anyway; the database rolls back what is open. The
        # bound ends a margin before the grace, so Kubernetes' terminationGracePeriodSeconds and
        # systemd's TimeoutStopSec can be the grace itself (deploy/) without the forced exit
        # racing their SIGKILL.
        timer = threading.Timer(bound, os._exit, args=(128 + signum,))
        timer.daemon = True
        timer.start()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    # From here a SIGTERM is a clean stop (exit 0), even before daemon_started; one received
    # during the checks before ``serve`` (``_EarlySignal``) is that stop now.
    log.info("daemon_starting", tenants=settings.tenant_names())
    if early is not None and early.signum is not None:
        on_signal(early.signum, timed=True)
    # The running jobs get the bound but for a reserve kept for the locks, the client and the
    # HTTP server.
    reserve = min(STOP_RESERVE_SECONDS, bound / 3)

    fleet = Fleet(settings)
    try:
        started = await fleet.start(stop)
    except BaseException:
        await fleet.close(0)
        raise

    async def stopped_during_start_up() -> int:
        # The rest of start-up (webhooks, the HTTP server, daemon_started) never happens; what
        # was begun (a first job, the webhook worker) is ended as at any stop.
        await fleet.close(bound - reserve)
        sock.close()
        log.info("daemon_stopped", during="start-up")
        return 0

    if not started:
        return await stopped_during_start_up()
    for name, daemon in fleet.daemons.items():
        intake = HookIntake(daemon)
        daemon.hooks = intake
        with structlog.contextvars.bound_contextvars(tenant=name):
            intake.warn_without_keys()
            await intake.load_keys()
        fleet.start_hooks(intake, name)
    fleet.start_inbox_listener()
    if stop.is_set():  # during the webhook keys' read
        return await stopped_during_start_up()
    server = make_server(create_app(fleet))
    server_task = asyncio.create_task(server.serve(sockets=[sock]))
    helpers = [
        asyncio.create_task(fleet.heartbeat(stop, notify)),
        asyncio.create_task(fleet.watch(stop)),
        asyncio.create_task(fleet.watch_file(stop)),
    ]
    host, port = sock.getsockname()[:2]
    if settings.tenants:
        log.info(
            "daemon_started", leading=fleet.leading, tenants=fleet.names, http=f"{host}:{port}"
        )
    else:
        role = fleet.daemons[settings.tenant].role
        log.info("daemon_started", role=role, tenant=settings.tenant, http=f"{host}:{port}")
    notify.ready()
    await stop.wait()
    notify.stopping()
    await fleet.close(bound - reserve)
    server.should_exit = True
    await asyncio.wait([server_task, *helpers], timeout=reserve / 2)
    if fleet.lost is not None:
        from syncd.mirror.lock import MirrorFileLostError

        # The error boundary's one line names the file (exit 6).
        log.info("daemon_stopped", reason="mirror file lost")
        raise MirrorFileLostError(fleet.lost)
    log.info("daemon_stopped")
    return 0


# ---- webhooks ---------------------------------------------------------------------------------
def _callback_url(settings: Settings) -> str:
    from syncd.cli_errors import USAGE, CommandError

    url = settings.webhooks.callback_url
    if not url:
        raise CommandError(
            f"no callback URL: set {settings.variable('WEBHOOKS__CALLBACK_URL')} to the public "
            f"URL of the daemon's {settings.webhook_path()} endpoint",
            USAGE,
        )
    return url


def _client_run(settings: Settings, work: Any) -> Any:
    import asyncio

    from syncd.ats import SmartRecruitersClient

    async def go() -> Any:
        async with SmartRecruitersClient(settings.smartrecruiters) as sr:
            return await work(sr)

    return asyncio.run(go())


async def _mine(sr: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async for page in sr.webhooks.pages():
        out.extend(s for s in page.items if s.get("callbackUrl") == url)
    return out


@click.group("webhooks")
def webhooks_cmd() -> None:
    """SmartRecruiters webhook subscriptions for SYNCD_WEBHOOKS__CALLBACK_URL."""


@webhooks_cmd.command("subscribe")
def webhooks_subscribe() -> None:
    """Subscribe the callback URL to the configured events, give it a signing key and activate
    it (SmartRecruiters handshakes with the running `syncd run`). Idempotent."""
    settings = _settings()
    url = _callback_url(settings)
    events = settings.webhooks.events

    async def work(sr: Any) -> tuple[str, bool]:
        existing = await _mine(sr, url)
        if existing:
            sub = existing[0]
            created = False
        else:
            sub = await sr.webhooks.create(url, events)
            created = True
        sid = str(sub["id"])
        if created:
            await sr.webhooks.generate_secret_key(sid)  # before activation: every call signed
        if sub.get("status") != "active":
            await sr.webhooks.activate(sid)
        return sid, created

    sid, created = _client_run(settings, work)
    click.echo(f"{'subscribed' if created else 'already subscribed'}: {sid} -> {url} (active)")


@webhooks_cmd.command("list")
@click.option("--json", "as_json", is_flag=True)
def webhooks_list(as_json: bool) -> None:
    """The subscriptions to the callback URL."""
    settings = _settings()
    url = _callback_url(settings)
    subs = _client_run(settings, lambda sr: _mine(sr, url))
    if as_json:
        click.echo(json.dumps(subs, indent=2))
        return
    for s in subs:
        click.echo(f"{s['id']}  {s.get('status')}  {','.join(s.get('events', []))}")
    if not subs:
        click.echo(f"no subscription to {url}")


@webhooks_cmd.command("delete")
def webhooks_delete() -> None:
    """Delete every subscription to the callback URL."""
    settings = _settings()
    url = _callback_url(settings)

    async def work(sr: Any) -> int:
        subs = await _mine(sr, url)
        for s in subs:
            await sr.webhooks.delete(str(s["id"]))
        return len(subs)

    n = _client_run(settings, work)
    click.echo(f"deleted {n} subscription(s) to {url}")
