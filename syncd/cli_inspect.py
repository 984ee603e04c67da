"""``syncd status``, ``syncd quarantine`` and ``syncd report``: reading the mirror, no API call.
Each needs only ``SYNCD_DATABASE_URL`` (and ``SYNCD_TENANT``); ``--json`` prints for scripts."""

from __future__ import annotations

import csv
import io
import json
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from syncd.cli_errors import WholeRange

if TYPE_CHECKING:
    from sqlalchemy import Connection

STATUS_COLUMNS = [
    "resource",
    "cursor",
    "mode",
    "status",
    "ended",
    "fetched",
    "inserted",
    "updated",
    "deleted",
    "quarantined",
    "calls",
    "next run resumes",
]


@contextmanager
def _mirror() -> Iterator[tuple[Connection, str]]:
    """A read connection to the configured mirror. A SQLite file this user cannot write is
    opened read-only; an unreachable or unmigrated mirror ends in the error boundary."""
    from syncd.cli import settings_or_exit
    from syncd.mirror.db import make_engine, require_schema

    settings = settings_or_exit()
    engine = make_engine(settings.database_url, read_only=True)
    try:
        require_schema(engine)
        with engine.connect() as conn:
            yield conn, settings.tenant
    finally:
        engine.dispose()


def _print_json(value: Any) -> None:
    # Dates are already text; PostgreSQL's ROUND gives Decimals.
    click.echo(json.dumps(value, indent=2, default=str))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from syncd.cli_tables import print_table

    print_table(title, columns, rows)


def _quarantine_resources() -> list[str]:
    """What a quarantined record's ``resource`` can be: a catalogue resource or a table its
    passes write (applications, interviews, approvals ...)."""
    from syncd.mirror import schema as s
    from syncd.sync.catalogue import BY_NAME

    return list(dict.fromkeys([*BY_NAME, *(t.name for t in s.RECORD_TABLES)]))


def _check_resource(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    names = _quarantine_resources()
    if value is not None and value not in names:
        raise click.BadParameter(f"unknown resource {value!r}; choose from {', '.join(names)}")
    return value


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(as_json: bool) -> None:
    """Per resource the cursor, the last pass and its counts, a pass to resume; the work the next
    pass owes; quarantined records; rows in the mirror. With several [tenants] and no
    SYNCD_TENANT, every tenant in turn (JSON: {"tenants": {NAME: status}})."""
    from syncd.cli import settings_or_exit
    from syncd.mirror.db import make_engine, require_schema

    everyone = settings_or_exit(all_tenants=True)
    names = every_tenant(everyone)
    if names is None:  # one tenant: SYNCD_TENANT's (or the only one), as ever
        names = [everyone.select_tenant().tenant]
        several = False
    else:
        several = True
    url = everyone.database_url
    engine = make_engine(url, read_only=True)
    try:
        require_schema(engine)
        with engine.connect() as conn:
            states = {name: _tenant_status(conn, url, name) for name in names}
    finally:
        engine.dispose()
    if as_json:
        _print_json({"tenants": states} if several else states[names[0]])
        return
    for i, (name, st) in enumerate(states.items()):
        if several:
            click.echo(("\n" if i else "") + f"== tenant {name} ==")
        _print_status(name, st)


def every_tenant(settings: Any) -> list[str] | None:
    """The tenants a command that can act on all of them (status, backfill, sync --once) acts
    on: every ``[tenants]`` name in name order (``Settings.tenant_names``: the order ``syncd
    run`` and the messages list them), when several are configured and ``SYNCD_TENANT`` is not
    set; None when the command acts on one (``Settings.select_tenant`` says which, and refuses a
    name not configured)."""
    if len(settings.tenants) > 1 and "tenant" not in settings.model_fields_set:
        return list(settings.tenant_names())
    return None


def _tenant_status(conn: Connection, url: str, tenant: str) -> dict[str, Any]:
    """One tenant's status (``syncd.mirror.inspect.status``) with its sinks and the daemon's
    view; a run left ``running`` by a process that is gone is shown ``interrupted``."""
    from syncd.mirror.inbox import waiting_status
    from syncd.mirror.inspect import sinks_status, status
    from syncd.sync.catalogue import BY_NAME

    # The writer lock is read before and after the runs: a pass read `running` while no
    # process held the lock on either side was left by a process that is gone.
    free_before = _daemon_view(tenant, url)["leader"] is None
    st = status(conn, tenant, list(BY_NAME))
    st["sinks"] = sinks_status(conn, tenant)
    st["webhook_inbox"] = waiting_status(conn, tenant)
    conn.rollback()  # the next tenant's read starts a transaction of its own
    st["daemon"] = _daemon_view(tenant, url)
    if free_before and st["daemon"]["leader"] is None:
        _mark_gone(st)
    return st


def _print_status(tenant: str, st: dict[str, Any]) -> None:
    _print_daemon_view(st)
    if not st["resources"]:
        lead = st["daemon"]["leader"]
        if lead:  # a leading daemon (or a backfill) is on it: advising one more would be wrong
            click.echo(
                f"tenant {tenant}: no pass has run yet; the writer holding the lock (pid "
                f"{lead['pid']} on {lead['host']}) runs the first one"
            )
        else:
            click.echo(f"tenant {tenant}: no pass has run yet; run `syncd backfill`")
        return
    rows = []
    for name, r in st["resources"].items():
        run = r.get("last_run") or {}
        todo = r.get("in_progress")
        rows.append(
            [
                name,
                r.get("cursor"),
                run.get("mode"),
                f"{run['status']} (process gone)" if run.get("process_gone") else run.get("status"),
                run.get("ended_at"),
                *(run.get(c) for c in ("fetched", "inserted", "updated", "deleted")),
                run.get("quarantined"),
                run.get("api_calls"),
                f"{todo['mode']} from its checkpoint" if todo else "",
            ]
        )
    _table(
        f"tenant {tenant}: last pass per resource",
        STATUS_COLUMNS,
        rows,
    )
    owed = [[k, v] for k, v in st["pending"].items() if v]
    if owed:
        _table("owed by the next pass", ["follow-up", "records"], owed)
    if st["quarantined"]:
        _table(
            "quarantined (see `syncd quarantine`)",
            ["resource", "records"],
            [[k, v] for k, v in st["quarantined"].items()],
        )
    _table(
        "rows in the mirror",
        ["table", "live", "deleted"],
        [[k, v["live"], v["deleted"]] for k, v in st["rows"].items()],
    )
    for name, r in st["resources"].items():
        err = (r.get("last_run") or {}).get("error")
        if err:
            click.echo(f"{name}: last pass failed: {err}")


def _mark_gone(st: dict[str, Any]) -> None:
    """Show a pass recorded ``running`` with no writer holding the lock as ``interrupted``
    (``process_gone``: the process was killed before it could record it; the next run records
    it so). Only the view changes: status never writes."""
    for r in st["resources"].values():
        run = r.get("last_run") or {}
        if run.get("status") == "running":
            run["status"] = "interrupted"
            run["process_gone"] = True


def _daemon_view(tenant: str, url: str) -> dict[str, Any]:
    """Who holds the tenant's writer lock (the leading daemon, or a one-off command) and push
    lock in the mirror at ``url``, read without taking them."""
    from syncd.mirror.lock import lock_holder

    out: dict[str, Any] = {}
    for role, name in (("writer", "leader"), ("push", "pusher")):
        held, h = lock_holder(url, tenant, role)
        out[name] = (
            {
                "host": h.host if h else None,
                "pid": h.pid if h else None,
                "since": h.since if h else None,
            }
            if held
            else None
        )
    return out


def _print_daemon_view(st: dict[str, Any]) -> None:
    d = st["daemon"]
    lead, push = d["leader"], d["pusher"]
    click.echo(
        "writer (leading daemon or command): "
        + (f"pid {lead['pid']} on {lead['host']}, since {lead['since']}" if lead else "none")
    )
    click.echo(
        "pusher (leading daemon or `syncd push`): "
        + (f"pid {push['pid']} on {push['host']}, since {push['since']}" if push else "none")
    )
    box = st.get("webhook_inbox") or {}
    if box.get("waiting"):
        # Only while something waits: callbacks other replicas stored for the leader.
        click.echo(
            f"webhook inbox: {box['waiting']} callback(s) waiting for the leader, "
            f"oldest since {box['oldest']}"
        )
    if st["sinks"]:
        _table(
            "sinks",
            ["sink", "cursor", "backlog", "dead letters"],
            [[k, v["cursor"], v["backlog"], v["dead_letters"]] for k, v in st["sinks"].items()],
        )


@click.command("quarantine")
@click.option(
    "--resource",
    callback=_check_resource,
    help="Only records of this resource (jobs, candidates, audit ...).",
)
@click.option("--limit", default=50, show_default=True, type=WholeRange(1, 100_000))
@click.option("--raw", is_flag=True, help="Also print each payload as received.")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON (with payloads).")
def quarantine_cmd(resource: str | None, limit: int, raw: bool, as_json: bool) -> None:
    """Records a pass refused (no id, wrong shape), newest first, with the reason."""
    from syncd.mirror.inspect import quarantined

    with _mirror() as (conn, tenant):
        items = quarantined(conn, tenant, resource=resource, limit=limit)
    if as_json:
        _print_json(items)
        return
    if not items:
        click.echo(f"tenant {tenant}: nothing in quarantine")
        return
    _table(
        f"tenant {tenant}: quarantined records, newest first",
        ["id", "resource", "key", "reason", "at"],
        [[q["id"], q["resource"], q["key"], q["reason"], q["at"]] for q in items],
    )
    if raw:
        for q in items:
            click.echo(f"#{q['id']} {q['resource']} {q['key'] or ''}: {json.dumps(q['raw'])}")


def _cell(value: Any) -> Any:
    """Datetimes to the second, in one form on both databases (run_report already made
    PostgreSQL's Decimals numbers)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return value


def _html_report(output: str) -> None:
    try:
        from syncd.report_html import write_report
    except ImportError as exc:  # the optional extra is missing
        click.echo(
            f"syncd: `syncd report html` needs the optional extra `report` (missing: {exc.name});"
            " install it with pip install 'syncd[report]'",
            err=True,
        )
        sys.exit(2)
    with _mirror() as (conn, tenant):
        try:
            path, seconds = write_report(conn, tenant, output)
        except OSError as exc:
            click.echo(f"syncd: cannot write --output {output}: {exc.strerror}", err=True)
            sys.exit(2)
    click.echo(f"wrote {path} ({seconds:.1f}s)")


class _ReportNames(click.Choice[str]):
    """What ``syncd report`` accepts, read when the argument is parsed: the names come from the
    views' SQL (SQLAlchemy, the data dictionary), which ``--help`` and the other commands skip."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from syncd.mirror.reporting import report_names

        return (*report_names(), "html")

    @choices.setter
    def choices(self, value: tuple[str, ...]) -> None:
        """Choice.__init__ sets the (empty) choices; the property above is the source."""


@click.command("report")
@click.argument("name", required=False, type=_ReportNames(), metavar="[NAME]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table for people, csv for spreadsheets, json for scripts.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="With NAME html: the HTML file to write.",
)
def report_cmd(name: str | None, fmt: str, as_json: bool, output: str | None) -> None:
    """Run a reporting query or view on the mirror (no NAME: list them with their SQL or columns);
    `syncd report html --output FILE` writes the dashboard, one self-contained HTML file."""
    from syncd.mirror.dictionary import report_views, views
    from syncd.mirror.reporting import QUERIES, run_report

    if name is None:
        for n, sql in QUERIES.items():
            click.echo(f"{n}\n{textwrap.indent(sql.strip(), '    ')}\n")
        for name_ in report_views():
            cols = ", ".join(c.name for c in views()[name_].columns)
            click.echo(f"{name_} (view)\n{textwrap.indent(textwrap.fill(cols), '    ')}\n")
        click.echo("html --output FILE\n    the dashboard: charts and their numbers, one file")
        return
    if name == "html":
        if not output:
            raise click.UsageError("syncd report html needs --output FILE (e.g. report.html)")
        _html_report(output)
        return
    if output:
        raise click.UsageError("--output is for `syncd report html`; redirect other reports")
    with _mirror() as (conn, tenant):
        columns, rows = run_report(conn, name, tenant)
    table = [[_cell(v) for v in r] for r in rows]
    if as_json or fmt == "json":
        _print_json([dict(zip(columns, r, strict=True)) for r in table])
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(table)
        click.echo(buf.getvalue(), nl=False)
    else:
        _table(f"tenant {tenant}: {name}", columns, table)
