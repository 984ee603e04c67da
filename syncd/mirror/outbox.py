"""Reading the outbox (``changes``) as events, and the rule that keeps consumers from passing a
record that commits late.

**Commit order = sequence order.** A consumer remembers the highest sequence it has read and asks
for ``sequence > cursor``. That is safe only if no record with a lower number can commit after a
higher one was visible:

- SQLite has one writer at a time (the database write lock, taken by the first INSERT and held to
  COMMIT), so numbers are handed out in commit order.
- PostgreSQL hands out sequence values at INSERT time, in any transaction, and transactions commit
  in any order. :func:`lock_sequence` takes a transaction-scoped advisory lock per tenant before
  the first outbox INSERT of a transaction; the lock is released at COMMIT or ROLLBACK, so the
  next writer takes its numbers only after the previous writer's are visible. A rolled-back
  writer leaves a gap, never a late number.

Numbers are never reused: ``AUTOINCREMENT`` on SQLite (migration 0004), an identity sequence on
PostgreSQL. Event envelopes follow ``syncd/delivery/schemas/event.schema.json``
(docs/push.md, "Event schema").
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, text, tuple_

from syncd.mirror import schema as s
from syncd.mirror.hires import hired_times, readiness
from syncd.mirror.records import Row, format_ts

SCHEMA_VERSION = 1

# Table name -> the event noun (`application.hired`, `candidate.deleted` …).
NOUNS = {
    "applications": "application",
    "application_status_history": "application_status",
    "candidates": "candidate",
    "jobs": "job",
    "job_status_history": "job_status",
    "positions": "position",
    "offers": "offer",
    "approvals": "approval",
    "interviews": "interview",
    "interview_timeslots": "interview_timeslot",
    "audit_events": "audit_event",
}
# (table, status of a record inserted by a pass that makes news) -> the domain event it implies.
FIRST_SEEN = {
    ("applications", "HIRED"): "application.hired",
    ("offers", "ACCEPTED"): "offer.accepted",
}
# The outbox's kinds -> the verb of the event type.
VERBS = {"offer_accepted": "accepted"}


def event_type(resource: str, kind: str) -> str:
    return f"{NOUNS.get(resource, resource)}.{VERBS.get(kind, kind)}"


def types_present(conn: Connection, tenant: str) -> set[str]:
    """The event types of the tenant's outbox records (the domain events a pass implies,
    ``FIRST_SEEN``, are not among them)."""
    t = s.changes
    q = select(t.c.resource, t.c.kind).where(t.c.tenant == tenant).distinct()
    return {event_type(res, kind) for res, kind in conn.execute(q)}


def lock_sequence(conn: Connection, tenant: str) -> None:
    """Hold the tenant's outbox numbering until this transaction ends (PostgreSQL; SQLite's
    write lock already does it). See the module docstring for why."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"syncd.outbox:{tenant}".encode()) - 2**31
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def head(conn: Connection, tenant: str) -> int:
    """The highest committed sequence of the tenant (0 for an empty outbox)."""
    t = s.changes
    return int(
        conn.execute(select(func.max(t.c.sequence)).where(t.c.tenant == tenant)).scalar() or 0
    )


def read(
    conn: Connection,
    tenant: str,
    *,
    after: int = 0,
    limit: int = 500,
    types: Sequence[str] = (),
) -> tuple[list[dict[str, Any]], int]:
    """Events with ``sequence > after`` in sequence order, at most ``limit`` outbox records
    read; ``types`` filters by event type. Returns (events, last sequence read): a consumer
    stores the second value as its cursor even when the filter kept nothing."""
    t = s.changes
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            select(t)
            .where(t.c.tenant == tenant, t.c.sequence > after)
            .order_by(t.c.sequence)
            .limit(limit)
        )
    ]
    if not rows:
        return [], after
    last = int(rows[-1]["sequence"])
    events = envelopes(conn, tenant, rows)
    if types:
        wanted = set(types)
        events = [e for e in events if e["type"] in wanted]
    return events, last


def envelopes(conn: Connection, tenant: str, rows: list[Row]) -> list[dict[str, Any]]:
    """Outbox rows to event envelopes: subject ids and ``occurred_at`` looked up in the mirror
    (one query per table for the whole batch)."""
    apps = _applications(
        conn, tenant, [r["record_key"] for r in rows if r["resource"] == "applications"]
    )
    hired_on = hired_times(conn, tenant, list(apps))
    offers = _by_id(
        conn, s.offers, tenant, [r["record_key"] for r in rows if r["resource"] == "offers"]
    )
    jobs = _by_id(conn, s.jobs, tenant, [r["record_key"] for r in rows if r["resource"] == "jobs"])
    cands = _by_id(
        conn, s.candidates, tenant, [r["record_key"] for r in rows if r["resource"] == "candidates"]
    )
    news = _news_runs(
        conn, tenant, {r["run_id"] for r in rows if r["resource"] in ("applications", "offers")}
    )
    ready = readiness(conn, tenant, list(apps))
    out: list[dict[str, Any]] = []
    for r in rows:
        res, key, kind = r["resource"], r["record_key"], r["kind"]
        data = r["data"] if isinstance(r["data"], dict) else {}
        subject: dict[str, Any] = {"resource": res, "key": key}
        occurred: datetime | None = None
        if res == "applications":
            cid, _, jid = key.partition("/")
            app = apps.get((cid, jid), {})
            subject |= {
                "candidate_id": cid,
                "job_id": jid,
                "application_id": app.get("application_id"),
            }
            occurred = app.get("updated_on")
            if kind == "hired":
                occurred = hired_on.get((cid, jid)) or occurred
        elif res == "offers":
            o = offers.get(key, {})
            subject |= {
                "candidate_id": o.get("candidate_id"),
                "job_id": o.get("job_id"),
                "offer_id": key,
            }
            occurred = o.get("updated_on")
        elif res == "candidates":
            subject["candidate_id"] = key
            occurred = cands.get(key, {}).get("updated_on")
        elif res == "jobs":
            subject["job_id"] = key
            occurred = jobs.get(key, {}).get("updated_on")
        if kind == "deleted" or occurred is None:
            occurred = r["occurred_at"]
        event = {
            "event_id": f"{tenant}:{r['sequence']}",
            "sequence": int(r["sequence"]),
            "type": event_type(res, kind),
            "schema_version": SCHEMA_VERSION,
            "tenant": tenant,
            "subject": {k: v for k, v in subject.items() if v is not None},
            "occurred_at": format_ts(occurred),
            "recorded_at": format_ts(r["occurred_at"]),
            "changes": _changes(kind, data),
            "run_id": r["run_id"],
        }
        if event["type"] == "application.hired":
            event["ready"] = ready.get((subject["candidate_id"], subject["job_id"])) == "ready"
        out.append(event)
        # A record first seen by a later pass (a sweep, an incremental pass) already HIRED or
        # ACCEPTED is still a hire or an acceptance; the first complete pass's inserts are
        # history, not news.
        implied = FIRST_SEEN.get((res, str(data.get("status"))))
        if implied and kind == "created" and r["run_id"] in news:
            extra = {
                **event,
                "event_id": f"{tenant}:{r['sequence']}:{implied.split('.')[1]}",
                "type": implied,
                "changes": {"status": {"old": None, "new": data.get("status")}},
            }
            if implied == "application.hired":
                cid, jid = subject["candidate_id"], subject["job_id"]
                extra["occurred_at"] = format_ts(hired_on.get((cid, jid)) or occurred)
                extra["ready"] = ready.get((cid, jid)) == "ready"
            out.append(extra)
    return out


def _changes(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    if "from" in data or "to" in data:
        return {"status": {"old": data.get("from"), "new": data.get("to")}}
    moved = data.get("changed")
    if isinstance(moved, dict):
        return {k: {"old": v[0], "new": v[1]} for k, v in moved.items()}
    if kind == "created":
        return {k: {"old": None, "new": v} for k, v in data.items()}
    return {}


def _applications(conn: Connection, tenant: str, keys: list[str]) -> dict[tuple[str, str], Row]:
    pairs = list({tuple(k.split("/", 1)) for k in keys if "/" in k})
    t = s.applications
    out: dict[tuple[str, str], Row] = {}
    for i in range(0, len(pairs), 400):
        chunk = pairs[i : i + 400]
        q = select(t.c.candidate_id, t.c.job_id, t.c.application_id, t.c.updated_on).where(
            t.c.tenant == tenant,
            t.c.candidate_id.in_({p[0] for p in chunk}),
            tuple_(t.c.candidate_id, t.c.job_id).in_(chunk),
        )
        for r in conn.execute(q):
            out[(r.candidate_id, r.job_id)] = dict(r._mapping)
    return out


def _by_id(conn: Connection, table: Any, tenant: str, ids: list[str]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    wanted = sorted(set(ids))
    cols = [c for c in table.c if c.name in ("id", "candidate_id", "job_id", "updated_on")]
    for i in range(0, len(wanted), 500):
        q = select(*cols).where(table.c.tenant == tenant, table.c.id.in_(wanted[i : i + 500]))
        for r in conn.execute(q):
            out[r.id] = dict(r._mapping)
    return out


def _news_runs(conn: Connection, tenant: str, run_ids: set[str | None]) -> set[str]:
    """Runs whose new records are news: a pass that started from a cursor (incremental), or a
    sweep. A backfill or a first pass without a cursor only catches the mirror up."""
    ids = [r for r in run_ids if r]
    if not ids:
        return set()
    t = s.sync_runs
    q = select(t.c.run_id).where(
        t.c.tenant == tenant,
        t.c.run_id.in_(ids),
        or_(t.c.mode == "sweep", and_(t.c.mode == "incremental", t.c.cursor_used.is_not(None))),
    )
    return {r for (r,) in conn.execute(q)}
