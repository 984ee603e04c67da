"""The push side's SQL: each sink's cursor in the outbox, deliveries (one per hire, sink, event
type and hire round: a hire revoked and made again is round 2), syncd's own onboarding-status
writes, and notices reported once per tenant.

Delivery states: ``pending`` (waiting its turn, or the hire's details), ``in_flight`` (handed to
the target; after a crash its outcome is unknown and is resolved by lookup or by resending the
same ``delivery_id``), ``delivered``, ``rejected`` (the target refused it for good), ``dead``
(attempts exhausted), ``skipped`` (by an operator, or a hire undone before it was sent).
``rejected`` and ``dead`` are the dead letters.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from syncd.mirror import schema as s
from syncd.mirror.records import Row

OPEN = ("pending", "in_flight")
DEAD_LETTERS = ("rejected", "dead")
STATES = ("pending", "in_flight", "delivered", "rejected", "dead", "skipped")
HIRED = "application.hired"
REVOKED = "application.hire_revoked"

d = s.deliveries


def new_delivery_id() -> str:
    """A delivery's stable id (the ``webhook-id``): ``msg_`` + 32 hex digits, made once."""
    return "msg_" + uuid.uuid4().hex


# ---- cursors -----------------------------------------------------------------------------------
def get_cursor(conn: Connection, tenant: str, sink: str) -> Row | None:
    t = s.sink_cursors
    r = conn.execute(select(t).where(t.c.tenant == tenant, t.c.sink == sink)).first()
    return dict(r._mapping) if r is not None else None


def set_cursor(
    conn: Connection, tenant: str, sink: str, sequence: int, *, start: str, now: datetime
) -> None:
    t = s.sink_cursors
    done = conn.execute(
        update(t)
        .where(t.c.tenant == tenant, t.c.sink == sink)
        .values(sequence=sequence, updated_at=now)
    )
    if done.rowcount == 0:
        conn.execute(
            insert(t).values(
                tenant=tenant,
                sink=sink,
                sequence=sequence,
                start=start,
                created_at=now,
                updated_at=now,
            )
        )


# ---- deliveries --------------------------------------------------------------------------------
def enqueue(
    conn: Connection, tenant: str, sink: str, items: Iterable[dict[str, Any]], *, now: datetime
) -> int:
    """New deliveries (``candidate_id``, ``job_id``, ``event_type``, ``sequence``, and
    ``hire_round`` (default 1); ``state`` and ``reason`` to record one already settled), pending
    by default; one that exists already for the same application, sink, type and hire round is
    left as it is. Returns the number inserted."""
    rows = [
        {
            "tenant": tenant,
            "sink": sink,
            "delivery_id": new_delivery_id(),
            "external_key": None,
            "application_id": None,
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            "hire_round": 1,
            "reason": None,
            **i,
        }
        for i in items
    ]
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    n = 0
    for i in range(0, len(rows), 200):  # under every driver's bind-parameter limit
        stmt = (
            dialect.insert(d)
            .values(rows[i : i + 200])
            .on_conflict_do_nothing(index_elements=list(s.DELIVERY_KEY))
            .returning(d.c.id)
        )
        n += len(conn.execute(stmt).all())
    return n


def due(
    conn: Connection,
    tenant: str,
    sink: str,
    *,
    limit: int,
    now: datetime,
    skip: frozenset[str] = frozenset(),
) -> list[Row]:
    """Open deliveries whose turn it is: the oldest open one of each person (deliveries of one
    person stay in order), oldest first, at most ``limit``; people in ``skip`` (waiting for
    their hire's details) are passed over, and so is a person whose oldest open delivery is
    scheduled for a later attempt (``next_attempt_at`` after ``now``): it still holds up that
    person's later deliveries."""
    seen: set[str] = set(skip)
    out: list[Row] = []
    after = 0
    while len(out) < limit:
        rows = conn.execute(
            select(d)
            .where(d.c.tenant == tenant, d.c.sink == sink, d.c.state.in_(OPEN), d.c.id > after)
            .order_by(d.c.id)
            .limit(1000)
        ).all()
        if not rows:
            break
        for r in rows:
            after = r.id
            if r.candidate_id in seen:
                continue
            seen.add(r.candidate_id)
            if r.next_attempt_at is not None and r.next_attempt_at > now:
                continue
            out.append(dict(r._mapping))
            if len(out) >= limit:
                break
    return out


def of_rounds(
    conn: Connection,
    tenant: str,
    sink: str,
    keys: Sequence[tuple[str, str, int]],
    event_type: str,
) -> dict[tuple[str, str, int], Row]:
    """The ``event_type`` delivery of each (candidate_id, job_id, hire_round) that has one."""
    out: dict[tuple[str, str, int], Row] = {}
    cids = sorted({k[0] for k in keys})
    for i in range(0, len(cids), 500):
        q = select(d).where(
            d.c.tenant == tenant,
            d.c.sink == sink,
            d.c.event_type == event_type,
            d.c.candidate_id.in_(cids[i : i + 500]),
        )
        for r in conn.execute(q):
            out[(r.candidate_id, r.job_id, r.hire_round)] = dict(r._mapping)
    wanted = set(keys)
    return {k: v for k, v in out.items() if k in wanted}


def rounds_of_candidates(
    conn: Connection, tenant: str, sink: str, candidate_ids: Sequence[str]
) -> dict[tuple[str, str], tuple[int, bool]]:
    """Per application of these candidates with a hire delivery at the sink: its latest hire
    round, and whether that round was revoked (a revocation delivery exists for it, in any
    state: sent, skipped, or a dead letter)."""
    hired: dict[tuple[str, str], int] = {}
    revoked: set[tuple[str, str, int]] = set()
    cids = sorted(set(candidate_ids))
    for i in range(0, len(cids), 500):
        q = select(d.c.candidate_id, d.c.job_id, d.c.event_type, d.c.hire_round).where(
            d.c.tenant == tenant, d.c.sink == sink, d.c.candidate_id.in_(cids[i : i + 500])
        )
        for r in conn.execute(q):
            key = (r.candidate_id, r.job_id)
            if r.event_type == HIRED:
                hired[key] = max(hired.get(key, 0), r.hire_round)
            elif r.event_type == REVOKED:
                revoked.add((*key, r.hire_round))
    return {k: (n, (*k, n) in revoked) for k, n in hired.items()}


def update_delivery(conn: Connection, delivery_pk: int, *, now: datetime, **values: Any) -> None:
    conn.execute(update(d).where(d.c.id == delivery_pk).values(updated_at=now, **values))


def update_deliveries(
    conn: Connection, changes: Sequence[dict[str, Any]], *, now: datetime
) -> None:
    """Several rows at once: each dict holds ``id`` and the columns to set (one executemany per
    shape of columns)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for c in changes:
        groups.setdefault(tuple(sorted(k for k in c if k != "id")), []).append(c)
    for cols, rows in groups.items():
        stmt = (
            update(d)
            .where(d.c.id == bindparam("k_id"))
            .values(updated_at=now, **{c: bindparam(f"v_{c}") for c in cols})
        )
        conn.execute(stmt, [{"k_id": r["id"], **{f"v_{c}": r[c] for c in cols}} for r in rows])


def to_read_back(conn: Connection, tenant: str, sink: str, *, limit: int) -> list[Row]:
    """Delivered hires whose onboarding outcome is not known yet (status readback)."""
    q = (
        select(d)
        .where(
            d.c.tenant == tenant,
            d.c.sink == sink,
            d.c.event_type == HIRED,
            d.c.state == "delivered",
            func.coalesce(d.c.sink_status, "").not_in(
                ("ONBOARDING_SUCCESSFUL", "ONBOARDING_FAILED")
            ),
        )
        .order_by(d.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def listing(
    conn: Connection, tenant: str, *, sink: str | None, state: str | None, limit: int
) -> list[Row]:
    q = select(d).where(d.c.tenant == tenant)
    if sink:
        q = q.where(d.c.sink == sink)
    if state == "dead-letters":
        q = q.where(d.c.state.in_(DEAD_LETTERS))
    elif state:
        q = q.where(d.c.state == state)
    return [dict(r._mapping) for r in conn.execute(q.order_by(d.c.id).limit(limit))]


def sink_names(conn: Connection, tenant: str) -> set[str]:
    """The sinks the tenant's deliveries name (sinks configured once, perhaps removed since)."""
    return set(conn.execute(select(d.c.sink).where(d.c.tenant == tenant).distinct()).scalars())


def counts(conn: Connection, tenant: str) -> dict[str, dict[str, int]]:
    """Deliveries per sink and state."""
    q = (
        select(d.c.sink, d.c.state, func.count())
        .where(d.c.tenant == tenant)
        .group_by(d.c.sink, d.c.state)
    )
    out: dict[str, dict[str, int]] = {}
    for sink, state, n in conn.execute(q):
        out.setdefault(sink, {})[state] = int(n)
    return out


def requeue(
    conn: Connection, tenant: str, *, ids: Sequence[int] = (), dead: bool = False, now: datetime
) -> int:
    """Dead letters (``rejected``/``dead``) back to ``pending`` with their attempts reset; by id,
    or every dead letter with ``dead``. Returns how many."""
    q = update(d).where(d.c.tenant == tenant, d.c.state.in_(DEAD_LETTERS))
    if not dead:
        q = q.where(d.c.id.in_(list(ids)))
    return int(
        conn.execute(
            q.values(state="pending", attempts=0, reason=None, next_attempt_at=None, updated_at=now)
        ).rowcount
        or 0
    )


def states_of(conn: Connection, tenant: str, ids: Sequence[int]) -> dict[int, str]:
    """The state of each of ``ids`` that is a delivery of ``tenant`` (absent ids left out)."""
    rows = conn.execute(
        select(d.c.id, d.c.state).where(d.c.tenant == tenant, d.c.id.in_(list(ids)))
    ).all()
    return {int(r.id): str(r.state) for r in rows}


def due_sooner(
    conn: Connection, tenant: str, sink: str, *, now: datetime, failed_before: datetime
) -> int:
    """The target answered again: pending deliveries of the sink scheduled for later after an
    outage-like failure (no answer, or a 5xx) before ``failed_before`` (the pass's start: one
    that failed in this pass keeps its backoff) are due now. Those waiting out a 429's
    ``Retry-After`` or a refused credential keep their time. Returns how many."""
    q = (
        update(d)
        .where(
            d.c.tenant == tenant,
            d.c.sink == sink,
            d.c.state == "pending",
            d.c.next_attempt_at > now,
            d.c.updated_at < failed_before,
            d.c.status_code.is_(None) | (d.c.status_code >= 500),
        )
        .values(next_attempt_at=now, updated_at=now)
    )
    return int(conn.execute(q).rowcount or 0)


def skip(conn: Connection, tenant: str, delivery_pk: int, reason: str, *, now: datetime) -> bool:
    """An open delivery or a dead letter to ``skipped`` with the operator's reason."""
    done = conn.execute(
        update(d)
        .where(d.c.tenant == tenant, d.c.id == delivery_pk, d.c.state != "delivered")
        .values(state="skipped", reason=reason, updated_at=now)
    )
    return bool(done.rowcount)


# ---- write-back and notices --------------------------------------------------------------------
def written_statuses(
    conn: Connection, tenant: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str]]:
    """syncd's last onboarding-status write per application: (hire round it was for, status)."""
    t = s.onboarding_writes
    out: dict[tuple[str, str], tuple[int, str]] = {}
    cids = sorted({k[0] for k in keys})
    for i in range(0, len(cids), 500):
        q = select(t.c.candidate_id, t.c.job_id, t.c.hire_round, t.c.status).where(
            t.c.tenant == tenant, t.c.candidate_id.in_(cids[i : i + 500])
        )
        for cid, jid, n, status in conn.execute(q):
            out[(cid, jid)] = (int(n), status)
    wanted = set(keys)
    return {k: v for k, v in out.items() if k in wanted}


def set_written(
    conn: Connection,
    tenant: str,
    key: tuple[str, str],
    hire_round: int,
    status: str,
    *,
    now: datetime,
) -> None:
    """Record syncd's write of ``status`` for the application's hire round ``hire_round``
    (the one row per application holds the last write; migration 0010 added the round)."""
    t = s.onboarding_writes
    values = {"status": status, "hire_round": hire_round, "written_at": now}
    done = conn.execute(
        update(t)
        .where(t.c.tenant == tenant, t.c.candidate_id == key[0], t.c.job_id == key[1])
        .values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(t).values(tenant=tenant, candidate_id=key[0], job_id=key[1], **values))


def notice(conn: Connection, tenant: str, code: str, message: str, *, now: datetime) -> bool:
    """Record a condition; True the first time it is seen for the tenant (report it then)."""
    t = s.push_notices
    done = conn.execute(update(t).where(t.c.tenant == tenant, t.c.code == code).values(last_at=now))
    if done.rowcount:
        return False
    conn.execute(
        insert(t).values(tenant=tenant, code=code, message=message, first_at=now, last_at=now)
    )
    return True


def has_notice(conn: Connection, tenant: str, code: str) -> bool:
    t = s.push_notices
    q = select(func.count()).where(t.c.tenant == tenant, t.c.code == code)
    return bool(conn.execute(q).scalar())


def clear_notice(conn: Connection, tenant: str, code: str) -> None:
    t = s.push_notices
    conn.execute(t.delete().where(t.c.tenant == tenant, t.c.code == code))


def writeback_due(conn: Connection, tenant: str, sink: str) -> list[Row]:
    """Hire deliveries of the sink whose onboarding status SmartRecruiters may not show yet:
    delivered or rejected, and syncd's last write for the application was for an earlier hire
    round (a rehire starts again from READY_TO_ONBOARD), or for this round and is not final or
    differs. Only each application's latest hire round speaks: a rehire's outcome, not the first
    one's. A write for a later round than this sink's (another sink numbers the hires further)
    is left alone: SmartRecruiters shows the newer hire."""
    w = s.onboarding_writes
    later = d.alias("later")
    superseded = exists().where(
        later.c.tenant == d.c.tenant,
        later.c.sink == d.c.sink,
        later.c.candidate_id == d.c.candidate_id,
        later.c.job_id == d.c.job_id,
        later.c.event_type == HIRED,
        later.c.hire_round > d.c.hire_round,
    )
    this_round = (w.c.hire_round == d.c.hire_round) & (
        (w.c.status == "READY_TO_ONBOARD")
        | ((d.c.state == "rejected") & (w.c.status != "ONBOARDING_FAILED"))
        | (
            (d.c.state == "delivered")
            & d.c.sink_status.is_not(None)
            & (w.c.status != d.c.sink_status)
        )
    )
    q = (
        select(d)
        .select_from(
            d.outerjoin(
                w,
                (w.c.tenant == d.c.tenant)
                & (w.c.candidate_id == d.c.candidate_id)
                & (w.c.job_id == d.c.job_id),
            )
        )
        .where(
            d.c.tenant == tenant,
            d.c.sink == sink,
            d.c.event_type == HIRED,
            d.c.state.in_(("delivered", "rejected")),
            ~superseded,
            w.c.status.is_(None) | (w.c.hire_round < d.c.hire_round) | this_round,
        )
        .order_by(d.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]
