"""Interviews API (``/interviews-api/v201904``): interview types, the interviews of an
application, timeslots, and the candidate's and interviewers' statuses.

This API answers input validation failures with 422 ``{message, errors: [{dataPath, message}]}``;
its named 422 failures (``NON_EXISTING_INTERVIEWERS`` ...) add the ``code`` to the error entry.
User ids are checked against the tenant's users; the sandbox's user ids are UUIDs where the real
API's are 24 hex digits, so the id pattern is not enforced.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import ApiError, not_found, unprocessable
from syncd.sandbox.jsonresp import empty, json_response
from syncd.sandbox.routes import render
from syncd.sandbox.routes.common import drop_none
from syncd.sandbox.server import credential_of, tenant_of
from syncd.sandbox.state import Tenant
from syncd.sandbox.timefmt import normalize
from syncd.sandbox.validate import read_json

BASE = "/interviews-api/v201904"
STATUSES = ("accepted", "declined", "pending", "tentative")
MAX_TIMESLOTS = 50
MAX_TYPES = 2000
Problems = list[tuple[str, str]]


def _scope(request: Request, scope: str, what: str) -> None:
    if scope not in credential_of(request).scopes:
        raise ApiError(403, "FORBIDDEN", f"Forbidden to {what}: missing scope {scope}")


def _coded(code: str, path: str, message: str) -> ApiError:
    return ApiError(
        422, code, message, errors=[{"code": code, "dataPath": path, "message": message}]
    )


async def _json(request: Request) -> Any:
    try:
        return await read_json(request)
    except ApiError as exc:
        raise unprocessable([("", exc.message)]) from None


# ---- validation ----------------------------------------------------------------------------
def _string(
    obj: dict[str, Any], key: str, path: str, problems: Problems, *, required: bool, max_len: int
) -> None:
    value = obj.get(key)
    where = f"{path}.{key}" if path else key
    if value is None:
        if required:
            problems.append((where, "is required"))
    elif not isinstance(value, str):
        problems.append((where, "must be a string"))
    elif len(value) > max_len:
        problems.append((where, f"must be at most {max_len} characters"))


def _datetime(obj: dict[str, Any], key: str, path: str, problems: Problems, required: bool) -> None:
    value = obj.get(key)
    where = f"{path}.{key}" if path else key
    if value is None:
        if required:
            problems.append((where, "is required"))
        return
    try:
        if not isinstance(value, str):
            raise ValueError
        normalize(value)
    except ValueError:
        problems.append((where, "must be an ISO 8601 date-time"))


def _status(obj: dict[str, Any], key: str, path: str, problems: Problems, required: bool) -> None:
    value = obj.get(key)
    where = f"{path}.{key}" if path else key
    if value is None:
        if required:
            problems.append((where, "is required"))
    elif value not in STATUSES:
        problems.append((where, f"must be one of {', '.join(STATUSES)}; got {value!r}"))


def _timeslot_problems(slot: Any, path: str) -> Problems:
    if not isinstance(slot, dict):
        return [(path, "must be an object")]
    problems: Problems = []
    _string(slot, "title", path, problems, required=False, max_len=200)
    _string(slot, "interviewType", path, problems, required=False, max_len=400)
    _string(slot, "place", path, problems, required=False, max_len=500)
    _datetime(slot, "startsOn", path, problems, True)
    _datetime(slot, "endsOn", path, problems, True)
    _status(slot, "candidateStatus", path, problems, False)
    people = slot.get("interviewers")
    where = f"{path}.interviewers" if path else "interviewers"
    if people is None:
        problems.append((where, "is required"))
    elif not isinstance(people, list) or not 1 <= len(people) <= 50:
        problems.append((where, "must be an array of 1 to 50 interviewers"))
    else:
        for i, person in enumerate(people):
            at = f"{where}[{i}]"
            if not isinstance(person, dict):
                problems.append((at, "must be an object"))
                continue
            _string(person, "id", at, problems, required=True, max_len=100)
            _status(person, "status", at, problems, True)
    return problems


def _check_timeslot(t: Tenant, slot: dict[str, Any], path: str) -> dict[str, Any]:
    """The semantic checks after the shape is valid; returns the stored timeslot."""
    users = {u["id"] for u in t.users}
    unknown = [p["id"] for p in slot["interviewers"] if p["id"] not in users]
    prefix = f"{path}." if path else ""
    if unknown:
        raise _coded(
            "NON_EXISTING_INTERVIEWERS",
            f"{prefix}interviewers",
            f"Interviewers do not exist: {', '.join(unknown)}",
        )
    starts, ends = normalize(slot["startsOn"]), normalize(slot["endsOn"])
    if ends < starts:
        raise _coded("END_DATE_BEFORE_START_DATE", f"{prefix}endsOn", "endsOn is before startsOn")
    return drop_none(
        {
            "id": t.new_id(),
            "title": slot.get("title"),
            "interviewType": slot.get("interviewType"),
            "place": slot.get("place"),
            "startsOn": starts,
            "endsOn": ends,
            "interviewers": [{"id": p["id"], "status": p["status"]} for p in slot["interviewers"]],
            "candidateStatus": slot.get("candidateStatus") or "pending",
            "noShow": False,
        }
    )


# ---- rendering -----------------------------------------------------------------------------
def render_timeslot(slot: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in slot.items() if v is not None}
    out["interviewers"] = [dict(p) for p in slot["interviewers"]]
    return out


def render_interview(request: Request, t: Tenant, iv: dict[str, Any]) -> dict[str, Any]:
    cand = t.candidates.get(iv["candidateId"])
    candidate = (
        render.candidate_summary(request, t, cand)
        if cand is not None
        else {"id": iv["candidateId"]}
    )
    return drop_none(
        {
            "id": iv["id"],
            "candidate": candidate,
            "jobId": iv["jobId"],
            "location": iv.get("location"),
            "organizerId": iv["organizerId"],
            "timezone": iv["timezone"],
            "timeslots": [render_timeslot(s) for s in iv["timeslots"]],
            "createdOn": iv["createdOn"],
            "refUrl": iv.get("refUrl"),
            "source": iv.get("source"),
        }
    )


# ---- lookups -------------------------------------------------------------------------------
def _interview(t: Tenant, interview_id: str) -> dict[str, Any]:
    iv = t.interviews.get(interview_id)
    if iv is None:
        raise not_found("INTERVIEW_NOT_FOUND", f"Interview with id {interview_id} not found")
    return iv


def _timeslot(iv: dict[str, Any], timeslot_id: str) -> dict[str, Any]:
    for slot in iv["timeslots"]:
        if slot["id"] == timeslot_id:
            return slot
    raise not_found("TIMESLOT_NOT_FOUND", f"Timeslot with id {timeslot_id} not found")


def _slot_of(request: Request) -> dict[str, Any]:
    t = tenant_of(request)
    iv = _interview(t, request.path_params["interviewId"])
    return _timeslot(iv, request.path_params["timeslotId"])


# ---- interview types -----------------------------------------------------------------------
async def get_types(request: Request) -> Response:
    return json_response(list(tenant_of(request).interview_types))


async def patch_types(request: Request) -> Response:
    _scope(request, "interviews_manage", "create an interview type")
    t = tenant_of(request)
    body = await _json(request)
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_TYPES:
        raise unprocessable([("", f"must be an array of 1 to {MAX_TYPES} interview types")])
    problems = [
        (f"[{i}]", "must be a non-empty string of at most 400 characters")
        for i, v in enumerate(body)
        if not isinstance(v, str) or not v.strip() or len(v) > 400
    ]
    if problems:
        raise unprocessable(problems)
    new = [v for v in dict.fromkeys(body) if v not in t.interview_types]
    if len(t.interview_types) + len(new) > MAX_TYPES:
        raise ApiError(
            409,
            "INTERVIEW_TYPES_SIZE_EXCEEDED",
            f"At most {MAX_TYPES} interview types; {len(t.interview_types)} exist",
        )
    t.interview_types.extend(new)
    return empty(204)


async def delete_type(request: Request) -> Response:
    _scope(request, "interviews_manage", "delete an interview type")
    t = tenant_of(request)
    name = request.path_params["interviewType"]
    if name not in t.interview_types:
        raise not_found("INTERVIEW_TYPE_NOT_FOUND", f"No interview type named {name!r}")
    t.interview_types.remove(name)
    return empty(204)


# ---- interviews ----------------------------------------------------------------------------
async def list_interviews(request: Request) -> Response:
    _scope(request, "interviews_read", "access interviews")
    t = tenant_of(request)
    app_id = request.query_params.get("applicationId")
    if not app_id:
        raise unprocessable([("applicationId", "query parameter is required")])
    if app_id not in t.applications:
        raise not_found("APPLICATION_NOT_FOUND", f"Application with id {app_id} not found")
    ivs = [t.interviews[i] for i in t.interviews_of_app.get(app_id, []) if i in t.interviews]
    return json_response({"content": [render_interview(request, t, iv) for iv in ivs]})


async def create_interview(request: Request) -> Response:
    _scope(request, "interviews_manage", "create an interview")
    t = tenant_of(request)
    body = await _json(request)
    if not isinstance(body, dict):
        raise unprocessable([("", "must be a JSON object")])
    problems: Problems = []
    cand = body.get("candidate")
    if cand is None:
        problems.append(("candidate", "is required"))
    elif not isinstance(cand, dict):
        problems.append(("candidate", "must be an object"))
    else:
        _string(cand, "id", "candidate", problems, required=True, max_len=100)
    _string(body, "jobId", "", problems, required=True, max_len=100)
    _string(body, "organizerId", "", problems, required=True, max_len=100)
    _string(body, "timezone", "", problems, required=True, max_len=100)
    _string(body, "location", "", problems, required=False, max_len=500)
    _string(body, "refUrl", "", problems, required=False, max_len=2000)
    _datetime(body, "createdOn", "", problems, False)
    slots = body.get("timeslots")
    if slots is None:
        problems.append(("timeslots", "is required"))
    elif not isinstance(slots, list) or not 1 <= len(slots) <= MAX_TIMESLOTS:
        problems.append(("timeslots", f"must be an array of 1 to {MAX_TIMESLOTS} timeslots"))
    else:
        for i, slot in enumerate(slots):
            problems += _timeslot_problems(slot, f"timeslots[{i}]")
    if problems:
        raise unprocessable(problems)
    try:
        zoneinfo.ZoneInfo(body["timezone"])
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ApiError(400, "INVALID_TIMEZONE", f"Unknown timezone {body['timezone']!r}") from None
    if body["organizerId"] not in {u["id"] for u in t.users}:
        raise _coded(
            "NON_EXISTING_ORGANIZER", "organizerId", f"User {body['organizerId']} does not exist"
        )
    assert isinstance(cand, dict) and isinstance(slots, list)  # checked above
    cid, jid = cand["id"], body["jobId"]
    if cid not in t.candidates:
        raise _coded("CANDIDATE_NOT_FOUND", "candidate.id", f"Candidate {cid} not found")
    if jid not in t.jobs:
        raise _coded("JOB_NOT_FOUND", "jobId", f"Job {jid} not found")
    app_id = t.app_by_pair.get((cid, jid))
    if app_id is None:
        raise _coded(
            "APPLICATION_NOT_FOUND", "jobId", f"Candidate {cid} has no application for job {jid}"
        )
    stored = [_check_timeslot(t, s, f"timeslots[{i}]") for i, s in enumerate(slots)]
    iv = drop_none(
        {
            "id": t.new_id(),
            "applicationId": app_id,
            "candidateId": cid,
            "jobId": jid,
            "location": body.get("location"),
            "organizerId": body["organizerId"],
            "timezone": body["timezone"],
            "timeslots": stored,
            "createdOn": normalize(body["createdOn"]) if body.get("createdOn") else t.now(),
            "refUrl": body.get("refUrl"),
            "source": "API",
        }
    )
    t.interviews[iv["id"]] = iv
    t.interviews_of_app.setdefault(app_id, []).append(iv["id"])
    return json_response(render_interview(request, t, iv), 201)


async def get_interview(request: Request) -> Response:
    _scope(request, "interviews_read", "access an interview")
    t = tenant_of(request)
    iv = _interview(t, request.path_params["interviewId"])
    return json_response(render_interview(request, t, iv))


async def delete_interview(request: Request) -> Response:
    _scope(request, "interviews_manage", "delete an interview")
    t = tenant_of(request)
    iv = _interview(t, request.path_params["interviewId"])
    del t.interviews[iv["id"]]
    ids = t.interviews_of_app.get(iv["applicationId"], [])
    if iv["id"] in ids:
        ids.remove(iv["id"])
    return empty(204)


# ---- timeslots -----------------------------------------------------------------------------
async def create_timeslot(request: Request) -> Response:
    _scope(request, "interviews_manage", "create a timeslot")
    t = tenant_of(request)
    iv = _interview(t, request.path_params["interviewId"])
    body = await _json(request)
    problems = _timeslot_problems(body, "")
    if problems:
        raise unprocessable(problems)
    if len(iv["timeslots"]) >= MAX_TIMESLOTS:
        raise ApiError(
            409,
            "CANNOT_ADD_MORE_TIMESLOTS",
            f"An interview holds at most {MAX_TIMESLOTS} timeslots",
        )
    slot = _check_timeslot(t, body, "")
    iv["timeslots"].append(slot)
    return json_response(render_timeslot(slot), 201)


async def get_timeslot(request: Request) -> Response:
    _scope(request, "interviews_read", "access a timeslot")
    return json_response(render_timeslot(_slot_of(request)))


async def _status_body(request: Request) -> str:
    body = await _json(request)
    if not isinstance(body, dict):
        raise unprocessable([("", "must be a JSON object")])
    problems: Problems = []
    _status(body, "status", "", problems, True)
    if problems:
        raise unprocessable(problems)
    return str(body["status"])


async def put_candidate_status(request: Request) -> Response:
    _scope(request, "interviews_manage", "change the candidate's status")
    slot = _slot_of(request)
    slot["candidateStatus"] = await _status_body(request)
    return empty(204)


async def put_interviewer_status(request: Request) -> Response:
    _scope(request, "interviews_manage", "change an interviewer's status")
    slot = _slot_of(request)
    user_id = request.path_params["userId"]
    person = next((p for p in slot["interviewers"] if p["id"] == user_id), None)
    if person is None:
        raise not_found(
            "NON_EXISTING_INTERVIEWERS", f"User {user_id} is not an interviewer in this timeslot"
        )
    person["status"] = await _status_body(request)
    return empty(204)


async def patch_no_show(request: Request) -> Response:
    _scope(request, "interviews_manage", "change the no-show value")
    slot = _slot_of(request)
    # The parameter's name is not in the spec; ``value`` is accepted as well.
    raw = request.query_params.get("noShow", request.query_params.get("value"))
    if raw is None or raw.lower() not in ("true", "false"):
        raise unprocessable([("noShow", "query parameter must be true or false")])
    slot["noShow"] = raw.lower() == "true"
    return empty(204)


IV = BASE + "/interviews/{interviewId}"
TS = IV + "/timeslots/{timeslotId}"
ROUTES = [
    Route(BASE + "/interview-types", get_types, methods=["GET"]),
    Route(BASE + "/interview-types", patch_types, methods=["PATCH"]),
    Route(BASE + "/interview-types/{interviewType}", delete_type, methods=["DELETE"]),
    Route(BASE + "/interviews", list_interviews, methods=["GET"]),
    Route(BASE + "/interviews", create_interview, methods=["POST"]),
    Route(IV, get_interview, methods=["GET"]),
    Route(IV, delete_interview, methods=["DELETE"]),
    Route(IV + "/timeslots", create_timeslot, methods=["POST"]),
    Route(TS, get_timeslot, methods=["GET"]),
    Route(TS + "/candidateStatus", put_candidate_status, methods=["PUT"]),
    Route(TS + "/interviewers/{userId}/status", put_interviewer_status, methods=["PUT"]),
    Route(TS + "/noshow", patch_no_show, methods=["PATCH"]),
]
