"""``syncd changes``, ``syncd sinks``, ``syncd push`` and ``syncd deliveries``: the push side from
the command line. Exit codes: 0 done, 1 a sink's pass failed or the mirror cannot be read,
2 bad configuration or arguments (docs/push.md)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from syncd.cli_errors import (
    BIGINT_MAX,
    FAILED,
    OK,
    REFUSED,
    USAGE,
    CommandError,
    FiniteRange,
    WholeRange,
)
from syncd.cli_inspect import _mirror, _table


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _value(v: Any) -> str:
    """A changed field's value for a line of ``syncd changes``: no value reads ``(none)``."""
    return "(none)" if v is None else str(v)


def _event_types(conn: Any, tenant: str) -> set[str]:
    """Every event type ``syncd changes`` can print: create, update and delete of every table
    the outbox names, the catalogue's event rules, the implied domain events, and whatever the
    tenant's outbox holds."""
    from syncd.mirror import outbox
    from syncd.sync.catalogue import EVENTS

    names = set(outbox.NOUNS) | set(EVENTS)
    known = {outbox.event_type(n, k) for n in names for k in ("created", "updated", "deleted")}
    known |= {outbox.event_type(n, r.kind) for n, rules in EVENTS.items() for r in rules}
    return known | set(outbox.FIRST_SEEN.values()) | outbox.types_present(conn, tenant)


def _unknown(option: str, given: str, valid: set[str], none: str) -> CommandError:
    """Exit 2 naming the option, the value and the values it takes (``none``: when it takes
    none yet)."""
    choices = f"valid values: {', '.join(sorted(valid))}" if valid else none
    return CommandError(f"{option}: unknown value {given!r}; {choices}", USAGE)


@click.command("changes")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option(
    "--since", default=0, type=WholeRange(0, BIGINT_MAX), help="Events after this sequence."
)
@click.option("--follow", is_flag=True, help="Keep printing new events (Ctrl-C stops).")
@click.option(
    "--limit",
    default=100,
    type=WholeRange(1, BIGINT_MAX),
    show_default=True,
    help="Events to print (without --follow).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line.")
def changes_cmd(
    types: tuple[str, ...], since: int, follow: bool, limit: int, as_json: bool
) -> None:
    """Read the outbox as events (docs/push.md, "The outbox")."""
    from syncd.mirror import outbox

    cursor = since
    printed = 0
    with _mirror() as (conn, tenant):
        if types:
            valid = _event_types(conn, tenant)
            for t in types:
                if t not in valid:
                    raise _unknown("--type", t, valid, "no event type is known yet")
        while True:
            events, last = outbox.read(conn, tenant, after=cursor, limit=1000, types=types)
            conn.rollback()  # a fresh snapshot on the next read
            if not follow:
                events = events[: limit - printed]
            printed += len(events)
            for e in events:
                if as_json:
                    click.echo(json.dumps(e, separators=(",", ":")))
                else:
                    moved = ", ".join(
                        f"{k}: {_value(v['old'])} -> {_value(v['new'])}"
                        for k, v in e["changes"].items()
                    )
                    click.echo(
                        f"{e['sequence']:>8}  {e['occurred_at']}  {e['type']:<28} "
                        f"{e['subject']['key']}  {moved}"
                    )
            if not follow and (last == cursor or printed >= limit):
                return
            if last == cursor:
                time.sleep(1.0)  # polling the outbox: nothing new committed yet
            cursor = last


def _configured(only: str | None = None) -> tuple[Any, list[Any]]:
    from syncd.cli import settings_or_exit
    from syncd.delivery.sinks import configure
    from syncd.logging import configure_logging
    from syncd.sinks.base import SinkError

    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    try:
        sinks = configure(settings.sinks, only=only, origin=settings.sink_origin)
    except SinkError as exc:
        for line in str(exc).splitlines():
            click.echo(f"syncd: {line}", err=True)
        sys.exit(2)
    return settings, sinks


@click.group("sinks")
def sinks_cmd() -> None:
    """The configured sinks ([sinks.NAME] tables in the SYNCD_CONFIG file)."""


@sinks_cmd.command("list")
@click.option("--json", "as_json", is_flag=True)
def sinks_list(as_json: bool) -> None:
    """Every configured sink with its type, capabilities, cursor and deliveries by state."""
    import asyncio
    import contextlib

    from syncd.mirror import deliveries as q
    from syncd.sinks.registry import available

    _, sinks = _configured()
    with _mirror() as (conn, tenant):
        counts = q.counts(conn, tenant)
        rows = []
        for cs in sinks:
            cur = q.get_cursor(conn, tenant, cs.name)
            rows.append(
                {
                    "name": cs.name,
                    "type": cs.config.type,
                    "enabled": cs.config.enabled,
                    "capabilities": sorted(cs.sink.capabilities_now()),
                    "mapping": str(cs.config.mapping)
                    if cs.config.mapping
                    else (f"{cs.mapping.name} (default)" if cs.mapping else None),
                    "status_policy": cs.config.status_policy,
                    "start": cs.config.start,
                    "cursor": cur["sequence"] if cur else None,
                    "deliveries": counts.get(cs.name, {}),
                }
            )
    for cs in sinks:
        with contextlib.suppress(Exception):
            asyncio.run(cs.sink.close())
    if as_json:
        _print_json({"sinks": rows, "installed_types": available()})
        return
    _table(
        "sinks",
        ["name", "type", "enabled", "capabilities", "policy", "start", "cursor", "deliveries"],
        [
            [
                r["name"],
                r["type"],
                r["enabled"],
                ",".join(r["capabilities"]),
                r["status_policy"],
                r["start"],
                r["cursor"],
                " ".join(f"{k}={v}" for k, v in sorted(r["deliveries"].items())),
            ]
            for r in rows
        ],
    )
    click.echo("installed sink types: " + ", ".join(sorted(available())))


@sinks_cmd.command("check")
@click.argument("name")
def sinks_check(name: str) -> None:
    """Configuration, credentials and reachability of one sink, before anything is sent."""
    import asyncio

    _, sinks = _configured(only=name)
    cs = sinks[0]

    async def run() -> list[str]:
        async with cs.sink:
            return await cs.sink.check()

    problems = asyncio.run(run())
    click.echo(
        f"{name}: configuration ok (type {cs.config.type}"
        + (f", mapping {cs.config.mapping or f'{cs.mapping.name} (default)'}" if cs.mapping else "")
        + ")"
    )
    for p in problems:
        click.echo(f"{name}: {p}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{name}: reachable; capabilities: {', '.join(sorted(cs.sink.capabilities_now()))}")


@click.command("push")
@click.option("--once", is_flag=True, help="One dispatch pass of every enabled sink, then exit.")
@click.option("--sink", "only", help="Only this sink.")
@click.option(
    "--interval",
    default=30.0,
    show_default=True,
    type=FiniteRange(1, 30 * 86400),  # as SYNCD_SCHEDULE__PUSH_INTERVAL_SECONDS
    help="Seconds between passes without --once.",
)
def push_cmd(once: bool, only: str | None, interval: float) -> None:
    """Deliver hires to the sinks, read onboarding status back, write it to SmartRecruiters."""
    import asyncio

    from syncd.mirror.db import SchemaError, make_engine, require_schema
    from syncd.mirror.lock import writer_lock

    while True:
        settings, sinks = _configured(only)
        if not sinks:
            click.echo(
                "syncd: no sinks configured; add a [sinks.NAME] table to the SYNCD_CONFIG file "
                "(docs/push.md)",
                err=True,
            )
            sys.exit(2)
        engine = make_engine(settings.database_url)
        try:
            require_schema(engine)
        except SchemaError as exc:
            click.echo(f"syncd: {exc}", err=True)
            sys.exit(2)
        notices: list[str] = []
        refused: list[str] = []
        try:  # a second dispatcher is refused (exit 5, the holder named) by the error boundary
            with writer_lock(settings.database_url, settings.tenant, role="push"):
                reports = asyncio.run(_push(settings, engine, sinks, notices, refused))
        finally:
            engine.dispose()
        failed = False
        for r in reports:
            click.echo(
                f"{r.sink}: cursor {r.cursor}, queued {r.queued}, sent {r.sent}, delivered "
                f"{r.delivered}, rejected {r.rejected}, dead {r.dead}, waiting {r.waiting}, "
                f"skipped {r.skipped}, status read {r.read_back}"
                + (f", parked {r.parked} (Retry-After)" if r.parked else "")
                + (f", retrying {r.retrying} later" if r.retrying else "")
                + (f", held {r.held} (target unavailable)" if r.held else "")
            )
            for e in r.errors:
                failed = True
                click.echo(f"{r.sink}: {e}", err=True)
        for n in notices + refused:
            click.echo(f"syncd: {n}", err=True)
        if once:
            sys.exit(REFUSED if refused else FAILED if failed else OK)
        time.sleep(interval)


async def _push(
    settings: Any, engine: Any, sinks: list[Any], notices: list[str], refused: list[str]
) -> list[Any]:
    from syncd.delivery.dispatcher import push_once
    from syncd.delivery.writeback import sr_write_back

    if not settings.smartrecruiters.has_credentials:
        click.echo(
            "syncd: no SmartRecruiters credentials: onboarding status is not written back "
            "(set SYNCD_SMARTRECRUITERS__API_KEY)",
            err=True,
        )
        return await push_once(engine, settings.tenant, sinks, write_back=None)
    from syncd.ats import SmartRecruitersClient

    async with SmartRecruitersClient(settings.smartrecruiters) as sr:
        wb = sr_write_back(engine, settings.tenant, sr, notices, refused)
        return await push_once(engine, settings.tenant, sinks, write_back=wb)


@click.group("deliveries")
def deliveries_cmd() -> None:
    """Deliveries per hire and sink; dead letters (rejected, dead) and what to do with them."""


@deliveries_cmd.command("list")
@click.option("--sink", help="Only this sink.")
@click.option(
    "--state",
    type=click.Choice(
        ["pending", "in_flight", "delivered", "rejected", "dead", "skipped", "dead-letters"]
    ),
    help="Only this state (dead-letters: rejected and dead).",
)
@click.option("--limit", default=200, type=WholeRange(1, BIGINT_MAX), show_default=True)
@click.option("--json", "as_json", is_flag=True)
def deliveries_list(sink: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """Deliveries, oldest first: state, attempts, the target's answer and reason, and when a
    failed one is tried again (``next_attempt_at``)."""
    from syncd.mirror import deliveries as q

    cols = [
        "id", "sink", "delivery_id", "external_key", "event_type", "state", "attempts",
        "status_code", "target_id", "sink_status", "reason", "next_attempt_at", "updated_at",
    ]  # fmt: skip
    from syncd.cli import settings_or_exit

    with _mirror() as (conn, tenant):
        if sink:
            valid = set(settings_or_exit().sinks) | q.sink_names(conn, tenant)
            if sink not in valid:
                raise _unknown(
                    "--sink", sink, valid, "no sink is configured ([sinks.NAME] in SYNCD_CONFIG)"
                )
        rows = q.listing(conn, tenant, sink=sink, state=state, limit=limit)
    out = [{c: r[c] for c in cols} for r in rows]
    if as_json:
        _print_json(out)
        return
    _table("deliveries", cols, [[r[c] for c in cols] for r in out])


# How many of the ids given to `deliveries retry` that are not dead letters its message names.
RETRY_NAMED = 5


@deliveries_cmd.command("retry")
@click.argument("ids", nargs=-1, type=WholeRange(1, BIGINT_MAX))
@click.option("--dead", is_flag=True, help="Every dead letter (rejected and dead).")
def deliveries_retry(ids: tuple[int, ...], dead: bool) -> None:
    """Dead letters back to pending (attempts reset); the next push sends them."""
    from syncd.mirror import deliveries as q
    from syncd.mirror.store import utcnow

    if bool(ids) == dead:
        click.echo("syncd: give delivery ids or --dead (not both)", err=True)
        sys.exit(2)
    with _mirror() as (conn, tenant):
        before = q.states_of(conn, tenant, ids) if ids else {}
        n = q.requeue(conn, tenant, ids=ids, dead=dead, now=utcnow())
        conn.commit()
    click.echo(f"{n} dead letter(s) queued again")
    others = [i for i in dict.fromkeys(ids) if before.get(i) not in q.DEAD_LETTERS]
    if others:
        named = ", ".join(
            f"{i} ({before[i]})" if i in before else f"{i} (no such delivery)"
            for i in others[:RETRY_NAMED]
        )
        more = f" and {len(others) - RETRY_NAMED} more" if len(others) > RETRY_NAMED else ""
        click.echo(
            f"syncd: not dead letters, left as they are: {named}{more} (see syncd deliveries list)",
            err=True,
        )
        sys.exit(2)


@deliveries_cmd.command("skip")
@click.argument("delivery", type=WholeRange(1, BIGINT_MAX))
@click.option("--reason", required=True, help="Why (kept with the delivery).")
def deliveries_skip(delivery: int, reason: str) -> None:
    """Never send this delivery (e.g. the person was entered in the HRIS by hand)."""
    from syncd.mirror import deliveries as q
    from syncd.mirror.store import utcnow

    with _mirror() as (conn, tenant):
        done = q.skip(conn, tenant, delivery, reason, now=utcnow())
        conn.commit()
    if not done:
        click.echo(f"syncd: delivery {delivery} does not exist or was delivered already", err=True)
        sys.exit(2)
    click.echo(f"delivery {delivery} skipped")
