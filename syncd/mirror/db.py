"""Connecting to the mirror database and bringing its schema up to date (Alembic)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaError(Exception):
    """The database is missing the mirror's tables or holds an older (or newer) schema."""


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver syncd ships with."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def display_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages. The user information ends at
    the LAST ``@`` of the authority: a password holding an unencoded ``@`` shows nothing of
    itself (a URL parser would split at the first and show the password's tail as the host)."""
    scheme, sep, rest = normalize_url(url).partition("://")
    if not sep:
        return "SYNCD_DATABASE_URL"
    authority, slash, path = rest.partition("/")
    user, at, host = authority.rpartition("@")
    if at and ":" in user:
        user = user.partition(":")[0] + ":***"
    return f"{scheme}://{user}{at}{host}{slash}{path}"


def _json_dumps(value: Any) -> str:
    # orjson: the raw JSON column is written for every record of a backfill.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    parsed = make_url(normalize_url(url)) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    if name.startswith("file:"):
        name = name[len("file:") :].partition("?")[0]
    if not name or name == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    return Path(name)


def writable(path: Path) -> bool:
    """Can this process write the SQLite file ``path`` and create files beside it?"""
    folder = path.parent
    return os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def _read_only_query(path: Path) -> str:
    """How to open a SQLite file this process cannot write. In WAL mode a reader needs the -shm
    file: in a folder it cannot write, and with no write-ahead log left to read (a writer that
    ended cleanly folds it back), the file is opened as ``immutable`` (no -shm, no locks);
    otherwise read-only (SQLite docs, "WAL mode on read-only media")."""
    wal = path.with_name(path.name + "-wal")
    if not os.access(path.parent, os.W_OK) and not (wal.exists() and wal.stat().st_size > 0):
        return "mode=ro&immutable=1"
    return "mode=ro"


def make_engine(url: str, *, read_only: bool = False, **kw: Any) -> Engine:
    """An engine for the mirror at ``url`` (SQLite or PostgreSQL through psycopg 3).

    Statement parameters never appear in an error's message (``hide_parameters``): they hold
    personal data. ``read_only``: a SQLite file this process cannot write is opened read-only
    (``mode=ro``), so that the commands that only read work on a read-only mirror."""
    url = normalize_url(url)
    parsed = make_url(url)
    kw.setdefault("json_serializer", _json_dumps)
    kw.setdefault("json_deserializer", orjson.loads)
    kw.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        ro = read_only and path is not None and path.exists() and not writable(path)
        if ro and path is not None:
            url = f"sqlite:///file:{path}?{_read_only_query(path)}&uri=true"
        args = kw.setdefault("connect_args", {})
        args.setdefault("timeout", 60)
        # sqlite3 keeps up to this many prepared statements per connection. Statements with
        # IN lists come in many lengths, each a statement of its own (the multi-row INSERTs a
        # backfill used to send held ~30 MiB per connection with the default of 128: peak RSS
        # 294 -> 261 MiB in a replay of 10k candidates); the statements that repeat stay cached.
        args.setdefault("cached_statements", 16)
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            if ro:
                return  # nothing to set on a file this process only reads
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
            # A 16 MiB page cache instead of 2 MiB: a backfill inserts at random keys (UUIDs)
            # into indexes of hundreds of MB, and every page missing from the cache is a read
            # from the OS (140k audit events: system CPU 1.4-1.6 s -> 0.8-0.9 s). Per connection
            # of the pool: 32 MiB took a 5k backfill's peak RSS from 97 to 143 MiB.
            cur.execute("PRAGMA cache_size=-16384")
            cur.close()

        return engine
    kw.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql":
        from syncd.mirror.sessions import configure_session, session_label

        if "application_name" not in parsed.query:
            # Names the session's process, so that the next writer can end what a killed one
            # left running (syncd.mirror.sessions).
            kw.setdefault("connect_args", {}).setdefault("application_name", session_label())
        engine = create_engine(url, **kw)
        event.listen(engine, "connect", lambda dbapi_conn, _record: configure_session(dbapi_conn))
        return engine
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


def require_schema_to_create_in(engine: Engine) -> None:
    """PostgreSQL: raise SchemaError (exit 2) when no schema of the session's ``search_path``
    exists (``?options=-csearch_path%3DNAME`` in SYNCD_DATABASE_URL naming a schema never
    created): PostgreSQL would refuse the first CREATE TABLE with "no schema has been selected
    to create in" (SQLSTATE 3F000), which is a setting to fix, not a failure to rerun. SQLite:
    nothing to check."""
    if engine.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    with engine.connect() as conn:
        if conn.execute(text("SELECT current_schema()")).scalar() is not None:
            return
        path = str(conn.execute(text("SHOW search_path")).scalar() or "")
        user = str(conn.execute(text("SELECT current_user")).scalar())
    names = [n.strip().strip('"') for n in path.split(",") if n.strip()]
    names = [user if n == "$user" else n for n in names]
    if len(names) == 1:
        name = names[0]
        raise SchemaError(
            f"schema {name} does not exist: create it (CREATE SCHEMA {name}) or fix search_path "
            "in SYNCD_DATABASE_URL"
        )
    listed = ", ".join(names) or "empty"
    raise SchemaError(
        f"no schema of search_path ({listed}) exists: create the first one (CREATE SCHEMA "
        f"{names[0] if names else 'NAME'}) or fix search_path in SYNCD_DATABASE_URL"
    )


def migrate(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to ``revision``; returns (before, after). Raises SchemaError when PostgreSQL's
    search_path names no schema that exists (``require_schema_to_create_in``)."""
    from alembic import command

    require_schema_to_create_in(engine)
    before = current_revision(engine)
    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before, current_revision(engine)


def require_schema(engine: Engine) -> None:
    """Raise SchemaError unless the database is at the head revision. A SQLite file that does
    not exist is not created (connecting would leave an empty file behind)."""
    where = engine.url.render_as_string(hide_password=True)
    path = sqlite_path(engine.url)
    if path is not None and not path.exists():
        raise SchemaError(
            f"no mirror database at {path} yet: run `syncd migrate` first "
            "(or set SYNCD_DATABASE_URL to the mirror you meant)"
        )
    head = head_revision(engine)
    current = current_revision(engine)
    if current == head:
        return
    if current is None:
        raise SchemaError(
            f"the mirror database {where} has no syncd schema yet; run `syncd migrate` first"
        )
    raise SchemaError(
        f"the mirror database {where} is at schema revision {current}, this syncd needs {head}; "
        "run `syncd migrate`"
    )


# A value the database quotes back in its message: `invalid input syntax for type x: "..."`.
_QUOTED_VALUE = re.compile(r':\s*"[^"]*"\s*$')


def describe_db_error(exc: BaseException) -> str:
    """``Kind: first line`` of an error, safe for a log or a message: for database errors the
    driver's primary message only, never SQLAlchemy's statement and parameters nor PostgreSQL's
    DETAIL (which quotes row values), and a value quoted at the end of the message is elided.
    Errors raised while binding a value (no driver error) show only their type."""
    from sqlalchemy.exc import SQLAlchemyError, StatementError

    orig = driver_error(exc)
    if orig is not None:
        diag = getattr(orig, "diag", None)
        text = getattr(diag, "message_primary", None) or (str(orig).splitlines() or [""])[0]
        return f"{type(exc).__name__}: {_QUOTED_VALUE.sub(': (value hidden)', text.strip())}"
    if isinstance(exc, StatementError):
        inner = type(exc.orig).__name__ if exc.orig is not None else "statement"
        return f"{type(exc).__name__}: {inner} while binding a value (value hidden)"
    if isinstance(exc, SQLAlchemyError):
        return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def driver_error(exc: BaseException) -> BaseException | None:
    """The database driver's own error inside ``exc`` (SQLAlchemy wraps it; the bulk insert
    paths raise it bare), or None."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        return exc.orig
    if type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg"):
        return exc
    return None


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back and
# the same work may simply be done again (PostgreSQL docs, "Serialization Failure Handling").
TRANSIENT_SQLSTATES = frozenset(("40P01", "40001"))


def transient_db_error(exc: BaseException) -> bool:
    """True when ``exc`` is a database error that a rerun of the same work resolves (a deadlock
    or a serialization failure); False for anything else."""
    return getattr(driver_error(exc), "sqlstate", None) in TRANSIENT_SQLSTATES


def sqlite_error_kind(exc: BaseException) -> str | None:
    """``readonly`` (the file or its folder cannot be written), ``cannot_open`` (missing folder,
    no access), ``full`` (no space left), or None, for a SQLite driver error."""
    orig = driver_error(exc)
    if orig is None or type(orig).__module__ != "sqlite3":
        return None
    text = str(orig).lower()
    if "readonly" in text or "read-only" in text:
        return "readonly"
    if "unable to open database file" in text:
        return "cannot_open"
    if "database or disk is full" in text:
        return "full"
    return None
