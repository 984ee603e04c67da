"""A backfill that outlives its process: which resources it covers and which of them it finished.

``syncd backfill`` records itself in the ``sync_state`` row ``backfill`` (its start, the resources
and, as their passes end complete, the ones finished). A backfill run while that row exists
continues the same backfill: a finished resource gets an incremental pass from its cursor (one
call when nothing changed) instead of a second backfill; the pass it was in resumes from its own
checkpoint; the rest are backfilled. The row goes when every resource it covers is finished.
``syncd backfill --restart`` discards the pass checkpoints of the resources named (the rows of
the mirror stay) and takes them off the finished list, so that they are backfilled from the
first page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import Connection

from syncd.mirror.store import Mirror, utcnow
from syncd.sync.checkpoints import UnreadableCheckpoint

ROW = "backfill"  # the sync_state row of the backfill in progress
VERSION = 1
NO_PASS = ("pass_mode", "pass_cursor", "pass_started_at", "pass_max_seen", "pass_page")


class UnreadableBackfill(UnreadableCheckpoint):
    def __init__(self, why: str) -> None:
        Exception.__init__(
            self,
            f"backfill: the record of the backfill in progress cannot be read ({why}); run "
            "`syncd backfill --restart` to start the backfill again (the mirror's rows stay)",
        )
        self.resource = ROW


@dataclass
class Plan:
    """The backfill this run belongs to: when it started, what it covers, what it finished."""

    started: datetime
    resources: list[str]
    done: set[str] = field(default_factory=set)


def current(m: Mirror, conn: Connection) -> Plan | None:
    """The backfill in progress, if any. Raises UnreadableBackfill."""
    return _read(m, conn)


def _read(m: Mirror, conn: Connection) -> Plan | None:
    st = m.state(conn, ROW)
    if st["pass_mode"] is None:
        return None
    try:
        body = orjson.loads(st["pass_page"] or "")
        assert isinstance(body, dict) and body.get("v") == VERSION
        resources, done = body["resources"], body["done"]
        assert all(isinstance(x, str) for x in [*resources, *done])
    except (orjson.JSONDecodeError, AssertionError, KeyError, TypeError):
        raise UnreadableBackfill("not a syncd backfill record of this version") from None
    return Plan(st["pass_started_at"], list(resources), set(done))


def _write(m: Mirror, conn: Connection, plan: Plan) -> None:
    body = {"v": VERSION, "resources": plan.resources, "done": sorted(plan.done)}
    m.save_state(
        conn,
        ROW,
        pass_mode="backfill",
        pass_started_at=plan.started,
        pass_page=orjson.dumps(body).decode(),
    )


def plan(m: Mirror, conn: Connection, names: Sequence[str]) -> Plan:
    """The backfill in progress (resources of this run added to it), or a new one."""
    found = _read(m, conn)
    if found is None:
        found = Plan(utcnow(), list(names))
    else:
        found.resources += [n for n in names if n not in found.resources]
    _write(m, conn, found)
    return found


def finished(m: Mirror, conn: Connection, p: Plan, resource: str) -> None:
    """``resource``'s pass of the backfill ended complete (written in ``conn``, the transaction
    that closes the pass); the record goes with the last resource."""
    p.done.add(resource)
    if set(p.resources) <= p.done:
        m.save_state(conn, ROW, **dict.fromkeys(NO_PASS))
    else:
        _write(m, conn, p)


def restart(m: Mirror, names: Sequence[str]) -> list[str]:
    """Discard the pass checkpoints of ``names`` and take them off the backfill's finished list
    (the whole record when it covers nothing else). Returns the resources whose pass in progress
    was discarded. Reads nothing it could fail to understand."""
    dropped: list[str] = []
    with m.begin() as conn:
        for name in names:
            if m.state(conn, name)["pass_mode"] is not None:
                dropped.append(name)
            m.save_state(conn, name, **dict.fromkeys(NO_PASS))
        try:
            found = _read(m, conn)
        except UnreadableBackfill:
            found = None
            m.save_state(conn, ROW, **dict.fromkeys(NO_PASS))
        if found is not None:
            found.done -= set(names)
            if not found.done:
                m.save_state(conn, ROW, **dict.fromkeys(NO_PASS))
            else:
                _write(m, conn, found)
    return dropped
