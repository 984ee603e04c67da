"""Connecting to the mirror database and bringing its schema up to date (Alembic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaError(Exception):
    """The database is missing the mirror's tables or holds an older (or newer) schema."""


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver syncd ships with."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _json_dumps(value: Any) -> str:
    # orjson: the raw JSON column is written for every record of a backfill.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, **kw: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    kw.setdefault("json_serializer", _json_dumps)
    kw.setdefault("json_deserializer", orjson.loads)
    if parsed.get_backend_name() == "sqlite":
        args = kw.setdefault("connect_args", {})
        args.setdefault("timeout", 60)
        # sqlite3 keeps up to this many prepared statements per connection. The multi-row
        # INSERTs of a backfill come in many lengths, each a large statement of its own: with
        # the default of 128 they held ~30 MiB per connection (peak RSS 294 -> 261 MiB in a
        # replay of 10k candidates); the statements that repeat stay cached.
        args.setdefault("cached_statements", 16)
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers (reports, tests) run beside the writer; NORMAL is durable at
            # every commit boundary in WAL mode, which is what checkpoints need.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint the WAL every ~400 MB instead of every 4 MB: a backfill rewrites the same
            # index pages many times over, and each checkpoint copies them and syncs the file; the
            # longer the WAL, the more rewrites of a page one copy covers (measured: 1,000 -> 10,000
            # pages took 13 % off the audit pass at 10k candidates; 10,000 -> 100,000 took a 100k
            # backfill from 164 s to 150 s in back-to-back runs, and its writes to disk from 22 GB
            # to 18 GB). After a checkpoint the file is cut back to 64 MiB so that a daemon does
            # not keep 400 MB.
            cur.execute("PRAGMA wal_autocheckpoint=100000")
            cur.execute("PRAGMA journal_size_limit=67108864")
            cur.close()

        return engine
    kw.setdefault("pool_pre_ping", True)
    return create_engine(url, **kw)


def _config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to ``revision``; returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before, current_revision(engine)


def require_schema(engine: Engine) -> None:
    """Raise SchemaError unless the database is at the head revision."""
    head = head_revision(engine)
    current = current_revision(engine)
    if current == head:
        return
    where = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise SchemaError(
            f"the mirror database {where} has no syncd schema yet; run `syncd migrate` first"
        )
    raise SchemaError(
        f"the mirror database {where} is at schema revision {current}, this syncd needs {head}; "
        "run `syncd migrate`"
    )
