"""One writer per mirror, and a clean stop: real ``syncd`` subprocesses on SQLite and PostgreSQL.

- A second ``backfill`` / ``sync --once`` on a mirror in use is refused at start (exit 5) naming
  the holder's host, pid and start; after the holder is SIGKILLed a new run proceeds (no stale
  lock).
- SIGTERM / SIGINT during a backfill: exit 143 / 130 within 10 s, the run row is
  ``interrupted`` (none left ``running``), and a rerun resumes and ends equal to the sandbox.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, func, select

from syncd.mirror import schema as s
from syncd.mirror.db import make_engine
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import TOKEN, sandbox_options
from tests.integration.test_mirror_sync import TENANT, assert_equal


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=120, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def environment(srv: ThreadServer, url: str, rate: str) -> dict[str, str]:
    return {
        **os.environ,
        "SYNCD_DATABASE_URL": url,
        "SYNCD_TENANT": TENANT,
        "SYNCD_SMARTRECRUITERS__BASE_URL": srv.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": rate,  # slow: the run is still going when tested
        "SYNCD_SYNC__PAGE_SIZE": "10",
        "SYNCD_LOG_LEVEL": "warning",
    }


def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "syncd", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(env: dict[str, str], *args: str, timeout: float = 300) -> tuple[int, str, str]:
    proc = start(env, *args)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


def runs(db: Engine) -> list[tuple[str, str]]:
    with db.connect() as conn:
        return [
            (r.resource, r.status)
            for r in conn.execute(select(s.sync_runs).order_by(s.sync_runs.c.id))
        ]


def changes(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.changes)).scalar_one())


def wait_for(proc: subprocess.Popen[bytes], what: str, ready: Callable[[], bool]) -> None:
    """Poll until ``ready()`` holds (the subprocess has reached a state), or fail."""
    deadline = time.monotonic() + 120
    while not ready():
        assert proc.poll() is None, (
            f"ended before {what}: {proc.stderr.read() if proc.stderr else ''!r}"
        )
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.05)


def status_of(env: dict[str, str]) -> dict[str, str]:
    """The status of each resource's last pass as ``syncd status --json`` shows it, with
    `` (process gone)`` when it carries that mark."""
    code, out, err = finish(env, "status", "--json")
    assert code == 0, err
    return {
        name: r["last_run"]["status"]
        + (" (process gone)" if r["last_run"].get("process_gone") else "")
        for name, r in json.loads(out)["resources"].items()
        if r.get("last_run")
    }


@pytest.mark.parametrize("command", [["backfill"], ["sync", "--once"]])
def test_second_writer_is_refused_and_a_killed_holder_frees_the_lock(
    tenant: ThreadServer, db: Engine, db_url: str, command: list[str]
) -> None:
    env = environment(tenant, db_url, rate="15")
    holder = start(env, "backfill")
    try:
        wait_for(holder, "a pass started", lambda: ("jobs", "running") in runs(db))
        code, out, err = finish(env, *command)
        assert code == 5, err
        line = err.strip()
        assert len(line.splitlines()) == 1 and "Traceback" not in err
        assert "another syncd is writing to the mirror" in line
        assert f"pid {holder.pid} on {socket.gethostname()}, since 20" in line
        assert line.endswith("(a killed process frees the lock by itself)")
        assert out == ""
        before = runs(db)
        # The refused run wrote no run row: the one running is the holder's (by now maybe a pass
        # after jobs, when a loaded machine made the refused command slow).
        assert [state for _, state in before].count("running") == 1, before
        # A writer holds the lock: whatever is `running` is running.
        assert not [v for v in status_of(env).values() if "process gone" in v]
        wait_for(holder, "a pass running", lambda: runs(db)[-1][1] == "running")
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    # The killed run's row still says `running`; with no writer holding the lock, status (which
    # only reads) shows it interrupted.
    last = dict(runs(db))  # the last run of each resource
    stale = {k for k, v in last.items() if v == "running"}
    assert stale
    assert status_of(env) == {
        k: "interrupted (process gone)" if k in stale else v for k, v in last.items()
    }
    code, out, err = finish(env, "status")
    assert code == 0 and "interrupted (process gone)" in out, out + err
    # No stale lock: the next run takes it at once and finishes the backfill.
    code, out, err = finish({**env, "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000"}, "backfill")
    assert code == 0, err
    assert_equal(db, tenant)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_backfill_is_interrupted_and_resumes(
    tenant: ThreadServer, db: Engine, db_url: str, signum: int, code: int
) -> None:
    env = environment(tenant, db_url, rate="15")
    proc = start(env, "backfill")
    try:
        wait_for(proc, "pages committed", lambda: changes(db) > 0)
        proc.send_signal(signum)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=10)  # raises TimeoutExpired past 10 s
        assert time.monotonic() - sent < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err.decode()
    text = err.decode()
    assert "Traceback" not in text
    assert f"syncd: stopped by {signal.Signals(signum).name}" in text
    statuses = [st for _, st in runs(db)]
    assert "running" not in statuses
    assert statuses[-1] == "interrupted"
    # The rerun resumes from the checkpoint and ends equal to the sandbox.
    interrupted = runs(db)[-1][0]
    rerun = {
        **env,
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000",
        "SYNCD_LOG_LEVEL": "info",
        "SYNCD_LOG_FORMAT": "json",
    }
    rc, _, err2 = finish(rerun, "backfill")
    assert rc == 0, err2
    events = [json.loads(line) for line in err2.splitlines() if line.startswith("{")]
    started = [
        e["resumed"]
        for e in events
        if e["event"] == "pass_started" and e["resource"] == interrupted
    ]
    # The interrupted pass resumed from its checkpoint (then one catch-up incremental pass).
    assert started[0] is True
    assert_equal(db, tenant)
    with db.connect() as conn:
        created = Counter(
            (r.resource, r.record_key)
            for r in conn.execute(select(s.changes).where(s.changes.c.kind == "created"))
        )
    assert not [k for k, n in created.items() if n > 1]  # resumed, nothing written twice


def test_a_writer_whose_postgres_lock_session_ends_stops(
    tenant: ThreadServer, postgres_url: str
) -> None:
    """The lock's session terminated under a running backfill (a restart, a failover, an
    administrator): the backfill stops as by SIGTERM, its run ``interrupted``, and another writer
    may then take the lock; two writers never run side by side."""
    from sqlalchemy import text

    from tests.integration.conftest import drop_pg_schema, pg_schema_url

    url, name = pg_schema_url(postgres_url)
    try:
        env = environment(tenant, url, rate="15")
        assert finish(env, "migrate")[0] == 0
        db = make_engine(url)
        proc = start({**env, "SYNCD_LOG_FORMAT": "json"}, "backfill")
        try:
            wait_for(proc, "pages committed", lambda: changes(db) > 0)
            with db.begin() as conn:
                ended = conn.execute(
                    text(
                        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM "
                        "pg_stat_activity WHERE application_name = :n) t"
                    ),
                    {"n": f"syncd writer {proc.pid}@{socket.gethostname()}"[:63]},
                ).scalar_one()
            assert ended == 1
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text_err = err.decode()
        assert proc.returncode == 143, text_err
        assert '"event": "lock_lost"' in text_err and "Traceback" not in text_err
        statuses = [st for _, st in runs(db)]
        assert "running" not in statuses and statuses[-1] == "interrupted"
        db.dispose()
    finally:
        drop_pg_schema(postgres_url, name)


# A writer killed while its statement runs on the server: it holds a row lock and sleeps, with
# the server's client check off (as on PostgreSQL 13 and older), so only the next holder ends it.
ORPHAN_CHILD = """
import sys
from sqlalchemy import text
from syncd.mirror.db import make_engine
from syncd.mirror.lock import writer_lock
url, tenant = sys.argv[1], sys.argv[2]
db = make_engine(url)
with writer_lock(url, tenant), db.connect() as conn:
    conn.execute(text("SET client_connection_check_interval = 0"))
    conn.execute(text("UPDATE probe SET n = n + 1 WHERE id = 1"))
    conn.execute(text("SELECT pg_sleep(600)"))
"""


def test_a_new_writer_ends_what_a_killed_writer_left_running(postgres_url: str) -> None:
    """SIGKILLed mid-statement, a writer's session runs on in PostgreSQL holding its row locks;
    the next holder of the lock terminates it before it returns (the killed statement rolls
    back, its row is free at once). syncd's own sessions are named after their process and
    check for a vanished client every second."""
    from sqlalchemy import text

    from syncd.mirror.lock import MirrorBusyError, writer_lock
    from syncd.mirror.sessions import session_label
    from tests.integration.conftest import drop_pg_schema, pg_schema_url

    url, name = pg_schema_url(postgres_url)
    db = make_engine(url)
    child: subprocess.Popen[bytes] | None = None
    try:
        with db.begin() as conn:
            conn.execute(text("CREATE TABLE probe (id int PRIMARY KEY, n int NOT NULL)"))
            conn.execute(text("INSERT INTO probe VALUES (1, 0)"))
            assert conn.execute(text("SHOW client_connection_check_interval")).scalar() == "1s"
            assert conn.execute(text("SHOW application_name")).scalar() == session_label()
        child = subprocess.Popen([sys.executable, "-c", ORPHAN_CHILD, url, TENANT])

        def sleeping() -> bool:
            assert child is not None
            with db.connect() as conn:
                return bool(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n "
                            "AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
                        ),
                        {"n": session_label(child.pid)},
                    ).scalar_one()
                )

        try:
            deadline = time.monotonic() + 60
            while not sleeping():
                assert child.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert sleeping()  # the server has not noticed: the statement runs on
        deadline = time.monotonic() + 90
        while True:  # the killed process's idle lock session closes on its own, promptly
            try:
                with writer_lock(url, TENANT):
                    assert not sleeping()
                    with db.begin() as conn:
                        conn.execute(text("SET LOCAL lock_timeout = '2s'"))
                        n = conn.execute(text("UPDATE probe SET n = n + 10 RETURNING n"))
                        assert n.scalar_one() == 10  # the killed UPDATE rolled back
                break
            except MirrorBusyError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        if child is not None:  # on a failure, the orphan would block the schema's drop
            with db.begin() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :n"
                    ),
                    {"n": session_label(child.pid)},
                )
        db.dispose()
        drop_pg_schema(postgres_url, name)
