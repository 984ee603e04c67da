"""Several tenants in one configuration (``[tenants.NAME]``, one sandbox and one credential
each). PostgreSQL: two ``syncd run`` replicas spread three tenants (each led by exactly one
replica, as /metrics and pg_locks say; each replica within its fair share of 2); one replica
killed with SIGKILL, the survivor leads all three within 30 s and mirrors the killed one's
tenants' new data. SQLite: one daemon serves two tenants, a second daemon is refused (exit 5),
and a one-shot command names a tenant that is not configured (exit 2). Each tenant's rows land
under its own label and match its sandbox. Real processes, real PostgreSQL, real SQLite."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from syncd.mirror.db import current_revision, head_revision, make_engine, migrate
from syncd.mirror.lock import MirrorBusyError, MirrorLock, writer_lock_holders
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import sandbox_options
from tests.integration.daemon_env import DaemonProc, daemon_env, start_daemon, wait_for
from tests.integration.push_env import push_env, syncd_run
from tests.integration.test_mirror_sync import control, snapshot

# name -> (seed, candidates): different sizes, so a row under the wrong label shows.
TENANTS = {"acme": (11, 6), "beta": (12, 8), "gamma": (13, 10)}


@pytest.fixture
def sandboxes() -> Iterator[dict[str, ThreadServer]]:
    out = {}
    try:
        for name, (seed, n) in TENANTS.items():
            out[name] = serve_in_thread(
                sandbox_options(
                    seed=seed,
                    candidates=n,
                    jobs=2,
                    api_keys=[f"key-{name}"],
                    limits=LimitConfig(enabled=False),
                )
            )
        yield out
    finally:
        for srv in out.values():
            srv.stop()


def tenants_env(
    sandboxes: dict[str, ThreadServer], db_url: str, tmp: Path, only: list[str] | None = None
) -> dict[str, str]:
    """A configuration with one [tenants.NAME] table per sandbox (its own key and URL; the rate
    inherited from the top-level [smartrecruiters]); no SYNCD_TENANT, no top-level key."""
    lines = ["[smartrecruiters]", "rate_limit = 1000", ""]
    for name in only or list(sandboxes):
        lines += [
            f"[tenants.{name}.smartrecruiters]",
            f'api_key = "key-{name}"',
            f'base_url = "{sandboxes[name].base_url}"',
            "",
        ]
    config = tmp / "tenants.toml"
    config.write_text("\n".join(lines))
    any_srv = next(iter(sandboxes.values()))
    env = push_env(any_srv, db_url, config)
    for k in ("SYNCD_TENANT", "SYNCD_SMARTRECRUITERS__BASE_URL", "SYNCD_SMARTRECRUITERS__API_KEY"):
        env.pop(k)
    return daemon_env(env, poll_interval_seconds=1, leader_check_seconds=1)


def leaders(d: DaemonProc) -> set[str]:
    """The tenants a replica leads, from its /metrics (syncd_leader{tenant})."""
    return {
        dict(labels)["tenant"]
        for (name, labels), v in d.metrics().items()
        if name == "syncd_leader" and v == 1.0
    }


def mirrored(db: Engine, tenant: str) -> dict[str, str | None]:
    """candidate id -> last name, of one tenant's label."""
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT id, last_name FROM candidates WHERE tenant = :t AND deleted_at IS NULL"),
            {"t": tenant},
        ).all()
    return {r[0]: r[1] for r in rows}


def truth(srv: ThreadServer) -> dict[str, str | None]:
    return {cid: c.get("lastName") for cid, c in snapshot(srv)["candidates"].items()}


def all_match(db: Engine, sandboxes: dict[str, ThreadServer]) -> bool:
    return all(mirrored(db, name) == truth(srv) for name, srv in sandboxes.items())


def test_replicas_spread_tenants_and_take_over_a_killed_ones(
    sandboxes: dict[str, ThreadServer], pg: tuple[str, Engine], tmp_path: Path
) -> None:
    db_url, db = pg
    names = sorted(TENANTS)
    env = tenants_env(sandboxes, db_url, tmp_path)
    one = start_daemon(env, tmp_path, "one")
    two: DaemonProc | None = None
    try:
        wait_for("the first replica leading all three", lambda: leaders(one) == set(names))
        two = start_daemon(env, tmp_path, "two")

        def spread() -> tuple[set[str], set[str]] | None:
            assert two is not None
            a, b = leaders(one), leaders(two)
            return (a, b) if a and b and a | b == set(names) and not a & b else None

        a, b = wait_for("the tenants spread over both replicas", spread, timeout=90)
        assert sorted([len(a), len(b)]) == [1, 2]  # fair share: ceil(3 / 2) = 2
        assert writer_lock_holders(db, names) == {n: 1 for n in names}
        ready = two.get("/readyz").json()
        assert set(ready["leading"]) == b
        assert {n: t["checks"]["role"] for n, t in ready["tenants"].items()} == {
            n: "leader" if n in b else "standby" for n in names
        }
        # Migrations change the schema every tenant shares: the migrate lock is refused while
        # the replicas lead (naming one of them); `syncd migrate` with nothing to do passes.
        with pytest.raises(MirrorBusyError) as busy:
            MirrorLock(db_url, "default", "migrate").acquire()
        assert busy.value.holder is not None
        assert busy.value.holder.pid in {one.proc.pid, two.proc.pid}
        current = syncd_run(env, "migrate")
        assert current.returncode == 0 and "schema already at" in current.stdout, current.stderr
        # Each tenant's own credential reached its own sandbox: every row under its own label.
        wait_for("every tenant mirrored", lambda: all_match(db, sandboxes))
        assert one.metric("syncd_api_calls_total", tenant=sorted(a)[0], group="candidates",
                          status="200") > 0  # fmt: skip

        killed, survivor, moved = (one, two, a) if len(a) == 2 else (two, one, b)
        killed.proc.send_signal(signal.SIGKILL)
        killed.proc.wait(timeout=10)
        t0 = time.monotonic()
        wait_for("the survivor leading all", lambda: leaders(survivor) == set(names), timeout=90)
        assert time.monotonic() - t0 < 30
        assert writer_lock_holders(db, names) == {n: 1 for n in names}
        # New data in the moved tenants reaches the mirror through the survivor.
        for name in moved:
            cid = sorted(snapshot(sandboxes[name])["candidates"])[0]
            control(sandboxes[name], f"candidates/{cid}/update", {"lastName": f"Moved-{name}"})
        wait_for("the moved tenants' changes mirrored", lambda: all_match(db, sandboxes))
        assert {mirrored(db, n)[sorted(truth(sandboxes[n]))[0]] for n in moved} == {
            f"Moved-{n}" for n in moved
        }
        assert survivor.stop() == 0, survivor.output()[-3000:]
    finally:
        one.kill()
        if two is not None:
            two.kill()


def test_sqlite_one_daemon_serves_several_tenants_and_refuses_a_second(
    sandboxes: dict[str, ThreadServer], tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    db = make_engine(db_url)
    migrate(db)
    two = {n: sandboxes[n] for n in ("acme", "beta")}
    env = tenants_env(sandboxes, db_url, tmp_path, only=list(two))
    d = start_daemon(env, tmp_path)
    try:
        wait_for("both tenants mirrored", lambda: all_match(db, two))
        assert leaders(d) == set(two)
        assert mirrored(db, "gamma") == {}
        second = syncd_run(env, "run", timeout=60)
        assert second.returncode == 5, second.stderr
        assert "another syncd" in second.stderr
        # One-shot commands act on one tenant: SYNCD_TENANT must name a configured one.
        bad = syncd_run({**env, "SYNCD_TENANT": "gamma"}, "status")
        assert bad.returncode == 2
        assert bad.stderr.strip().splitlines()[-1] == (
            "syncd: SYNCD_TENANT: 'gamma' is not one of the configured tenants (acme, beta); "
            "set SYNCD_TENANT to one of them"
        )
        ok = syncd_run({**env, "SYNCD_TENANT": "beta"}, "status")
        assert ok.returncode == 0, ok.stderr
        assert "tenant beta: last pass per resource" in ok.stdout
        assert d.stop() == 0, d.output()[-3000:]
    finally:
        d.kill()
        db.dispose()


def test_run_names_the_tenant_whose_key_is_refused_and_takes_no_syncd_tenant(
    sandboxes: dict[str, ThreadServer], tmp_path: Path
) -> None:
    """`syncd run` over two tenants, beta's key wrong: exit 3 naming beta and its variable
    (never the key). SYNCD_TENANT not configured: the one-shot commands' line, exit 2; one of
    the configured tenants: exit 2 saying the daemon serves them all and what to do."""
    db_url = f"sqlite:///{tmp_path / 'mirror.db'}"
    db = make_engine(db_url)
    migrate(db)
    db.dispose()
    env = tenants_env(sandboxes, db_url, tmp_path, only=["acme", "beta"])
    variable = "SYNCD_TENANTS__BETA__SMARTRECRUITERS__API_KEY"
    refused = syncd_run({**env, variable: "wrong-key-s3cr3t"}, "run", timeout=60)
    assert refused.returncode == 3, refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith("syncd: tenant beta: SmartRecruiters refused the credentials")
    assert line.endswith(f"; fix {variable}") and "s3cr3t" not in refused.stderr

    zeta = syncd_run({**env, "SYNCD_TENANT": "zeta"}, "run", timeout=60)
    assert zeta.returncode == 2, zeta.stderr
    assert zeta.stderr.strip().splitlines()[-1] == (
        "syncd: SYNCD_TENANT: 'zeta' is not one of the configured tenants (acme, beta); "
        "set SYNCD_TENANT to one of them"
    )
    beta = syncd_run({**env, "SYNCD_TENANT": "beta"}, "run", timeout=60)
    assert beta.returncode == 2, beta.stderr
    assert beta.stderr.strip().splitlines()[-1] == (
        "syncd: SYNCD_TENANT: syncd run serves every configured tenant (acme, beta) and does "
        "not take SYNCD_TENANT ('beta'); unset it for the daemon, or give it a configuration "
        "whose [tenants] has only 'beta'"
    )


# ---- one-shot commands over every tenant -------------------------------------------------------
def test_backfill_sync_and_status_act_on_every_tenant_in_turn(
    sandboxes: dict[str, ThreadServer], db: Engine, db_url: str, tmp_path: Path
) -> None:
    """Several tenants, no SYNCD_TENANT: `syncd backfill` backfills each in name order under its
    own lock, a tenant whose key is refused is reported (exit 3) and the others are still done;
    `syncd status` (text and --json) shows every tenant as SYNCD_TENANT=NAME shows it;
    `syncd sync --once` then brings every tenant level with its sandbox."""
    names = sorted(TENANTS)
    env = tenants_env(sandboxes, db_url, tmp_path)
    config = Path(env["SYNCD_CONFIG"])
    good = config.read_text()
    config.write_text(good.replace('api_key = "key-beta"', 'api_key = "not-beta"'))

    out = syncd_run(env, "backfill")
    assert out.returncode == 3, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("syncd: ")]
    assert [ln for ln in lines if ln.endswith(": backfill")] == [
        f"syncd: tenant {n}: backfill" for n in names
    ]
    refused = [ln for ln in lines if ln.startswith("syncd: tenant beta: SmartRecruiters refused")]
    assert len(refused) == 1 and "not-beta" not in out.stderr
    assert lines[-1] == ("syncd: backfill of 3 tenants: exit codes acme 0, beta 3, gamma 0; exit 3")
    assert "Traceback" not in out.stderr
    assert [n for n in names if f"syncd: tenant {n}: " in out.stdout] == ["acme", "gamma"]
    # The refused tenant wrote nothing; the others match their own sandboxes.
    assert mirrored(db, "beta") == {}
    for n in ("acme", "gamma"):
        assert mirrored(db, n) == truth(sandboxes[n]) and mirrored(db, n)

    # A sink cursor for acme only: its section shows the sink, the others none.
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sink_cursors (tenant, sink, sequence, start, created_at, "
                "updated_at) VALUES ('acme', 'hr', 0, 'all', :t, :t)"
            ),
            {"t": datetime(2026, 11, 29, tzinfo=UTC).replace(tzinfo=None)},
        )
    every = syncd_run(env, "status", "--json")
    assert every.returncode == 0, every.stderr
    shown = json.loads(every.stdout)
    assert list(shown) == ["tenants"] and list(shown["tenants"]) == names
    # A tenant's object is what SYNCD_TENANT=NAME shows (the one with a sink, backfilled).
    one = syncd_run({**env, "SYNCD_TENANT": "acme"}, "status", "--json")
    assert one.returncode == 0, one.stderr
    assert shown["tenants"]["acme"] == json.loads(one.stdout)
    assert {n: t["tenant"] for n, t in shown["tenants"].items()} == {n: n for n in names}
    acme = shown["tenants"]["acme"]
    assert acme["daemon"] == {"leader": None, "pusher": None}
    assert list(acme["sinks"]) == ["hr"] and acme["sinks"]["hr"]["dead_letters"] == 0
    assert acme["sinks"]["hr"]["backlog"] > 0  # every change of the backfill is after 0
    assert {r["last_run"]["status"] for r in acme["resources"].values()} == {"ok"}
    assert shown["tenants"]["beta"]["resources"] == {} and shown["tenants"]["beta"]["sinks"] == {}
    text_out = syncd_run(env, "status")
    assert text_out.returncode == 0, text_out.stderr
    heads = [ln for ln in text_out.stdout.splitlines() if ln.startswith("== tenant ")]
    assert heads == [f"== tenant {n} ==" for n in names]
    assert "tenant beta: no pass has run yet" in text_out.stdout
    assert "tenant gamma: last pass per resource" in text_out.stdout

    config.write_text(good)
    for n in ("acme", "gamma"):  # something new in two tenants
        cid = sorted(snapshot(sandboxes[n])["candidates"])[0]
        control(sandboxes[n], f"candidates/{cid}/update", {"lastName": f"Later-{n}"})
    synced = syncd_run(env, "sync", "--once")
    assert synced.returncode == 0, synced.stderr
    assert synced.stderr.splitlines()[-1] == (
        "syncd: sync (incremental) of 3 tenants: exit codes acme 0, beta 0, gamma 0; exit 0"
    )
    assert all_match(db, sandboxes)
    assert mirrored(db, "acme")[sorted(truth(sandboxes["acme"]))[0]] == "Later-acme"


def previous_revision(head: str | None) -> str:
    """The revision before ``head`` (a schema with one migration to go)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from syncd.mirror.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    rev = ScriptDirectory.from_config(cfg).get_revision(head)
    assert rev is not None and isinstance(rev.down_revision, str)
    return rev.down_revision


HOLD = (
    "import sys\n"
    "from syncd.mirror.lock import MirrorLock\n"
    "lock = MirrorLock(sys.argv[1], sys.argv[2], sys.argv[3])\n"
    "lock.acquire()\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


@contextlib.contextmanager
def holding(db_url: str, tenant: str, role: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding a tenant's lock of ``role`` (``migrate``: the schema's) until the
    block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, db_url, tenant, role],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n", proc.stderr
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the holder ends; its lock goes with it
        proc.wait(timeout=30)


def test_migrate_waits_for_no_tenant_and_conflicts_with_every_tenants_writer(
    db_url: str, tmp_path: Path
) -> None:
    """`syncd migrate` changes the schema every tenant shares: refused (exit 5, naming the
    holder) while another tenant's writer holds its lock, done once it ends; with nothing to
    do it takes no lock; while it holds its lock, a writer of any tenant is refused."""
    config = tmp_path / "tenants.toml"
    config.write_text(
        "".join(f'[tenants.{n}.smartrecruiters]\napi_key = "key-{n}"\n' for n in TENANTS)
    )
    env = {
        **os.environ,
        "SYNCD_CONFIG": str(config),
        "SYNCD_DATABASE_URL": db_url,
        "SYNCD_LOG_LEVEL": "warning",
    }
    env.pop("SYNCD_TENANT", None)
    eng = make_engine(db_url)
    head = head_revision(eng)
    before = previous_revision(head)
    try:
        migrate(eng, before)  # one revision to go
        host = socket.gethostname()
        with holding(db_url, "beta", "writer") as beta:
            refused = syncd_run(env, "migrate")
            assert refused.returncode == 5, refused.stderr
            line = refused.stderr.strip()
            assert line.startswith("syncd: another syncd is writing to the mirror ")
            assert f"(pid {beta.pid} on {host}, since 20" in line and len(line.splitlines()) == 1
            assert current_revision(eng) == before
        done = syncd_run(env, "migrate")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith(f"schema {before} -> {head}")
        # At the head already: nothing to change, no lock taken, no wait for the writer.
        with holding(db_url, "gamma", "writer"):
            again = syncd_run(env, "migrate")
            assert again.returncode == 0, again.stderr
            assert again.stdout.strip().endswith(f"schema already at {head}")
        # A migration holding its lock: no tenant's writer starts (the file's one writer on
        # SQLite; the schema lock, held exclusive, on PostgreSQL).
        # (SQLite: the file's one lock, whose holder names its role.)
        role = "is migrating"
        with holding(db_url, "default", "migrate") as mig:
            for n in ("acme", "beta"):
                out = syncd_run({**env, "SYNCD_TENANT": n}, "backfill")
                assert out.returncode == 5, out.stderr
                line = out.stderr.strip()
                assert line.startswith(f"syncd: another syncd {role} the mirror ")
                assert f"(pid {mig.pid} on {host}, since 20" in line
    finally:
        eng.dispose()


@pytest.mark.parametrize("tables", [False, True])
def test_a_tenant_label_outside_the_rule_exits_2_with_one_line(
    tmp_path: Path, tables: bool
) -> None:
    """One rule for SYNCD_TENANT, with or without [tenants]: a label outside it is refused by
    every command (exit 2, one line naming SYNCD_TENANT and the rule, no traceback)."""
    env = {**os.environ, "SYNCD_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    if tables:
        config = tmp_path / "tenants.toml"
        config.write_text('[tenants.acme_eu.smartrecruiters]\napi_key = "k"\n')
        env["SYNCD_CONFIG"] = str(config)
    for label, command in (("Acme_EU", "status"), ("acme eu", "backfill")):
        out = syncd_run({**env, "SYNCD_TENANT": label}, command)
        assert out.returncode == 2, out.stderr
        assert out.stderr.splitlines() == [
            f"syncd: SYNCD_TENANT: {label!r} must be 1 to 64 lowercase letters, digits, "
            "'.', '_' or '-', starting with a letter or digit (e.g. default, acme_eu)"
        ]


def test_migrates_started_together_on_an_empty_database_wait_for_the_one_migrating(
    db_url: str,
) -> None:
    """Several `syncd migrate` at once on an empty database (hosts whose units run it as
    ExecStartPre, starting together): those that find another migrate holding the lock wait for
    it, then see the schema at head and exit 0. Here a process holds the migrate lock until all
    three are waiting (they say so on stderr), so they overlap whatever the machine's speed;
    once it lets go, one of them migrates and the other two find the schema at head."""
    env = {**os.environ, "SYNCD_DATABASE_URL": db_url, "SYNCD_LOG_LEVEL": "warning"}
    for name in ("SYNCD_TENANT", "SYNCD_CONFIG"):
        env.pop(name, None)
    host = socket.gethostname()
    procs: list[subprocess.Popen[str]] = []
    try:
        with holding(db_url, "default", "migrate") as holder:
            for _ in range(3):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "syncd", "migrate"],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            for p in procs:
                assert p.stderr is not None
                line = p.stderr.readline()  # blocks until it waits (or ends, with its error)
                assert line == (
                    f"syncd: another syncd is migrating the mirror (pid {holder.pid} on {host}, "
                    "since " + line.split("since ", 1)[-1]
                ), line
                assert line.endswith("); waiting up to 120 s for it to end\n"), line
                assert p.poll() is None
        outs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert not any("Traceback" in err or err.strip() for _, err in outs), outs
    eng = make_engine(db_url)
    try:
        head = head_revision(eng)
        assert current_revision(eng) == head
    finally:
        eng.dispose()
    ends = sorted(out.strip().rsplit(": ", 1)[-1] for out, _ in outs)
    assert ends == sorted([f"schema empty -> {head}", *[f"schema already at {head}"] * 2]), outs


def test_a_migrate_gives_up_waiting_for_another_after_migrate_wait_seconds(db_url: str) -> None:
    """SYNCD_MIGRATE_WAIT_SECONDS bounds the wait for another migrate holding the lock: past it,
    exit 5 and one line naming the holder and the setting; the schema is left as it was (one
    revision to go here). 0: no wait at all, the line alone; 1: the waiting line first."""
    env = {**os.environ, "SYNCD_DATABASE_URL": db_url, "SYNCD_LOG_LEVEL": "warning"}
    for name in ("SYNCD_TENANT", "SYNCD_CONFIG"):
        env.pop(name, None)
    host = socket.gethostname()
    eng = make_engine(db_url)
    try:
        before = previous_revision(head_revision(eng))
        migrate(eng, before)
        with holding(db_url, "default", "migrate") as holder:
            for wait in ("0", "1"):
                started = time.monotonic()
                out = syncd_run({**env, "SYNCD_MIGRATE_WAIT_SECONDS": wait}, "migrate")
                took = time.monotonic() - started
                assert out.returncode == 5, out.stderr
                assert out.stdout == ""
                lines = out.stderr.splitlines()
                who = f"(pid {holder.pid} on {host}, since "
                if wait == "1":
                    waiting = lines.pop(0)
                    assert waiting.startswith(f"syncd: another syncd is migrating the mirror {who}")
                    assert waiting.endswith("); waiting up to 1 s for it to end"), waiting
                    assert took >= 1.0
                assert len(lines) == 1, out.stderr
                assert lines[0].startswith("syncd: another syncd is migrating the mirror "), lines
                assert who in lines[0]
                assert lines[0].endswith(
                    f"); gave up after waiting {wait} s (SYNCD_MIGRATE_WAIT_SECONDS): rerun once "
                    "it has ended, or set SYNCD_MIGRATE_WAIT_SECONDS higher"
                ), lines[0]
                assert took < 60  # not the default 120 s
                assert current_revision(eng) == before  # nothing changed
    finally:
        eng.dispose()
