"""Mirror rows for records read after a pass, per parent: interviews and their timeslots (per
application) and the latest approval of a job or an offer.

Tolerant like ``records``: unknown fields stay in ``raw``, odd timestamps become NULL. A record
without an id, or that is not an object, raises ``Invalid`` (quarantined by the engine).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.mirror.records import Invalid, Row, _id, _obj, _str, _sub, _with_hash, parse_ts


def interview_row(candidate_id: str, job_id: str, application_id: str | None, raw: Any) -> Row:
    """``GET /interviews-api/v201904/interviews?applicationId=`` item. ``candidate_id`` and
    ``job_id`` are the application's asked about; the payload's own stay in ``raw``."""
    r = _obj(raw, "interview")
    return _with_hash(
        {
            "id": _id(r, "id", "interview"),
            "application_id": application_id,
            "candidate_id": candidate_id,
            "job_id": job_id,
            "organizer_id": _str(r.get("organizerId")),
            "timezone": _str(r.get("timezone")),
            "location": _str(r.get("location")),
            "source": _str(r.get("source")),
            "created_on": parse_ts(r.get("createdOn")),
        },
        r,
    )


def timeslots_of(raw: dict[str, Any]) -> list[Any]:
    slots = raw.get("timeslots")
    return list(slots) if isinstance(slots, list) else []


def timeslot_row(interview_id: str, candidate_id: str, job_id: str, raw: Any) -> Row:
    r = _obj(raw, "interview timeslot")
    people = r.get("interviewers")
    no_show = r.get("noShow")
    return _with_hash(
        {
            "id": _id(r, "id", "interview timeslot"),
            "interview_id": interview_id,
            "candidate_id": candidate_id,
            "job_id": job_id,
            "title": _str(r.get("title")),
            "interview_type": _str(r.get("interviewType")),
            "place": _str(r.get("place")),
            "starts_on": parse_ts(r.get("startsOn")),
            "ends_on": parse_ts(r.get("endsOn")),
            "candidate_status": _str(r.get("candidateStatus")),
            "no_show": no_show if isinstance(no_show, bool) else None,
            "interviewer_count": len(people) if isinstance(people, list) else None,
        },
        r,
    )


def _request_columns(req: dict[str, Any]) -> Row:
    """Typed columns of an approval request (``ApprovalRequest``: status, type, steps)."""
    steps = req.get("steps")
    decided: datetime | None = None
    for step in steps if isinstance(steps, list) else []:
        approvers = _sub(step, "approvers")
        for a in approvers if isinstance(approvers, list) else []:
            when = parse_ts(a.get("decidedOn")) if isinstance(a, dict) else None
            if when is not None and (decided is None or when > decided):
                decided = when
    return {
        "status": _str(req.get("status")),
        "type": _str(req.get("type")),
        "decision_mode": _str(req.get("decisionMode")),
        "step_count": len(steps) if isinstance(steps, list) else None,
        "decided_on": decided,
    }


def offer_approval_row(offer_id: str, candidate_id: str, job_id: str, raw: Any) -> Row:
    """``GET /candidates/{id}/jobs/{jobId}/offers/{offerId}/approvals/latest``."""
    r = _obj(raw, "offer approval")
    approval_id = _str(r.get("id")) or _str(r.get("approvalRequestId"))
    if not approval_id:
        raise Invalid("offer approval: missing 'id' and 'approvalRequestId'")
    return _with_hash(
        {
            "subject_type": "offer",
            "subject_id": offer_id,
            "approval_id": approval_id,
            "job_id": job_id,
            "candidate_id": candidate_id,
            **_request_columns(r),
        },
        r,
    )


def job_approval_row(job_id: str, latest: Any, request: Any) -> Row:
    """``GET /jobs/{jobId}/approvals/latest`` names the request and what it asks for (positions,
    salary range) but not its status; ``request`` is ``GET /approvals-api/v201910/approvals/{id}``
    (None when that read found nothing: the status stays NULL). Raw holds both answers."""
    lat = _obj(latest, "job approval")
    approval_id = _id(lat, "approvalRequestId", "job approval")
    raw: dict[str, Any] = {"latest": lat}
    cols: Row = {}
    if request is not None:
        raw["request"] = _obj(request, "job approval request")
        cols = _request_columns(raw["request"])
    return _with_hash(
        {
            "subject_type": "job",
            "subject_id": job_id,
            "approval_id": approval_id,
            "job_id": job_id,
            "candidate_id": None,
            "status": None,
            "type": None,
            "decision_mode": None,
            "step_count": None,
            "decided_on": None,
            **cols,
        },
        raw,
    )


def hiring_team_row(job_id: str, raw: Any) -> Row:
    """A member of ``GET /jobs/{jobId}/hiring-team`` (``HiringTeamMemberResponse``: the user's
    ``id`` and ``role``; HIRING_MANAGER, RECRUITER, INTERVIEW_TEAM, EXECUTIVE, COORDINATOR, or a
    value the API adds later, kept as is)."""
    r = _obj(raw, "hiring team member")
    return _with_hash(
        {
            "job_id": job_id,
            "user_id": _id(r, "id", "hiring team member"),
            "role": _str(r.get("role")),
        },
        r,
    )


def _json_part(value: Any) -> Any:
    return value if isinstance(value, dict | list) else None


def candidate_details_row(candidate_id: str, raw: Any) -> Row:
    """``GET /candidates/{id}`` (``CandidateDetails``): what the list leaves out, kept as the
    API gives it: phone, location, web, education and experience. The payload's ``id`` must be
    the candidate asked about (an answer about another record is quarantined, not stored)."""
    r = _obj(raw, "candidate details")
    got = _id(r, "id", "candidate details")
    if got != candidate_id:
        raise Invalid(f"candidate details: asked for {candidate_id!r}, the answer is {got!r}")
    return _with_hash(
        {
            "candidate_id": candidate_id,
            "phone_number": _str(r.get("phoneNumber")),
            "location": _json_part(r.get("location")),
            "web": _json_part(r.get("web")),
            "education": _json_part(r.get("education")),
            "experience": _json_part(r.get("experience")),
            "updated_on": parse_ts(r.get("updatedOn")),
        },
        r,
    )
