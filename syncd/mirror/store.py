"""Writes to the mirror: hash-compared upserts, tombstones, the outbox, checkpoints, runs and
quarantine. Every method takes the caller's connection so that a page of rows, its outbox records
and its checkpoint land in one transaction (DESIGN invariants 2 and 5)."""

from __future__ import annotations

import contextlib
import functools
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)

from syncd.mirror import schema as s
from syncd.mirror.bulk import bound_columns, converters, execute_many, stored_keys
from syncd.mirror.fit import fit
from syncd.mirror.outbox import lock_sequence
from syncd.mirror.records import Row, content_hash

Key = tuple[Any, ...]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class UpsertResult:
    inserted: list[Row] = field(default_factory=list)
    updated: list[tuple[Row, Row]] = field(default_factory=list)  # (old, new)
    unchanged: list[Row] = field(default_factory=list)  # the stored rows


@dataclass
class Change:
    resource: str
    key: str
    kind: str
    data: dict[str, Any] | None = None


@functools.cache
def key_columns(table: Table) -> tuple[Column[Any], ...]:
    return tuple(c for c in table.primary_key.columns if c.name != "tenant")


@functools.cache
def _key_getter(table: Table) -> Any:
    # operator.itemgetter returns a bare value for one name: keys are always tuples.
    names = [c.name for c in key_columns(table)]
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return operator.itemgetter(*names)


def key_of(table: Table, row: Row) -> Key:
    return _key_getter(table)(row)


def key_text(key: Key) -> str:
    return "/".join(str(k) for k in key)


class Mirror:
    def __init__(self, engine: Engine, tenant: str) -> None:
        self.engine = engine
        self.tenant = tenant

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ---- reads ----------------------------------------------------------------------------
    def existing(self, conn: Connection, table: Table, keys: Sequence[Key]) -> dict[Key, Row]:
        if not keys:
            return {}
        cols = key_columns(table)
        out: dict[Key, Row] = {}
        # Chunks keep the statement under every driver's bind-parameter limit.
        for i in range(0, len(keys), 500):
            chunk = list(dict.fromkeys(keys[i : i + 500]))
            # The leading column's IN comes first even for composite keys: SQLite's planner does
            # not use the primary key for a row-value IN, and scanned the whole table per page.
            cond: ColumnElement[bool] = cols[0].in_({k[0] for k in chunk})
            if len(cols) > 1:
                cond = and_(cond, tuple_(*cols).in_(chunk))
            for r in conn.execute(select(table).where(table.c.tenant == self.tenant, cond)):
                m = dict(r._mapping)
                out[key_of(table, m)] = m
        return out

    # ---- upserts --------------------------------------------------------------------------
    def upsert(
        self,
        conn: Connection,
        table: Table,
        rows: Iterable[Row],
        *,
        now: datetime,
        merge_raw: bool = False,
        touch: bool = False,
        on_change: dict[str, Any] | None = None,
    ) -> UpsertResult:
        """Insert new rows, update rows whose content hash changed (or that were tombstoned),
        leave the rest. ``merge_raw`` merges the new raw object into the stored one (records
        assembled from several endpoints). ``touch`` bumps last_seen_at of unchanged rows (sweeps).
        ``on_change`` columns are set on inserted and updated rows only."""
        batch: dict[Key, Row] = {}
        for row in rows:
            batch[key_of(table, row)] = row  # last one wins within a page
        fit(table, batch.values())  # the same on SQLite and PostgreSQL (fit.py)
        result = UpsertResult()
        if not batch:
            return result
        old = self.existing(conn, table, list(batch))
        inserts: list[Row] = []
        updates: list[Row] = []
        for key, row in batch.items():
            prev = old.get(key)
            if prev is not None and merge_raw:
                raw = {**(prev["raw"] or {}), **row["raw"]}
                row = {**row, "raw": raw, "content_hash": content_hash(raw)}
            if prev is None:
                new = {
                    **_defaults(table),
                    **row,
                    "tenant": self.tenant,
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "deleted_at": None,
                    **(on_change or {}),
                }
                if merge_raw and "content_hash" not in row:
                    new["content_hash"] = content_hash(new["raw"])
                inserts.append(new)
                result.inserted.append(new)
            elif prev["content_hash"] != row["content_hash"] or prev["deleted_at"] is not None:
                new = {**row, "last_seen_at": now, "deleted_at": None, **(on_change or {})}
                updates.append(new)
                result.updated.append((prev, {**prev, **new}))
            else:
                result.unchanged.append(prev)
        if inserts:
            _insert_rows(conn, table, {}, inserts, ignore=False)
        if updates:
            _update_many(conn, table, self.tenant, updates)
        if touch and result.unchanged:
            _update_many(
                conn,
                table,
                self.tenant,
                [
                    {**{c.name: r[c.name] for c in key_columns(table)}, "last_seen_at": now}
                    for r in result.unchanged
                ],
            )
        return result

    def insert_new(
        self,
        conn: Connection,
        table: Table,
        rows: Iterable[Row],
        *,
        now: datetime,
        returning: bool = True,
    ) -> list[Row]:
        """Immutable records (audit events, history entries): insert the rows whose key is not
        stored yet, leave stored ones as they are (no read, no hash comparison, no update).
        One ``INSERT .. ON CONFLICT DO NOTHING .. RETURNING`` per batch (SQLite >= 3.35,
        PostgreSQL); returns the rows actually inserted, or [] without ``returning`` (no
        RETURNING clause: the caller does not need them)."""
        batch: dict[Key, Row] = {}
        for row in rows:
            batch[key_of(table, row)] = row  # last one wins within a page, as in upsert
        fit(table, batch.values())
        if not batch:
            return []
        base = {
            **_defaults(table),
            "tenant": self.tenant,
            "first_seen_at": now,
            "last_seen_at": now,
            "deleted_at": None,
        }
        items = list(batch.values())
        return _insert_rows(conn, table, base, items, ignore=True, returning=returning)

    def present(self, conn: Connection, table: Table, keys: Iterable[Key]) -> set[Key]:
        """The keys among ``keys`` (string key columns) that have a row (live or not), reading
        key columns only."""
        wanted = set(keys)
        if not wanted:
            return set()
        names = [c.name for c in key_columns(table)]
        return stored_keys(conn, table, self.tenant, names, list(wanted))

    def set_columns(
        self, conn: Connection, table: Table, rows: Sequence[Row], *, now: datetime | None = None
    ) -> None:
        """Partial updates keyed by the primary key (bookkeeping columns, no hash change)."""
        if rows:
            fit(table, rows)
            _update_many(conn, table, self.tenant, list(rows))

    # ---- deletions ------------------------------------------------------------------------
    def tombstone(
        self,
        conn: Connection,
        table: Table,
        where: Any,
        *,
        at: datetime,
        clear: Sequence[str] = (),
        keep_raw: Sequence[str] = ("id", "createdOn", "updatedOn"),
    ) -> list[Row]:
        """Mark live rows matching ``where`` deleted; null ``clear`` columns and cut raw down to
        ``keep_raw`` keys (personal data leaves the mirror). Returns the rows as they were."""
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(table).where(
                    table.c.tenant == self.tenant, table.c.deleted_at.is_(None), where
                )
            )
        ]
        if not rows:
            return []
        updates = []
        for r in rows:
            raw = r["raw"] if isinstance(r["raw"], dict) else {}
            kept = {k: raw[k] for k in keep_raw if k in raw}
            updates.append(
                {
                    **{c.name: r[c.name] for c in key_columns(table)},
                    **dict.fromkeys(clear),
                    "raw": kept,
                    "content_hash": content_hash(kept),
                    "deleted_at": at,
                }
            )
        _update_many(conn, table, self.tenant, updates)
        return rows

    def tombstone_in(
        self,
        conn: Connection,
        table: Table,
        column: str,
        values: Iterable[Any],
        *,
        at: datetime,
        where: dict[str, Any] | None = None,
        clear: Sequence[str] = (),
        keep_raw: Sequence[str] = ("id", "createdOn", "updatedOn"),
    ) -> list[Row]:
        """``tombstone`` of the live rows whose ``column`` is one of ``values`` (and whose
        columns equal ``where``'s values), 500 values per statement."""
        ids = list(dict.fromkeys(values))
        extra = [table.c[k] == v for k, v in (where or {}).items()]
        gone: list[Row] = []
        for i in range(0, len(ids), 500):
            cond = and_(table.c[column].in_(ids[i : i + 500]), *extra)
            gone += self.tombstone(conn, table, cond, at=at, clear=clear, keep_raw=keep_raw)
        return gone

    def clear_in(
        self,
        conn: Connection,
        table: Table,
        column: str,
        values: Iterable[Any],
        clear: Sequence[str],
    ) -> None:
        """Set the columns ``clear`` to NULL in the rows whose ``column`` is one of ``values``
        (rows kept for bookkeeping that copied personal data, e.g. a delivery's payload)."""
        ids = list(dict.fromkeys(values))
        for i in range(0, len(ids), 500):
            conn.execute(
                update(table)
                .where(table.c.tenant == self.tenant, table.c[column].in_(ids[i : i + 500]))
                .values(dict.fromkeys(clear))
            )

    def tombstone_keys(
        self,
        conn: Connection,
        table: Table,
        keys: Sequence[Key],
        *,
        at: datetime,
        keep_raw: Sequence[str] = ("id", "createdOn", "updatedOn"),
    ) -> list[Row]:
        """``tombstone`` of the live rows ``keys`` (primary keys without the tenant)."""
        gone: list[Row] = []
        cols = key_columns(table)
        for i in range(0, len(keys), 200):
            chunk = keys[i : i + 200]
            if len(cols) == 1:
                cond: Any = cols[0].in_([k[0] for k in chunk])
            else:
                cond = and_(cols[0].in_({k[0] for k in chunk}), tuple_(*cols).in_(list(chunk)))
            gone += self.tombstone(conn, table, cond, at=at, keep_raw=keep_raw)
        return gone

    def tombstone_unseen(
        self,
        conn: Connection,
        table: Table,
        started: datetime,
        *,
        at: datetime,
        keep_raw: Sequence[str] = ("id", "createdOn", "updatedOn"),
    ) -> list[Row]:
        """``tombstone`` of the live rows a complete pass started at ``started`` did not touch."""
        return self.tombstone(conn, table, table.c.last_seen_at < started, at=at, keep_raw=keep_raw)

    # ---- outbox ---------------------------------------------------------------------------
    def emit(
        self, conn: Connection, changes: Sequence[Change], *, run_id: str, now: datetime
    ) -> None:
        if not changes:
            return
        lock_sequence(conn, self.tenant)
        n = len(changes)
        params = bound_columns(
            conn,
            s.changes,
            _CHANGE_COLUMNS,
            [
                [self.tenant] * n,
                [c.resource for c in changes],
                [c.key for c in changes],
                [c.kind for c in changes],
                [c.data for c in changes],
                [run_id] * n,
                [now] * n,
            ],
        )
        marks = ", ".join("?" * len(_CHANGE_COLUMNS))
        execute_many(
            conn, f"INSERT INTO changes ({', '.join(_CHANGE_COLUMNS)}) VALUES ({marks})", params
        )

    # ---- quarantine -----------------------------------------------------------------------
    def quarantine(
        self,
        conn: Connection,
        resource: str,
        key: str | None,
        reason: str,
        raw: Any,
        *,
        run_id: str,
        now: datetime,
    ) -> None:
        conn.execute(
            insert(s.quarantine).values(
                tenant=self.tenant,
                resource=resource,
                record_key=key,
                reason=reason[:2000],
                raw=raw,
                run_id=run_id,
                created_at=now,
            )
        )

    # ---- checkpoints ----------------------------------------------------------------------
    def state(self, conn: Connection, resource: str) -> Row:
        t = s.sync_state
        r = conn.execute(
            select(t).where(t.c.tenant == self.tenant, t.c.resource == resource)
        ).first()
        if r is not None:
            return dict(r._mapping)
        return {c.name: None for c in t.columns} | {"tenant": self.tenant, "resource": resource}

    def save_state(self, conn: Connection, resource: str, **values: Any) -> None:
        names = list(values)
        (params,) = bound_columns(
            conn,
            s.sync_state,
            [*names, "tenant", "resource"],
            [*([v] for v in values.values()), [self.tenant], [resource]],
        )
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sets = ", ".join(f"{n} = {mark}" for n in names)
        sql = f"UPDATE sync_state SET {sets} WHERE tenant = {mark} AND resource = {mark}"
        if conn.exec_driver_sql(sql, params).rowcount == 0:
            t = s.sync_state
            conn.execute(insert(t).values(tenant=self.tenant, resource=resource, **values))

    # ---- runs -----------------------------------------------------------------------------
    def start_run(self, run_id: str, resource: str, mode: str, cursor: datetime | None) -> int:
        with self.begin() as conn:
            res = conn.execute(
                insert(s.sync_runs).values(
                    run_id=run_id,
                    tenant=self.tenant,
                    resource=resource,
                    mode=mode,
                    status="running",
                    started_at=utcnow(),
                    cursor_used=cursor,
                    fetched=0,
                    inserted=0,
                    updated=0,
                    unchanged=0,
                    deleted=0,
                    quarantined=0,
                    api_calls=0,
                    errors=0,
                )
            )
            pk = res.inserted_primary_key
            assert pk is not None
            return int(pk[0])

    def finish_run(self, row_id: int, *, status: str, error: str | None, **counts: int) -> None:
        with self.begin() as conn:
            conn.execute(
                update(s.sync_runs)
                .where(s.sync_runs.c.id == row_id)
                .values(status=status, ended_at=utcnow(), error_message=error, **counts)
            )

    def run_progress(self, conn: Connection, row_id: int, **counts: int) -> None:
        """The counts so far of the run ``row_id`` still ``running``, in the caller's write
        transaction (one UPDATE per write group): a pass in progress, or one killed, shows what
        it committed. ``counts``: RUN_COUNTS columns of ``sync_runs`` (rows, API calls)."""
        t = s.sync_runs
        conn.execute(update(t).where(t.c.id == row_id, t.c.status == "running").values(**counts))

    def mark_interrupted(self, resource: str) -> None:
        """Runs of ``resource`` still recorded ``running`` ended without recording it (a kill, a
        crash): they become ``interrupted``."""
        t = s.sync_runs
        with self.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.tenant == self.tenant, t.c.resource == resource, t.c.status == "running")
                .values(status="interrupted")
            )

    def refresh_statistics(self) -> None:
        """Planner statistics of the mirror's tables that changed much since their last ANALYZE,
        on PostgreSQL: more than 50 rows plus a tenth of the rows counted then (autovacuum's
        default analyze threshold, applied now instead of within its next nap), or whose file
        grew by more than a tenth plus one page since (or was never analyzed and holds more
        than a page). A table analyzed while empty, or never, and filled since gets plans for
        an empty table (nested loops over the whole history: 30 s for 261 applications, minutes
        for a few thousand rows). The file size is read at once; the changed-rows count only
        once the writing sessions have sent their statistics, which PostgreSQL 15 defers by up
        to 10 s, so a pass shorter than that saw no change from the count alone. ANALYZE samples
        a bounded number of rows, tens of milliseconds per table. SQLite plans these statements
        well without."""
        if self.engine.dialect.name != "postgresql":
            return
        names = [t.name for t in (*s.RECORD_TABLES, s.changes)]
        with self.engine.begin() as conn:
            stale = conn.execute(
                text(
                    "SELECT c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid "
                    "WHERE n.nspname = current_schema() "
                    "AND c.relkind = 'r' AND c.relname = ANY(:names) "
                    "AND (st.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0) "
                    "OR pg_relation_size(c.oid) "
                    "> (1.1 * c.relpages + 1) * current_setting('block_size')::int)"
                ),
                {"names": names},
            ).scalars()
            for name in sorted(stale):
                conn.exec_driver_sql(f'ANALYZE "{name}"')

    def counts(self, conn: Connection) -> dict[str, dict[str, int]]:
        """Live and deleted rows per record table."""
        out = {}
        for t in s.RECORD_TABLES:
            # One read of the table: COUNT(column) counts the rows where it is set.
            total, gone = conn.execute(
                select(func.count(), func.count(t.c.deleted_at)).where(t.c.tenant == self.tenant)
            ).one()
            out[t.name] = {"live": int(total) - int(gone), "deleted": int(gone)}
        return out


def _scalar_default(c: Column[Any]) -> bool:
    return c.default is not None and getattr(c.default, "is_scalar", False)


@functools.cache
def _defaults(table: Table) -> dict[str, Any]:
    """Scalar column defaults, once per table (they were rebuilt for every inserted row)."""
    return {c.name: getattr(c.default, "arg", None) for c in table.columns if _scalar_default(c)}


def _insert_rows(
    conn: Connection,
    table: Table,
    base: Row,
    items: list[Row],
    *,
    ignore: bool,
    returning: bool = True,
) -> list[Row]:
    """Rows (over ``base``) into a record table in the driver's fastest form. ``ignore``:
    ``ON CONFLICT DO NOTHING``, returning only the rows inserted (nothing without
    ``returning``); otherwise a conflict raises as a plain insert would."""
    if conn.dialect.name == "sqlite":
        return _sqlite_insert(conn, table, base, items, ignore=ignore, returning=returning)
    if conn.dialect.name == "postgresql":
        return _pg_insert(conn, table, base, items, ignore=ignore, returning=returning)
    raise NotImplementedError(f"the mirror supports SQLite and PostgreSQL, not {conn.dialect.name}")


def _sqlite_insert(
    conn: Connection, table: Table, base: Row, items: list[Row], *, ignore: bool, returning: bool
) -> list[Row]:
    """Rows (over ``base``) into a SQLite record table: one single-row INSERT run by sqlite3's
    ``executemany`` (prepared once, stepped per row in C), values converted once per column
    (SQLAlchemy's per-row parameter processing was a third of the audit pass's CPU). Multi-row
    VALUES statements came in many lengths, each compiled again: the history's inserts took
    31 -> ~12 µs a row. ``ignore``: ``ON CONFLICT DO NOTHING``; with ``returning``, the keys
    already stored are read first (``executemany`` returns no rows) and only the rows inserted
    are returned; otherwise a conflict raises as a plain insert would."""
    convs = converters(table, conn.dialect)
    names = [n for n, _ in convs]
    cols = ", ".join(f'"{n}"' for n in names)
    sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({", ".join("?" * len(names))})'
    if ignore:
        pk = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
        sql += f" ON CONFLICT ({pk}) DO NOTHING"
    # Column by column (a row's value, else base's): the conversions run as one map() each.
    columns: list[list[Any]] = []
    for n, proc in convs:
        default = base.get(n)
        vals = [r.get(n, default) for r in items]
        columns.append(list(map(proc, vals)) if proc else vals)
    tuples = list(zip(*columns, strict=True))
    inserted = items if not ignore else []
    if ignore and returning:
        keys = [c.name for c in key_columns(table)]
        key_pos = [names.index(k) for k in keys]
        have = stored_keys(
            conn, table, base["tenant"], keys, [[t[p] for p in key_pos] for t in tuples]
        )
        new = [i for i, t in enumerate(tuples) if tuple(t[p] for p in key_pos) not in have]
        if len(new) < len(tuples):
            tuples = [tuples[i] for i in new]
        inserted = [items[i] for i in new]
    if tuples:
        conn.exec_driver_sql(sql, tuples)  # a list of tuples: executemany
    return inserted


def _pg_insert(
    conn: Connection, table: Table, base: Row, items: list[Row], *, ignore: bool, returning: bool
) -> list[Row]:
    """Rows (over ``base``) into a PostgreSQL record table with psycopg's ``executemany``: one
    short statement, prepared once and sent in pipeline mode. SQLAlchemy's multi-row VALUES
    statements were too long for psycopg's query cache: every batch was parsed again, most of
    the audit pass's CPU on PostgreSQL."""
    from psycopg.types.json import Jsonb

    names = [c.name for c in table.columns]
    json_cols = _json_columns(table)
    key_pos = [names.index(c.name) for c in key_columns(table)]
    cols = ", ".join(f'"{n}"' for n in names)
    sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({", ".join(["%s"] * len(names))})'
    returning = ignore and returning
    if ignore:
        pk = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
        sql += f" ON CONFLICT ({pk}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(f'"{names[p]}"' for p in key_pos)
    params: list[tuple[Any, ...]] = []
    stored: dict[tuple[Any, ...], Row] = {}
    for row in items:
        vals = []
        for n in names:
            v = row.get(n, base.get(n))
            if n in json_cols and v is not None:
                v = Jsonb(v, dumps=_json_text)
            vals.append(v)
        params.append(tuple(vals))
        stored[tuple(vals[p] for p in key_pos)] = row
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cur:
        cur.executemany(sql, params, returning=returning)
        if not ignore:
            return items
        if not returning:
            return []
        inserted: list[Row] = []
        while True:
            inserted.extend(stored[tuple(r)] for r in cur.fetchall())
            if not cur.nextset():
                return inserted


_CHANGE_COLUMNS = ("tenant", "resource", "record_key", "kind", "data", "run_id", "occurred_at")


@functools.cache
def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, JSON))


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _update_many(conn: Connection, table: Table, tenant: str, rows: list[Row]) -> None:
    keys = [c.name for c in key_columns(table)]
    # Group by column set: executemany needs one statement shape per call.
    groups: dict[tuple[str, ...], list[Row]] = {}
    for r in rows:
        cols = tuple(sorted(k for k in r if k not in keys and k != "tenant"))
        groups.setdefault(cols, []).append(r)
    for cols, group in groups.items():
        if not cols:
            continue
        sets = ", ".join(f'"{c}" = ?' for c in cols)
        where = " AND ".join(f'"{k}" = ?' for k in ("tenant", *keys))
        values = [[r[c] for r in group] for c in cols]
        values += [[tenant] * len(group), *([r[k] for r in group] for k in keys)]
        params = bound_columns(conn, table, [*cols, "tenant", *keys], values)
        execute_many(conn, f'UPDATE "{table.name}" SET {sets} WHERE {where}', params)
