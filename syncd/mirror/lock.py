"""One writer per mirror: the lock a writing command (``backfill``, ``sync``, ``migrate``) holds
for its whole run (DESIGN invariant 5).

- **SQLite**: an exclusive ``flock`` on ``<database>.lock`` beside the database file (the file
  the path resolves to: a symlink or ``..`` reaches the same lock; a file with hard links is
  refused, ``MirrorLinkedError``). The file
  holds the holder as JSON (host, pid, since); the lock is the kernel's, so a holder killed with
  SIGKILL frees it by itself (the file stays; its content is only read while the lock is held).
  One writer per SQLite file, whatever the tenant: SQLite itself allows one writer at a time.
  A holder checks that the file at the path is still the one it locked (``problem``; deleted or
  replaced: ``MirrorFileLostError``, exit 6).
- **PostgreSQL**: a session advisory lock (``pg_try_advisory_lock``) keyed by the schema and the
  tenant, held on a connection of its own for the run. Its ``application_name`` is
  ``syncd writer PID@HOST``; a refused process reads the holder from ``pg_locks`` and
  ``pg_stat_activity`` (since = the holder connection's ``backend_start``). A killed holder's
  connection closes and PostgreSQL frees the lock; the new holder then ends the killed
  process's sessions that are still running a statement (``syncd.mirror.sessions``).

- **The schema every tenant shares** (``migrate``): on SQLite the same file lock as the writer's
  (one writer per file already excludes every tenant). On PostgreSQL a *schema lock*, one
  advisory key per schema (``schema_key``): every writer and pusher takes it shared, on its own
  lock's session, beside its tenant's key; ``migrate`` takes it exclusive. So a migration waits
  for no tenant's writer but is refused (``MirrorBusyError``) while any tenant is written or
  pushed, and no tenant's writer or pusher starts while a migration runs.

A refused process raises ``MirrorBusyError`` naming the holder; a mirror this process cannot
write raises ``MirrorNotWritableError`` naming the file or folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from syncd.mirror.db import make_engine, normalize_url, sqlite_path
from syncd.mirror.sessions import end_orphaned_sessions


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    since: str  # ISO 8601, UTC, with Z
    role: str = ""  # the holder's lock role (writer, push, migrate) when known

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.since}"


# What each lock guards: the pull side's writer (migrate, backfill, sync, refresh) and the push
# side's dispatcher (two dispatchers would hand the same deliveries out twice). They are separate
# locks: a push may run beside a sync.
ROLES = {"writer": "is writing to", "push": "is pushing from", "migrate": "is migrating"}
# The roles whose PostgreSQL lock also takes the schema lock shared (``migrate`` takes it
# exclusive): every process that writes to the tables a migration changes.
_SHARES_SCHEMA = ("writer", "push")


class MirrorBusyError(Exception):
    """Another syncd holds this mirror's lock of the same role."""

    def __init__(self, where: str, holder: Holder | None, role: str = "writer") -> None:
        self.where = where
        self.holder = holder
        self.role = role  # the holder's role: writer, push or migrate
        who = str(holder) if holder else "holder not known yet"
        super().__init__(
            f"another syncd {ROLES[role]} the mirror {where} ({who}); wait for it to end or stop "
            "it (a killed process frees the lock by itself)"
        )


class MirrorLinkedError(MirrorBusyError):
    """The SQLite file has more than one name (hard links): syncd's lock beside one name does
    not keep out a writer using another (exit 5, as for a held lock)."""

    def __init__(self, where: str, links: int) -> None:
        Exception.__init__(
            self,
            f"the mirror file {where} has {links} names (hard links): a syncd writing to it "
            "through another name would not see this one's lock, and SQLite keeps a -wal file "
            f"beside each name; remove the other names (`find / -xdev -samefile {where}`) or "
            "copy the file, and point every syncd at one path",
        )
        self.where = where
        self.holder = None
        self.role = "writer"


class MirrorNotWritableError(Exception):
    """The SQLite file or its folder cannot be written by this process."""


class MirrorFileLostError(Exception):
    """The SQLite file a writer held was deleted or replaced under it, or its lock file was
    (exit 6): what it wrote since went to a file nobody will read again."""


def real_file(db: Path) -> Path:
    """The file a SQLite path resolves to (symlinks, ``..`` and a relative path resolved): the
    place of its lock files."""
    return Path(os.path.realpath(db))


def mirror_where(db: Path) -> str:
    """A SQLite mirror for messages: the path as configured, and the file it resolves to when
    that differs (``alias/m.db (the file /srv/m.db)``)."""
    real = real_file(db)
    return str(db) if real == db else f"{db} (the file {real})"


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def session_answers(conn: Connection | None) -> bool:
    """The lock session ``conn`` still answers a ``SELECT 1`` (a session that ended, or was
    terminated, has lost its advisory locks)."""
    if conn is None:
        return False
    try:
        conn.execute(text("SELECT 1")).scalar_one()
        conn.rollback()
    except Exception:
        return False
    return True


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _me() -> Holder:
    return Holder(socket.gethostname(), os.getpid(), _iso(datetime.now(UTC)))


def lock_key(schema: str, tenant: str, role: str = "writer") -> int:
    """The advisory lock's signed 64-bit key for a mirror (schema, tenant) and a role."""
    digest = hashlib.sha256(f"syncd-{role}:{schema}:{tenant}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def schema_key(schema: str) -> int:
    """The signed 64-bit advisory key of the schema lock of ``schema`` (PostgreSQL): held shared
    by every writer and pusher of every tenant, exclusive by ``migrate``."""
    digest = hashlib.sha256(f"syncd-schema:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# How often a held PostgreSQL lock's session is asked whether it still answers (seconds).
LOCK_CHECK_SECONDS = 5.0
# How often a held SQLite lock checks that the database file is still the one it locked
# (seconds): a stat and an fstat.
FILE_CHECK_SECONDS = 1.0


class _SqliteLock:
    def __init__(self, db: Path, role: str) -> None:
        self.db = db
        self.role = role
        # The lock file sits beside the file the path resolves to, not beside the path as
        # given: a symlink (to the file or to a folder on its way), `..` or a relative path
        # names the same lock as the real path. SQLite resolves symlinks the same way for its
        # -wal and -shm files.
        self.real = real_file(db)
        # migrate takes the writer's file: one writer per file, whatever the tenant.
        plain = role in ("writer", "migrate")
        self.path = self.real.with_name(self.real.name + (".lock" if plain else f".{role}.lock"))
        self.fd: int | None = None
        # (st_dev, st_ino) of the database file and of the lock file while held: a file deleted
        # or replaced under a running syncd is noticed (``problem``).
        self.identity: tuple[int, int] | None = None
        self.lock_identity: tuple[int, int] | None = None

    @property
    def where(self) -> str:
        """The mirror as configured, and the file it resolves to when that differs."""
        return mirror_where(self.db)

    def acquire(self) -> None:
        folder = self.real.parent
        if not folder.is_dir():
            raise MirrorNotWritableError(
                f"the folder {folder} of the mirror does not exist: create it, or fix "
                "SYNCD_DATABASE_URL"
            )
        if not os.access(folder, os.W_OK):
            raise MirrorNotWritableError(
                f"the folder {folder} holding the mirror is not writable by this user; SQLite "
                "writes its -wal, -shm and lock files beside the database: make it writable"
            )
        if self.db.exists() and not os.access(self.db, os.W_OK):
            raise MirrorNotWritableError(
                f"the mirror file {self.db} is not writable by this user: make it writable, "
                "or use a read-only command (status, quarantine, report)"
            )
        self._refuse_hard_links()  # before a lock file is left beside another name
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            raise MirrorNotWritableError(
                f"the lock file {self.path} is not writable by this user: make it writable"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder(fd)
            os.close(fd)
            # The holder of the writer's file may be a writer or a migrate: both write. The
            # file names which (a holder from before it did is a writer).
            role = "writer" if self.role == "migrate" else self.role
            if holder is not None and holder.role in ROLES:
                role = holder.role
            raise MirrorBusyError(self.where, holder, role) from None
        me = _me()
        os.ftruncate(fd, 0)
        who = {"host": me.host, "pid": me.pid, "since": me.since, "role": self.role}
        os.pwrite(fd, json.dumps(who).encode(), 0)
        self.fd = fd
        self.lock_identity = _identity(os.fstat(fd))
        with contextlib.suppress(OSError):
            self.identity = _identity(os.stat(self.db))  # a mirror migrate has yet to create: later

    def _refuse_hard_links(self) -> None:
        """A database file with a second name (a hard link, perhaps in another folder) is
        refused: a syncd opening it by the other name would take the lock beside that name and
        write beside this one, and SQLite would keep a -wal file beside each name (SQLite docs,
        "How To Corrupt An SQLite Database File", 2.3 "Multiple links to the same file"). No
        path leads from one name to the others, so the lock cannot be found from both."""
        try:
            st = os.stat(self.real)
        except OSError:
            return  # not created yet: migrate creates it with one name
        if st.st_nlink > 1:
            raise MirrorLinkedError(str(self.db), st.st_nlink)

    def problem(self) -> str | None:
        """Why this held lock no longer guards the mirror (one line), or None while it does:
        the database file at the configured path was deleted, or is another file than the one
        held (replaced, moved, or a symlink pointed elsewhere), or the lock file was. One
        ``stat`` and one ``fstat``: cheap enough before every write group."""
        if self.fd is None:
            return None
        try:
            now = _identity(os.stat(self.db))
        except FileNotFoundError:
            now = None
        except OSError:
            return None  # not readable at the moment (a folder's permissions): SQLite will say
        if self.identity is None:
            self.identity = now  # migrate: the file it created, the first time it is seen
        elif now is None:
            return (
                f"the mirror database file {self.db} was deleted while syncd was writing to it; "
                "what was written since is lost: syncd stopped writing. Delete the deleted "
                f"file's {self.db}-wal and {self.db}-shm (SQLite would replay them into the "
                "next file at that path), restore the file (or run `syncd migrate` and "
                "`syncd backfill`), then start syncd again"
            )
        elif now != self.identity:
            return (
                f"the mirror database file {self.db} was replaced by another file (or moved) "
                "while syncd was writing to it: syncd stopped writing to the old one. Unless the "
                f"new file came with its own, delete the old file's {self.db}-wal and "
                f"{self.db}-shm (SQLite would replay them into the new file), then start syncd "
                "again to use the file now at that path"
            )
        try:
            lock_now: tuple[int, int] | None = _identity(os.stat(self.path))
        except OSError:
            lock_now = None
        if lock_now != self.lock_identity:
            return (
                f"the lock file {self.path} was deleted or replaced while syncd held it: another "
                "syncd could now write to the mirror beside this one, so this one stopped; start "
                "it again"
            )
        return None

    @staticmethod
    def _read_holder(fd: int) -> Holder | None:
        try:
            data = json.loads(os.pread(fd, 4096, 0) or b"null")
            if not isinstance(data, dict):
                return None  # empty: the holder truncated the file and has not written itself yet
            role = str(data.get("role") or "")
            return Holder(str(data["host"]), int(data["pid"]), str(data["since"]), role)
        except (ValueError, TypeError, KeyError):
            return None  # the holder has not written itself yet

    def alive(self) -> bool:
        return self.fd is not None  # a flock lasts as long as its descriptor

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None
        self.identity = self.lock_identity = None


class _PostgresLock:
    def __init__(self, url: str, tenant: str, role: str) -> None:
        self.url = url
        self.tenant = tenant
        self.role = role
        self.where = make_url(url).render_as_string(hide_password=True)
        self.engine = make_engine(url, poolclass=NullPool)
        self.conn: Connection | None = None

    def acquire(self) -> None:
        conn = self.engine.connect()
        try:
            me = _me()
            name = f"syncd {self.role} {me.pid}@{me.host}"[:63]  # NAMEDATALEN - 1
            schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
            # Named before any lock is taken (and committed: a refusal rolls back), so a process
            # refused by this one reads its role at once (a migrate waits for another migrate).
            conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": name})
            conn.commit()
            if self.role == "migrate":
                # Exclusive on the schema lock: refused while any tenant's writer or pusher
                # holds it shared.
                key = schema_key(schema)
                self._take(conn, "pg_try_advisory_lock", key, None)
            else:
                key = lock_key(schema, self.tenant, self.role)
                self._take(conn, "pg_try_advisory_lock", key, self.role)
                if self.role in _SHARES_SCHEMA:
                    # Shared with every other tenant's writers; refused while a migration runs
                    # (the session's end, below, frees the tenant's key taken above).
                    self._take(conn, "pg_try_advisory_lock_shared", schema_key(schema), "migrate")
            conn.commit()  # the session lock outlives the transaction; nothing stays open
            # A killed holder's statement may still be running on the server: end it before
            # this holder writes (syncd.mirror.sessions).
            end_orphaned_sessions(conn, self.role)
        except BaseException:
            conn.close()
            self.engine.dispose()
            raise
        self.conn = conn

    def _take(self, conn: Connection, function: str, key: int, role: str | None) -> None:
        """``function`` (one of PostgreSQL's ``pg_try_advisory_lock*``) on ``key``, or
        ``MirrorBusyError`` naming a holder of ``role`` (None: whichever holds it, its role read
        from its session's name)."""
        got = conn.execute(text(f"SELECT {function}(:k)"), {"k": key}).scalar_one()
        if got:
            return
        holder = self._holder(conn, key, role)
        conn.rollback()
        named = role or (holder.role if holder is not None else None) or "writer"
        raise MirrorBusyError(self.where, holder, named)

    @staticmethod
    def _holder(conn: Connection, key: int, role: str | None) -> Holder | None:
        # A bigint advisory key is stored as classid (high 32 bits) and objid (low 32 bits).
        row = conn.execute(
            text(
                "SELECT a.application_name, a.client_hostname, host(a.client_addr), a.pid, "
                "a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid::bigint = :hi AND l.objid::bigint = :lo "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "ORDER BY a.backend_start LIMIT 1"  # a shared lock has many holders: the oldest
            ),
            {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
        ).first()
        if row is None:
            return None  # released between our attempt and this read
        app, client_host, client_addr, backend_pid, started = row
        pid, host = backend_pid, client_host or client_addr or "?"
        # "syncd ROLE PID@HOST": the holder's own process (role None: any role, read here).
        named = re.match(r"syncd (\w+) (.*)$", app or "")
        if named and named.group(1) in ROLES and role in (None, named.group(1)):
            who, _, where = named.group(2).partition("@")
            with contextlib.suppress(ValueError):
                pid, host = int(who), where or host
            return Holder(str(host), int(pid), _iso(started), named.group(1))
        return Holder(str(host), int(pid), _iso(started), role or "")

    def alive(self) -> bool:
        """The lock's session still answers (a session that ended, or was terminated, has lost
        its advisory locks)."""
        return session_answers(self.conn)

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()  # ending the session releases its advisory locks
            self.conn = None
        self.engine.dispose()


class MirrorLock:
    """A mirror lock held across many passes (``syncd run``): ``acquire`` raises
    ``MirrorBusyError`` when another process holds it; ``alive`` says whether it is still held
    (PostgreSQL: the lock's session still answers); ``release`` frees it. An in-memory SQLite
    database needs no lock (always acquired)."""

    def __init__(self, url: str, tenant: str, role: str = "writer") -> None:
        url = normalize_url(url)
        db = sqlite_path(url)
        self.kind = "sqlite" if db is not None else make_url(url).get_backend_name()
        self._lock: _SqliteLock | _PostgresLock | None
        if db is not None:
            self._lock = _SqliteLock(db, role)
        elif self.kind == "postgresql":
            self._lock = _PostgresLock(url, tenant, role)
        else:
            self._lock = None
        self.held = False

    def acquire(self) -> None:
        if self._lock is not None:
            self._lock.acquire()
        self.held = True

    def alive(self) -> bool:
        return self.held and (self._lock is None or self._lock.alive())

    def problem(self) -> str | None:
        """SQLite: why the held lock no longer guards the mirror (its file or the lock file
        deleted or replaced; one line), or None. Other databases: None."""
        if self.held and isinstance(self._lock, _SqliteLock):
            return self._lock.problem()
        return None

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
        self.held = False


def lock_holder(url: str, tenant: str, role: str = "writer") -> tuple[bool, Holder | None]:
    """Whether the mirror's lock of ``role`` is held, and by whom (None: not named yet), without
    taking it (``syncd status``). Read-only:
    SQLite probes the lock file with a shared ``flock`` (a missing lock file: free); PostgreSQL
    reads ``pg_locks``."""
    url = normalize_url(url)
    db = sqlite_path(url)
    if db is not None:
        path = _SqliteLock(db, role).path
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False, None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True, _SqliteLock._read_holder(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False, None
        finally:
            os.close(fd)
    if make_url(url).get_backend_name() != "postgresql":
        return False, None
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            key = lock_key(str(schema), tenant, role)
            holder = _PostgresLock._holder(conn, key, role)
    finally:
        engine.dispose()
    return holder is not None, holder


@contextlib.contextmanager
def writer_lock(url: str, tenant: str, role: str = "writer") -> Iterator[None]:
    """Hold the mirror's lock of ``role`` (``writer``: the pull side; ``push``: the dispatcher)
    for the block; raise ``MirrorBusyError`` at once when another process holds it. An in-memory
    SQLite database needs no lock."""
    url = normalize_url(url)
    lock: Any
    db = sqlite_path(url)
    if db is not None:
        lock = _SqliteLock(db, role)
    elif make_url(url).get_backend_name() == "postgresql":
        lock = _PostgresLock(url, tenant, role)
    else:
        yield
        return
    lock.acquire()
    watch: _LostLockWatch | _FileWatch
    watch = _LostLockWatch(lock) if isinstance(lock, _PostgresLock) else _FileWatch(lock)
    lost: str | None = None
    try:
        yield
    except BaseException:
        lost = _ended_lost(watch, lock)
        if lost is None:
            raise
    else:
        lost = _ended_lost(watch, lock)
    finally:
        watch.stop()
        lock.release()
    if lost is not None:
        # SIGTERM sent by the watch, or whatever else the lost file made the command raise:
        # the one line says what happened (exit 6).
        raise MirrorFileLostError(lost) from None


def _ended_lost(
    watch: _LostLockWatch | _FileWatch, lock: _SqliteLock | _PostgresLock
) -> str | None:
    """At the end of a locked block: why the SQLite file no longer is the one written (the
    watch's finding, or a last look), or None."""
    if not isinstance(lock, _SqliteLock) or not isinstance(watch, _FileWatch):
        return None
    return watch.lost or lock.problem()


class _FileWatch:
    """SQLite: every ``FILE_CHECK_SECONDS`` this thread checks that the database file at the
    configured path is still the one locked (``_SqliteLock.problem``). When it is not (deleted,
    replaced), everything written from then on is lost: the finding is logged and, when the
    command stops cleanly on SIGTERM (its handler installed), the process is stopped as by
    SIGTERM; ``writer_lock`` then raises ``MirrorFileLostError`` (exit 6). A command without a
    handler is told at its end."""

    def __init__(self, lock: _SqliteLock) -> None:
        self.lock = lock
        self.lost: str | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="syncd-file-watch", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(FILE_CHECK_SECONDS):
            problem = self.lock.problem()
            if problem is None:
                continue
            from syncd.logging import get_logger

            self.lost = problem
            get_logger().error("mirror_file_lost", error=problem)
            if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None):
                os.kill(os.getpid(), signal.SIGTERM)
            return

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=FILE_CHECK_SECONDS + 5)


class _LostLockWatch:
    """A PostgreSQL session lock ends with its session (a restart, a failover, an administrator's
    ``pg_terminate_backend``, an idle timeout): then another syncd may take it. Every
    ``LOCK_CHECK_SECONDS`` this thread asks the lock's session whether it still answers; when it
    does not, the process is stopped as by SIGTERM (the write in flight commits or rolls back,
    the run is recorded ``interrupted``), so that two writers never run side by side."""

    def __init__(self, lock: _PostgresLock) -> None:
        self.lock = lock
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="syncd-lock-watch", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(LOCK_CHECK_SECONDS):
            if not self.lock.alive():
                from syncd.logging import get_logger

                get_logger().error(
                    "lock_lost", role=self.lock.role, fix="the next run takes the lock again"
                )
                os.kill(os.getpid(), signal.SIGTERM)
                return

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=LOCK_CHECK_SECONDS + 5)


def writer_lock_holders(engine: Engine, tenants: list[str]) -> dict[str, int]:
    """PostgreSQL: how many sessions hold each tenant's writer lock (``pg_locks``; 1 for a led
    tenant, 0 for a free one), in the engine's current schema. For operators' checks and the
    leader-election tests and benchmark."""
    with engine.connect() as conn:
        schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
        out = {}
        for name in tenants:
            key = lock_key(schema, name, "writer")
            out[name] = int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND objsubid = 1 AND classid::bigint = :hi AND objid::bigint = :lo"
                    ),
                    {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
                ).scalar_one()
            )
    return out
