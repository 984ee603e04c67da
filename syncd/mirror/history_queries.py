"""Statements on status histories: the sub-status a later audit event tells, a new application's
id and creation date from the history already stored, and the replacement of one application's
history by the API's list.

Every function takes the caller's connection and the tenant; none commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from syncd.mirror import schema as s
from syncd.mirror.bulk import bound_columns, execute_many
from syncd.mirror.records import Row


def fill_previous_sub_status(conn: Connection, tenant: str, fixes: Sequence[Row]) -> None:
    """``fixes``: ``{k_c, k_j, k_s, k_o, v}`` each (candidate, job, status, event ordinal, the
    sub-status the event names as previous). The creation event has no sub-status; the next
    transition tells it: entries of that status older than the event, still without one, get it."""
    if not fixes:
        return
    params = bound_columns(
        conn,
        s.application_status_history,
        ["sub_status", "tenant", "candidate_id", "job_id", "status", "ordinal"],
        [
            [f["v"] for f in fixes],
            [tenant] * len(fixes),
            *([f[k] for f in fixes] for k in ("k_c", "k_j", "k_s", "k_o")),
        ],
    )
    execute_many(
        conn,
        "UPDATE application_status_history SET sub_status = ? WHERE tenant = ? AND candidate_id = ?"
        " AND job_id = ? AND status = ? AND ordinal < ? AND sub_status IS NULL",
        params,
    )


def history_starts(
    conn: Connection, tenant: str, keys: Iterable[tuple[str, str]]
) -> list[tuple[str, str, datetime | None, str | None]]:
    """(candidate, job, first entry's date, application id) of the applications ``keys`` that have
    stored history entries (the audit feed wrote them before the candidate list was read)."""
    wanted = set(keys)
    if not wanted:
        return []
    h = s.application_status_history
    found = conn.execute(
        select(h.c.candidate_id, h.c.job_id, func.min(h.c.changed_on), func.max(h.c.application_id))
        .where(h.c.tenant == tenant, h.c.candidate_id.in_({k[0] for k in wanted}))
        .group_by(h.c.candidate_id, h.c.job_id)
    ).all()
    return [(f[0], f[1], f[2], f[3]) for f in found if (f[0], f[1]) in wanted]


def stored_history(
    conn: Connection, tenant: str, candidate_id: str, job_id: str
) -> dict[tuple[Any, str], int]:
    """(changed on, status) -> ordinal of the application's stored entries."""
    h = s.application_status_history
    return {
        (r.changed_on, r.status): r.ordinal
        for r in conn.execute(
            select(h.c.changed_on, h.c.status, h.c.ordinal).where(
                h.c.tenant == tenant, h.c.candidate_id == candidate_id, h.c.job_id == job_id
            )
        )
    }


def delete_history_entries(
    conn: Connection,
    tenant: str,
    candidate_id: str,
    job_id: str,
    entries: Iterable[tuple[Any, str]],
) -> None:
    """Remove the application's entries ``entries`` ((changed on, status) each): the API's list
    no longer has them."""
    h = s.application_status_history
    for changed_on, status in entries:
        conn.execute(
            delete(h).where(
                h.c.tenant == tenant,
                h.c.candidate_id == candidate_id,
                h.c.job_id == job_id,
                h.c.changed_on == changed_on,
                h.c.status == status,
            )
        )
