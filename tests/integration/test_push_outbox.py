"""The outbox ready for consumers: numbers never reused after pruning, commit order = sequence
order (PostgreSQL writers serialised by the outbox lock), event envelopes valid against the
documented JSON Schema, and ``syncd changes`` over a real subprocess; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from sqlalchemy import Engine, delete, select, text

from syncd.delivery.mapping import load_schema
from syncd.mirror import hires, outbox
from syncd.mirror import schema as s
from syncd.mirror.store import Change, Mirror, utcnow
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import sandbox_options
from tests.integration.test_mirror_sync import TENANT, control, run_pass, settings_for


def event_validator() -> jsonschema.Draft202012Validator:
    return load_validator("event.schema.json")


def load_validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def emit(db: Engine, n: int, key: str = "c") -> list[int]:
    m = Mirror(db, TENANT)
    with m.begin() as conn:
        m.emit(
            conn,
            [Change("candidates", f"{key}{i}", "created") for i in range(n)],
            run_id="r",
            now=utcnow(),
        )
    with db.connect() as conn:
        return [
            int(x)
            for (x,) in conn.execute(
                select(s.changes.c.sequence)
                .where(s.changes.c.record_key.like(f"{key}%"))
                .order_by(s.changes.c.sequence)
            )
        ]


def test_sequence_never_reused_after_pruning(db: Engine) -> None:
    first = emit(db, 3, "a")
    with db.begin() as conn:
        conn.execute(delete(s.changes))  # a consumer-driven prune of everything read
    again = emit(db, 2, "b")
    assert min(again) > max(first), (first, again)
    with db.connect() as conn:
        assert outbox.head(conn, TENANT) == max(again)


def test_postgres_numbers_follow_commit_order(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: numbers are in commit order by construction")
    m = Mirror(db, TENANT)
    first = db.connect()
    tx = first.begin()
    m.emit(first, [Change("candidates", "early", "created")], run_id="r", now=utcnow())
    done = threading.Event()

    def second_writer() -> None:
        with m.begin() as conn:
            m.emit(conn, [Change("candidates", "late", "created")], run_id="r", now=utcnow())
        done.set()

    th = threading.Thread(target=second_writer)
    th.start()
    # The second writer waits on the outbox lock (seen in pg_locks), never takes a number first.
    with db.connect() as watcher:
        deadline = time.monotonic() + 60  # generous: the thread may start late on a loaded box
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
            watcher.rollback()
            if waiting:
                break
            done.wait(0.005)
        assert waiting == 1 and not done.is_set()
    tx.commit()
    first.close()
    th.join(30)
    assert done.is_set()
    with db.connect() as conn:
        seqs = dict(conn.execute(select(s.changes.c.record_key, s.changes.c.sequence)).all())
    assert seqs["early"] < seqs["late"]


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=40, jobs=5, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def pick_offered(srv: ThreadServer) -> dict[str, Any]:
    import httpx

    snap = httpx.get(f"{srv.base_url}/_sandbox/snapshot", timeout=30).json()
    apps = [a for a in snap["applications"].values() if a["status"] in ("OFFERED", "INTERVIEW")]
    return sorted(apps, key=lambda a: a["id"])[0]  # type: ignore[no-any-return]


def test_hire_becomes_a_valid_event_and_syncd_changes_prints_it(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    with db.connect() as conn:
        base = outbox.head(conn, TENANT)
        history, _ = outbox.read(conn, TENANT, after=0, limit=100_000)
    # The backfill is history, not news: no hire events from it.
    assert not [e for e in history if e["type"] == "application.hired"]
    app = pick_offered(tenant)
    control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
    run_pass(st, db, "incremental")
    with db.connect() as conn:
        events, last = outbox.read(conn, TENANT, after=base, limit=100_000)
    assert last > base
    validator = event_validator()
    for e in events:
        validator.validate(e)
    hired = [e for e in events if e["type"] == "application.hired"]
    assert len(hired) == 1 and hired[0]["ready"] is True
    subject = hired[0]["subject"]
    assert subject["candidate_id"] == app["candidateId"]
    assert subject["job_id"] == app["jobId"]
    assert subject["application_id"] == app["id"]
    # occurred_at is SmartRecruiters' time of the move to HIRED (status history).
    import httpx

    truth = httpx.get(f"{tenant.base_url}/_sandbox/snapshot", timeout=30).json()
    hist = truth["applications"][app["id"]]["history"]
    hired_at = [h["changedOn"] for h in hist if h["status"] == "HIRED"][-1]
    assert hired[0]["occurred_at"][:19] == hired_at[:19]
    moved = [e for e in events if e["type"] == "application.status_changed"]
    assert [e["changes"]["status"] for e in moved] == [{"old": app["status"], "new": "HIRED"}]

    # The hire's record, assembled from the mirror, is ready and valid against its schema.
    key = (app["candidateId"], app["jobId"])
    with db.connect() as conn:
        assert hires.readiness(conn, TENANT, [key]) == {key: "ready"}
        rec = hires.new_hire_records(conn, TENANT, [key])[key]
    load_validator("new_hire.schema.json").validate(rec)
    offer = [o for o in truth["offers"].values() if o["applicationId"] == app["id"]][-1]
    cand = truth["candidates"][app["candidateId"]]
    assert rec["external_key"] == f"sr-{app['id']}"
    assert rec["ids"]["offer_id"] == offer["id"]
    assert rec["candidate"]["email"] == cand["email"]
    assert rec["job"]["title"] == truth["jobs"][app["jobId"]]["title"]
    assert rec["offer"]["properties"] == offer["properties"]
    assert rec["application"]["start_date"] == truth["applications"][app["id"]]["startsOn"][:10]

    env = {**os.environ, "SYNCD_DATABASE_URL": db_url, "SYNCD_TENANT": TENANT}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "syncd",
            "changes",
            "--since",
            str(base),
            "--type",
            "application.hired",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    printed = [json.loads(line) for line in out.stdout.splitlines()]
    assert printed == hired


def test_a_hire_first_seen_by_a_sweep_is_news_and_waits_for_its_details(db: Engine) -> None:
    """An application inserted already HIRED by a sweep (or an incremental pass) reads as
    ``application.hired`` beside its ``application.created``; inserted by the first backfill, it
    is history. ``ready`` says whether the hire's details are in the mirror."""
    from sqlalchemy import insert

    m = Mirror(db, TENANT)
    now = utcnow()
    with m.begin() as conn:
        for run, mode in (("r-backfill", "backfill"), ("r-sweep", "sweep")):
            conn.execute(
                insert(s.sync_runs).values(
                    run_id=run,
                    tenant=TENANT,
                    resource="candidates",
                    mode=mode,
                    status="ok",
                    started_at=now,
                    fetched=0,
                    inserted=0,
                    updated=0,
                    unchanged=0,
                    deleted=0,
                    quarantined=0,
                    api_calls=0,
                    errors=0,
                )
            )
        m.upsert(
            conn,
            s.applications,
            [
                {
                    "candidate_id": c,
                    "job_id": "j",
                    "application_id": f"a-{c}",
                    "status": "HIRED",
                    "history_pending": False,
                    "details_pending": c == "new",
                    "raw": {"c": c},
                    "content_hash": c,
                }
                for c in ("old", "new")
            ],
            now=now,
        )
        m.emit(
            conn,
            [Change("applications", "old/j", "created", {"status": "HIRED"})],
            run_id="r-backfill",
            now=now,
        )
        m.emit(
            conn,
            [Change("applications", "new/j", "created", {"status": "HIRED"})],
            run_id="r-sweep",
            now=now,
        )
        m.emit(
            conn,
            [Change("offers", "o1", "created", {"status": "ACCEPTED"})],
            run_id="r-sweep",
            now=now,
        )
    with db.connect() as conn:
        events, _ = outbox.read(conn, TENANT)
    assert [(e["type"], e["subject"]["key"]) for e in events] == [
        ("application.created", "old/j"),
        ("application.created", "new/j"),
        ("application.hired", "new/j"),
        ("offer.created", "o1"),
        ("offer.accepted", "o1"),
    ]
    hired = events[2]
    assert hired["event_id"].endswith(":hired") and hired["ready"] is False
    event_validator().validate(hired)
    with db.begin() as conn:
        conn.execute(s.applications.update().values(details_pending=False))
    with db.connect() as conn:
        events, _ = outbox.read(conn, TENANT)
    assert events[2]["ready"] is True


def test_syncd_changes_prints_missing_values_readably_and_refuses_unknown_names(
    db: Engine, db_url: str
) -> None:
    """A field with no previous (or no new) value reads ``(none)``; an unknown ``--type`` or
    ``--sink`` is a usage error (exit 2) naming the option and the values it takes."""
    m = Mirror(db, TENANT)
    with m.begin() as conn:
        m.emit(
            conn,
            [
                Change("candidates", "c1", "created", {"status": "NEW"}),
                Change("jobs", "j1", "updated", {"changed": {"title": ["Cook", None]}}),
            ],
            run_id="r1",
            now=utcnow(),
        )
    env = {**os.environ, "SYNCD_DATABASE_URL": db_url, "SYNCD_TENANT": TENANT}
    env.pop("SYNCD_CONFIG", None)

    def syncd(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncd", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    out = syncd("changes")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    assert [line.split()[2:] for line in lines] == [
        ["candidate.created", "c1", "status:", "(none)", "->", "NEW"],
        ["job.updated", "j1", "title:", "Cook", "->", "(none)"],
    ]
    bad = syncd("changes", "--type", "bogus")
    assert (bad.returncode, bad.stdout) == (2, "")
    line = bad.stderr.strip()
    assert line.startswith("syncd: --type: unknown value 'bogus'; valid values: ")
    assert len(line.splitlines()) == 1
    assert {"application.hired", "candidate.created", "offer.accepted"} <= set(
        line.partition("valid values: ")[2].split(", ")
    )
    assert syncd("changes", "--type", "candidate.created").stdout.splitlines() == lines[:1]
    nope = syncd("deliveries", "list", "--sink", "nope")
    assert (nope.returncode, nope.stdout) == (2, "")
    assert nope.stderr.strip() == (
        "syncd: --sink: unknown value 'nope'; no sink is configured ([sinks.NAME] in SYNCD_CONFIG)"
    )


def test_migration_0008_numbers_existing_deliveries_round_1_and_keys_them_by_round(
    db: Engine,
) -> None:
    """A mirror migrated before rehires were delivered keeps its deliveries (hire round 1) and its
    report_deliveries view; the new key takes a second round of a hire, never the same twice."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.exc import IntegrityError

    from syncd.mirror.db import MIGRATIONS, head_revision, migrate
    from syncd.mirror.deliveries import enqueue

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    now = utcnow()
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO deliveries (tenant, sink, delivery_id, event_type, candidate_id, "
                "job_id, state, attempts, created_at, updated_at) VALUES ('t', 'hr', 'msg_1', "
                "'application.hired', 'c1', 'j1', 'delivered', 1, :now, :now)"
            ),
            {"now": now},
        )
    before, after = migrate(db)
    assert before == "0007" and after == head_revision(db)
    with db.begin() as conn:
        rows = conn.execute(select(s.deliveries.c.delivery_id, s.deliveries.c.hire_round)).all()
        assert [tuple(r) for r in rows] == [("msg_1", 1)]
        viewed = conn.execute(text("SELECT sink, state FROM report_deliveries")).all()
        assert [tuple(r) for r in viewed] == [("hr", "delivered")]
        hire = {"candidate_id": "c1", "job_id": "j1", "event_type": "application.hired"}
        assert enqueue(conn, "t", "hr", [{**hire, "sequence": 9}], now=now) == 0  # round 1: kept
        assert enqueue(conn, "t", "hr", [{**hire, "sequence": 9, "hire_round": 2}], now=now) == 1
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(
            s.deliveries.insert().values(
                tenant="t", sink="hr", delivery_id="msg_x", event_type="application.hired",
                candidate_id="c1", job_id="j1", state="pending", attempts=0, hire_round=2,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip


def test_migration_0010_derives_the_round_of_each_onboarding_write(db: Engine) -> None:
    """Writes made before the round was recorded get the latest round that had its outcome
    when the write was made: a rehire delivered after its application's last write is due for
    write-back again (from READY_TO_ONBOARD); one already written for is not."""
    from datetime import timedelta

    from alembic import command
    from alembic.config import Config

    from syncd.mirror.db import MIGRATIONS, head_revision, migrate
    from syncd.mirror.deliveries import writeback_due

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    t0 = utcnow()
    t = [t0 + timedelta(seconds=i) for i in range(4)]
    hire = (
        "INSERT INTO deliveries (tenant, sink, delivery_id, event_type, candidate_id, job_id, "
        "state, attempts, hire_round, sink_status, created_at, updated_at, delivered_at) VALUES "
        "('t', 'hr', :id, 'application.hired', :c, 'j1', :state, 1, :n, :st, :at, :at, :dat)"
    )
    write = (
        "INSERT INTO onboarding_writes (tenant, candidate_id, job_id, status, written_at) "
        "VALUES ('t', :c, 'j1', :status, :at)"
    )
    ok = "ONBOARDING_SUCCESSFUL"
    with db.begin() as conn:
        # c1: round 1 delivered and written for; round 2 delivered after the last write.
        for id_, n, at in (("m1", 1, t[0]), ("m2", 2, t[2])):
            conn.execute(text(hire), {"id": id_, "c": "c1", "state": "delivered", "n": n,
                                      "st": ok, "at": at, "dat": at})  # fmt: skip
        conn.execute(text(write), {"c": "c1", "status": ok, "at": t[1]})
        # c2: round 1 refused, round 2 delivered, then its final status written.
        conn.execute(text(hire), {"id": "m3", "c": "c2", "state": "rejected", "n": 1,
                                  "st": None, "at": t[0], "dat": None})  # fmt: skip
        conn.execute(text(hire), {"id": "m4", "c": "c2", "state": "delivered", "n": 2,
                                  "st": ok, "at": t[1], "dat": t[1]})  # fmt: skip
        conn.execute(text(write), {"c": "c2", "status": ok, "at": t[3]})
        # c3: a write whose delivery is gone (an operator's cleanup): round 1.
        conn.execute(text(write), {"c": "c3", "status": "READY_TO_ONBOARD", "at": t[3]})
    before, after = migrate(db)
    assert before == "0009" and after == head_revision(db)
    w = s.onboarding_writes
    with db.begin() as conn:
        rows = conn.execute(select(w.c.candidate_id, w.c.hire_round, w.c.status)).all()
        assert sorted(tuple(r) for r in rows) == [
            ("c1", 1, ok),
            ("c2", 2, ok),
            ("c3", 1, "READY_TO_ONBOARD"),
        ]
        due = writeback_due(conn, "t", "hr")
        assert [(r["candidate_id"], r["hire_round"]) for r in due] == [("c1", 2)]


def test_integer_arguments_past_the_databases_range_are_usage_errors(
    db: Engine, db_url: str
) -> None:
    """Every integer argument of ``changes`` and ``deliveries`` is bounded by the largest
    integer both databases take (``cli_errors.BIGINT_MAX``, 2**63 - 1): the maximum itself is
    asked of the database as any value; one more is exit 2 naming the argument and its range,
    never an OverflowError (exit 1)."""
    env = {**os.environ, "SYNCD_DATABASE_URL": db_url, "SYNCD_TENANT": TENANT}
    env.pop("SYNCD_CONFIG", None)
    top = 2**63 - 1

    def syncd(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncd", *args], env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip

    for args, name in [
        (("deliveries", "retry", "{}"), "'[IDS]...'"),
        (("deliveries", "skip", "{}", "--reason", "x"), "'DELIVERY'"),
        (("deliveries", "list", "--limit", "{}"), "'--limit'"),
        (("changes", "--since", "{}"), "'--since'"),
        (("changes", "--limit", "{}"), "'--limit'"),
    ]:
        over = syncd(*(a.format(top + 1) for a in args))
        assert (over.returncode, over.stdout) == (2, ""), over.stderr
        assert f"Invalid value for {name}: {top + 1} is not in the range" in over.stderr
        assert "Traceback" not in over.stderr and "OverflowError" not in over.stderr
    # Not a whole number: what is expected, not click's "is not a valid integer range".
    for args, name, value, low in [
        (("deliveries", "retry", "abc"), "'[IDS]...'", "abc", 1),
        (("deliveries", "skip", "abc", "--reason", "x"), "'DELIVERY'", "abc", 1),
        (("changes", "--limit", "abc"), "'--limit'", "abc", 1),
        (("changes", "--since", "1.5"), "'--since'", "1.5", 0),
    ]:
        bad = syncd(*args)
        assert (bad.returncode, bad.stdout) == (2, ""), bad.stderr
        assert bad.stderr.strip().endswith(
            f"Invalid value for {name}: {value!r} is not a whole number; expected one from "
            f"{low} to {top}"
        ), bad.stderr
    assert syncd("changes", "--since", str(top)).returncode == 0
    listed = syncd("deliveries", "list", "--limit", str(top), "--json")
    assert (listed.returncode, json.loads(listed.stdout)) == (0, [])
    retried = syncd("deliveries", "retry", str(top))
    assert retried.returncode == 2 and "not dead letters" in retried.stderr
    skipped = syncd("deliveries", "skip", str(top), "--reason", "x")
    assert (skipped.returncode, skipped.stderr.strip()) == (
        2,
        f"syncd: delivery {top} does not exist or was delivered already",
    )
