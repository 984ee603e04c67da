"""One record the database refuses never stops the rest: a batch is written inside a savepoint,
and when the database refuses it for something one record holds (a value it cannot store, a
constraint), the batch is split in halves, each retried in its own savepoint, down to the single
records it refuses. An error that is not about a record (connection lost, disk full, a lock)
propagates: the caller's transaction rolls back and its checkpoint stays where it was.

The reason kept for a refused record is the error's class and the first line of the database's
message with quoted values cut out: no SQL, no parameters, no row detail (a refused record can
hold personal data).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, select, update
from sqlalchemy import exc as sa_exc

from syncd.mirror import schema as s

T = TypeVar("T")

# The DB-API classes (PEP 249) of errors caused by the data of the statement, not by the
# connection or the server: both SQLAlchemy's wrappers and the drivers' own classes (psycopg's
# pipelined executemany raises the driver's); and fit.Unstorable, the same check on both.
_RECORD_CLASSES = ("DataError", "IntegrityError", "Unstorable")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'|\([^()]*\)=\([^()]*\)")


def refusal(exc: BaseException) -> str | None:
    """The reason when ``exc`` is the database refusing the data it was given; None when it is
    about something else (which must fail the write)."""
    if isinstance(exc, OverflowError):  # sqlite3: an integer beyond 64 bits
        return "OverflowError: an integer does not fit the database's integer type"
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if not any(c.__name__ in _RECORD_CLASSES for c in type(orig).__mro__):
        return None
    text = str(orig).strip().splitlines()
    first = _QUOTED.sub("…", text[0]) if text else ""
    return f"{type(orig).__name__}: {first}"[:300]


def _in_transaction(conn: Connection) -> None:
    """sqlite3 opens its transaction at the first write, not at SAVEPOINT; a savepoint taken
    before it would open (and its RELEASE commit) a transaction of its own, outside the caller's.
    So the caller's transaction is opened first."""
    dbapi = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite" and not getattr(dbapi, "in_transaction", True):
        conn.exec_driver_sql("BEGIN")


def write_isolated(
    conn: Connection,
    items: Sequence[T],
    write: Callable[[Sequence[T]], None],
    refused: Callable[[T, str], None],
) -> None:
    """``write(items)`` in a savepoint of ``conn``'s transaction; on a refusal, the halves
    again, down to single items, and ``refused(item, reason)`` for each item the database
    refuses alone. ``write`` must leave no effect outside the database when it raises (the
    caller restores its own counters). Other errors propagate."""
    if not items:
        return
    _in_transaction(conn)
    try:
        with conn.begin_nested():
            write(items)
        return
    except Exception as exc:
        why = refusal(exc)
        if why is None:
            raise
    if len(items) == 1:
        refused(items[0], why)
        return
    mid = len(items) // 2
    write_isolated(conn, items[:mid], write, refused)
    write_isolated(conn, items[mid:], write, refused)


def in_savepoint(conn: Connection, write: Callable[[], Any]) -> str | None:
    """``write()`` in a savepoint; the refusal's reason when the database refused its data
    (its effects rolled back), None when it was written. Other errors propagate."""
    _in_transaction(conn)
    try:
        with conn.begin_nested():
            write()
        return None
    except Exception as exc:
        why = refusal(exc)
        if why is None:
            raise
        return why


def quarantined_keys(
    conn: Connection, tenant: str, resource: str, since: datetime
) -> list[str | None]:
    """Keys of ``resource``'s records quarantined since ``since`` (None: a record whose key could
    not be read)."""
    q = s.quarantine
    return [
        r[0]
        for r in conn.execute(
            select(q.c.record_key).where(
                q.c.tenant == tenant, q.c.resource == resource, q.c.created_at >= since
            )
        )
    ]


def keep_seen(conn: Connection, table: Table, tenant: str, ids: list[str], now: datetime) -> None:
    """Mark the live rows ``ids`` of ``table`` seen at ``now``: a record the API listed but the
    mirror quarantined was not proven gone, so a sweep must not tombstone its stored row."""
    for i in range(0, len(ids), 500):
        conn.execute(
            update(table)
            .where(table.c.tenant == tenant, table.c.id.in_(ids[i : i + 500]))
            .values(last_seen_at=now)
        )
