"""Jobs API writes and the reads beyond the job itself: create and update jobs, status,
headcount (starts a job approval), hiring team, job ads and their postings, publication, notes,
positions, and candidates created straight onto a job."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox import generator as gen
from syncd.sandbox.errors import ApiError, bad_request, not_found
from syncd.sandbox.jsonresp import empty, json_response
from syncd.sandbox.routes import render
from syncd.sandbox.routes.candidates_extra import CREATE_SOURCE, nonempty_strings, resolve_source
from syncd.sandbox.routes.common import action, drop_none, listing, require_scope
from syncd.sandbox.server import credential_of, tenant_of
from syncd.sandbox.state import JOB_STATUSES, Tenant
from syncd.sandbox.timefmt import normalize
from syncd.sandbox.validate import Field, check, read_json

JOB_ADS_PER_JOB = 100
LANGUAGE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
LANGUAGE_LABELS = {
    "en": "English",
    "en-GB": "English (UK)",
    "de": "German",
    "fr": "French",
    "fr-CA": "French (Canada)",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ja": "Japanese",
}
# Jobs fields a PUT replaces: whatever of them the body leaves out is removed.
OPTIONAL_JOB_FIELDS = (
    "refNumber",
    "targetHiringDate",
    "department",
    "typeOfEmployment",
    "eeoCategory",
    "compensation",
    "jobAd",
    "properties",
)
# Catalogue ids the generator uses, when the configuration holds no list of its own.
CATALOGUES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "industry": ("industries", "ind", gen.INDUSTRIES),
    "function": ("functions", "fn", gen.FUNCTIONS),
    "typeOfEmployment": ("types_of_employment", "emp", gen.EMPLOYMENT),
    "experienceLevel": ("experience_levels", "exp", gen.EXPERIENCE),
    "eeoCategory": ("eeo_categories", "eeo", ("Professionals", "Technicians", "Sales Workers")),
}
NOT_FOUND_CODE = {
    "department": "DEPARTMENT_NOT_FOUND",
    "industry": "INDUSTRY_NOT_FOUND",
    "function": "FUNCTION_NOT_FOUND",
    "typeOfEmployment": "TYPE_OF_EMPLOYMENT_NOT_FOUND",
    "experienceLevel": "EXPERIENCE_LEVEL_NOT_FOUND",
    "eeoCategory": "EEO_CATEGORY_NOT_FOUND",
}


def _many(code: str, messages: list[str], status: int = 400) -> ApiError:
    return ApiError(
        status,
        code,
        "; ".join(messages),
        errors=[{"code": code, "message": m} for m in messages],
    )


def _catalogue(t: Tenant, name: str) -> dict[str, str]:
    if name == "department":
        return {d["id"]: d["label"] for d in t.config.get("departments", [])}
    key, prefix, labels = CATALOGUES[name]
    configured = t.config.get(key)
    if configured:
        return {str(c["id"]): str(c["label"]) for c in configured}
    return {f"{prefix}-{i}": label for i, label in enumerate(labels)}


def _language(code: str) -> dict[str, str]:
    label = LANGUAGE_LABELS.get(code, code)
    return {"code": code, "label": label, "labelNative": label}


def _check_ref_object(body: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    problems = []
    for name in names:
        value = body.get(name)
        if value is not None and (
            not isinstance(value, dict) or not isinstance(value.get("id"), str)
        ):
            problems.append(f"'{name}.id' must be a string")
    return problems


def _job_fields(t: Tenant, body: Any) -> dict[str, Any]:
    """Validate a job body (POST and PUT share it) and resolve ids to ``{id, label}``."""
    body = check(
        body,
        {
            "title": Field(str, required=True),
            "refNumber": Field(str),
            "targetHiringDate": Field(str),
            "department": Field(dict),
            "location": Field(dict, required=True),
            "industry": Field(dict, required=True),
            "function": Field(dict, required=True),
            "typeOfEmployment": Field(dict),
            "experienceLevel": Field(dict, required=True),
            "eeoCategory": Field(dict),
            "template": Field(bool),
            "compensation": Field(dict),
            "jobAd": Field(dict),
            "properties": Field(list),
        },
    )
    problems = _check_ref_object(body, ("department", *CATALOGUES))
    if not body["title"].strip() or len(body["title"]) > 256:
        problems.append("'title' must be 1 to 256 characters")
    if len(body.get("refNumber") or "") > 63:
        problems.append("'refNumber' must be at most 63 characters")
    loc = body["location"]
    if not isinstance(loc.get("countryCode"), str) or len(loc["countryCode"]) != 2:
        problems.append("'location.countryCode' is required: two letters")
    if not isinstance(loc.get("city"), str) or not loc["city"].strip():
        problems.append("'location.city' is required")
    if "remote" in loc and not isinstance(loc["remote"], bool):
        problems.append("'location.remote' must be boolean")
    comp = body.get("compensation") or {}
    for k in ("min", "max"):
        if k in comp and (isinstance(comp[k], bool) or not isinstance(comp[k], int | float)):
            problems.append(f"'compensation.{k}' must be a number")
    lang = (body.get("jobAd") or {}).get("language")
    if lang is not None and (not isinstance(lang, dict) or not isinstance(lang.get("code"), str)):
        problems.append("'jobAd.language.code' must be a string")
    props = body.get("properties") or []
    for i, p in enumerate(props):
        if not isinstance(p, dict) or not isinstance(p.get("id"), str):
            problems.append(f"'properties[{i}].id' must be a string")
        elif not isinstance(p.get("value"), dict):
            problems.append(f"'properties[{i}].value' must be an object")
    target = body.get("targetHiringDate")
    if target is not None:
        try:
            target = normalize(target)
        except ValueError:
            problems.append("'targetHiringDate' must be an ISO 8601 date-time")
    if problems:
        raise _many("INVALID_REQUEST_BODY", problems)
    out: dict[str, Any] = {"title": body["title"].strip(), "template": body.get("template", False)}
    for name in ("department", *CATALOGUES):
        ref = body.get(name)
        if ref is None:
            continue
        known = _catalogue(t, name)
        if ref["id"] not in known:
            raise bad_request(NOT_FOUND_CODE[name], f"'{name}.id' {ref['id']!r} does not exist")
        out[name] = {"id": ref["id"], "label": known[ref["id"]]}
    country = next((c for c in gen.CITIES if c[2] == loc["countryCode"].lower()), None)
    out["location"] = drop_none(
        {
            "city": loc["city"],
            "country": country[1] if country else None,
            "countryCode": loc["countryCode"].lower(),
            "regionCode": loc.get("regionCode"),
            "region": loc.get("region"),
            "address": loc.get("address"),
            "postalCode": loc.get("postalCode"),
            "remote": bool(loc.get("remote", False)),
        }
    )
    code = lang["code"] if isinstance(lang, dict) else "en"
    if not LANGUAGE.match(code):
        raise bad_request("JOB_AD_LANGUAGE_NOT_FOUND", f"Job ad language {code!r} does not exist")
    out["language"] = _language(code)
    if body.get("jobAd") is not None:
        out["jobAd"] = {k: v for k, v in body["jobAd"].items() if k != "language"}
    for key in ("refNumber", "compensation"):
        if body.get(key) is not None:
            out[key] = body[key]
    if target is not None:
        out["targetHiringDate"] = target
    if props:
        out["properties"] = props
    return out


def _ref_taken(t: Tenant, ref: str | None, job_id: str | None = None) -> None:
    if ref and any(j.get("refNumber") == ref and j["id"] != job_id for j in t.jobs.values()):
        raise ApiError(
            409, "REF_NUMBER_ALREADY_EXISTS", f"A job with refNumber '{ref}' already exists"
        )


def _creator(request: Request, t: Tenant) -> dict[str, Any]:
    """The user behind the credential; API keys act as the tenant's first administrator."""
    cred = credential_of(request)
    user = next((u for u in t.users if u["id"] == cred.user_id), None)
    user = user or next((u for u in t.users if u.get("role") == "ADMINISTRATOR"), None)
    if user is None:
        return {"id": cred.user_id}
    return {"id": user["id"], "firstName": user["firstName"], "lastName": user["lastName"]}


# ---- jobs ----------------------------------------------------------------------------------
async def post_job(request: Request) -> Response:
    require_scope(request, "jobs_manage")
    t = tenant_of(request)
    data = _job_fields(t, await read_json(request))
    _ref_taken(t, data.get("refNumber"))
    if "refNumber" not in data:
        n = len(t.jobs) + 1000
        while any(j.get("refNumber") == f"REF{n}" for j in t.jobs.values()):
            n += 1
        data["refNumber"] = f"REF{n}"
    job = t.create_job(data, creator=_creator(request, t))
    return json_response(render.job_details(request, job), 201)


async def put_job(request: Request) -> Response:
    require_scope(request, "jobs_manage")
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    data = _job_fields(t, await read_json(request))
    _ref_taken(t, data.get("refNumber"), job["id"])
    t.update_job(job, data, OPTIONAL_JOB_FIELDS)
    return json_response(render.job_details(request, job))


async def put_job_status(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    body = check(await read_json(request), {"status": Field(str, required=True, enum=JOB_STATUSES)})
    t.set_job_status(job, body["status"])
    return json_response({"status": job["status"]}, 201)


async def get_job_approval(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    approval = t.approvals.get(t.job_approvals.get(job["id"], ""))
    if approval is None:
        raise not_found("APPROVALS_NOT_FOUND", "There is no approval for this job")
    details = approval.get("jobDetails") or {}
    positions = t.positions.get(job["id"], {})
    ids = details.get("positionIds")
    picked = [positions[p] for p in ids if p in positions] if ids else list(positions.values())
    salary = details.get("salaryRange") or job.get("compensation")
    body = {
        "approvalRequestId": approval["id"],
        "positions": [
            {
                k: p[k]
                for k in (
                    "id",
                    "positionId",
                    "type",
                    "incumbentName",
                    "positionOpenDate",
                    "targetStartDate",
                    "status",
                )
                if k in p
            }
            for p in picked
        ],
    }
    if salary:
        body["salaryRange"] = salary
    return json_response(body)


async def patch_headcount(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    body = check(await read_json(request), {"salaryRange": Field(dict)})
    salary = body.get("salaryRange")
    if salary is not None:
        lo, hi, cur = salary.get("min"), salary.get("max"), salary.get("currency")
        nums = [v for v in (lo, hi) if v is not None]
        if any(isinstance(v, bool) or not isinstance(v, int | float) or v < 0 for v in nums):
            raise bad_request(
                "INVALID_SALARY_RANGE", "'salaryRange.min' and 'max' must be numbers >= 0"
            )
        if lo is not None and hi is not None and lo > hi:
            raise bad_request("INVALID_SALARY_RANGE", "'salaryRange.min' is greater than 'max'")
        if cur is not None and (not isinstance(cur, str) or not re.fullmatch(r"[A-Z]{3}", cur)):
            raise bad_request(
                "INVALID_SALARY_RANGE", "'salaryRange.currency' must be an ISO 4217 code"
            )
    if job["status"] in ("FILLED", "CANCELLED"):
        raise bad_request(
            "CANNOT_START_APPROVAL_PROCESS",
            f"No approval can start for a job in status {job['status']}",
        )
    t.start_job_approval(job, salary)
    return json_response({"status": "PENDING"}, 202)


# ---- hiring team, note, positions --------------------------------------------------------
async def get_hiring_team(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    members = [
        {
            "id": m["id"],
            "role": m["role"],
            "actions": {"details": action(request, f"/user-api/v201804/users/{m['id']}")},
        }
        for m in t.hiring_team.get(job["id"], [])
    ]
    return json_response(listing(members))


HIRING_TEAM_ROLES = ("HIRING_MANAGER", "INTERVIEW_TEAM", "RECRUITER", "EXECUTIVE", "COORDINATOR")


async def post_hiring_team_member(request: Request) -> Response:
    """``POST /jobs/{jobId}/hiring-team`` (``HiringTeamMember``: the user's id and role)."""
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    body = check(
        await read_json(request),
        {
            "id": Field(str, required=True),
            "role": Field(str, required=True, enum=HIRING_TEAM_ROLES),
        },
    )
    t.add_hiring_team_member(job, body["id"], body["role"])
    member = {
        "id": body["id"],
        "role": body["role"],
        "actions": {"details": action(request, f"/user-api/v201804/users/{body['id']}")},
    }
    return json_response(member)


async def delete_hiring_team_member(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    t.remove_hiring_team_member(job, request.path_params["userId"])
    return empty(204)


async def get_note(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    note = t.job_notes.get(job["id"])
    if note is None:
        raise not_found("JOB_NOTE_NOT_FOUND", "Job note not found")
    return json_response({"content": note})


def _date(name: str, value: str, problems: list[str]) -> str:
    """A date or a date-time, stored as a date-time: the spec's position dates are date-times,
    so a bare date means midnight UTC."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat() + "T00:00:00.000Z"
        return normalize(value)
    except ValueError:
        problems.append(f"'{name}' must be an ISO 8601 date or date-time")
        return value


async def post_position(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    body = check(
        await read_json(request),
        {
            "type": Field(str, required=True, enum=("NEW", "REPLACEMENT")),
            "positionOpenDate": Field(str, required=True),
            "targetStartDate": Field(str, required=True),
            "positionId": Field(str),
            "incumbentName": Field(str),
        },
    )
    problems: list[str] = []
    opened = _date("positionOpenDate", body["positionOpenDate"], problems)
    start = _date("targetStartDate", body["targetStartDate"], problems)
    if problems:
        raise _many("INVALID_REQUEST_BODY", problems)
    data = drop_none(
        {
            "positionId": body.get("positionId"),
            "type": body["type"],
            "incumbentName": body.get("incumbentName"),
            "positionOpenDate": opened,
            "targetStartDate": start,
        }
    )
    return json_response(t.add_position(job, data), 201)


# ---- job ads and publication -------------------------------------------------------------
def job_ad(request: Request, job_id: str, ad: dict[str, Any]) -> dict[str, Any]:
    """Stored ads keep the job's posting statuses; the job-ad resource speaks PUBLISHED."""
    published = ad.get("postingStatus") not in (None, "NOT_PUBLISHED")
    postings = f"/jobs/{job_id}/jobads/{ad['id']}/postings"
    return drop_none(
        {
            "id": ad["id"],
            "title": ad["title"],
            "language": ad["language"],
            "location": ad.get("location"),
            "jobAd": ad.get("jobAd") or {},
            "createdOn": ad["createdOn"],
            "updatedOn": ad["updatedOn"],
            "applyUrl": f"https://jobs.sandbox.example/{job_id}/{ad['id']}" if published else None,
            "postingStatus": "PUBLISHED" if published else "NOT_PUBLISHED",
            "default": bool(ad.get("defaultJobAd")),
            "actions": {"postings": action(request, postings)},
            "creator": {"id": ad.get("creator", {}).get("id", "system")},
            "visibility": ad.get("visibility", "PUBLIC"),
        }
    )


def _job_ad_fields(job: dict[str, Any], body: Any) -> dict[str, Any]:
    body = check(
        body,
        {
            "title": Field(str, required=True),
            "language": Field(dict),
            "location": Field(dict),
            "jobAd": Field(dict),
        },
    )
    nonempty_strings(body, "title")
    lang = body.get("language")
    if lang is not None:
        code = lang.get("code")
        if not isinstance(code, str):
            raise bad_request("INVALID_REQUEST_BODY", "'language.code' must be a string")
        if not LANGUAGE.match(code):
            raise bad_request("PROPERTY_INVALID", f"'language.code' {code!r} is not a language")
    if "<script" in body["title"].lower():
        raise bad_request("PROPERTY_INVALID", "'title' contains characters not allowed")
    return {
        "title": body["title"],
        "language": _language(lang["code"]) if lang else job["language"],
        "location": body.get("location") or job["location"],
        "jobAd": body.get("jobAd") or {},
    }


async def post_job_ad(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    data = _job_ad_fields(job, await read_json(request))
    if len(t.job_ads.get(job["id"], {})) >= JOB_ADS_PER_JOB:
        raise bad_request("JOB_AD_LIMIT_REACHED", f"A job has at most {JOB_ADS_PER_JOB} job ads")
    ad = t.add_job_ad(job, data, _creator(request, t))
    return json_response(job_ad(request, job["id"], ad))


def _ad(t: Tenant, job: dict[str, Any], ad_id: str) -> dict[str, Any]:
    ad = t.job_ads.get(job["id"], {}).get(ad_id)
    if ad is None:
        raise not_found("JOBAD_NOT_FOUND", f"Job ad with id {ad_id} not found")
    return ad


async def put_job_ad(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    ad = _ad(t, job, request.path_params["jobAdId"])
    t.update_job_ad(job, ad, _job_ad_fields(job, await read_json(request)))
    return json_response(job_ad(request, job["id"], ad))


async def delete_job_ad_postings(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    ad = _ad(t, job, request.path_params["jobAdId"])
    # The real service unposts asynchronously; the sandbox applies it at once and says PENDING.
    t.set_job_publication(job, "NOT_PUBLISHED", [ad])
    return json_response({"unpostingStatus": "PENDING"}, 202)


async def delete_publication(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    t.set_job_publication(job, "NOT_PUBLISHED")
    return empty(204)


async def post_publication(request: Request) -> Response:
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    raw = await request.body()
    body = check(
        await read_json(request) if raw.strip() else {},
        {"aggregators": Field(bool), "visibility": Field(str, enum=("PUBLIC", "INTERNAL"))},
    )
    if job["status"] in ("CANCELLED", "FILLED"):
        raise ApiError(
            403,
            "NOT_AUTHORIZED_TO_PUBLISH_JOB",
            f"A job in status {job['status']} cannot be published",
        )
    t.set_job_publication(job, body.get("visibility", "PUBLIC"))
    return empty(204)


# ---- candidates onto a job ---------------------------------------------------------------
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


async def post_job_candidate(request: Request) -> Response:
    require_scope(request, "candidates_create")
    t = tenant_of(request)
    job = t.job(request.path_params["jobId"])
    body = check(
        await read_json(request),
        {
            "firstName": Field(str, required=True),
            "lastName": Field(str, required=True),
            "email": Field(str, required=True),
            "phoneNumber": Field(str),
            "location": Field(dict),
            "web": Field(dict),
            "tags": Field(list),
            "education": Field(list),
            "experience": Field(list),
            "sourceDetails": Field(dict),
            "internal": Field(bool),
        },
    )
    nonempty_strings(body, "firstName", "lastName")
    problems = []
    if not EMAIL.match(body["email"]):
        problems.append(f"'email' must be an e-mail address, got {body['email']!r}")
    if any(not isinstance(x, str) for x in body.get("tags") or []):
        problems.append("'tags' must hold strings")
    for name in ("education", "experience"):
        if any(not isinstance(x, dict) for x in body.get(name) or []):
            problems.append(f"'{name}' must hold objects")
    if problems:
        raise _many("INVALID_REQUEST_BODY", problems)
    source = None
    details = body.get("sourceDetails")
    if details is not None:
        check(
            details,
            {
                "sourceTypeId": Field(str, required=True),
                "sourceSubTypeId": Field(str),
                "sourceId": Field(str, required=True),
            },
        )
        source = resolve_source(t, details, CREATE_SOURCE)
    data = {
        k: body.get(k)
        for k in (
            "firstName",
            "lastName",
            "email",
            "phoneNumber",
            "location",
            "web",
            "tags",
            "education",
            "experience",
            "internal",
        )
    }
    cand, _ = t.create_candidate(
        {k: v for k, v in data.items() if v is not None}, job_id=job["id"], source=source
    )
    return json_response(render.candidate_details(request, t, cand), 201)


J = "/jobs/{jobId}"
ROUTES = [
    Route("/jobs", post_job, methods=["POST"]),
    Route(J, put_job, methods=["PUT"]),
    Route(f"{J}/status", put_job_status, methods=["PUT"]),
    Route(f"{J}/approvals/latest", get_job_approval, methods=["GET"]),
    Route(f"{J}/candidates", post_job_candidate, methods=["POST"]),
    Route(f"{J}/headcount", patch_headcount, methods=["PATCH"]),
    Route(f"{J}/hiring-team", get_hiring_team, methods=["GET"]),
    Route(f"{J}/hiring-team", post_hiring_team_member, methods=["POST"]),
    Route(f"{J}/hiring-team/{{userId}}", delete_hiring_team_member, methods=["DELETE"]),
    Route(f"{J}/jobads", post_job_ad, methods=["POST"]),
    Route(f"{J}/jobads/{{jobAdId}}", put_job_ad, methods=["PUT"]),
    Route(f"{J}/jobads/{{jobAdId}}/postings", delete_job_ad_postings, methods=["DELETE"]),
    Route(f"{J}/note", get_note, methods=["GET"]),
    Route(f"{J}/positions", post_position, methods=["POST"]),
    Route(f"{J}/publication", delete_publication, methods=["DELETE"]),
    Route(f"{J}/publication", post_publication, methods=["POST"]),
]
