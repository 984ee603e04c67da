"""A walk that cannot prove it saw every record is incomplete, and one record the database
refuses never stops a page: crafted pages over real HTTP (``crafted_api``), SQLite and
PostgreSQL. An incomplete pass is recorded ``incomplete`` with its reason, exits 4 from the CLI,
tombstones nothing, leaves the cursor where it was, and the next pass walks again."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from syncd.mirror import schema as s
from syncd.mirror.store import Mirror
from tests.conftest import TOKEN
from tests.integration.crafted_api import (
    CraftedApi,
    CursorPages,
    candidate,
    honest,
    offer,
    offsets,
    serve,
)
from tests.integration.test_mirror_sync import TENANT, run_pass, settings_for

NINE = [candidate(n) for n in range(1, 10)]


@pytest.fixture
def api() -> Iterator[CraftedApi]:
    yield from serve()


@pytest.fixture
def mirror_db(db: Engine) -> Engine:
    """The migrated mirror of ``db_url`` (conftest's ``db``)."""
    return db


def live_ids(db: Engine, table: Any = s.candidates) -> set[str]:
    with db.connect() as conn:
        return {r.id for r in conn.execute(select(table).where(table.c.deleted_at.is_(None)))}


def state(db: Engine, resource: str) -> dict[str, Any]:
    with db.connect() as conn:
        return Mirror(db, TENANT).state(conn, resource)


def last_run(db: Engine, resource: str) -> Any:
    with db.connect() as conn:
        return conn.execute(
            select(s.sync_runs)
            .where(s.sync_runs.c.resource == resource)
            .order_by(s.sync_runs.c.id.desc())
        ).first()


def deleted_changes(db: Engine) -> list[Any]:
    with db.connect() as conn:
        return list(conn.execute(select(s.changes).where(s.changes.c.kind == "deleted")))


# ---- the case, through the CLI ---------------------------------------------------------
def cli(api: CraftedApi, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SYNCD_DATABASE_URL": url,
        "SYNCD_TENANT": TENANT,
        "SYNCD_SMARTRECRUITERS__BASE_URL": api.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000",
        "SYNCD_LOG_LEVEL": "error",
    }
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# "" -> A -> B -> A: the third page's records (c7..c9) are never offered.
CYCLE: CursorPages = {
    "": (NINE[0:3], "A", 9),
    "A": (NINE[3:6], "B", 9),
    "B": (NINE[0:3], "A", 9),
}


def test_a_cycling_token_is_incomplete_and_deletes_nothing(
    api: CraftedApi, db: Engine, db_url: str
) -> None:
    api.candidates = CYCLE
    first = cli(api, db_url, "backfill", "--resources", "candidates")
    assert first.returncode == 4, first.stderr
    assert "candidates: incomplete: page token repeated after 3 pages (a cycle)" in first.stderr
    assert "Traceback" not in first.stderr
    run = last_run(db, "candidates")
    assert (run.status, run.error_message) == (
        "incomplete",
        "page token repeated after 3 pages (a cycle)",
    )
    assert live_ids(db) == {f"c{n}" for n in range(1, 7)}
    assert state(db, "candidates")["cursor"] is None  # nothing proves the walk complete
    assert state(db, "backfill")["pass_mode"] == "backfill"  # the backfill is still owed

    api.candidates = honest(NINE, 3)
    again = cli(api, db_url, "backfill", "--resources", "candidates")
    assert again.returncode == 0, again.stderr
    assert live_ids(db) == {c["id"] for c in NINE}
    cursor = state(db, "candidates")["cursor"]
    assert cursor is not None and state(db, "backfill")["pass_mode"] is None

    # The seen-before case: a sweep over a cycling listing tombstones nothing.
    api.candidates = CYCLE
    sweep = cli(api, db_url, "sync", "--once", "--sweep")
    assert sweep.returncode == 4, sweep.stderr
    assert live_ids(db) == {c["id"] for c in NINE}
    assert deleted_changes(db) == []
    assert state(db, "candidates")["cursor"] == cursor
    assert last_run(db, "candidates").status == "incomplete"
    assert last_run(db, "jobs").status == "ok"  # the other passes were complete

    # A complete sweep still deletes what is gone.
    api.candidates = honest(NINE[:8], 3)
    done = cli(api, db_url, "sync", "--once", "--sweep")
    assert done.returncode == 0, done.stderr
    assert live_ids(db) == {c["id"] for c in NINE[:8]}
    assert [(c.resource, c.record_key) for c in deleted_changes(db)] == [("candidates", "c9")]


# ---- every kind, in the engine -----------------------------------------------------------------
KINDS: dict[str, tuple[CursorPages, str | None]] = {
    "short page": (
        {"": (NINE[0:3], "A", 9), "A": (NINE[3:6], None, 9)},
        "the listing ended after 6 of 9 records",
    ),
    "empty page": (
        {"": (NINE[0:3], "A", 9), "A": ([], "B", 9), "B": (NINE[3:9], None, 9)},
        "an empty page after 3 of 9 records",
    ),
    "total moved": (
        {"": (NINE[0:3], "A", 9), "A": (NINE[3:6], "B", 10), "B": (NINE[6:9], None, 10)},
        "the total changed from 9 to 10 during the walk",
    ),
    "token cycle": (CYCLE, "page token repeated after 3 pages (a cycle)"),
    # Records created during a walk come after every token: more than the total is complete.
    "grew": ({"": (NINE[0:5], "A", 8), "A": (NINE[5:9], None, 8)}, None),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_cursor_walks_that_cannot_prove_completeness(
    api: CraftedApi, mirror_db: Engine, db_url: str, kind: str
) -> None:
    st = settings_for(api, db_url)  # type: ignore[arg-type]
    api.candidates = honest(NINE[:8], 3)
    (ok,) = run_pass(st, mirror_db, "backfill", resources=["candidates"])
    assert ok.status == "ok" and live_ids(mirror_db) == {c["id"] for c in NINE[:8]}
    cursor = state(mirror_db, "candidates")["cursor"]

    pages, reason = KINDS[kind]
    api.candidates = pages
    for mode in ("sweep", "incremental"):
        (report,) = run_pass(st, mirror_db, mode, resources=["candidates"])
        run = last_run(mirror_db, "candidates")
        if reason is None:
            assert (report.status, run.status) == ("ok", "ok")
            continue
        assert (report.status, report.incomplete) == ("incomplete", reason)
        assert (run.status, run.error_message) == ("incomplete", reason)
        # Nothing deleted, the cursor where it was, no pass left to resume: the next walks again.
        assert live_ids(mirror_db) >= {c["id"] for c in NINE[:6]}
        assert deleted_changes(mirror_db) == []
        after = state(mirror_db, "candidates")
        assert (after["cursor"], after["pass_mode"]) == (cursor, None)


def shifting(items: list[dict[str, Any]]) -> Any:
    """Offset pages where the first offer vanishes after the first page was served."""
    served = [0]

    def pages(off: int, lim: int) -> tuple[list[dict[str, Any]], int]:
        now = items if served[0] == 0 else items[1:]
        served[0] += 1
        return now[off : off + lim], len(now)

    return pages


OFFSET_KINDS: dict[str, tuple[Any, str | None]] = {
    "honest": (lambda: offsets([offer(n) for n in range(1, 6)]), None),
    "shifted": (
        lambda: shifting([offer(n) for n in range(1, 6)]),
        "the total changed from 5 to 4 during the walk (offset paging, at offset 2)",
    ),
    "short page": (
        lambda: (
            lambda off, lim: ([offer(n) for n in range(1, 6)][off : off + (1 if off else lim)], 5)
        ),
        "a short page at offset 2 of a total of 5",
    ),
}


@pytest.mark.parametrize("kind", list(OFFSET_KINDS))
def test_offset_walks_that_cannot_prove_completeness(
    api: CraftedApi, mirror_db: Engine, db_url: str, kind: str
) -> None:
    st = settings_for(api, db_url, page_size=2)  # type: ignore[arg-type]
    make, reason = OFFSET_KINDS[kind]
    api.offers = make()  # fresh: the shifting listing keeps state
    (report,) = run_pass(st, mirror_db, "backfill", resources=["offers"])
    run = last_run(mirror_db, "offers")
    if reason is None:
        assert (report.status, run.status) == ("ok", "ok")
        assert live_ids(mirror_db, s.offers) == {f"o{n}" for n in range(1, 6)}
        assert state(mirror_db, "offers")["cursor"] is not None
        return
    assert (report.status, run.status, run.error_message) == ("incomplete", "incomplete", reason)
    assert state(mirror_db, "offers")["cursor"] is None
    assert report.pages == 2  # the walk stopped at the page that showed it


# ---- one record the database refuses -----------------------------------------------------------
def test_one_bad_record_never_stops_the_page(
    api: CraftedApi, mirror_db: Engine, db_url: str
) -> None:
    """NUL characters are removed on both databases (PostgreSQL cannot store them); a value a
    column cannot hold nulls its typed column, or quarantines the record when it is the key; the
    rest of the page is written; SQLite and PostgreSQL end with the same rows."""
    long_id = "c" + "9" * 69
    page = [
        candidate(1),
        candidate(2, lastName="Sm\u0000ith", tags={"k\u0000ey": "v\u0000"}),
        candidate(3, id=long_id, lastName="Refused"),
        candidate(4, location={"city": "Berlin", "countryCode": "DEUTSCHLAND-LONG-CODE"}),
        candidate(5),
    ]
    api.candidates = honest(page, 5)
    st = settings_for(api, db_url)  # type: ignore[arg-type]
    (report,) = run_pass(st, mirror_db, "backfill", resources=["candidates"])
    assert report.status == "ok"
    assert (report.counts.inserted, report.counts.quarantined) == (4, 1)
    with mirror_db.connect() as conn:
        rows = {
            r.id: (r.last_name, r.country_code, r.city, r.raw.get("tags"))
            for r in conn.execute(select(s.candidates))
        }
        q = conn.execute(select(s.quarantine)).one()
    assert rows == {
        "c1": ("Last1", None, None, None),
        "c2": ("Smith", None, None, {"key": "v"}),
        "c4": ("Last4", None, "Berlin", None),
        "c5": ("Last5", None, None, None),
    }
    assert (q.resource, q.record_key) == ("candidates", long_id)
    assert q.reason == "Unstorable: candidates.id holds 70 characters, the column 64"
    assert q.raw["lastName"] == "Refused"
    # The refused record was listed: a sweep does not take it for deleted, nor the others.
    (sweep,) = run_pass(st, mirror_db, "sweep", resources=["candidates"])
    assert (sweep.status, sweep.counts.deleted) == ("ok", 0)


def test_a_database_refusal_quarantines_one_record(mirror_db: Engine) -> None:
    """The per-record fallback against the database's own refusal (a duplicate key, refused by
    both): the others are written, the reason carries no value of the record; an error that is
    not about a record fails the write."""
    from sqlalchemy import insert, text

    from syncd.mirror.isolate import write_isolated

    now = datetime(2024, 1, 1)

    def row(i: str, name: str) -> dict[str, Any]:
        return {
            "tenant": TENANT,
            "id": i,
            "last_name": name,
            "raw": {},
            "content_hash": "h",
            "first_seen_at": now,
            "last_seen_at": now,
        }

    with mirror_db.begin() as conn:
        conn.execute(insert(s.candidates), [row("zq9x", "Stored")])
    refused: list[tuple[str, str]] = []
    batch = [row(f"n{i}", f"Name{i}") for i in range(7)] + [row("zq9x", "Secretname")]
    # The savepoints nest in the caller's transaction: when it rolls back, so does every part.
    with pytest.raises(RuntimeError, match="rolled back"), mirror_db.begin() as conn:
        write_isolated(
            conn,
            batch[:7],
            lambda part: conn.execute(insert(s.candidates), list(part)),
            lambda r, why: None,
        )
        raise RuntimeError("rolled back")
    assert live_ids(mirror_db) == {"zq9x"}
    with mirror_db.begin() as conn:
        write_isolated(
            conn,
            batch,
            lambda part: conn.execute(insert(s.candidates), list(part)),
            lambda r, why: refused.append((r["id"], why)),
        )
    assert [k for k, _ in refused] == ["zq9x"]
    assert refused[0][1].startswith(("IntegrityError: ", "UniqueViolation: "))
    assert "Secretname" not in refused[0][1] and "zq9x" not in refused[0][1]
    assert live_ids(mirror_db) == {"zq9x", *(f"n{i}" for i in range(7))}

    def broken(part: Any) -> None:
        conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception, match="no_such_table"), mirror_db.begin() as conn:
        write_isolated(conn, batch[:2], broken, lambda r, why: refused.append((r["id"], why)))
    assert len(refused) == 1


def test_one_bad_record_never_stops_a_follow_up_batch(
    api: CraftedApi, mirror_db: Engine, db_url: str
) -> None:
    """Interviews read after the walk: an interview whose id no column can hold quarantines its
    application's answer; the other applications of the batch get their interviews."""
    interviewing = {"job": {"id": "j1", "title": "T"}, "status": "INTERVIEW"}
    api.candidates = honest([candidate(n, primaryAssignment=interviewing) for n in (1, 2, 3)], 3)
    api.interviews = {
        f"a-c{n}-j1": [{"id": "i" * 70 if n == 2 else f"i{n}", "createdOn": "2024-01-03T00:00Z"}]
        for n in (1, 2, 3)
    }
    st = settings_for(api, db_url, approvals=False)  # type: ignore[arg-type]
    (report,) = run_pass(st, mirror_db, "backfill", resources=["candidates"])
    assert report.status == "ok"
    with mirror_db.connect() as conn:
        ivs = {r.id: r.candidate_id for r in conn.execute(select(s.interviews))}
        q = conn.execute(select(s.quarantine)).one()
        owed = conn.execute(
            select(s.applications.c.candidate_id).where(
                s.applications.c.interviews_pending.is_(True)
            )
        ).all()
    assert ivs == {"i1": "c1", "i3": "c3"}
    assert (q.resource, q.record_key) == ("applications", "c2/j1")
    assert q.reason == "Unstorable: interviews.id holds 70 characters, the column 64"
    assert owed == []  # the batch ended: no call is owed again
