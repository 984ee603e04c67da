"""The SQLite mirror's file is the one syncd locks and writes: real ``syncd`` subprocesses.

- Another name for the file does not bypass the one-writer lock: through a symlink every
  command that takes the writer or push lock (run, backfill, sync --once, push) is
  refused with exit 5 naming the holder; through a hard link (no path leads from one name to
  the other) with exit 5 naming the links to remove.
- The file deleted or replaced under ``syncd run``: it stops writing and exits 6 with one line
  naming the file, no traceback; ``/readyz`` says so (503) meanwhile. The same for a
  ``backfill``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from syncd.daemon.http import is_ready, readiness
from syncd.mirror.db import make_engine
from syncd.mirror.lock import MirrorLock
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import sandbox_options, sqlite_mirror
from tests.integration.daemon_env import DaemonProc, daemon_env, start_daemon, wait_for
from tests.integration.push_env import push_env, syncd_run, write_config
from tests.integration.test_mirror_sync import TENANT
from tests.integration.test_push_webhook import webhook_sink
from tests.receiver import ReceiverServer

# Every command that takes the writer or push lock of the mirror (``migrate`` takes the same
# file's lock, but only when the schema is behind: at head it changes nothing and takes none).
LOCKING = (("run",), ("backfill",), ("sync", "--once"), ("push", "--once"))


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=30, jobs=5, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def _syncd_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("syncd: ")]


@pytest.fixture
def holder(
    tenant: ThreadServer, receiver: ReceiverServer, migrated_sqlite: Path, tmp_path: Path
) -> Iterator[tuple[DaemonProc, dict[str, str], Path]]:
    """A daemon on ``tmp_path/real/mirror.db`` (a sink configured, so that it holds the push
    lock as it would in production); its environment and the file."""
    (tmp_path / "real").mkdir()
    db = tmp_path / "real" / "mirror.db"
    sqlite_mirror(migrated_sqlite, db).dispose()
    config = write_config(tmp_path, {"hr": webhook_sink(receiver)})
    env = daemon_env(push_env(tenant, f"sqlite:///{db}", config))
    d = start_daemon(env, tmp_path)
    try:
        yield d, env, db
    finally:
        d.kill()


def test_a_symlinked_path_is_refused_with_exit_5_naming_the_holder(
    holder: tuple[DaemonProc, dict[str, str], Path], tmp_path: Path
) -> None:
    d, env, db = holder
    # A symlink to the file, and one to its folder.
    (tmp_path / "alias").mkdir()
    (tmp_path / "alias" / "mirror.db").symlink_to(db)
    (tmp_path / "folder").symlink_to(db.parent, target_is_directory=True)
    for path in (tmp_path / "alias" / "mirror.db", tmp_path / "folder" / "mirror.db"):
        other = {**env, "SYNCD_DATABASE_URL": f"sqlite:///{path}", "SYNCD_HTTP__PORT": "0"}
        for args in LOCKING:
            out = syncd_run(other, *args, timeout=60)
            assert out.returncode == 5, (args, out.stderr)
            lines = _syncd_lines(out.stderr)
            assert len(lines) == 1, (args, out.stderr)
            assert "another syncd" in lines[0] and f"pid {d.proc.pid}" in lines[0], lines
            assert f"the mirror {path} (the file {db})" in lines[0], lines
            assert "Traceback" not in out.stderr
    assert d.proc.poll() is None  # the holder runs on
    assert d.stop() == 0


def test_a_hard_linked_file_is_refused_with_exit_5(
    holder: tuple[DaemonProc, dict[str, str], Path], tmp_path: Path
) -> None:
    d, env, db = holder
    (tmp_path / "other").mkdir()
    link = tmp_path / "other" / "mirror.db"
    os.link(db, link)
    other = {**env, "SYNCD_DATABASE_URL": f"sqlite:///{link}", "SYNCD_HTTP__PORT": "0"}
    for args in LOCKING:
        out = syncd_run(other, *args, timeout=60)
        assert out.returncode == 5, (args, out.stderr)
        lines = _syncd_lines(out.stderr)
        assert len(lines) == 1, (args, out.stderr)
        assert f"the mirror file {link} has 2 names (hard links)" in lines[0], lines
        assert "Traceback" not in out.stderr
    # No lock file was left beside the other name (the schema check's read opened SQLite's
    # -wal and -shm there: a read, as SQLite does for any reader of that name).
    assert not [p.name for p in link.parent.iterdir() if p.name.endswith(".lock")]
    assert d.proc.poll() is None
    assert d.stop() == 0
    # The holder itself is refused too once the file has two names; one name again: it runs.
    again = syncd_run({**env, "SYNCD_HTTP__PORT": "0"}, "sync", "--once", timeout=60)
    assert again.returncode == 5 and "has 2 names" in again.stderr, again.stderr
    link.unlink()
    again = syncd_run({**env, "SYNCD_HTTP__PORT": "0"}, "sync", "--once", timeout=120)
    assert again.returncode == 0, again.stderr


def _lost(d: DaemonProc) -> list[dict[str, object]]:
    return [e for e in d.events() if e.get("event") == "mirror_file_lost"]


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_the_file_deleted_or_replaced_under_the_daemon_stops_it_with_exit_6(
    tenant: ThreadServer, migrated_sqlite: Path, tmp_path: Path, how: str
) -> None:
    db = tmp_path / "mirror.db"
    sqlite_mirror(migrated_sqlite, db).dispose()
    env = daemon_env(push_env(tenant, f"sqlite:///{db}", write_config(tmp_path, {})))
    d = start_daemon(env, tmp_path)
    try:
        wait_for("/readyz 200", lambda: d.get("/readyz").status_code == 200, log=d.output)
        if how == "deleted":
            for suffix in ("", "-wal", "-shm"):
                db.with_name(db.name + suffix).unlink(missing_ok=True)
        else:
            # A restore: the old file's -wal and -shm removed (SQLite would read the old
            # write-ahead log into the new file), the new file moved into place.
            shutil.copyfile(migrated_sqlite, tmp_path / "new.db")
            for suffix in ("-wal", "-shm"):
                db.with_name(db.name + suffix).unlink(missing_ok=True)
            os.replace(tmp_path / "new.db", db)
        code = d.proc.wait(timeout=60)
        out = d.output()
        assert code == 6, out[-3000:]
        lines = _syncd_lines(out)
        assert len(lines) == 1, out[-3000:]
        assert f"the mirror database file {db} was {how}" in lines[0], lines
        # The fix says to delete the old file's write-ahead log, which SQLite would replay into
        # the next file at that path.
        assert f"delete the old file's {db}-wal and {db}-shm" in lines[0].replace(
            "Delete the deleted file's", "delete the old file's"
        ), lines
        assert "Traceback" not in out
        assert len(_lost(d)) == 1, out[-3000:]
    finally:
        d.kill()
    if how == "replaced":
        # The new file was not written: still the template's empty mirror.
        eng = make_engine(f"sqlite:///{db}")
        try:
            with eng.connect() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM sync_runs").scalar_one() == 0
        finally:
            eng.dispose()


def test_readyz_names_a_deleted_file(migrated_sqlite: Path, tmp_path: Path) -> None:
    """/readyz's checks on a real file and its real lock (the daemon exits within a second of
    the deletion, too soon to be asked over HTTP without a race)."""
    db = tmp_path / "mirror.db"
    eng = sqlite_mirror(migrated_sqlite, db)
    lock = MirrorLock(f"sqlite:///{db}", TENANT, "writer")
    lock.acquire()
    try:
        daemon = SimpleNamespace(
            role="leader",
            db=eng,
            tenant=TENANT,
            settings=SimpleNamespace(schedule=SimpleNamespace(poll_interval_seconds=60)),
            started=0.0,
            file_problem=lock.problem,
        )
        assert readiness(daemon)["database"] == "ok"
        db.unlink()
        checks = readiness(daemon)
        assert not is_ready(checks)
        assert str(checks["database"]).startswith(f"the mirror database file {db} was deleted")
    finally:
        lock.release()
        eng.dispose()


def test_the_file_deleted_under_a_backfill_ends_it_with_exit_6(
    migrated_sqlite: Path, tmp_path: Path
) -> None:
    srv = serve_in_thread(sandbox_options(candidates=120, limits=LimitConfig(enabled=False)))
    try:
        db = tmp_path / "mirror.db"
        sqlite_mirror(migrated_sqlite, db).dispose()
        env = {
            **push_env(srv, f"sqlite:///{db}", write_config(tmp_path, {})),
            "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "20",  # slow: still running when the file goes
            "SYNCD_SYNC__PAGE_SIZE": "10",
        }
        env.pop("SYNCD_CONFIG")
        proc = subprocess.Popen(
            [*syncd_cmd(), "backfill"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for("the backfill's first pass", lambda: _running(db), timeout=60)
            for suffix in ("", "-wal", "-shm"):
                db.with_name(db.name + suffix).unlink(missing_ok=True)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 6, err[-3000:]
        lines = _syncd_lines(err)
        assert len(lines) == 1, err[-3000:]
        assert f"the mirror database file {db} was deleted" in lines[0], lines
        assert "Traceback" not in err
    finally:
        srv.stop()


def _running(db: Path) -> bool:
    eng = make_engine(f"sqlite:///{db}")
    try:
        with eng.connect() as conn:
            sql = "SELECT count(*) FROM sync_runs WHERE status = 'running'"
            return bool(conn.exec_driver_sql(sql).scalar_one())
    finally:
        eng.dispose()


def syncd_cmd() -> list[str]:
    import sys

    return [sys.executable, "-m", "syncd"]
