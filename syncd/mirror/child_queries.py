"""Statements on the rows that hang off a parent record (a job's history, positions and hiring
team; a candidate's applications; an application's interviews; an interview's timeslots): which
live ones the latest answer no longer lists, which ones a complete pass did not see, and the
approval-event and last-read lookups of the approvals follow-up.

Every function takes the caller's connection and the tenant; none commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, or_, select

from syncd.mirror import schema as s
from syncd.mirror.store import Key, key_columns

CHUNK = 500  # ids per IN list: under every driver's bind-parameter limit


def live_keys_of(
    conn: Connection, tenant: str, table: Table, column: str, parents: Iterable[Any]
) -> list[tuple[Any, Key]]:
    """(parent, key) of the live rows of ``table`` whose ``column`` is one of ``parents``."""
    ids = sorted(set(parents))
    keys = key_columns(table)
    out: list[tuple[Any, Key]] = []
    for i in range(0, len(ids), CHUNK):
        for r in conn.execute(
            select(table.c[column], *keys).where(
                table.c.tenant == tenant,
                table.c.deleted_at.is_(None),
                table.c[column].in_(ids[i : i + CHUNK]),
            )
        ):
            out.append((r[0], tuple(r[1:])))
    return out


def delete_keys(conn: Connection, tenant: str, table: Table, keys: Sequence[Key]) -> None:
    """Remove the rows ``keys`` outright (entries of a list that is replaced, e.g. a history)."""
    cols = key_columns(table)
    for key in keys:
        conn.execute(
            delete(table).where(
                table.c.tenant == tenant, *(c == v for c, v in zip(cols, key, strict=True))
            )
        )


def stale_ids(conn: Connection, tenant: str, table: Table, started: datetime) -> list[str]:
    """Ids of live rows that a complete pass started at ``started`` did not list."""
    return [
        r[0]
        for r in conn.execute(
            select(table.c.id).where(
                table.c.tenant == tenant,
                table.c.deleted_at.is_(None),
                table.c.last_seen_at < started,
            )
        )
    ]


def unseen_of_applications(
    conn: Connection, tenant: str, table: Table, started: datetime
) -> list[tuple[str, str, str]]:
    """(id, candidate id, job id) of the live rows of an application's child table (interviews,
    timeslots) that a complete pass did not see."""
    return [
        (r.id, r.candidate_id, r.job_id)
        for r in conn.execute(
            select(table.c.id, table.c.candidate_id, table.c.job_id).where(
                table.c.tenant == tenant,
                table.c.deleted_at.is_(None),
                table.c.last_seen_at < started,
            )
        )
    ]


def live_application_children(
    conn: Connection, tenant: str, table: Table, candidate_ids: Iterable[str]
) -> list[tuple[str, str, str]]:
    """(id, candidate id, job id) of the live rows of an application's child table under the
    candidates ``candidate_ids``."""
    ids = sorted(set(candidate_ids))
    out: list[tuple[str, str, str]] = []
    for i in range(0, len(ids), CHUNK):
        for r in conn.execute(
            select(table.c.id, table.c.candidate_id, table.c.job_id).where(
                table.c.tenant == tenant,
                table.c.deleted_at.is_(None),
                table.c.candidate_id.in_(ids[i : i + CHUNK]),
            )
        ):
            out.append((r.id, r.candidate_id, r.job_id))
    return out


def live_seen(conn: Connection, tenant: str, table: Table, ids: list[str]) -> dict[str, datetime]:
    """``last_seen_at`` of the live rows among ``ids``."""
    out: dict[str, datetime] = {}
    for n in range(0, len(ids), CHUNK):
        for rid, seen in conn.execute(
            select(table.c.id, table.c.last_seen_at).where(
                table.c.tenant == tenant,
                table.c.deleted_at.is_(None),
                table.c.id.in_(ids[n : n + CHUNK]),
            )
        ):
            out[rid] = seen
    return out


def approval_events_since(
    conn: Connection,
    tenant: str,
    prefixes: Sequence[str],
    *,
    first_seen_from: datetime,
    dated_from: datetime | None,
) -> list[tuple[str, str | None, datetime | None]]:
    """(event name, entity id, event date) of the audit events whose name starts with one of
    ``prefixes``, stored for the first time at or after ``first_seen_from`` (and dated at or after
    ``dated_from`` when given: the feed returned nothing older, and the date index helps)."""
    a = s.audit_events
    q = select(a.c.event_name, a.c.entity_id, a.c.event_date).where(
        a.c.tenant == tenant,
        a.c.first_seen_at >= first_seen_from,
        or_(*(a.c.event_name.startswith(p, autoescape=True) for p in prefixes)),
    )
    if dated_from is not None:
        q = q.where(a.c.event_date >= dated_from)
    return [(r[0], r[1], r[2]) for r in conn.execute(q)]
