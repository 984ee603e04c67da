"""syncd's PostgreSQL sessions: how they are named, how they notice a client that is gone, and
how a new writer ends the sessions a killed syncd left running.

A SIGKILLed syncd's connections close at once, but PostgreSQL only notices a closed client when
it next talks to it: a statement in flight (an UPDATE of a write group) runs on, holding its row
locks, after the client is gone and after the killed process's lock session has ended. The next
writer then takes the lock and meets those row locks (waits, or a deadlock). So:

- every data connection is named ``syncd data PID NS@HOST`` (``application_name``; NS is the
  process's PID namespace, so that two containers with the same host name are told apart);
- every session checks for a vanished client every ``CLIENT_CHECK_MS`` during a statement
  (``client_connection_check_interval``, PostgreSQL 14+) and uses TCP keepalives, so that an
  orphaned statement is cancelled by the server itself within about a second;
- after taking a lock, ``end_orphaned_sessions`` terminates the sessions named by this host and
  namespace whose process no longer exists, and waits (at most ``ORPHAN_WAIT_SECONDS``) until
  they are gone, before the first write.

Sessions of other hosts or namespaces are left alone (their process cannot be checked from
here): the server's client check and the engine's deadlock reruns cover them.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

DATA_PREFIX = "syncd data "
NAME_MAX = 63  # PostgreSQL keeps NAMEDATALEN - 1 bytes of application_name
CLIENT_CHECK_MS = 1000  # how often a statement's session checks that its client is still there
ORPHAN_WAIT_SECONDS = 10.0  # how long a new lock holder waits for orphaned sessions to end
# Server-side TCP keepalives: a client host that vanished (no FIN) is noticed after ~60 s.
KEEPALIVES = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}


def _namespace() -> str:
    """The PID namespace's inode (``/proc/self/ns/pid``), '' where there is none to read."""
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return ""
    return link.partition("[")[2].rstrip("]")


def session_label(pid: int | None = None) -> str:
    """``application_name`` of a syncd data connection of process ``pid`` (default: this one)
    on this host and PID namespace, cut to what PostgreSQL keeps."""
    pid = os.getpid() if pid is None else pid
    return f"{DATA_PREFIX}{pid} {_namespace()}@{socket.gethostname()}"[:NAME_MAX]


def configure_session(dbapi_conn: Any) -> None:
    """Per-connection settings of a PostgreSQL session (a ``connect`` event): the client check
    where the server has it (14+; an unknown setting would fail the connection) and keepalives."""
    settings = dict(KEEPALIVES)
    if dbapi_conn.info.server_version >= 140000:
        settings["client_connection_check_interval"] = CLIENT_CHECK_MS
    for name, value in settings.items():
        dbapi_conn.execute(f"SET {name} = {int(value)}")
    dbapi_conn.commit()  # SET outlives the transaction it ran in


def _gone(pid: int) -> bool:
    """The process ``pid`` of this namespace has ended (or is a zombie: its sockets are closed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's process: alive
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[:1] == ["Z"]
    except OSError:
        return False


def orphaned_sessions(conn: Connection) -> list[int]:
    """Backend pids of this database's sessions named by a syncd of this host and namespace
    whose process has ended."""
    if not _namespace():
        return []
    rows = conn.execute(
        text(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name LIKE :p"
        ),
        {"p": DATA_PREFIX + "%"},
    ).all()
    found = []
    for backend, name in rows:
        head = name[len(DATA_PREFIX) :].partition(" ")[0]
        if head.isdigit() and name == session_label(int(head)) and _gone(int(head)):
            found.append(int(backend))
    return found


def end_orphaned_sessions(conn: Connection, role: str) -> None:
    """Terminate the orphaned sessions (``orphaned_sessions``) and wait until they have ended,
    at most ``ORPHAN_WAIT_SECONDS``; logged (counts only). Leaves no transaction open. Without
    the right to terminate them (``pg_signal_backend``) it only waits."""
    from syncd.logging import get_logger

    log = get_logger()
    orphans = orphaned_sessions(conn)
    if not orphans:
        conn.rollback()
        return
    started = time.monotonic()
    try:
        for backend in orphans:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": backend})
        conn.commit()
    except DBAPIError:
        conn.rollback()
        log.warning(
            "orphan_sessions_not_terminated",
            role=role,
            sessions=len(orphans),
            fix="grant pg_signal_backend to syncd's database user; waiting for them to end",
        )
    deadline = started + ORPHAN_WAIT_SECONDS
    left = orphans
    while True:
        left = [
            int(p)
            for (p,) in conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE pid = ANY(:ps)"), {"ps": left}
            )
        ]
        conn.rollback()
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    waited = round(time.monotonic() - started, 2)
    if left:
        log.warning(
            "orphan_sessions_remain",
            role=role,
            sessions=len(left),
            seconds=waited,
            fix="the writes go on; a deadlock with them runs the pass again",
        )
    else:
        log.info("orphan_sessions_ended", role=role, sessions=len(orphans), seconds=waited)
