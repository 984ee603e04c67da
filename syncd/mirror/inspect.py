"""What the mirror can tell about itself without an API call: per resource the cursor, the pass in
progress (a killed backfill's checkpoint) and the last pass with its counts; the follow-up work
still owed; quarantined records; row counts. ``syncd status`` and ``syncd quarantine`` print it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

from syncd.mirror import schema as s
from syncd.mirror.store import Mirror

RUN_COUNTS = ("fetched", "inserted", "updated", "unchanged", "deleted", "quarantined", "api_calls")

# Follow-up work the next pass owes, per table: (what, flag column).
PENDING = {
    s.applications: (
        ("application histories", s.applications.c.history_pending),
        ("application details", s.applications.c.details_pending),
        ("application interviews", s.applications.c.interviews_pending),
    ),
    s.jobs: (("job approvals", s.jobs.c.approval_pending),),
    s.candidates: (("candidate records", s.candidates.c.details_pending),),
    s.offers: (
        ("offer re-reads", s.offers.c.recheck),
        ("offer approvals", s.offers.c.approval_pending),
    ),
}


def _iso(value: datetime | None) -> str | None:
    """UTC, ``2024-05-01T12:00:00Z``: the mirror stores naive UTC times."""
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def status(conn: Connection, tenant: str, resources: Sequence[str]) -> dict[str, Any]:
    """The mirror's state for one tenant and the polled ``resources`` (other ``sync_state`` rows
    are the engine's own markers), as plain JSON-ready values."""
    st = s.sync_state
    found: dict[str, dict[str, Any]] = {}
    for r in conn.execute(select(st).where(st.c.tenant == tenant, st.c.resource.in_(resources))):
        found[r.resource] = {
            "cursor": _iso(r.cursor),
            "last_pass_ended_at": _iso(r.last_pass_ended_at),
            "last_sweep_at": _iso(r.last_sweep_at),
            # A pass that did not end: the next run resumes it from its checkpoint.
            "in_progress": None
            if r.pass_mode is None
            else {"mode": r.pass_mode, "started_at": _iso(r.pass_started_at)},
        }
    runs = s.sync_runs
    latest = (
        select(runs.c.resource, func.max(runs.c.id).label("id"))
        .where(runs.c.tenant == tenant, runs.c.resource.in_(resources))
        .group_by(runs.c.resource)
        .subquery()
    )
    for r in conn.execute(select(runs).join(latest, runs.c.id == latest.c.id)):
        found.setdefault(r.resource, {})["last_run"] = {
            "mode": r.mode,
            "status": r.status,
            "started_at": _iso(r.started_at),
            "ended_at": _iso(r.ended_at),
            **{c: int(getattr(r, c)) for c in RUN_COUNTS},
            "error": r.error_message,
        }
    pending: dict[str, int] = {}
    for table, flags in PENDING.items():
        # One read per table for all of its flags.
        sums = conn.execute(
            select(*(func.count(case((flag.is_(True), 1))) for _, flag in flags)).where(
                table.c.tenant == tenant
            )
        ).one()
        pending.update({what: int(n) for (what, _), n in zip(flags, sums, strict=True)})
    q = s.quarantine
    quarantined = {
        res: int(n)
        for res, n in conn.execute(
            select(q.c.resource, func.count())
            .where(q.c.tenant == tenant)
            .group_by(q.c.resource)
            .order_by(q.c.resource)
        )
    }
    return {
        "tenant": tenant,
        "resources": {name: found[name] for name in resources if name in found},
        "pending": pending,
        "quarantined": quarantined,
        "rows": Mirror(conn.engine, tenant).counts(conn),
    }


def quarantined(
    conn: Connection, tenant: str, *, resource: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Quarantined records, newest first: why each was refused, and the payload as received."""
    q = s.quarantine
    stmt = select(q).where(q.c.tenant == tenant)
    if resource:
        stmt = stmt.where(q.c.resource == resource)
    stmt = stmt.order_by(q.c.id.desc()).limit(limit)
    return [
        {
            "id": int(r.id),
            "resource": r.resource,
            "key": r.record_key,
            "reason": r.reason,
            "at": _iso(r.created_at),
            "run_id": r.run_id,
            "raw": r.raw,
        }
        for r in conn.execute(stmt)
    ]


def sinks_status(conn: Connection, tenant: str) -> dict[str, dict[str, Any]]:
    """Per sink (every sink with a cursor or deliveries): its outbox cursor, the backlog (outbox
    records after the cursor plus open deliveries), dead letters (rejected and dead) and the
    deliveries by state. ``syncd status`` and the daemon's /metrics read it."""
    from syncd.mirror import deliveries, outbox

    head = outbox.head(conn, tenant)
    counts = deliveries.counts(conn, tenant)
    cursors = {
        str(sink): int(seq)
        for sink, seq in conn.execute(
            select(s.sink_cursors.c.sink, s.sink_cursors.c.sequence).where(
                s.sink_cursors.c.tenant == tenant
            )
        )
    }
    out: dict[str, dict[str, Any]] = {}
    for sink in sorted(set(cursors) | set(counts)):
        states = counts.get(sink, {})
        cursor = cursors.get(sink)
        unread = max(0, head - cursor) if cursor is not None else 0
        out[sink] = {
            "cursor": cursor,
            "backlog": unread + states.get("pending", 0) + states.get("in_flight", 0),
            "dead_letters": states.get("rejected", 0) + states.get("dead", 0),
            "deliveries": states,
        }
    return out
