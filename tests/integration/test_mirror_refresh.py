"""``syncd refresh RESOURCE ID...`` against the sandbox over real HTTP, on SQLite and PostgreSQL:
records read by id are written as a pass writes them (an unchanged record stays unchanged, a
changed one becomes an ``updated`` change, children follow), an id the API says is gone is
reported and, for candidates, deleted per the delete policy; bad arguments get one line, exit 2."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from syncd.cli import main
from syncd.mirror import schema as s
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import TOKEN, sandbox_options
from tests.integration.test_mirror_sync import (
    TENANT,
    control,
    max_seq,
    outbox,
    run_pass,
    settings_for,
    snapshot,
)


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=60, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def refresh(srv: ThreadServer, db_url: str, *args: str, code: int = 0) -> str:
    env = {
        "SYNCD_DATABASE_URL": db_url,
        "SYNCD_TENANT": TENANT,
        "SYNCD_SMARTRECRUITERS__BASE_URL": srv.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000",
    }
    r = CliRunner().invoke(main, ["refresh", *args], env=env)
    assert r.exit_code == code, r.output
    return r.output


def test_refresh_writes_like_a_pass(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    run_pass(settings_for(tenant, db_url), db, "backfill")
    snap = snapshot(tenant)
    jobs = sorted(snap["jobs"])[:2]
    apps = sorted(snap["applications"].values(), key=lambda a: a["id"])
    cands = sorted({a["candidateId"] for a in apps})[:3]
    offer = sorted(snap["offers"].values(), key=lambda o: o["id"])[0]
    seq = max_seq(db)
    # Unchanged records read by id hash as listed ones: nothing written, nothing in the outbox.
    out = refresh(tenant, db_url, "jobs", *jobs)
    assert "jobs: 2 read, 0 created, 0 updated, 2 unchanged" in out, out
    out = refresh(tenant, db_url, "candidates", *cands)
    assert "candidates: 3 read, 0 created, 0 updated, 3 unchanged" in out, out
    ident = f"{offer['candidateId']}/{offer['jobId']}/{offer['id']}"
    assert "offers: 1 read, 0 created, 0 updated, 1 unchanged" in refresh(
        tenant, db_url, "offers", ident
    )
    assert outbox(db, seq) == []

    # Changes made since the backfill arrive through the same path as a pass.
    control(tenant, f"candidates/{cands[0]}/update", {"firstName": "Refreshed"})
    member = next(m for m in snap["jobs"][jobs[0]]["hiringTeam"] if m["role"] != "HIRING_MANAGER")
    import httpx

    httpx.delete(
        f"{tenant.base_url}/jobs/{jobs[0]}/hiring-team/{member['id']}",
        headers={"X-SmartToken": TOKEN},
    ).raise_for_status()
    out = refresh(tenant, db_url, "candidates", cands[0])
    assert "1 updated" in out, out
    out = refresh(tenant, db_url, "hiring_team", jobs[0])
    assert "hiring_team: 1 read" in out, out
    with db.connect() as conn:
        c = conn.execute(select(s.candidates).where(s.candidates.c.id == cands[0])).one()
        assert c.first_name == "Refreshed"
        gone = conn.execute(
            select(s.hiring_team.c.deleted_at).where(
                s.hiring_team.c.job_id == jobs[0], s.hiring_team.c.user_id == member["id"]
            )
        ).scalar()
        assert gone is not None
    changes = {(c.resource, c.record_key, c.kind) for c in outbox(db, seq)}
    assert ("candidates", cands[0], "updated") in changes
    assert ("hiring_team", f"{jobs[0]}/{member['id']}", "deleted") in changes
    with db.connect() as conn:
        runs = conn.execute(
            select(s.sync_runs.c.resource, s.sync_runs.c.api_calls).where(
                s.sync_runs.c.mode == "refresh"
            )
        ).all()
    assert len(runs) == 5 and all(calls >= 1 for _, calls in runs)


def test_refresh_an_application_through_its_candidate(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    run_pass(settings_for(tenant, db_url), db, "backfill")
    app = next(
        a
        for a in sorted(snapshot(tenant)["applications"].values(), key=lambda a: a["id"])
        if a["status"] in ("NEW", "IN_REVIEW")
    )
    ident = f"{app['candidateId']}/{app['jobId']}"
    control(tenant, "hire", {"candidateId": app["candidateId"], "jobId": app["jobId"]})
    seq = max_seq(db)
    out = refresh(
        tenant, db_url, "applications", ident, f"{app['candidateId']}/no-such-job", code=4
    )
    assert f"absent in SmartRecruiters: {app['candidateId']}/no-such-job\n" in out
    truth = next(a for a in snapshot(tenant)["applications"].values() if a["id"] == app["id"])
    with db.connect() as conn:
        a = s.applications
        row = conn.execute(
            select(a).where(a.c.candidate_id == app["candidateId"], a.c.job_id == app["jobId"])
        ).one()
        # The move arrived, and the details a hire owes were read (start date, source).
        assert row.status == "HIRED" and row.starts_on is not None
        assert row.source_id == truth["source"]["sourceId"]
        assert not (row.details_pending or row.history_pending or row.interviews_pending)
    kinds = {(c.resource, c.record_key, c.kind) for c in outbox(db, seq)}
    assert ("applications", ident, "hired") in kinds


def test_refresh_what_a_code_follow_up_reads(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    """Interviews change neither application nor candidate: a refresh of the application's
    interviews reads them now (the pass would wait for the sweep)."""
    run_pass(settings_for(tenant, db_url), db, "backfill")
    snap = snapshot(tenant)
    kept = sorted(snap["interviews"].values(), key=lambda iv: iv["id"])[0]
    slot = {
        "title": "Second round",
        "startsOn": "2031-05-06T09:00:00.000Z",
        "endsOn": "2031-05-06T10:00:00.000Z",
        "interviewers": [{"id": kept["organizerId"], "status": "pending"}],
    }
    import httpx

    added = httpx.post(
        f"{tenant.base_url}/interviews-api/v201904/interviews/{kept['id']}/timeslots",
        json=slot,
        headers={"X-SmartToken": TOKEN},
    )
    added.raise_for_status()
    seq = max_seq(db)
    ident = f"{kept['candidateId']}/{kept['jobId']}"
    out = refresh(tenant, db_url, "interviews", ident, "no/such", code=4)
    assert (
        "interviews: 1 read" in out
        and "not in the mirror (refresh its parent first): no/such" in out
    )
    slots = {t["id"] for t in snapshot(tenant)["interviews"][kept["id"]]["timeslots"]}
    with db.connect() as conn:
        t = s.interview_timeslots
        mine = {
            r.id
            for r in conn.execute(
                select(t.c.id).where(t.c.interview_id == kept["id"], t.c.deleted_at.is_(None))
            )
        }
    assert mine == slots and len(slots) == len(kept["timeslots"]) + 1
    assert any(c.resource == "interview_timeslots" and c.kind == "created" for c in outbox(db, seq))


def test_an_absent_candidate_is_reported_and_deleted(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    run_pass(settings_for(tenant, db_url), db, "backfill")
    victim = sorted(snapshot(tenant)["candidates"])[0]
    control(tenant, f"candidates/{victim}/delete")
    out = refresh(tenant, db_url, "candidates", victim, code=4)
    assert f"absent in SmartRecruiters: {victim} (deleted from the mirror" in out
    with db.connect() as conn:
        c = conn.execute(select(s.candidates).where(s.candidates.c.id == victim)).one()
        assert c.deleted_at is not None and c.first_name is None and c.email is None
    assert ("candidates", victim, "deleted") in {
        (c.resource, c.record_key, c.kind) for c in outbox(db)
    }
    # A job the API does not know: reported; an offer id of the wrong form never reaches it.
    out = refresh(tenant, db_url, "hiring_team", "no-such-job", code=4)
    assert "absent in SmartRecruiters: no-such-job\n" in out


def test_an_offer_whose_candidate_is_gone_is_absent_not_an_error(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    """The offer's read names its parent (404 CANDIDATE_NOT_FOUND) once the candidate is
    deleted: the offer is reported absent (exit 4, as for any absent id) and nothing is deleted
    by the refresh (offers leave with their candidate), instead of a failed refresh that a
    webhook's retries would repeat for ever."""
    run_pass(settings_for(tenant, db_url), db, "backfill")
    with db.connect() as conn:
        offer = conn.execute(
            select(s.offers.c.id, s.offers.c.candidate_id, s.offers.c.job_id).order_by(
                s.offers.c.id
            )
        ).first()
    assert offer is not None, "the sandbox tenant has offers"
    control(tenant, f"candidates/{offer.candidate_id}/delete")
    ident = f"{offer.candidate_id}/{offer.job_id}/{offer.id}"
    out = refresh(tenant, db_url, "offers", ident, code=4)
    assert f"absent in SmartRecruiters: {ident}\n" in out
    with db.connect() as conn:
        kept = conn.execute(select(s.offers.c.id).where(s.offers.c.id == offer.id)).all()
    assert len(kept) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["nope", "1"],
            "unknown resource 'nope'; choose from jobs, job_status_history, positions,",
        ),
        (["audit", "1"], "audit cannot be read by id: the Audit API has no read of one event"),
        (["interview_timeslots", "1"], "timeslots come inside their interview: syncd refresh"),
        (["offers", "abc"], "'abc' is not of the form CANDIDATE_ID/JOB_ID/OFFER_ID"),
        (["jobs", "a b/c"], "'a b/c' is not of the form JOB_ID"),
        (["jobs"], "name at least one id: syncd refresh jobs JOB_ID"),
    ],
)
def test_bad_arguments_get_one_line(args: list[str], message: str) -> None:
    r = CliRunner().invoke(
        main, ["refresh", *args], env={"SYNCD_DATABASE_URL": "sqlite:///unused.db"}
    )
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and message in r.output, r.output
