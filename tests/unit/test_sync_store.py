"""Mirror writes on a migrated SQLite file: upserts by hash, tombstones, checkpoints, outbox,
quarantine, and a pass that keeps going past a bad record (fake client: a pure unit test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from syncd.ats import Page
from syncd.ats.paging import CursorPosition
from syncd.config import SyncSettings
from syncd.mirror import records as rec
from syncd.mirror import schema as s
from syncd.mirror.db import SchemaError, make_engine, migrate, require_schema
from syncd.mirror.store import Change, Mirror
from syncd.sync.catalogue import JOBS
from syncd.sync.engine import Engine as SyncEngine

T0 = datetime(2024, 1, 1)


def cand(cid: str, name: str = "Ada", updated: str = "2024-01-01T00:00:00.000Z") -> dict[str, Any]:
    return {
        "id": cid,
        "firstName": name,
        "lastName": "L",
        "email": f"{cid}@x",
        "updatedOn": updated,
    }


def test_schema_check_names_the_fix(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaError, match="run `syncd migrate`"):
        require_schema(eng)
    migrate(eng)
    require_schema(eng)
    assert migrate(eng)[0] == migrate(eng)[1]  # idempotent


def test_upsert_inserts_updates_and_skips_unchanged(db: Engine) -> None:
    m = Mirror(db, "t")
    with m.begin() as conn:
        r1 = m.upsert(
            conn, s.candidates, [rec.candidate_row(cand("a")), rec.candidate_row(cand("b"))], now=T0
        )
    assert len(r1.inserted) == 2
    with m.begin() as conn:
        r2 = m.upsert(
            conn,
            s.candidates,
            [rec.candidate_row(cand("a")), rec.candidate_row(cand("b", "Bea"))],
            now=T0 + timedelta(1),
        )
    assert [r["id"] for r in r2.unchanged] == ["a"]
    assert [(o["first_name"], n["first_name"]) for o, n in r2.updated] == [("Ada", "Bea")]
    with db.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(s.candidates))}
    assert rows["b"].first_seen_at == T0 and rows["b"].last_seen_at == T0 + timedelta(1)
    assert rows["a"].last_seen_at == T0  # unchanged rows are not written


def test_tenants_do_not_see_each_other(db: Engine) -> None:
    a, b = Mirror(db, "a"), Mirror(db, "b")
    with a.begin() as conn:
        a.upsert(conn, s.candidates, [rec.candidate_row(cand("x"))], now=T0)
    with b.begin() as conn:
        assert (
            len(b.upsert(conn, s.candidates, [rec.candidate_row(cand("x"))], now=T0).inserted) == 1
        )


def test_tombstone_removes_personal_data(db: Engine) -> None:
    m = Mirror(db, "t")
    with m.begin() as conn:
        m.upsert(
            conn,
            s.candidates,
            [rec.candidate_row({**cand("a"), "createdOn": "2023-01-01T00:00:00Z"})],
            now=T0,
        )
        gone = m.tombstone(
            conn,
            s.candidates,
            s.candidates.c.id == "a",
            at=T0,
            clear=("first_name", "last_name", "email"),
        )
    assert len(gone) == 1
    with db.connect() as conn:
        row = conn.execute(select(s.candidates)).one()
    assert (row.first_name, row.last_name, row.email) == (None, None, None)
    assert row.raw == {
        "id": "a",
        "createdOn": "2023-01-01T00:00:00Z",
        "updatedOn": "2024-01-01T00:00:00.000Z",
    }
    assert row.deleted_at == T0


def test_checkpoint_and_outbox_commit_together_or_not_at_all(db: Engine) -> None:
    m = Mirror(db, "t")
    with pytest.raises(RuntimeError), m.begin() as conn:
        m.upsert(conn, s.candidates, [rec.candidate_row(cand("a"))], now=T0)
        m.emit(conn, [Change("candidates", "a", "created")], run_id="r", now=T0)
        m.save_state(conn, "candidates", pass_page="p2")
        raise RuntimeError("killed mid-page")
    with m.begin() as conn:
        assert m.state(conn, "candidates")["pass_page"] is None
        assert conn.execute(select(s.changes)).all() == []
        assert conn.execute(select(s.candidates)).all() == []


class FakeJobs:
    def __init__(self, pages: list[list[Any]]) -> None:
        self._pages = pages

    async def _gen(self) -> AsyncIterator[Page]:
        for i, items in enumerate(self._pages):
            yield Page(items, str(i + 1) if i + 1 < len(self._pages) else None)

    def pages(self, **kw: Any) -> AsyncIterator[Page]:
        return self._gen()

    async def status_history(self, jid: str) -> list[Any]:
        return [{"changedOn": "2024-01-01T00:00:00Z", "status": "CREATED"}]

    async def hiring_team(self, jid: str) -> list[Any]:
        return []

    async def positions(self, jid: str) -> list[Any]:
        return []


class FakeClient:
    calls = 0

    def __init__(self, pages: list[list[Any]]) -> None:
        self.jobs = FakeJobs(pages)
        self._pages = pages

    def paged(self, paginator: Any, path: str, params: Any, **kw: Any) -> AsyncIterator[Page]:
        """The pages through the resource's own paginator, answered without a network."""

        async def fetch(path: str, query: dict[str, Any]) -> tuple[httpx.Response, Any]:
            i = int(query.get("pageId") or 0)
            nxt = str(i + 1) if i + 1 < len(self._pages) else None
            return httpx.Response(200), {"content": self._pages[i], "nextPageId": nxt}

        return paginator.pages(fetch, path, params, **kw)  # type: ignore[no-any-return]


def test_bad_record_is_quarantined_and_the_pass_goes_on(db: Engine) -> None:
    m = Mirror(db, "t")
    good = {"id": "j1", "title": "A", "status": "SOURCING", "updatedOn": "2024-02-01T00:00:00Z"}
    pages = [[good, {"title": "no id"}, "not an object"], [{**good, "id": "j2"}]]
    # The fake client serves the job list and its children only: no approval reads.
    eng = SyncEngine(m, FakeClient(pages), SyncSettings(approvals=False))
    report = asyncio.run(eng.run_resource(JOBS, "backfill"))
    assert report.status == "ok"
    assert (report.counts.fetched, report.counts.inserted, report.counts.quarantined) == (4, 2, 2)
    with db.connect() as conn:
        q = conn.execute(select(s.quarantine).order_by(s.quarantine.c.id)).all()
        assert [r.reason for r in q] == [
            "job: missing or empty 'id'",
            "job: expected a JSON object, got str",
        ]
        assert q[0].raw == {"title": "no id"}
        run = conn.execute(select(s.sync_runs)).one()
        assert (run.status, run.fetched, run.quarantined) == ("ok", 4, 2)
        st = m.state(conn, "jobs")
    # Cursor = start of the pass - lag window; the pass is closed.
    assert st["cursor"] == st["last_pass_started_at"] - timedelta(seconds=300)
    assert st["pass_mode"] is None


def test_insert_new_keeps_stored_rows_and_returns_only_new_ones(db: Engine) -> None:
    """Immutable records: a replayed event or history entry is left as stored (no update, even
    when its payload differs), and the caller learns which rows were really new."""
    m = Mirror(db, "t")

    def event(eid: str, name: str = "JOB_APPLICATION_CREATED") -> dict[str, Any]:
        return {"id": eid, "eventName": name, "eventDate": "2024-01-02T03:04:05.678Z"}

    with m.begin() as conn:
        first = m.insert_new(
            conn, s.audit_events, [rec.audit_row(event("1")), rec.audit_row(event("2"))], now=T0
        )
    assert [r["id"] for r in first] == ["1", "2"]
    later = T0 + timedelta(days=1)
    with m.begin() as conn:
        again = m.insert_new(
            conn,
            s.audit_events,
            [rec.audit_row(event("2", "CHANGED")), rec.audit_row(event("3"))],
            now=later,
        )
    assert [r["id"] for r in again] == ["3"]
    with db.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(s.audit_events))}
    assert rows["2"].event_name == "JOB_APPLICATION_CREATED"  # stored row untouched
    assert rows["2"].first_seen_at == T0 and rows["3"].first_seen_at == later
    assert rows["3"].event_date == datetime(2024, 1, 2, 3, 4, 5, 678000)
    assert rows["3"].raw == event("3") and rows["3"].tenant == "t"
    # Keys holding a timestamp (history entries) match what the database returns.
    entry = rec.app_history_row(
        "c", "j", None, {"changedOn": "2024-01-02T03:04:05.000Z", "status": "NEW"}, 7
    )
    with m.begin() as conn:
        assert len(m.insert_new(conn, s.application_status_history, [entry], now=T0)) == 1
        assert m.insert_new(conn, s.application_status_history, [entry], now=T0) == []
    with db.connect() as conn:
        h = conn.execute(select(s.application_status_history)).one()
    assert (h.changed_on, h.ordinal, h.deleted_at) == (datetime(2024, 1, 2, 3, 4, 5), 7, None)


class FakeAudit:
    """Audit pages, then an API error (or the end) after ``fail_after`` pages."""

    def __init__(self, pages: list[list[Any]], fail_after: int | None) -> None:
        self._pages = pages
        self.fail_after = fail_after

    async def fetch(self, path: str, query: dict[str, Any]) -> tuple[httpx.Response, Any]:
        i = int(query.get("nextPageId") or 0)
        if self.fail_after is not None and i >= self.fail_after:
            raise RuntimeError("API down")
        nxt = str(i + 1) if i + 1 < len(self._pages) else None
        return httpx.Response(200), {"content": self._pages[i], "nextPageId": nxt}


class FakeAuditClient:
    calls = 0

    def __init__(self, audit: FakeAudit) -> None:
        self.audit = audit

    def paged(self, paginator: Any, path: str, params: Any, **kw: Any) -> AsyncIterator[Page]:
        return paginator.pages(self.audit.fetch, path, params, **kw)  # type: ignore[no-any-return]


def walk_position(m: Mirror, conn: Any, resource: str) -> Any:
    """Where the pass in progress resumes its walk (the paginator's position)."""
    from syncd.sync import checkpoints as ck
    from syncd.sync.catalogue import BY_NAME

    res = BY_NAME[resource]
    ckpt = ck.load(resource, res.paginator, m.state(conn, resource)["pass_page"])
    assert isinstance(ckpt, ck.WalkCheckpoint)
    return ckpt.position


def audit_pages(n: int) -> list[list[Any]]:
    return [
        [
            {"id": f"{p}-{i}", "eventName": "X", "eventDate": "2024-01-02T03:04:05.000Z"}
            for i in range(3)
        ]
        for p in range(n)
    ]


def test_grouped_pages_commit_with_their_checkpoint(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit pages share a transaction (GROUP_PAGES). An API error mid-group keeps the pages
    written so far with their checkpoint; a failing write rolls back its whole group, checkpoint
    included; the rerun resumes from the checkpoint and stores every event exactly once."""
    from syncd.sync import engine as engine_mod
    from syncd.sync.catalogue import AUDIT

    m = Mirror(db, "t")
    pages = audit_pages(7)
    audit = FakeAudit(pages, fail_after=5)  # GROUP_PAGES is 10: all five in one open group
    with pytest.raises(RuntimeError, match="API down"):
        asyncio.run(
            SyncEngine(m, FakeAuditClient(audit), SyncSettings()).run_resource(AUDIT, "backfill")
        )
    with db.connect() as conn:
        assert walk_position(m, conn, "audit") == CursorPosition("5", 15, None)
        assert conn.execute(select(func.count()).select_from(s.audit_events)).scalar_one() == 15

    real = engine_mod.Engine._write

    def failing(self: Any, conn: Any, res: Any, prepared: Any, *a: Any, **kw: Any) -> None:
        if prepared["rows"] and prepared["rows"][0]["id"].startswith("6-"):
            raise RuntimeError("disk full")
        real(self, conn, res, prepared, *a, **kw)

    monkeypatch.setattr(engine_mod.Engine, "_write", failing)
    audit.fail_after = None
    with pytest.raises(RuntimeError, match="disk full"):
        asyncio.run(
            SyncEngine(m, FakeAuditClient(audit), SyncSettings()).run_resource(AUDIT, "backfill")
        )
    with db.connect() as conn:  # page "5-*" shared the failed group of "6-*": rolled back
        assert walk_position(m, conn, "audit") == CursorPosition("5", 15, None)
        assert conn.execute(select(func.count()).select_from(s.audit_events)).scalar_one() == 15

    monkeypatch.setattr(engine_mod.Engine, "_write", real)
    report = asyncio.run(
        SyncEngine(m, FakeAuditClient(audit), SyncSettings()).run_resource(AUDIT, "backfill")
    )
    assert report.status == "ok"
    with db.connect() as conn:
        ids = [r.id for r in conn.execute(select(s.audit_events.c.id))]
        assert m.state(conn, "audit")["pass_mode"] is None
    assert sorted(ids) == sorted(e["id"] for p in pages for e in p)
