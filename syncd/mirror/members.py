"""Who runs beside whom, on PostgreSQL, without a coordinator of syncd's own: every ``syncd run``
holds a session advisory lock in a key space reserved for membership, and counts the others in
``pg_locks``.

- **Key space**: tenant locks (``syncd.mirror.lock``) use the one-``bigint`` form of advisory
  locks (``pg_locks.objsubid = 1``); membership uses the two-``int4`` form (``objsubid = 2``),
  ``classid`` = a hash of the schema and of the tenants the replica serves (so two mirrors in
  one database, or replicas configured with different tenants, keep separate memberships),
  ``objid`` = the replica's id (random, positive, unique among the live ones: a taken id is
  simply refused and another drawn). The two forms never collide.
- **Liveness**: the lock lives as long as the replica's session. A killed replica's session ends,
  PostgreSQL frees its locks (membership and tenants alike) in the same moment, so the count
  drops when its tenants become free.
- The membership connection is named ``syncd member PID@HOST`` (``application_name``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.pool import NullPool

from syncd.mirror.db import make_engine
from syncd.mirror.lock import lock_key, session_answers

_SAME_DB = "l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"


def member_space(schema: str, tenants: Sequence[str] = ()) -> int:
    """The membership locks' ``classid`` for a schema and the set of tenants a replica is
    configured to serve: a positive 31-bit hash. Replicas serving different sets (one on the
    ``default`` tenant beside one with ``[tenants]``, during a move to several tenants) count
    only the replicas that can take the same tenants; counted together, the share
    ``ceil(M / R)`` would leave some of a set's tenants without a leader."""
    names = ",".join(sorted(tenants))
    digest = hashlib.sha256(f"syncd-member:{schema}:{names}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class View:
    """One look at ``pg_locks``: the live replicas' ids (sorted; this one's included) and the
    tenants whose writer or push lock someone holds."""

    members: tuple[int, ...]
    held: frozenset[str]


class Membership:
    """This replica's membership lock. ``join`` takes it (blocking); ``view`` reads who is live
    and which tenants are held, joining again first if the session was lost (a database restart,
    a terminated backend); ``leave`` ends the session. Database errors propagate (the caller
    logs them and looks again at its next check)."""

    def __init__(self, url: str, tenants: Sequence[str] = ()) -> None:
        self.engine = make_engine(url, poolclass=NullPool)
        self.tenants = tuple(tenants)
        self.conn: Connection | None = None
        self.id: int | None = None
        self.space = 0
        self.schema = ""

    def join(self) -> int:
        conn = self.engine.connect()
        try:
            self.schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
            self.space = member_space(self.schema, self.tenants)
            name = f"syncd member {os.getpid()}@{socket.gethostname()}"[:63]
            conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": name})
            while True:  # an id another replica holds is refused: draw again
                rid = secrets.randbelow(0x7FFFFFFF) + 1
                got = conn.execute(
                    text("SELECT pg_try_advisory_lock(:s, :r)"), {"s": self.space, "r": rid}
                ).scalar_one()
                if got:
                    break
            conn.commit()  # the session lock outlives the transaction
        except BaseException:
            conn.close()
            raise
        self.conn, self.id = conn, rid
        return rid

    def _alive(self) -> bool:
        return session_answers(self.conn)

    def view(self, tenants: list[str]) -> View:
        if not self._alive():
            self.leave()
            self.join()
        assert self.conn is not None
        conn = self.conn
        members = conn.execute(
            text(
                "SELECT l.objid::bigint FROM pg_locks l WHERE l.locktype = 'advisory' "
                f"AND l.granted AND l.objsubid = 2 AND l.classid::bigint = :s AND {_SAME_DB}"
            ),
            {"s": self.space},
        ).scalars()
        ids = tuple(sorted(int(m) for m in members))
        rows = conn.execute(
            text(
                "SELECT l.classid::bigint, l.objid::bigint FROM pg_locks l "
                f"WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND {_SAME_DB}"
            )
        ).all()
        conn.rollback()
        taken = {((hi << 32) | lo) for hi, lo in rows}
        held = set()
        for t in tenants:
            for role in ("writer", "push"):
                key = lock_key(self.schema, t, role) & 0xFFFFFFFFFFFFFFFF  # unsigned, as stored
                if key in taken:
                    held.add(t)
        return View(ids, frozenset(held))

    def leave(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()  # ending the session frees the membership lock
            self.conn = None
            self.id = None

    def close(self) -> None:
        self.leave()
        self.engine.dispose()
