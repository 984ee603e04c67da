"""The statements of the work owed after a walk: rows flagged for a per-record call (``*_pending``
columns), read in primary-key batches, and the set-based statements that clear the flags of rows
that need no call (histories the audit feed completed, applications outside the detail or
interview statuses, candidates without a hired or offered application).

Every function takes the caller's connection and the tenant; none commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
    and_,
    or_,
    select,
    tuple_,
    update,
)

from syncd.mirror import schema as s
from syncd.mirror.records import Row
from syncd.mirror.store import Key, key_columns

FOLLOWUP_BATCH = 400  # rows per batch: one batch's calls overlap the previous batch's write

# A condition on a flagged table's rows (built here, in the mirror, and named by a declaration).
Only = Callable[[Table], ColumnElement[bool]]


def same_application(t: Any, other: Any) -> list[ColumnElement[bool]]:
    """``t``'s row belongs to the same application as ``other``'s (tenant, candidate, job): the
    correlation of the set-based follow-up statements."""
    return [
        t.c.tenant == other.c.tenant,
        t.c.candidate_id == other.c.candidate_id,
        t.c.job_id == other.c.job_id,
    ]


def _after(keys: Sequence[Column[Any]], after: Key) -> ColumnElement[bool]:
    """Keys strictly after ``after`` in primary-key order (one or two key columns)."""
    if len(keys) == 1:
        return keys[0] > after[0]
    return or_(keys[0] > after[0], and_(keys[0] == after[0], keys[1] > after[1]))


def flagged_batch(
    conn: Connection,
    tenant: str,
    table: Table,
    flag: str,
    after: Key | None,
    cols: Sequence[str],
    *,
    only: Only | None = None,
    limit: int = FOLLOWUP_BATCH,
) -> list[Row]:
    """Up to ``limit`` live rows with ``flag`` set after the key ``after`` (the previous batch's
    last, whose flags may not be cleared yet), in key order: their key columns and ``cols``."""
    keys = key_columns(table)
    cond = [table.c.tenant == tenant, table.c[flag].is_(True), table.c.deleted_at.is_(None)]
    if only is not None:
        cond.append(only(table))
    if after is not None:
        cond.append(_after(keys, after))
    query = select(*keys, *(table.c[c] for c in cols)).where(*cond).order_by(*keys).limit(limit)
    return [dict(r._mapping) for r in conn.execute(query)]


def clear_flag_unless(conn: Connection, tenant: str, table: Table, flag: str, only: Only) -> None:
    """Clear ``flag`` on the rows that do not satisfy ``only`` (and on tombstoned rows): they
    owe no call. One statement."""
    conn.execute(
        update(table)
        .where(
            table.c.tenant == tenant,
            table.c[flag].is_(True),
            or_(~only(table), table.c.deleted_at.is_not(None)),
        )
        .values({flag: False})
    )


def with_application_in(statuses: Sequence[str]) -> Only:
    """Candidates with a live application in one of ``statuses`` (e.g. OFFERED, HIRED)."""
    wanted = sorted(statuses)

    def cond(t: Table) -> ColumnElement[bool]:
        a = s.applications
        return (
            select(a.c.job_id)
            .where(
                a.c.tenant == t.c.tenant,
                a.c.candidate_id == t.c.id,
                a.c.deleted_at.is_(None),
                a.c.status.in_(wanted),
            )
            .exists()
        )

    return cond


# ---- application histories ---------------------------------------------------------------------
def complete_histories(conn: Connection, tenant: str) -> None:
    """Applications whose status changed have a complete history when its newest entry shows the
    listed status (the audit feed brought it): their ``history_pending`` clears. Two statements
    for all flagged applications; the creation event carries no sub-status, so when the newest
    entry is still the one the application is in, the listed sub-status completes it first."""
    a, h = s.applications, s.application_status_history
    h2 = h.alias("h2")
    newer = (
        select(h2.c.ordinal)
        .where(
            *same_application(h2, h),
            h2.c.deleted_at.is_(None),
            or_(
                h2.c.changed_on > h.c.changed_on,
                and_(h2.c.changed_on == h.c.changed_on, h2.c.ordinal > h.c.ordinal),
            ),
        )
        .exists()
    )
    listed = select(a.c.sub_status).where(*same_application(a, h)).scalar_subquery()
    pending_same = (
        select(a.c.job_id)
        .where(
            *same_application(a, h),
            a.c.history_pending.is_(True),
            a.c.deleted_at.is_(None),
            a.c.status == h.c.status,
            a.c.sub_status.is_not(None),
        )
        .exists()
    )
    conn.execute(
        update(h)
        .where(
            h.c.tenant == tenant,
            h.c.sub_status.is_(None),
            h.c.deleted_at.is_(None),
            pending_same,
            ~newer,
        )
        .values(sub_status=listed)
    )
    complete = (
        select(h.c.status)
        .where(
            *same_application(h, a),
            h.c.deleted_at.is_(None),
            h.c.status == a.c.status,
            or_(h.c.sub_status.is_(None), h.c.sub_status == a.c.sub_status),
            ~newer,
        )
        .exists()
    )
    conn.execute(
        update(a)
        .where(
            a.c.tenant == tenant,
            a.c.history_pending.is_(True),
            a.c.deleted_at.is_(None),
            complete,
        )
        .values(history_pending=False)
    )


# ---- application details -----------------------------------------------------------------------
def clear_details_outside(conn: Connection, tenant: str, statuses: Sequence[str]) -> None:
    """``details_pending`` clears on applications outside ``statuses`` (and tombstoned ones)."""
    a = s.applications
    conn.execute(
        update(a)
        .where(
            a.c.tenant == tenant,
            a.c.details_pending.is_(True),
            or_(
                a.c.status.is_(None),
                a.c.status.not_in(sorted(statuses)),
                a.c.deleted_at.is_not(None),
            ),
        )
        .values(details_pending=False)
    )


# ---- interviews --------------------------------------------------------------------------------
def flag_all_interviews(conn: Connection, tenant: str) -> None:
    """Every live application owes an interviews read (a complete pass)."""
    a = s.applications
    conn.execute(
        update(a)
        .where(a.c.tenant == tenant, a.c.deleted_at.is_(None))
        .values(interviews_pending=True)
    )


def clear_unreached_interviews(conn: Connection, tenant: str, statuses: Sequence[str]) -> None:
    """Flags of applications that neither are in nor ever were in one of ``statuses`` clear in
    one statement: they cost no call."""
    a, h = s.applications, s.application_status_history
    reached = (
        select(h.c.status)
        .where(
            *same_application(h, a),
            h.c.deleted_at.is_(None),
            h.c.status.in_(statuses),
        )
        .exists()
    )
    conn.execute(
        update(a)
        .where(
            a.c.tenant == tenant,
            a.c.interviews_pending.is_(True),
            a.c.deleted_at.is_(None),
            or_(a.c.status.is_(None), a.c.status.not_in(statuses)),
            ~reached,
        )
        .values(interviews_pending=False)
    )


def orphan_interviews(conn: Connection, tenant: str) -> list[str]:
    """Ids of live interviews whose application is tombstoned (it left its candidate's list)."""
    i, a = s.interviews, s.applications
    return [
        r[0]
        for r in conn.execute(
            select(i.c.id)
            .select_from(i.join(a, and_(*same_application(a, i))))
            .where(
                i.c.tenant == tenant,
                i.c.deleted_at.is_(None),
                a.c.deleted_at.is_not(None),
            )
        )
    ]


# ---- offers ------------------------------------------------------------------------------------
def applications_with_recheck(conn: Connection, tenant: str) -> list[tuple[str, str]]:
    """(candidate id, job id) of the applications with an offer flagged ``recheck``, sorted."""
    o = s.offers
    return sorted(
        {
            (r.candidate_id, r.job_id)
            for r in conn.execute(
                select(o.c.candidate_id, o.c.job_id).where(
                    o.c.tenant == tenant,
                    o.c.recheck.is_(True),
                    o.c.candidate_id.is_not(None),
                )
            )
        }
    )


def clear_rechecks(
    conn: Connection, tenant: str, apps: Sequence[tuple[str, str]] | None = None
) -> None:
    """``recheck`` clears on the offers of ``apps`` (None: on every offer)."""
    o = s.offers
    cond: list[ColumnElement[bool]] = [o.c.tenant == tenant]
    if apps is None:
        cond.append(o.c.recheck.is_(True))
    else:
        # Leading column first: SQLite plans a row-value IN as a table scan.
        cond.append(o.c.candidate_id.in_({c for c, _ in apps}))
        cond.append(tuple_(o.c.candidate_id, o.c.job_id).in_(list(apps)))
    conn.execute(update(o).where(*cond).values(recheck=False))
