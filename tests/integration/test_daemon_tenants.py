"""Several tenants in one configuration (``[tenants.NAME]``, one sandbox and one credential
each). PostgreSQL: two ``syncd run`` replicas spread three tenants (each led by exactly one
replica, as /metrics and pg_locks say; each replica within its fair share of 2); one replica
killed with SIGKILL, the survivor leads all three within 30 s and mirrors the killed one's
tenants' new data. SQLite: one daemon serves two tenants, a second daemon is refused (exit 5),
and a one-shot command names a tenant that is not configured (exit 2). Each tenant's rows land
under its own label and match its sandbox. Real processes, real PostgreSQL, real SQLite."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from syncd.mirror.db import make_engine, migrate
from syncd.mirror.lock import lock_key
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import sandbox_options
from tests.integration.conftest import drop_pg_schema, pg_schema_url
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


def lock_holders(db: Engine, names: list[str]) -> dict[str, int]:
    """How many sessions hold each tenant's writer lock (pg_locks)."""
    with db.connect() as conn:
        schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
        out = {}
        for name in names:
            key = lock_key(schema, name, "writer")
            out[name] = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND objsubid = 1 AND classid::bigint = :hi AND objid::bigint = :lo"
                ),
                {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
            ).scalar_one()
    return out


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


@pytest.fixture
def pg(postgres_url: str) -> Iterator[tuple[str, Engine]]:
    url, name = pg_schema_url(postgres_url)
    eng = make_engine(url)
    migrate(eng)
    yield url, eng
    eng.dispose()
    drop_pg_schema(postgres_url, name)


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
        assert lock_holders(db, names) == {n: 1 for n in names}
        ready = two.get("/readyz").json()
        assert set(ready["leading"]) == b
        assert {n: t["checks"]["role"] for n, t in ready["tenants"].items()} == {
            n: "leader" if n in b else "standby" for n in names
        }
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
        assert lock_holders(db, names) == {n: 1 for n in names}
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
