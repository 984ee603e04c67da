"""``syncd migrate``, ``syncd backfill`` and ``syncd sync --once``: the mirror's commands."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # read by the command, not at import (syncd --help stays quick)
    from syncd.config import Settings
    from syncd.sync.passes import PassesFailed


def _settings(*, all_tenants: bool = False) -> Settings:
    from syncd.cli import settings_or_exit

    return settings_or_exit(all_tenants=all_tenants)


def _parse_since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or date-time (e.g. 2024-05-01T00:00:00Z)"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _resources(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    from syncd.sync.catalogue import BY_NAME

    names = [n.strip() for v in value for n in v.split(",") if n.strip()]
    for n in names:
        if n not in BY_NAME:
            raise click.BadParameter(f"unknown resource {n!r}; choose from {', '.join(BY_NAME)}")
    return names


# How often `syncd migrate` asks again for the migrate lock another migrate holds (several hosts'
# units starting together, each with ExecStartPre=syncd migrate); how long it waits is the
# migrate_wait_seconds setting (SYNCD_MIGRATE_WAIT_SECONDS).
MIGRATE_POLL_SECONDS = 0.25


@click.command("migrate")
def migrate_cmd() -> None:
    """Create or upgrade the mirror's tables (Alembic) in SYNCD_DATABASE_URL; another migrate
    already at it is waited for (up to SYNCD_MIGRATE_WAIT_SECONDS, 120 s by default)."""
    from syncd.mirror.db import make_engine

    # The schema is shared by every tenant: migrate needs no SYNCD_TENANT, and its lock
    # conflicts with every tenant's writer and pusher (syncd.mirror.lock, "migrate").
    settings = _settings(all_tenants=True)
    head = _already_at_head(settings.database_url)
    engine = make_engine(settings.database_url)
    where = engine.url.render_as_string(hide_password=True)
    if head is not None:
        # Nothing to change: no lock needed, so a migrate before `syncd run` (systemd's
        # ExecStartPre, the Kubernetes Job) passes while other daemons lead their tenants.
        engine.dispose()
        click.echo(f"{where}: schema already at {head}")
        return
    try:
        before, after = _migrate_after_any_other(
            settings.database_url, settings.tenant, engine, settings.migrate_wait_seconds
        )
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"{where}: schema already at {after}")
    else:
        click.echo(f"{where}: schema {before or 'empty'} -> {after}")


def _migrate_after_any_other(
    url: str, tenant: str, engine: Any, wait: float
) -> tuple[str | None, str | None]:
    """Migrate under the migrate lock; (revision before, after). Another migrate holding the
    lock (hosts whose units run ``syncd migrate`` as they start together) is waited for, up to
    ``wait`` seconds (``migrate_wait_seconds``), polled every ``MIGRATE_POLL_SECONDS``: once it
    is done the schema is at head and this one changes nothing. A writer or pusher of any
    tenant holding it raises ``MirrorBusyError`` at once (exit 5); another migrate still holding
    it past the wait raises ``CommandError`` (exit 5, one line naming it and the setting),
    nothing changed."""
    from syncd.cli_errors import BUSY, CommandError
    from syncd.mirror.db import current_revision, migrate
    from syncd.mirror.lock import MirrorBusyError, MirrorLinkedError, writer_lock

    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            with writer_lock(url, tenant, role="migrate"):
                return migrate(engine)
        except MirrorLinkedError:
            raise  # no migrate will free it: at once
        except MirrorBusyError as exc:
            # No holder named: it took the lock an instant ago (not written yet) or let it go
            # between the attempt and the read; either way, asking again settles it.
            other_migrate = exc.holder is None or exc.role == "migrate"
            if not other_migrate:
                raise
            if time.monotonic() >= deadline:
                if exc.holder is None:
                    raise
                raise CommandError(
                    f"another syncd is migrating the mirror {exc.where} ({exc.holder}); gave up "
                    f"after waiting {wait:g} s (SYNCD_MIGRATE_WAIT_SECONDS): rerun once it has "
                    "ended, or set SYNCD_MIGRATE_WAIT_SECONDS higher",
                    BUSY,
                ) from None
            if not told and exc.holder is not None:
                told = True
                click.echo(
                    f"syncd: another syncd is migrating the mirror ({exc.holder}); waiting "
                    f"up to {wait:g} s for it to end",
                    err=True,
                )
        time.sleep(MIGRATE_POLL_SECONDS)
        if _already_at_head(url) is not None:  # the other migrate brought it to head
            head = current_revision(engine)
            return head, head


def _already_at_head(url: str) -> str | None:
    """The head revision when the mirror's schema is already there (read only), else None (a
    SQLite file that does not exist yet included: migrate creates it under its lock)."""
    from syncd.mirror.db import current_revision, head_revision, make_engine, sqlite_path

    engine = make_engine(url, read_only=True)
    try:
        path = sqlite_path(engine.url)
        if path is not None and not path.exists():
            return None
        head = head_revision(engine)
        return head if current_revision(engine) == head else None
    finally:
        engine.dispose()


def _run(
    settings: Settings, mode: str, resources: list[str], since: datetime | None, label: str = ""
) -> int:
    """One job under the mirror's writer lock; SIGTERM/SIGINT end it cleanly (exit 143/130).
    Failures end in the error boundary (``syncd.cli_errors``); returns the exit code.
    ``label`` (``tenant NAME: ``) starts the summary's title and the notes when several
    tenants are done in turn."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from syncd.cli_errors import INCOMPLETE, OK, USAGE, CommandError, run_until_signal
    from syncd.logging import configure_logging
    from syncd.mirror.db import make_engine, require_schema
    from syncd.mirror.lock import writer_lock
    from syncd.sync.passes import PassesFailed
    from syncd.sync.runner import run_job

    if not settings.smartrecruiters.has_credentials:
        raise CommandError(
            settings.missing_credentials(),
            USAGE,
        )
    configure_logging(settings.log_level, settings.log_format)
    # Before the lock: a mirror that was never migrated is not created by this command (the
    # check only reads; the lock then says when the file or its folder cannot be written).
    db = make_engine(settings.database_url, read_only=True)
    try:
        require_schema(db)
    finally:
        db.dispose()
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[pages]} pages"),
        TextColumn("{task.fields[rate]:>7.0f}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    tasks: dict[str, Any] = {}
    started: dict[str, float] = {}

    def on_page(resource: str, n: int, pages: int, total: int | None) -> None:
        if resource not in tasks:
            started[resource] = time.perf_counter()
            tasks[resource] = progress.add_task(resource, total=total, pages=0, rate=0.0)
        t = tasks[resource]
        task = progress.tasks[t]
        done = task.completed + n
        rate = done / max(1e-6, time.perf_counter() - started[resource])
        progress.update(t, advance=n, pages=task.fields["pages"] + pages, rate=rate)

    failed: PassesFailed | None = None
    with writer_lock(settings.database_url, settings.tenant), progress:
        try:
            reports, calls = run_until_signal(
                run_job(settings, mode, resources, since, progress=on_page)
            )
        except PassesFailed as exc:  # some resources failed, the others ran: all reported
            reports, calls, failed = exc.reports, exc.calls, exc
    _summary(reports, calls, label)
    for r in reports:
        if r.note:
            click.echo(f"{label}{r.resource}: {r.note}", err=True)
    incomplete = [r for r in reports if r.status == "incomplete"]
    for r in incomplete:
        click.echo(
            f"syncd: {label}{r.resource}: incomplete: {r.incomplete}; nothing was deleted and the "
            "cursor did not move: the next pass walks it again",
            err=True,
        )
    if failed is not None:
        return _failures(failed, label)
    return INCOMPLETE if incomplete else OK


def _failures(failed: PassesFailed, label: str) -> int:
    """One line per resource whose pass failed (``syncd: RESOURCE: failed: …``, the error
    boundary's line for its error); returns the worst of their exit codes (README, exit codes):
    a failure outranks another pass's incomplete walk."""
    from syncd.cli_errors import describe

    codes = []
    for name, exc in failed.failures:
        known = describe(exc)
        codes.append(known[0])
        line = known[1].removeprefix(f"{name}: ")  # the error's own line may name it already
        click.echo(f"syncd: {label}{name}: failed: {line}", err=True)
    return max(codes)


SUMMARY_COLUMNS = (
    "resource", "mode", "fetched", "inserted", "updated", "unchanged", "deleted",
    "quarantined", "calls", "retries", "seconds", "status",
)  # fmt: skip
_TEXT_COLUMNS = ("resource", "mode", "status")


def _summary_rows(reports: list[Any]) -> list[list[str]]:
    rows = []
    for r in reports:
        c = r.counts
        rows.append([
            r.resource, r.mode, str(c.fetched), str(c.inserted), str(c.updated),
            str(c.unchanged), str(c.deleted), str(c.quarantined), str(c.api_calls),
            str(r.retries), f"{r.seconds:.1f}", r.status,
        ])  # fmt: skip
    return rows


def _summary(reports: list[Any], calls: int, label: str = "") -> None:
    """The passes as a table on stdout when it fits the width (a terminal's, else 80 columns);
    folded to one block per pass when it does not, never cut."""
    from syncd.cli_tables import print_table

    retries = sum(r.retries for r in reports)
    print_table(
        f"syncd: {label}{calls} API calls, {retries} retried",
        list(SUMMARY_COLUMNS),
        _summary_rows(reports),
        right=[c for c in SUMMARY_COLUMNS if c not in _TEXT_COLUMNS],
    )


@click.command("backfill")
@click.option(
    "--resources",
    multiple=True,
    callback=_resources,
    help="Comma-separated subset of: jobs, audit, candidates, offers (default: all).",
)
@click.option(
    "--since",
    callback=_parse_since,
    help="Only records changed since this ISO 8601 time (default: everything).",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Discard the checkpoints of the backfill in progress (of --resources, default all) and "
    "start those passes from the first page; the mirror's rows stay.",
)
def backfill_cmd(resources: list[str], since: datetime | None, restart: bool) -> None:
    """Copy the tenant into the mirror; a backfill run after a kill continues where it stopped.
    With several [tenants] and no SYNCD_TENANT, every tenant in turn."""

    def backfill(settings: Settings, label: str = "") -> int:
        if restart:
            _restart(settings, resources)
        return _run(settings, "backfill", resources, since, label)

    sys.exit(_for_tenants(backfill, "backfill"))


def _for_tenants(act: Callable[..., int], what: str) -> int:
    """``act(settings)`` on the tenant the command acts on (``SYNCD_TENANT``, or the only one);
    with several ``[tenants]`` and no ``SYNCD_TENANT``, on each in turn (name order, as
    ``syncd run`` lists them), each under its own writer lock: a tenant that fails is reported
    on one line (``syncd: tenant NAME: …``) and the others are still done. Returns the exit
    code: the one tenant's, or the highest of the tenants' (README, exit codes). SIGTERM or
    SIGINT stops the tenant in progress as for one tenant and starts no other."""
    from syncd.cli_errors import describe
    from syncd.cli_inspect import every_tenant

    everyone = _settings(all_tenants=True)
    names = every_tenant(everyone)
    if names is None:
        return act(everyone.select_tenant())
    codes: dict[str, int] = {}
    for name in names:
        click.echo(f"syncd: tenant {name}: {what}", err=True)
        try:
            codes[name] = act(everyone.for_tenant(name), f"tenant {name}: ")
        except Exception as exc:  # one tenant's failure: reported, the next one still done
            codes[name], line = describe(exc)
            click.echo(f"syncd: tenant {name}: {line}", err=True)
    worst = max(codes.values())
    each = ", ".join(f"{n} {c}" for n, c in codes.items())
    click.echo(f"syncd: {what} of {len(codes)} tenants: exit codes {each}; exit {worst}", err=True)
    return worst


def _restart(settings: Settings, resources: list[str]) -> None:
    """Discard the pass checkpoints of ``resources`` under the writer lock (a schema behind or a
    busy mirror end in the error boundary: exit 2 or 5)."""
    from syncd.mirror.db import make_engine, require_schema
    from syncd.mirror.lock import writer_lock
    from syncd.mirror.store import Mirror
    from syncd.sync.backfills import restart
    from syncd.sync.catalogue import BY_NAME

    db = make_engine(settings.database_url)
    try:
        require_schema(db)
        with writer_lock(settings.database_url, settings.tenant):
            dropped = restart(Mirror(db, settings.tenant), resources or list(BY_NAME))
    finally:
        db.dispose()
    what = ", ".join(dropped) if dropped else "no pass was in progress"
    click.echo(f"syncd: restart: checkpoints discarded ({what}); the mirror's rows stay", err=True)


@click.command("sync")
@click.option("--once", is_flag=True, help="One incremental pass of every resource, then exit.")
@click.option("--sweep", is_flag=True, help="A complete pass that also detects deletions.")
def sync_cmd(once: bool, sweep: bool) -> None:
    """Incremental sync from each resource's cursor."""
    if not once:
        raise click.UsageError(
            "`syncd sync` needs --once (one pass); to sync continuously run `syncd run`, the "
            "daemon (docs/daemon.md)"
        )
    mode = "sweep" if sweep else "incremental"
    sys.exit(
        _for_tenants(
            lambda settings, label="": _run(settings, mode, [], None, label), f"sync ({mode})"
        )
    )
