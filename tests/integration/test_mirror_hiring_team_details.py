"""The two resources added as declarations (docs/mirror.md "How to add a resource"): the hiring
team of each job and the full record of candidates with a hired or offered application, against
the sandbox over real HTTP, on SQLite and PostgreSQL: a backfill equals the snapshot, an
incremental pass picks up changes, deletions take the personal data out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from syncd.cli import main
from syncd.mirror import schema as s
from syncd.mirror.db import MIGRATIONS, SchemaError, head_revision, require_schema
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import TOKEN, sandbox_options
from tests.integration.test_mirror_sync import (
    TENANT,
    control,
    max_seq,
    norm,
    outbox,
    run_pass,
    settings_for,
    snapshot,
    ts,
)

FULL = ("OFFERED", "HIRED")


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=120, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def api(srv: ThreadServer, method: str, path: str, **kw: Any) -> Any:
    r = httpx.request(method, srv.base_url + path, headers={"X-SmartToken": TOKEN}, **kw)
    assert r.is_success, (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def mirror_view(db: Engine) -> dict[str, Any]:
    with db.connect() as conn:
        team = {
            (r.job_id, r.user_id): r.role
            for r in conn.execute(
                select(s.hiring_team).where(
                    s.hiring_team.c.tenant == TENANT, s.hiring_team.c.deleted_at.is_(None)
                )
            )
        }
        d = s.candidate_details
        details = {
            r.candidate_id: (r.phone_number, r.location, r.web, r.education, r.experience)
            for r in conn.execute(select(d).where(d.c.tenant == TENANT, d.c.deleted_at.is_(None)))
        }
        updated = {
            r.candidate_id: ts(r.updated_on)
            for r in conn.execute(select(d).where(d.c.tenant == TENANT, d.c.deleted_at.is_(None)))
        }
    return {"team": team, "details": details, "updated": updated}


def sandbox_view(snap: dict[str, Any]) -> dict[str, Any]:
    team = {(j["id"], m["id"]): m["role"] for j in snap["jobs"].values() for m in j["hiringTeam"]}
    wanted = {a["candidateId"] for a in snap["applications"].values() if a["status"] in FULL}
    cands = snap["candidates"]
    details = {
        cid: (
            cands[cid].get("phoneNumber"),
            cands[cid].get("location"),
            cands[cid].get("web"),
            cands[cid].get("education"),
            cands[cid].get("experience"),
        )
        for cid in wanted
    }
    updated = {cid: norm(cands[cid]["updatedOn"]) for cid in wanted}
    return {"team": team, "details": details, "updated": updated}


def assert_equal(db: Engine, srv: ThreadServer) -> dict[str, Any]:
    mine, truth = mirror_view(db), sandbox_view(snapshot(srv))
    for part in ("team", "details", "updated"):
        a, b = mine[part], truth[part]
        missing = sorted(set(b) - set(a))[:3]
        extra = sorted(set(a) - set(b))[:3]
        wrong = [k for k in b if k in a and a[k] != b[k]][:3]
        assert not (missing or extra or wrong), f"{part}: missing {missing} extra {extra} {wrong}"
    return mine


def test_backfill_equals_snapshot(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    reports = run_pass(settings_for(tenant, db_url), db, "backfill")
    assert all(r.status == "ok" for r in reports)
    mine = assert_equal(db, tenant)
    snap = snapshot(tenant)
    # Every job has its hiring manager (what HRIS records need), and the sandbox holds some
    # full records to compare (a test that compared nothing would prove nothing).
    managers = {j for (j, _), role in mine["team"].items() if role == "HIRING_MANAGER"}
    assert managers == set(snap["jobs"])
    assert len(mine["details"]) >= 10
    assert all(phone for phone, *_ in mine["details"].values())
    # Nothing owed after a complete backfill; the candidates without a hire or offer cost no call.
    with db.connect() as conn:
        owed = conn.execute(
            select(s.candidates.c.id).where(s.candidates.c.details_pending.is_(True))
        ).all()
    assert owed == []
    # Records new to a backfill are its baseline: created, no domain event.
    kinds = {(c.resource, c.kind) for c in outbox(db)}
    assert ("hiring_team", "created") in kinds and ("candidate_details", "created") in kinds
    # The outbox holds the records, not status history entries (facts about their parent).
    assert {r for r, _ in kinds} == {
        "jobs",
        "positions",
        "hiring_team",
        "approvals",
        "candidates",
        "applications",
        "interviews",
        "interview_timeslots",
        "candidate_details",
        "offers",
    }


def test_incremental_picks_up_team_and_record_changes(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    seq = max_seq(db)
    snap = snapshot(tenant)
    # A job loses a member and gains another; a hired candidate's phone changes; a candidate
    # without a hire or offer is hired.
    job = sorted(snap["jobs"])[0]
    team = snap["jobs"][job]["hiringTeam"]
    leaver = next(m["id"] for m in team if m["role"] != "HIRING_MANAGER")
    api(tenant, "DELETE", f"/jobs/{job}/hiring-team/{leaver}")
    joiner = next(
        m["id"]
        for j in sorted(snap["jobs"])[1:]
        for m in snap["jobs"][j]["hiringTeam"]
        if m["id"] not in {x["id"] for x in team}
    )
    api(tenant, "POST", f"/jobs/{job}/hiring-team", json={"id": joiner, "role": "EXECUTIVE"})
    apps = sorted(snap["applications"].values(), key=lambda a: a["id"])
    hired = next(a["candidateId"] for a in apps if a["status"] == "HIRED")
    control(tenant, f"candidates/{hired}/update", {"phoneNumber": "+15550000001"})
    full = {a["candidateId"] for a in apps if a["status"] in FULL}
    newcomer = next(
        a for a in apps if a["candidateId"] not in full and a["status"] in ("NEW", "IN_REVIEW")
    )
    control(tenant, "hire", {"candidateId": newcomer["candidateId"], "jobId": newcomer["jobId"]})

    reports = run_pass(st, db, "incremental")
    assert all(r.status == "ok" for r in reports)
    mine = assert_equal(db, tenant)
    assert (job, leaver) not in mine["team"] and mine["team"][(job, joiner)] == "EXECUTIVE"
    assert mine["details"][hired][0] == "+15550000001"
    assert newcomer["candidateId"] in mine["details"]
    changes = {(c.resource, c.record_key, c.kind) for c in outbox(db, seq)}
    assert {
        ("hiring_team", f"{job}/{leaver}", "deleted"),
        ("hiring_team", f"{job}/{joiner}", "created"),
        ("candidate_details", hired, "updated"),
        ("candidate_details", newcomer["candidateId"], "created"),
    } <= changes


def test_deletions_take_the_records_out(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    mine = mirror_view(db)
    victim = sorted(mine["details"])[0]
    job = sorted({j for j, _ in mine["team"]})[0]
    control(tenant, f"candidates/{victim}/delete")
    control(tenant, f"jobs/{job}/delete")
    run_pass(st, db, "incremental")
    with db.connect() as conn:
        d = conn.execute(
            select(s.candidate_details).where(s.candidate_details.c.candidate_id == victim)
        ).one()
        assert d.deleted_at is not None
        assert (d.phone_number, d.location, d.web, d.education, d.experience) == (None,) * 5
        assert set(d.raw) <= {"id", "createdOn", "updatedOn"}
        team = conn.execute(select(s.hiring_team).where(s.hiring_team.c.job_id == job)).all()
        assert team and all(m.deleted_at is not None for m in team)
    assert_equal(db, tenant)


def test_migration_0002_to_0003_on_a_mirror_with_data(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    with db.connect() as conn:
        before = conn.execute(select(func.count()).select_from(s.candidates)).scalar()
    # A mirror as syncd 0002 left it: same rows, without this revision's tables and flag.
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    head = head_revision(db)
    with pytest.raises(SchemaError, match=f"at schema revision 0002, this syncd needs {head}"):
        require_schema(db)
    r = CliRunner().invoke(main, ["migrate"], env={"SYNCD_DATABASE_URL": db_url})
    assert r.exit_code == 0 and f"schema 0002 -> {head}" in r.output, r.output
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.candidates)).scalar() == before
        flags = conn.execute(
            select(s.candidates.c.details_pending).where(s.candidates.c.deleted_at.is_(None))
        ).all()
        assert flags and all(f for (f,) in flags)  # what was mirrored before owes its read
    # The next (incremental) pass reads the full records a backfill would have; hiring teams
    # come with their jobs' next change (or a refresh).
    reports = run_pass(st, db, "incremental")
    assert all(r.status == "ok" for r in reports)
    assert mirror_view(db)["details"] == sandbox_view(snapshot(tenant))["details"]


def test_a_bad_member_is_quarantined_and_the_rest_goes_on(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    t = tenant.sandbox.tenant  # served over HTTP; a payload the API's validation would refuse
    bad_job = sorted(t.hiring_team)[0]
    t.hiring_team[bad_job][0]["id"] = ""
    reports = run_pass(settings_for(tenant, db_url), db, "backfill")
    assert all(r.status == "ok" for r in reports)
    assert {r.resource: r.counts.quarantined for r in reports}["jobs"] == 1
    with db.connect() as conn:
        q = conn.execute(select(s.quarantine)).one()
        assert (q.resource, q.record_key) == ("hiring_team", bad_job)
        assert q.reason == "hiring team member: missing or empty 'id'"
        # The job and its other children are written; its team waits in quarantine.
        history = select(func.count()).where(s.job_status_history.c.job_id == bad_job)
        assert conn.execute(history).scalar() == len(t.job_history[bad_job])
        team = select(func.count()).where(s.hiring_team.c.job_id == bad_job)
        assert conn.execute(team).scalar() == 0
    mine, truth = mirror_view(db), sandbox_view(snapshot(tenant))
    assert mine["details"] == truth["details"]
    assert mine["team"] == {k: v for k, v in truth["team"].items() if k[0] != bad_job}
