"""Two ``syncd run`` on one PostgreSQL mirror: one leads the tenant, the other stands by (both
ready); the leader killed with SIGKILL, the standby takes over within 30 s and syncs; a leader
whose lock session is terminated stops its jobs (standby) and leads again once it gets the lock
back. Real processes, real PostgreSQL."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from syncd.sync.catalogue import CATALOGUE
from tests.conftest import sandbox_options
from tests.integration.daemon_env import DaemonProc, daemon_env, runs, start_daemon, wait_for
from tests.integration.push_env import push_env, write_config
from tests.integration.test_mirror_sync import TENANT

RESOURCES = {r.name for r in CATALOGUE}  # what each pull passes over


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=20, jobs=4, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def _role(d: DaemonProc) -> str:
    r = d.get("/readyz")
    return str(r.json()["checks"]["role"])


def test_one_leader_standby_takes_over_and_lost_lock_stops_writing(
    tenant: ThreadServer, pg: tuple[str, Engine], tmp_path: Path
) -> None:
    db_url, db = pg
    env = daemon_env(
        push_env(tenant, db_url, write_config(tmp_path, {})),
        poll_interval_seconds=1,
        leader_check_seconds=1,
    )
    first = start_daemon(env, tmp_path, "first")
    second: DaemonProc | None = None
    try:
        wait_for("the first daemon leading", lambda: _role(first) == "leader")
        second = start_daemon(env, tmp_path, "second")
        wait_for("the second daemon standing by", lambda: _role(second) == "standby")
        assert second.get("/readyz").status_code == 200  # a standby is ready
        assert second.metric("syncd_leader", tenant=TENANT) == 0.0
        assert first.metric("syncd_leader", tenant=TENANT) == 1.0
        # A standby verifies callbacks as the leader does (no signing keys here: refused;
        # test_daemon_webhooks sends it signed ones, which reach the leader's mirror).
        hook = httpx.post(f"{second.url}/webhooks/smartrecruiters", content=b"{}", timeout=10)
        assert hook.status_code == 401
        assert (
            second.metric("syncd_webhook_callbacks_total", outcome="rejected", reason="no_keys")
            == 1
        )

        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        killed = time.monotonic()
        before = len(runs(db_url, TENANT))
        wait_for("the standby taking over", lambda: _role(second) == "leader", timeout=90)
        assert time.monotonic() - killed < 30
        # A pass of every resource by the new leader: the killed leader's pass left its row
        # `running`, and only the next pass of that resource records it interrupted (checked
        # at the end, after this daemon too has been stopped).
        wait_for(
            "a pass of every resource by the new leader",
            lambda: {r for r, _, s in runs(db_url, TENANT)[before:] if s == "ok"} >= RESOURCES,
        )

        # The leader's lock session is terminated: it stops its jobs and stands by, then takes
        # the free lock again at its next check.
        with db.connect() as conn:
            n = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :n"
                ),
                {"n": f"syncd writer {second.proc.pid}@" + _host()},
            ).all()
            conn.commit()
        assert len(n) == 1
        wait_for(
            "the lost lock noticed",
            lambda: '"event": "leadership_lost"' in second.output(),
            timeout=30,
        )
        wait_for("leading again", lambda: _role(second) == "leader", timeout=90)
        assert second.stop() == 0, second.output()[-3000:]
    finally:
        first.kill()
        if second is not None:
            second.kill()
    assert "running" not in {s for _, _, s in runs(db_url, TENANT)}


def _host() -> str:
    import socket

    return socket.gethostname()


def test_every_session_terminated_leaves_only_json_lines_in_the_log(
    tenant: ThreadServer, pg: tuple[str, Engine], tmp_path: Path
) -> None:
    """Every PostgreSQL session of a running daemon terminated (its locks, its membership, its
    pooled data connections, mid-pass with polling every second): it leads again, and every
    line it wrote is JSON (psycopg's and SQLAlchemy's own warnings included, through
    ``syncd.logging.StdlibToStructlog``) with no row value of the mirror in it."""
    import json

    db_url, db = pg
    env = daemon_env(
        push_env(tenant, db_url, write_config(tmp_path, {})),
        poll_interval_seconds=1,
        leader_check_seconds=1,
    )
    env["SYNCD_LOG_LEVEL"] = "info"
    d = start_daemon(env, tmp_path)
    try:
        wait_for("a first pull", lambda: any(s == "ok" for _, _, s in runs(db_url, TENANT)))
        mine = rf"^syncd [a-z]+ {d.proc.pid}[ @]"
        for lost in range(1, 4):
            with db.connect() as conn:
                n = conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name ~ :re"
                    ),
                    {"re": mine},
                ).all()
                conn.commit()
            assert n  # its sessions were there to terminate
            # This round's loss (the log already holds the earlier rounds' lines, and the role
            # read next is still "leader" until the loss is noticed).
            wait_for(
                f"loss {lost} of the lock noticed",
                lambda k=lost: d.output().count('"event": "leadership_lost"') >= k,
                timeout=30,
            )
            wait_for("leading again", lambda: _role(d) == "leader", timeout=90)
        done = len(runs(db_url, TENANT))
        wait_for("passes again", lambda: len(runs(db_url, TENANT)) > done + 2, log=d.output)
        assert d.stop() == 0, d.output()[-3000:]
    finally:
        d.kill()
    lines = [x for x in d.output().splitlines() if x.strip()]
    assert lines
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    with db.connect() as conn:
        emails = [r[0] for r in conn.execute(text("SELECT email FROM candidates")).all() if r[0]]
    assert emails and not any(e in d.output() for e in emails)
