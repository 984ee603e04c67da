"""What a column can store, checked the same way on SQLite and PostgreSQL.

PostgreSQL refuses a string longer than its ``VARCHAR(n)`` and an integer beyond its column's
range; SQLite stores both. So that the same input gives the same mirror on both databases, rows
are fitted before they are written: a value that does not fit a typed column that may be NULL
becomes NULL there (the raw JSON keeps it, as for an unreadable timestamp); one that does not fit
a key or a required column makes the whole record unstorable (``Unstorable``, which the engine
quarantines with this reason, naming the column and the sizes, never the value).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from sqlalchemy import BigInteger, Integer, String, Table

from syncd.mirror.records import Row

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class Unstorable(ValueError):
    """A record holds a value that a key or required column of its table cannot store."""


# (column, max length or None, integer range or None, required)
Limit = tuple[str, int | None, tuple[int, int] | None, bool]


@functools.cache
def _limits(table: Table) -> tuple[Limit, ...]:
    keys = {c.name for c in table.primary_key.columns}
    out: list[Limit] = []
    for c in table.columns:
        required = c.name in keys or not c.nullable
        if isinstance(c.type, String) and c.type.length:
            out.append((c.name, c.type.length, None, required))
        elif isinstance(c.type, BigInteger):
            out.append((c.name, None, INT64, required))
        elif isinstance(c.type, Integer):
            out.append((c.name, None, INT32, required))
    return tuple(out)


def fit(table: Table, rows: Iterable[Row]) -> None:
    """Fit ``rows`` (in place) to ``table``'s columns. Raises Unstorable for the first row whose
    key or required column cannot hold its value."""
    limits = _limits(table)
    for row in rows:
        for name, length, bounds, required in limits:
            v = row.get(name)
            if v is None:
                continue
            if length is not None:
                if type(v) is not str or len(v) <= length:
                    continue
                why = f"{table.name}.{name} holds {len(v)} characters, the column {length}"
            elif bounds is not None and type(v) is int and not bounds[0] <= v <= bounds[1]:
                why = f"{table.name}.{name} holds an integer beyond {bounds[0]}..{bounds[1]}"
            else:
                continue
            if required:
                raise Unstorable(why)
            row[name] = None
