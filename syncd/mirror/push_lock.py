"""One ``syncd push`` per mirror and tenant: two dispatchers would hand the same deliveries out
twice. PostgreSQL: a session advisory lock keyed by the tenant; SQLite: an exclusive ``flock`` on
``<database file>.push-lock``. Both are freed by the operating system or the server when the
holder dies, SIGKILL included: no stale lock to clean by hand."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Engine, text


class PushLocked(Exception):
    """Another ``syncd push`` holds the mirror; the message names it where it can."""


def _key(tenant: str) -> int:
    return zlib.crc32(f"syncd.push:{tenant}".encode()) - 2**31


@contextlib.contextmanager
def push_lock(engine: Engine, tenant: str) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(tenant)})
            if not got.scalar():
                raise PushLocked(
                    f"another syncd push is running on this mirror for tenant {tenant!r} "
                    "(PostgreSQL advisory lock held); wait for it or stop it"
                )
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(tenant)})
                conn.commit()
        return
    path = engine.url.database
    if not path or path == ":memory:":
        yield
        return
    lock_path = f"{path}.push-lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise PushLocked(
                f"another syncd push is running on this mirror ({holder}); wait for it or stop it"
            ) from None
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"host {socket.gethostname()}, pid {os.getpid()}, since {since}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
