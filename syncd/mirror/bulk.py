"""Many rows through one statement with the driver's ``executemany``, values bound as SQLAlchemy
binds them but converted once per column: SQLAlchemy's per-row parameter handling (a dict, a
compile-cache lookup and every column's processor per row) cost more than SQLite's own work for
the backfill's bookkeeping statements (history sub-status fixes, flags, the outbox)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Table


def _fast_datetime(proc: Any) -> Any:
    """SQLAlchemy's SQLite DATETIME bind processor, with the common case (a naive datetime)
    formatted in C: ``isoformat`` gives the same ``%Y-%m-%d %H:%M:%S.%f`` text."""
    dt_type = datetime

    def process(value: Any) -> Any:
        if type(value) is dt_type and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return proc(value)

    return process


@functools.cache
def converters(table: Table, dialect: Any) -> tuple[tuple[str, Any], ...]:
    """Per column, SQLAlchemy's own bind processor for ``dialect`` (None: the value goes as is),
    SQLite's DATETIME replaced by the faster equivalent when it gives the same text for a
    sample."""
    sample = datetime(2024, 1, 2, 3, 4, 5, 678000)
    out = []
    for c in table.columns:
        proc = c.type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(c.type, DateTime) and proc is not None:
            fast = _fast_datetime(proc)
            if fast(sample) == proc(sample) and fast(None) is None:
                proc = fast
        out.append((c.name, proc))
    return tuple(out)


def bound_columns(
    conn: Connection, table: Table, columns: Sequence[str], values: Sequence[list[Any]]
) -> list[tuple[Any, ...]]:
    """Rows of parameters from ``values`` (one list per name of ``columns``, a column of
    ``table`` each, all of one length), every value converted as SQLAlchemy binds it."""
    procs = dict(converters(table, conn.dialect))
    conv = [
        list(map(procs[n], vals)) if procs.get(n) else vals
        for n, vals in zip(columns, values, strict=True)
    ]
    return list(zip(*conv, strict=True))


def execute_many(conn: Connection, sql: str, params: list[tuple[Any, ...]]) -> None:
    """``sql`` written with ``?`` placeholders (none elsewhere in it) once per tuple of
    ``params`` with the driver's executemany (``%s`` placeholders on psycopg)."""
    if not params:
        return
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    conn.exec_driver_sql(sql, params)


def stored_keys(
    conn: Connection, table: Table, tenant: str, names: Sequence[str], keys: Sequence[Sequence[Any]]
) -> set[tuple[Any, ...]]:
    """The keys among ``keys`` (values of the columns ``names``, as the driver returns them:
    strings and numbers) that ``table`` holds for ``tenant``. By the leading column's IN, 500
    values a statement: SQLite plans a row-value IN as a scan of the table."""
    cols = ", ".join(f'"{n}"' for n in names)
    wanted = {tuple(k) for k in keys}
    firsts = sorted({k[0] for k in wanted})
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    out: set[tuple[Any, ...]] = set()
    for i in range(0, len(firsts), 500):
        part = firsts[i : i + 500]
        sql = (
            f'SELECT {cols} FROM "{table.name}" WHERE tenant = {mark} '
            f'AND "{names[0]}" IN ({", ".join([mark] * len(part))})'
        )
        out.update(
            k for r in conn.exec_driver_sql(sql, (tenant, *part)) if (k := tuple(r)) in wanted
        )
    return out
