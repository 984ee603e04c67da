"""Interviews and approvals: mapping of odd payloads, and the once-per-pass flagging that lets a
killed complete pass resume its interview reads (a migrated SQLite file, no client)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from syncd.config import SyncSettings
from syncd.mirror import followup_records as fr
from syncd.mirror import records as rec
from syncd.mirror import schema as s
from syncd.mirror.records import Invalid
from syncd.mirror.store import Mirror
from syncd.sync.engine import Engine as SyncEngine

T0 = datetime(2024, 1, 1)


def test_interview_and_timeslot_rows() -> None:
    raw = {
        "id": "iv1",
        "jobId": "payload-job",
        "organizerId": "u1",
        "timezone": "Europe/Berlin",
        "createdOn": "2024-03-01T10:00:00.000Z",
        "timeslots": [{"id": "ts1"}, "odd"],
        "candidate": {"id": "c1", "firstName": "Ada"},
    }
    row = fr.interview_row("c1", "j1", "a1", raw)
    assert (row["id"], row["candidate_id"], row["job_id"], row["application_id"]) == (
        "iv1",
        "c1",
        "j1",  # the application asked about, not the payload's
        "a1",
    )
    assert row["created_on"] == datetime(2024, 3, 1, 10) and row["raw"] is raw
    assert fr.timeslots_of(raw) == [{"id": "ts1"}, "odd"]
    assert fr.timeslots_of({"timeslots": "none"}) == []
    slot = fr.timeslot_row(
        "iv1",
        "c1",
        "j1",
        {
            "id": "ts1",
            "startsOn": "2024-03-02T09:00:00Z",
            "endsOn": "soon",  # unreadable: NULL, raw keeps it
            "interviewers": [{"id": "u1", "status": "accepted"}],
            "candidateStatus": "tentative",
            "noShow": "no",  # not a boolean: NULL
        },
    )
    assert (slot["starts_on"], slot["ends_on"], slot["no_show"]) == (
        datetime(2024, 3, 2, 9),
        None,
        None,
    )
    assert (slot["interviewer_count"], slot["candidate_status"]) == (1, "tentative")
    with pytest.raises(Invalid, match="interview timeslot: expected a JSON object"):
        fr.timeslot_row("iv1", "c1", "j1", "odd")
    with pytest.raises(Invalid, match="interview: missing or empty 'id'"):
        fr.interview_row("c1", "j1", None, {"id": ""})


def test_approval_rows() -> None:
    req = {
        "id": "ap1",
        "status": "PENDING",
        "type": "sequential",
        "decisionMode": "any",
        "steps": [
            {
                "status": "APPROVED",
                "approvers": [
                    {"id": "u1", "decision": "APPROVED", "decidedOn": "2024-02-01T00:00:00Z"},
                    {"id": "u2", "decision": "SKIPPED"},
                ],
            },
            {"status": "PENDING", "approvers": [{"id": "u3", "decision": "PENDING"}]},
        ],
    }
    row = fr.offer_approval_row("o1", "c1", "j1", req)
    assert (row["subject_type"], row["subject_id"], row["approval_id"], row["status"]) == (
        "offer",
        "o1",
        "ap1",
        "PENDING",
    )
    assert (row["step_count"], row["decided_on"]) == (2, datetime(2024, 2, 1))
    # Only approvalRequestId: still keyed.
    assert fr.offer_approval_row("o1", "c1", "j1", {"approvalRequestId": "ap2"})["approval_id"] == (
        "ap2"
    )
    with pytest.raises(Invalid, match="offer approval: missing 'id' and 'approvalRequestId'"):
        fr.offer_approval_row("o1", "c1", "j1", {"status": "PENDING"})
    latest = {"approvalRequestId": "ap1", "positions": [], "salaryRange": {"min": 1}}
    job = fr.job_approval_row("j1", latest, req)
    assert job["raw"] == {"latest": latest, "request": req}
    assert (job["status"], job["job_id"], job["candidate_id"]) == ("PENDING", "j1", None)
    # The request could not be read: stored with what the job's answer says, status unknown.
    bare = fr.job_approval_row("j1", latest, None)
    assert bare["raw"] == {"latest": latest} and bare["status"] is None
    with pytest.raises(Invalid, match="job approval: missing or empty 'approvalRequestId'"):
        fr.job_approval_row("j1", {"approvalRequestId": ""}, None)


def test_a_complete_pass_flags_every_application_once(db: Engine) -> None:
    """The flags are the resume point of a complete pass's interview reads: flagging all is
    done once per pass, so a rerun of the same pass keeps the progress it made."""
    m = Mirror(db, "t")
    with m.begin() as conn:
        m.upsert(
            conn,
            s.applications,
            [rec.assignment_row(c, {"job": {"id": "j"}, "status": "NEW"}) for c in "abc"],
            now=T0,
            merge_raw=True,  # hashes the assembled raw, as the candidates pass does
        )
    eng = SyncEngine(m, None, SyncSettings())
    a = s.applications

    def flagged() -> list[str]:
        with db.connect() as conn:
            return [
                r[0]
                for r in conn.execute(
                    select(a.c.candidate_id)
                    .where(a.c.interviews_pending.is_(True))
                    .order_by(a.c.candidate_id)
                )
            ]

    assert flagged() == []
    started = T0 + timedelta(hours=1)
    eng._flag_all_once(started)
    assert flagged() == ["a", "b", "c"]
    with db.begin() as conn:  # the pass read "a", then was killed
        conn.execute(update(a).where(a.c.candidate_id == "a").values(interviews_pending=False))
    eng._flag_all_once(started)  # the rerun of the same pass
    assert flagged() == ["b", "c"]
    eng._flag_all_once(started + timedelta(days=1))  # the next complete pass
    assert flagged() == ["a", "b", "c"]
