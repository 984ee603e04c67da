"""Interviews, timeslots and approvals in the mirror against the sandbox over real HTTP, on SQLite
and PostgreSQL: a backfill equals the snapshot, changes arrive when docs/mirror.md says they do
(incremental pass or sweep), migration 0001 -> 0002 on a mirror that has data, quarantine of bad
payloads, deletions."""

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
from syncd.mirror.reporting import run_query
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import TOKEN, sandbox_options
from tests.integration.test_mirror_sync import (
    TENANT,
    control,
    norm,
    outbox,
    run_pass,
    settings_for,
    snapshot,
    ts,
)

IV = "/interviews-api/v201904/interviews"
AP = "/approvals-api/v201910/approvals"


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=250, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def api(srv: ThreadServer, method: str, path: str, **kw: Any) -> Any:
    r = httpx.request(method, srv.base_url + path, headers={"X-SmartToken": TOKEN}, **kw)
    assert r.is_success, (method, path, r.status_code, r.text)
    return r.json() if r.content else None


# ---- the comparison -----------------------------------------------------------------------------
def _people(slot: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((p["id"], p["status"]) for p in slot.get("interviewers", []))


def _steps(req: dict[str, Any]) -> list[Any]:
    return [
        (
            st["status"],
            [(a["id"], a["decision"], norm(a.get("decidedOn"))) for a in st["approvers"]],
        )
        for st in req.get("steps", [])
    ]


def _decided(req: dict[str, Any]) -> str | None:
    stamps = [norm(a.get("decidedOn")) for st in req["steps"] for a in st["approvers"]]
    return max((x for x in stamps if x), default=None)


def mirror_view(db: Engine) -> dict[str, Any]:
    with db.connect() as conn:

        def live(t: Any) -> list[Any]:
            return list(
                conn.execute(select(t).where(t.c.tenant == TENANT, t.c.deleted_at.is_(None)))
            )

        interviews = {
            r.id: (
                r.application_id,
                r.candidate_id,
                r.job_id,
                r.organizer_id,
                r.timezone,
                r.location,
                r.source,
                ts(r.created_on),
            )
            for r in live(s.interviews)
        }
        slots = {
            r.id: (
                r.interview_id,
                r.title,
                r.interview_type,
                r.place,
                ts(r.starts_on),
                ts(r.ends_on),
                r.candidate_status,
                r.no_show,
                r.interviewer_count,
                _people(r.raw),
            )
            for r in live(s.interview_timeslots)
        }
        approvals = {}
        for r in live(s.approvals):
            req = r.raw["request"] if r.subject_type == "job" else r.raw
            approvals[(r.subject_type, r.subject_id)] = (
                r.approval_id,
                r.status,
                r.type,
                r.decision_mode,
                r.step_count,
                ts(r.decided_on),
                r.candidate_id,
                r.job_id,
                _steps(req),
            )
    return {"interviews": interviews, "timeslots": slots, "approvals": approvals}


def sandbox_view(snap: dict[str, Any]) -> dict[str, Any]:
    apps = snap["applications"]
    interviews, slots = {}, {}
    for iv in snap["interviews"].values():
        if iv["applicationId"] not in apps:
            continue
        interviews[iv["id"]] = (
            iv["applicationId"],
            iv["candidateId"],
            iv["jobId"],
            iv["organizerId"],
            iv["timezone"],
            iv.get("location"),
            iv.get("source"),
            norm(iv["createdOn"]),
        )
        for sl in iv["timeslots"]:
            slots[sl["id"]] = (
                iv["id"],
                sl.get("title"),
                sl.get("interviewType"),
                sl.get("place"),
                norm(sl["startsOn"]),
                norm(sl["endsOn"]),
                sl.get("candidateStatus"),
                sl.get("noShow"),
                len(sl["interviewers"]),
                _people(sl),
            )
    approvals = {}
    latest = snap["latestApprovals"]
    for kind, subjects in (("job", snap["jobs"]), ("offer", snap["offers"])):
        for sid, aid in latest[kind].items():
            if sid not in subjects:
                continue
            req = snap["approvals"][aid]
            offer = subjects[sid] if kind == "offer" else {"jobId": sid}
            approvals[(kind, sid)] = (
                aid,
                req["status"],
                req["type"],
                req["decisionMode"],
                len(req["steps"]),
                _decided(req),
                offer.get("candidateId"),
                offer["jobId"],
                _steps(req),
            )
    return {"interviews": interviews, "timeslots": slots, "approvals": approvals}


def assert_equal(db: Engine, srv: ThreadServer) -> dict[str, Any]:
    mine, truth = mirror_view(db), sandbox_view(snapshot(srv))
    for part in ("interviews", "timeslots", "approvals"):
        a, b = mine[part], truth[part]
        missing = sorted(set(b) - set(a))[:3]
        extra = sorted(set(a) - set(b))[:3]
        wrong = [(k, a[k], b[k]) for k in b if k in a and a[k] != b[k]][:3]
        assert not (missing or extra or wrong), (
            f"{part}: missing {missing} extra {extra} wrong {wrong}"
        )
    return mine


def pending_approval(snap: dict[str, Any], kind: str, steps: int) -> tuple[str, str, str]:
    """(subject id, approval id, the approver whose decision is due) of a PENDING latest
    approval of ``kind`` with ``steps`` steps still pending."""
    subjects = snap["jobs"] if kind == "job" else snap["offers"]
    for sid, aid in sorted(snap["latestApprovals"][kind].items()):
        req = snap["approvals"][aid]
        open_steps = [st for st in req["steps"] if st["status"] == "PENDING"]
        if sid in subjects and req["status"] == "PENDING" and len(open_steps) == steps:
            return sid, aid, due_approver(req)
    raise AssertionError(f"no pending {kind} approval with {steps} open steps")


def due_approver(req: dict[str, Any]) -> str:
    step = next(st for st in req["steps"] if st["status"] == "PENDING")
    return str(next(a["id"] for a in step["approvers"] if a["decision"] == "PENDING"))


# ---- tests --------------------------------------------------------------------------------------
def test_backfill_equals_snapshot_at_the_documented_cost(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    reports = run_pass(settings_for(tenant, db_url), db, "backfill")
    assert all(r.status == "ok" for r in reports)
    mine = assert_equal(db, tenant)
    snap = snapshot(tenant)
    # Every application that reached INTERVIEW has an interview in the sandbox; none other does.
    assert len(mine["interviews"]) > 50 and len(mine["timeslots"]) > len(mine["interviews"])
    assert {k for k, v in mine["approvals"].items() if k[0] == "job"} == {
        ("job", j) for j in snap["jobs"]
    }
    by = {r.resource: r for r in reports}
    # Jobs: the list, then status history, positions, latest approval and its request per job.
    assert by["jobs"].counts.api_calls == by["jobs"].pages + 4 * len(snap["jobs"])
    # Offers: the list, then one latest approval per offer past CREATED.
    past_created = sum(1 for o in snap["offers"].values() if o["status"] != "CREATED")
    assert by["offers"].counts.api_calls == by["offers"].pages + past_created
    created = {
        res: {c.record_key for c in outbox(db) if c.resource == res and c.kind == "created"}
        for res in ("interviews", "interview_timeslots", "approvals")
    }
    assert created["interviews"] == set(mine["interviews"])
    assert created["interview_timeslots"] == set(mine["timeslots"])
    assert created["approvals"] == {f"{k}/{i}" for k, i in mine["approvals"]}
    # The reporting queries on these tables, against the sandbox's numbers.
    per_job: dict[str, list[int]] = {}
    for iv in snap["interviews"].values():
        n = per_job.setdefault(iv["jobId"], [0, 0])
        n[0] += 1
        n[1] += len(iv["timeslots"])
    rows = run_query(db, "interviews_per_job", TENANT)
    assert {r[0]: [r[2], r[3]] for r in rows} == per_job
    assert [r[2] for r in rows] == sorted((r[2] for r in rows), reverse=True)
    by_status: dict[tuple[str, str], int] = {}
    for (kind, _sid), row in sandbox_view(snap)["approvals"].items():
        by_status[(kind, row[1])] = by_status.get((kind, row[1]), 0) + 1
    assert {(r[0], r[1]): r[2] for r in run_query(db, "approvals_by_status", TENANT)} == by_status
    with db.connect() as conn:
        for t, flag in (
            (s.applications, "interviews_pending"),
            (s.jobs, "approval_pending"),
            (s.offers, "approval_pending"),
        ):  # no work left owed
            assert conn.execute(select(t).where(t.c[flag].is_(True))).all() == []


def test_interview_changes_arrive_with_the_application_or_the_next_sweep(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    snap = snapshot(tenant)
    apps = snap["applications"]
    with_iv = sorted(snap["interviews"].values(), key=lambda iv: iv["id"])
    organizer = with_iv[0]["organizerId"]
    panel = [
        {"id": p["id"], "status": "pending"} for p in with_iv[0]["timeslots"][0]["interviewers"]
    ]
    slot = {
        "title": "Hiring manager chat",
        "startsOn": "2031-05-06T09:00:00.000Z",
        "endsOn": "2031-05-06T10:00:00.000Z",
        "interviewers": panel,
    }
    # 1. A new interview for an application still in review, which then moves to INTERVIEW:
    #    the moved application is changed, so the incremental pass reads its interviews.
    app = next(
        a for a in sorted(apps.values(), key=lambda a: a["id"]) if a["status"] == "IN_REVIEW"
    )
    created = api(
        tenant,
        "POST",
        IV,
        json={
            "candidate": {"id": app["candidateId"]},
            "jobId": app["jobId"],
            "organizerId": organizer,
            "timezone": "Europe/Berlin",
            "timeslots": [slot],
        },
    )
    # 2. Edits that change neither application nor candidate (no audit event either): a new
    #    timeslot, a candidate's answer, a deleted interview.
    kept, dropped = with_iv[1], with_iv[2]
    added = api(tenant, "POST", f"{IV}/{kept['id']}/timeslots", json=slot)
    first = kept["timeslots"][0]["id"]
    answer = "tentative" if kept["timeslots"][0]["candidateStatus"] == "declined" else "declined"
    httpx.put(
        f"{tenant.base_url}{IV}/{kept['id']}/timeslots/{first}/candidateStatus",
        json={"status": answer},
        headers={"X-SmartToken": TOKEN},
    ).raise_for_status()
    httpx.delete(
        f"{tenant.base_url}{IV}/{dropped['id']}", headers={"X-SmartToken": TOKEN}
    ).raise_for_status()
    control(
        tenant,
        "status",
        {"candidateId": app["candidateId"], "jobId": app["jobId"], "status": "INTERVIEW"},
    )
    seq = max(c.sequence for c in outbox(db))
    run_pass(st, db, "incremental")
    mine = mirror_view(db)
    assert mine["interviews"][created["id"]][:3] == (app["id"], app["candidateId"], app["jobId"])
    assert mine["timeslots"][created["timeslots"][0]["id"]][1] == "Hiring manager chat"
    # As documented: the edits of unchanged applications wait for the sweep.
    assert added["id"] not in mine["timeslots"]
    assert mine["timeslots"][first][6] != answer
    assert dropped["id"] in mine["interviews"]
    run_pass(st, db, "sweep")
    mine = assert_equal(db, tenant)
    assert added["id"] in mine["timeslots"] and mine["timeslots"][first][6] == answer
    assert dropped["id"] not in mine["interviews"]
    changes = {(c.resource, c.record_key, c.kind) for c in outbox(db, seq)}
    assert ("interviews", created["id"], "created") in changes
    assert ("interview_timeslots", added["id"], "created") in changes
    assert ("interview_timeslots", first, "updated") in changes
    assert ("interviews", dropped["id"], "deleted") in changes
    for sl in dropped["timeslots"]:
        assert ("interview_timeslots", sl["id"], "deleted") in changes
    with db.connect() as conn:
        gone = conn.execute(select(s.interviews).where(s.interviews.c.id == dropped["id"])).one()
    assert gone.deleted_at is not None and set(gone.raw) <= {"id", "jobId", "createdOn"}


def test_approval_requests_and_decisions_arrive_in_the_next_pass(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    snap = snapshot(tenant)
    # A new request replaces a job's decided approval (the job itself does not change).
    job = sorted(snap["latestApprovals"]["job"])[0]
    approver = next(u for u in sorted(snap["approvals"].values(), key=lambda a: a["id"]))["steps"][
        0
    ]["approvers"][0]["id"]
    fresh = api(
        tenant,
        "POST",
        AP,
        json={
            "baseId": snap["latestApprovals"]["job"][job],
            "type": "sequential",
            "decisionMode": "any",
            "steps": [{"approvers": [{"id": approver}]}],
        },
    )
    # The first of an offer's two steps approved: neither the offer nor its status changes.
    offer, offer_req, who = pending_approval(snap, "offer", 2)
    api(tenant, "POST", f"{AP}/{offer_req}/approve-decisions", json={"approverId": who})
    seq = max(c.sequence for c in outbox(db))
    reports = run_pass(st, db, "incremental")
    mine = assert_equal(db, tenant)
    assert mine["approvals"][("job", job)][:2] == (fresh["id"], "PENDING")
    assert mine["approvals"][("offer", offer)][1] == "PENDING"
    assert mine["approvals"][("offer", offer)][8][0][0] == "APPROVED"  # its first step
    by = {r.resource: r for r in reports}
    # The audit pass re-read the job's approval (two calls) after its pages.
    assert by["audit"].counts.api_calls == by["audit"].pages + 2
    # Then the decisions: the job's only step, the offer's last one (the offer moves too).
    api(tenant, "POST", f"{AP}/{fresh['id']}/approve-decisions", json={"approverId": approver})
    last = due_approver(snapshot(tenant)["approvals"][offer_req])
    api(tenant, "POST", f"{AP}/{offer_req}/approve-decisions", json={"approverId": last})
    reports = run_pass(st, db, "incremental")
    mine = assert_equal(db, tenant)
    assert mine["approvals"][("job", job)][:2] == (fresh["id"], "APPROVED")
    assert mine["approvals"][("offer", offer)][1] == "APPROVED"
    assert {r.resource: r for r in reports}["audit"].counts.api_calls == (
        {r.resource: r for r in reports}["audit"].pages + 2
    )
    changes = {(c.record_key, c.kind) for c in outbox(db, seq) if c.resource == "approvals"}
    assert {
        (f"job/{job}", "updated"),
        (f"job/{job}", "status_changed"),  # APPROVED -> PENDING (new request) -> APPROVED
        (f"offer/{offer}", "updated"),
        (f"offer/{offer}", "status_changed"),
    } <= changes
    # Nothing left owed: the next pass spends one list call per page and nothing else.
    again = run_pass(st, db, "incremental")
    assert [r.counts.api_calls for r in again] == [r.pages for r in again]


def test_migration_0001_to_0002_on_a_mirror_with_data(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    old_tables = (s.jobs, s.candidates, s.applications, s.offers, s.audit_events)
    with db.connect() as conn:
        before = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in old_tables
        }
    # A mirror as syncd 0001 left it: same rows, without this revision's tables and flags.
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    head = head_revision(db)
    with pytest.raises(SchemaError, match=f"at schema revision 0001, this syncd needs {head}"):
        require_schema(db)
    r = CliRunner().invoke(main, ["migrate"], env={"SYNCD_DATABASE_URL": db_url})
    assert r.exit_code == 0 and f"schema 0001 -> {head}" in r.output, r.output
    require_schema(db)
    with db.connect() as conn:
        after = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in old_tables
        }
        assert after == before
        assert conn.execute(select(s.interviews)).all() == []
        # What was mirrored before owes its first read.
        live_apps = conn.execute(
            select(s.applications.c.interviews_pending).where(s.applications.c.deleted_at.is_(None))
        ).all()
        assert live_apps and all(f for (f,) in live_apps)
    # The next (incremental) pass reads them, as a backfill would have.
    reports = run_pass(st, db, "incremental")
    assert all(r.status == "ok" for r in reports)
    assert_equal(db, tenant)


def test_bad_payloads_are_quarantined_and_the_rest_goes_on(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    t = tenant.sandbox.tenant  # served over HTTP; payloads the API's validation would refuse
    ivs = sorted(t.interviews.values(), key=lambda iv: iv["id"])
    no_id, slot_no_id = ivs[0], ivs[1]
    no_id["id"] = ""
    slot_no_id["timeslots"][0]["id"] = None  # rendered without an id
    offer = sorted(t.offer_approvals)[0]
    t.approvals[t.offer_approvals[offer]]["id"] = ""
    job = sorted(t.job_approvals)[0]
    t.approvals[t.job_approvals[job]]["id"] = ""
    # A job whose positions list has an entry without an id: its children wait in quarantine.
    pos_job = next(j for j in sorted(t.positions) if t.positions[j] and j != job)
    next(iter(t.positions[pos_job].values()))["id"] = ""
    reports = run_pass(settings_for(tenant, db_url), db, "backfill")
    assert all(r.status == "ok" for r in reports)
    with db.connect() as conn:
        q = {(r.resource, r.record_key): r for r in conn.execute(select(s.quarantine))}
    key = f"{no_id['candidateId']}/{no_id['jobId']}"
    assert q[("interviews", key)].reason == "interview: missing or empty 'id'"
    assert q[("interview_timeslots", slot_no_id["id"])].reason == (
        "interview timeslot: missing or empty 'id'"
    )
    assert q[("approvals", f"offer/{offer}")].reason.startswith("offer approval: missing")
    assert q[("approvals", f"job/{job}")].reason == (
        "job approval: missing or empty 'approvalRequestId'"
    )
    assert q[("jobs", pos_job)].reason == "position: missing or empty 'id'"
    assert set(q[("jobs", pos_job)].raw) == {"statusHistory", "positions"}
    assert len(q) == 5
    assert {r.resource: r.counts.quarantined for r in reports} == {
        "jobs": 2,
        "audit": 0,
        "candidates": 2,
        "offers": 1,
    }
    mine = mirror_view(db)
    assert slot_no_id["id"] in mine["interviews"]  # the interview stays, with its other slots
    assert [sl[0] for sl in mine["timeslots"].values()].count(slot_no_id["id"]) == len(
        slot_no_id["timeslots"]
    ) - 1
    assert ("job", job) not in mine["approvals"] and ("offer", offer) not in mine["approvals"]
    with db.connect() as conn:  # the job itself is mirrored, without the quarantined children
        assert conn.execute(select(s.jobs.c.id).where(s.jobs.c.id == pos_job)).scalar() == pos_job
        held = select(func.count()).where(s.positions.c.job_id == pos_job)
        assert conn.execute(held).scalar() == 0
    assert len(mine["interviews"]) == len(ivs) - 1


def test_deleted_candidate_takes_interviews_and_approvals_along(
    tenant: ThreadServer, db: Engine, db_url: str
) -> None:
    st = settings_for(tenant, db_url)
    run_pass(st, db, "backfill")
    snap = snapshot(tenant)
    offered = {o["candidateId"] for o in snap["offers"].values() if o["status"] != "CREATED"}
    victim = next(
        iv["candidateId"]
        for iv in sorted(snap["interviews"].values(), key=lambda iv: iv["id"])
        if iv["candidateId"] in offered
    )
    control(tenant, f"candidates/{victim}/delete")
    run_pass(st, db, "incremental", resources=["audit"])
    with db.connect() as conn:
        ivs = conn.execute(select(s.interviews).where(s.interviews.c.candidate_id == victim)).all()
        slots = conn.execute(
            select(s.interview_timeslots).where(s.interview_timeslots.c.candidate_id == victim)
        ).all()
        aps = conn.execute(select(s.approvals).where(s.approvals.c.candidate_id == victim)).all()
    assert ivs and slots and aps
    assert all(r.deleted_at is not None for r in [*ivs, *slots, *aps])
    assert all(set(r.raw) <= {"id", "jobId", "createdOn"} for r in ivs)  # no name, no email
    assert all(set(r.raw) <= {"id", "startsOn", "endsOn"} for r in slots)
    run_pass(st, db, "incremental")
    assert_equal(db, tenant)


def test_settings_turn_reads_off_and_back_on(tenant: ThreadServer, db: Engine, db_url: str) -> None:
    off = settings_for(tenant, db_url, interview_statuses=[], approvals=False)
    reports = run_pass(off, db, "backfill")
    by = {r.resource: r for r in reports}
    assert by["jobs"].counts.api_calls == by["jobs"].pages + 2 * len(snapshot(tenant)["jobs"])
    assert by["offers"].counts.api_calls == by["offers"].pages
    mine = mirror_view(db)
    assert mine == {"interviews": {}, "timeslots": {}, "approvals": {}}
    # The flags waited: turned on, the next pass reads what changed while it was off.
    run_pass(settings_for(tenant, db_url), db, "incremental")
    assert_equal(db, tenant)
