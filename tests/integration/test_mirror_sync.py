"""The mirror against the sandbox over real HTTP: backfill equals the snapshot, incremental passes
write only changes, same-second updates, deletions, faults; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, insert, select, text

from syncd.config import Settings, load_settings
from syncd.mirror import schema as s
from syncd.mirror.records import format_ts, parse_ts
from syncd.mirror.store import Mirror
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from syncd.sync.engine import Engine as SyncEngine
from syncd.sync.engine import PassReport
from tests.conftest import TOKEN, sandbox_options

TENANT = "t1"


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=150, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def settings_for(srv: ThreadServer, url: str, **sync: Any) -> Settings:
    return load_settings(
        database_url=url,
        tenant=TENANT,
        smartrecruiters={
            "base_url": srv.base_url,
            "api_key": TOKEN,
            "max_retries": 12,
            "rate_limit": 1000,
        },
        sync=sync,
    )


def run_pass(st: Settings, db: Engine, mode: str, **kw: Any) -> list[PassReport]:
    from syncd.ats import SmartRecruitersClient

    async def go() -> list[PassReport]:
        async with SmartRecruitersClient(st.smartrecruiters) as sr:
            return await SyncEngine(Mirror(db, TENANT), sr, st.sync).run(mode, **kw)

    return asyncio.run(go())


def control(srv: ThreadServer, path: str, body: dict[str, Any] | None = None) -> Any:
    r = httpx.post(f"{srv.base_url}/_sandbox/{path}", json=body or {}, timeout=60)
    r.raise_for_status()
    return r.json()


def snapshot(srv: ThreadServer) -> dict[str, Any]:
    return httpx.get(f"{srv.base_url}/_sandbox/snapshot", timeout=60).json()  # type: ignore[no-any-return]


# ---- the comparison -----------------------------------------------------------------------------
def ts(dt: datetime | None) -> str | None:
    return format_ts(dt) if dt is not None else None


def norm(value: str | None) -> str | None:
    dt = parse_ts(value)
    return format_ts(dt) if dt else None


def mirror_view(db: Engine) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with db.connect() as conn:

        def live(t: Any) -> list[Any]:
            return list(
                conn.execute(select(t).where(t.c.tenant == TENANT, t.c.deleted_at.is_(None)))
            )

        out["jobs"] = {r.id: (r.status, ts(r.updated_on)) for r in live(s.jobs)}
        jh: dict[str, list[Any]] = {}
        for r in sorted(live(s.job_status_history), key=lambda r: r.ordinal):
            jh.setdefault(r.job_id, []).append((ts(r.changed_on), r.status))
        out["job_history"] = jh
        out["positions"] = {r.id: r.job_id for r in live(s.positions)}
        out["candidates"] = {
            r.id: (r.first_name, r.last_name, r.email, ts(r.updated_on)) for r in live(s.candidates)
        }
        out["applications"] = {
            (r.candidate_id, r.job_id): {
                "id": r.application_id,
                "status": r.status,
                "subStatus": r.sub_status,
                "createdOn": ts(r.created_on),
                "details": (r.source_id, ts(r.starts_on), r.onboarding_status)
                if r.status in ("OFFERED", "HIRED")
                else None,
            }
            for r in live(s.applications)
        }
        hist: dict[tuple[str, str], list[Any]] = {}
        for r in sorted(
            live(s.application_status_history), key=lambda r: (r.changed_on, r.ordinal)
        ):
            hist.setdefault((r.candidate_id, r.job_id), []).append(
                (ts(r.changed_on), r.status, r.sub_status)
            )
        out["app_history"] = hist
        out["offers"] = {r.id: (r.candidate_id, r.job_id, r.status) for r in live(s.offers)}
        gone = conn.execute(
            select(s.candidates).where(s.candidates.c.deleted_at.is_not(None))
        ).all()
        out["tombstones"] = {r.id: (r.first_name, r.email, sorted(r.raw)) for r in gone}
    return out


def sandbox_view(snap: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["jobs"] = {j["id"]: (j["status"], norm(j["updatedOn"])) for j in snap["jobs"].values()}
    out["job_history"] = {
        j["id"]: [(norm(h["changedOn"]), h["status"]) for h in j["statusHistory"]]
        for j in snap["jobs"].values()
    }
    out["positions"] = {p["id"]: j["id"] for j in snap["jobs"].values() for p in j["positions"]}
    apps = snap["applications"].values()
    with_apps = {a["candidateId"] for a in apps}
    out["candidates"] = {
        c["id"]: (c["firstName"], c["lastName"], c.get("email"), norm(c["updatedOn"]))
        for c in snap["candidates"].values()
        if c["id"] in with_apps
    }
    out["applications"] = {
        (a["candidateId"], a["jobId"]): {
            "id": a["id"],
            "status": a["status"],
            "subStatus": a.get("subStatus"),
            "createdOn": norm(a["createdOn"]),
            "details": (a["source"]["sourceId"], norm(a.get("startsOn")), a.get("onboardingStatus"))
            if a["status"] in ("OFFERED", "HIRED")
            else None,
        }
        for a in apps
    }
    out["app_history"] = {
        (a["candidateId"], a["jobId"]): [
            (norm(h["changedOn"]), h["status"], h.get("subStatus")) for h in a["history"]
        ]
        for a in apps
    }
    out["offers"] = {
        o["id"]: (o["candidateId"], o["jobId"], o["status"]) for o in snap["offers"].values()
    }
    return out


def assert_equal(db: Engine, srv: ThreadServer) -> dict[str, Any]:
    mine, truth = mirror_view(db), sandbox_view(snapshot(srv))
    for part in (
        "jobs",
        "job_history",
        "positions",
        "candidates",
        "applications",
        "app_history",
        "offers",
    ):
        a, b = mine[part], truth[part]
        missing = sorted(set(b) - set(a))[:3]
        extra = sorted(set(a) - set(b))[:3]
        wrong = [(k, a[k], b[k]) for k in b if k in a and a[k] != b[k]][:3]
        assert not (missing or extra or wrong), (
            f"{part}: missing {missing} extra {extra} wrong {wrong}"
        )
    for cid, (first, email, raw_keys) in mine["tombstones"].items():
        assert first is None and email is None, cid
        assert set(raw_keys) <= {"id", "createdOn", "updatedOn"}, raw_keys
    return mine


def outbox(db: Engine, after: int = 0) -> list[Any]:
    with db.connect() as conn:
        return list(
            conn.execute(
                select(s.changes).where(s.changes.c.sequence > after).order_by(s.changes.c.sequence)
            )
        )


def max_seq(db: Engine) -> int:
    rows = outbox(db)
    return rows[-1].sequence if rows else 0


# ---- tests --------------------------------------------------------------------------------------
def test_backfill_equals_snapshot_and_noop_pass_is_cheap(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    reports = run_pass(st, db, "backfill")
    assert all(r.status == "ok" for r in reports)
    assert_equal(db, tenant)
    by = {r.resource: r for r in reports}
    # Histories came from the audit feed: the candidates pass spent its list pages, one details
    # call per offered or hired application, one full-record call per candidate with one, one
    # interviews call per application that reached INTERVIEW, and not one history call.
    apps = snapshot(tenant)["applications"].values()
    details = sum(1 for a in apps if a["status"] in ("OFFERED", "HIRED"))
    records = len({a["candidateId"] for a in apps if a["status"] in ("OFFERED", "HIRED")})
    interviewed = sum(1 for a in apps if any(h["status"] == "INTERVIEW" for h in a["history"]))
    calls = by["candidates"].pages + details + records + interviewed
    assert by["candidates"].counts.api_calls == calls
    # Nothing changed: a pass spends at most one call per resource and writes nothing.
    control(tenant, "clock", {"advance": 3600})
    st0 = settings_for(tenant, db_url, lag_window_seconds=0)
    seq = max_seq(db)
    # The outbox is written: every mirrored candidate has its one "created" record.
    created = [
        c.record_key for c in outbox(db) if (c.resource, c.kind) == ("candidates", "created")
    ]
    assert sorted(created) == sorted(mirror_view(db)["candidates"]) != []
    for i in range(2):
        quiet = run_pass(st0, db, "incremental")
        # The first replays the backfill's lag window of audit events, unchanged; the second
        # starts after it.
        if i == 1:
            assert [r.counts.api_calls for r in quiet] == [1, 1, 1, 1]
        assert sum(r.counts.inserted + r.counts.updated for r in quiet) == 0
        assert [(c.resource, c.record_key, c.kind) for c in outbox(db, seq)] == []


def test_incremental_picks_up_every_change_and_writes_only_changes(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    seq = max_seq(db)
    done = control(tenant, "activity", {"steps": 60})["steps"]
    reports = run_pass(st, db, "incremental")
    assert all(r.status == "ok" for r in reports)
    assert_equal(db, tenant)
    changes = outbox(db, seq)
    touched = {f"{d['candidateId']}/{d['jobId']}" for d in done if d["kind"] != "delete"}
    app_changes = {c.record_key for c in changes if c.resource == "applications"}
    # Only what the activity touched shows up in the outbox (plus new offers / candidates).
    assert app_changes <= touched | {c.record_key for c in changes if c.kind == "deleted"}
    kinds = {c.kind for c in changes}
    assert "status_changed" in kinds or "created" in kinds
    deletes = [d for d in done if d["kind"] == "delete"]
    for d in deletes:
        assert any(
            c.resource == "candidates" and c.record_key == d["candidateId"] and c.kind == "deleted"
            for c in changes
        )


def test_same_second_update_is_not_missed(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    st = settings_for(tenant, db_url)
    control(tenant, "clock", {"freeze": True})
    run_pass(st, db, "backfill")
    snap = snapshot(tenant)
    app = next(a for a in snap["applications"].values() if a["status"] == "NEW")
    # Same frozen instant as everything the backfill saw and as the cursor's source.
    control(
        tenant,
        "status",
        {"candidateId": app["candidateId"], "jobId": app["jobId"], "status": "IN_REVIEW"},
    )
    control(tenant, "candidates/" + app["candidateId"] + "/update", {"firstName": "Frozen"})
    run_pass(st, db, "incremental")
    mine = assert_equal(db, tenant)
    assert mine["candidates"][app["candidateId"]][0] == "Frozen"
    assert mine["applications"][(app["candidateId"], app["jobId"])]["status"] == "IN_REVIEW"


def test_deletions_propagate(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    snap = snapshot(tenant)
    cands = sorted(snap["candidates"])[:3]
    job = sorted(snap["jobs"])[0]
    control(tenant, f"candidates/{cands[0]}/delete")
    control(tenant, f"candidates/{cands[1]}/delete", {"mergedInto": cands[2]})
    control(tenant, f"jobs/{job}/delete")
    run_pass(st, db, "incremental")
    mine = assert_equal(db, tenant)
    assert {cands[0], cands[1]} <= set(mine["tombstones"])
    with db.connect() as conn:
        row = conn.execute(select(s.jobs).where(s.jobs.c.id == job)).one()
        assert row.deleted_at is not None
        apps = conn.execute(
            select(s.applications).where(s.applications.c.candidate_id == cands[0])
        ).all()
        assert apps and all(a.deleted_at is not None for a in apps)


def test_sweep_marks_deleted_only_after_a_complete_pass(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill", resources=["jobs", "candidates", "offers"])
    victim = sorted(snapshot(tenant)["candidates"])[5]
    control(tenant, f"candidates/{victim}/delete")
    # No audit resource: only a complete pass can notice the deletion.
    run_pass(st, db, "incremental", resources=["jobs", "candidates", "offers"])
    assert victim not in mirror_view(db)["tombstones"]
    reports = run_pass(st, db, "sweep", resources=["jobs", "candidates", "offers"])
    assert {r.resource: r.counts.deleted for r in reports}["candidates"] == 1
    assert victim in mirror_view(db)["tombstones"]


def test_faults_converge(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    st = settings_for(tenant, db_url)
    control(
        tenant,
        "faults",
        {"spec": "429=0.03,500=0.03,reset=0.02,truncate=0.02", "timeoutSeconds": 0.2},
    )
    from syncd.ats import AtsError

    def until_ok(mode: str) -> None:
        for _ in range(10):
            try:
                if all(r.status == "ok" for r in run_pass(st, db, mode)):
                    return
            except AtsError:
                continue
        raise AssertionError("passes did not converge under faults")

    until_ok("backfill")
    control(tenant, "activity", {"steps": 40})
    until_ok("incremental")
    control(tenant, "faults", {"spec": ""})
    assert_equal(db, tenant)


def test_reporting_queries_run(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    from syncd.mirror.reporting import QUERIES, run_query

    run_pass(settings_for(tenant, db_url), db, "backfill")
    snap = snapshot(tenant)
    results = {name: run_query(db, name, TENANT) for name in QUERIES}
    pipeline = {r[0]: r[1] for r in results["pipeline_by_status"]}
    truth: dict[str, int] = {}
    for a in snap["applications"].values():
        truth[a["status"]] = truth.get(a["status"], 0) + 1
    assert pipeline == truth
    hired = sum(1 for a in snap["applications"].values() if a["status"] == "HIRED")
    assert sum(r[1] for r in results["hires_by_source"]) == hired
    ((n, avg_days),) = results["time_to_hire"]
    assert n == hired and avg_days > 0
    offers = list(snap["offers"].values())
    accepted = sum(1 for o in offers if o["status"] == "ACCEPTED")
    decided = sum(1 for o in offers if o["status"] in ("ACCEPTED", "NOT_ACCEPTED"))
    ((acc, dec, _rate),) = results["offer_acceptance_rate"]
    assert (acc, dec) == (accepted, decided)
    open_pos = sum(
        1 for j in snap["jobs"].values() for p in j["positions"] if p.get("status") == "OPEN"
    )
    assert sum(r[2] for r in results["open_positions"]) == open_pos


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_grown_table_gets_statistics_before_its_change_counts_arrive(db: Engine) -> None:
    """PostgreSQL 15 sends a session's changed-row counts up to 10 s late, so a pass shorter than
    that reads zero changes; a table filled since its last ANALYZE (here: never analyzed) is
    analyzed all the same, from the size of its file. Without, the follow-ups' statements were
    planned for an empty table (30 s for 261 applications)."""
    now = datetime(2026, 1, 1)
    rows = [
        {
            "tenant": TENANT,
            "id": f"e{i:04d}",
            "event_name": "CANDIDATE_UPDATED",
            "raw": {"id": f"e{i:04d}", "pad": "x" * 200},
            "content_hash": f"{i:032d}",
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for i in range(300)
    ]
    with db.begin() as conn:
        conn.execute(insert(s.audit_events), rows)
    with db.begin() as conn:
        # The counts as a pass sees them before the writing session has sent its own.
        conn.execute(text("SELECT pg_stat_reset_single_table_counters('audit_events'::regclass)"))

    def tuples() -> float:
        with db.connect() as conn:
            return float(
                conn.execute(
                    text("SELECT reltuples FROM pg_class WHERE oid = 'audit_events'::regclass")
                ).scalar_one()
            )

    assert tuples() == -1  # never analyzed
    Mirror(db, TENANT).refresh_statistics()
    assert tuples() == 300
