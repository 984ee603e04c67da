"""Candidates API: listing with cursor paging and filters, details, applications, status and
onboarding status, status history."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import ApiError, bad_request
from syncd.sandbox.jsonresp import empty, json_response
from syncd.sandbox.paging import cursor_page, filters_key, next_link, query_int
from syncd.sandbox.routes import render
from syncd.sandbox.routes.common import drop_none, listing, query_time
from syncd.sandbox.server import tenant_of
from syncd.sandbox.state import APPLICATION_STATUSES, CONSENT_STATUSES, ONBOARDING_STATUSES, Tenant
from syncd.sandbox.validate import Field, check, read_json


def _enum_param(request: Request, name: str, allowed: tuple[str, ...]) -> list[str]:
    values = request.query_params.getlist(name)
    for v in values:
        if v not in allowed:
            raise bad_request(
                "INVALID_PARAMETER",
                f"Query parameter '{name}' must be one of {', '.join(allowed)}; got '{v}'",
            )
    return values


def _candidate_filter(request: Request, t: Tenant) -> Any:
    updated_after = query_time(request, "updatedAfter")
    statuses = set(_enum_param(request, "status", APPLICATION_STATUSES))
    onboarding = set(_enum_param(request, "onboardingStatus", ONBOARDING_STATUSES))
    consent = set(_enum_param(request, "consentStatus", CONSENT_STATUSES))
    sub_statuses = set(request.query_params.getlist("subStatus"))
    job_ids = set(request.query_params.getlist("jobId"))
    tags = set(request.query_params.getlist("tag"))
    q = (request.query_params.get("q") or "").lower()
    if not any((updated_after, statuses, onboarding, consent, sub_statuses, job_ids, tags, q)):
        return lambda c: bool(t.apps_of_candidate.get(c["id"]))
    apps_of, apps = t.apps_of_candidate, t.applications

    def keep(c: dict[str, Any]) -> bool:
        # The API lists only candidates with at least one application.
        mine = [apps[a] for a in apps_of.get(c["id"], ())]
        if not mine:
            return False
        if updated_after and c["updatedOn"] <= updated_after:
            return False
        if consent and c.get("consent", {}).get("status") not in consent:
            return False
        if tags and not tags.intersection(c.get("tags", ())):
            return False
        if q and q not in f"{c['firstName']} {c['lastName']} {c.get('email', '')}".lower():
            return False
        if statuses or onboarding or sub_statuses or job_ids:
            return any(
                (not statuses or a["status"] in statuses)
                and (not onboarding or a.get("onboardingStatus") in onboarding)
                and (not sub_statuses or a.get("subStatus") in sub_statuses)
                and (not job_ids or a["jobId"] in job_ids)
                for a in mine
            )
        return True

    return keep


async def list_candidates(request: Request) -> Response:
    t = tenant_of(request)
    limit = query_int(request, "limit", 100, 1, 100)
    keep = _candidate_filter(request, t)
    content, total, token = cursor_page(
        request,
        t.candidate_order,
        keep=keep,
        render=lambda c: render.candidate_summary(request, t, c),
        limit=limit,
        filters=filters_key(request),
    )
    body: dict[str, Any] = {"limit": limit, "offset": 0, "totalFound": total, "content": content}
    headers = {}
    if token:
        body["nextPageId"] = token
        headers["Link"] = next_link(request, "pageId", token)
    return json_response(body, headers=headers)


async def get_candidate(request: Request) -> Response:
    t = tenant_of(request)
    cand = t.candidate(request.path_params["id"])
    return json_response(render.candidate_details(request, t, cand))


async def get_application(request: Request) -> Response:
    t = tenant_of(request)
    app = t.application(request.path_params["id"], request.path_params["jobId"])
    return json_response(render.application(request, t, app))


async def get_status_history(request: Request) -> Response:
    t = tenant_of(request)
    app = t.application(request.path_params["id"], request.path_params["jobId"])
    # The API leaves out a sub-status that is not set (the schema's subStatus is not nullable).
    return json_response(listing([drop_none(h) for h in t.app_history[app["id"]]]))


async def put_status(request: Request) -> Response:
    t = tenant_of(request)
    app = t.application(request.path_params["id"], request.path_params["jobId"])
    body = check(
        await read_json(request),
        {
            "status": Field(str, required=True, enum=APPLICATION_STATUSES),
            "subStatus": Field(str),
            "startsOn": Field(str),
            "reason": Field(dict),
        },
    )
    status = body["status"]
    if body.get("reason") is not None and status not in ("REJECTED", "WITHDRAWN"):
        raise bad_request("NO_REASON_SUPPORT_FOR_STATUS", f"Status {status} does not take a reason")
    subs = t.config["hiring_processes"][0]["subStatuses"].get(status, [])
    sub = body.get("subStatus")
    if sub is not None and subs and sub not in subs:
        raise bad_request("INVALID_SUB_STATUS", f"Sub-status '{sub}' is not defined for {status}")
    starts_on = None
    if body.get("startsOn"):
        try:
            from syncd.sandbox.timefmt import normalize

            starts_on = normalize(body["startsOn"])
        except ValueError:
            raise bad_request(
                "INVALID_REQUEST_BODY", "'startsOn' must be an ISO 8601 date-time"
            ) from None
    t.set_status(app, status, sub, reason=body.get("reason"), starts_on=starts_on)
    return empty(204)


async def put_onboarding_status(request: Request) -> Response:
    t = tenant_of(request)
    app = t.application(request.path_params["id"], request.path_params["jobId"])
    if not t.onboarding_status_enabled:
        raise ApiError(
            404,
            "ONBOARDING_STATUS_NOT_ACTIVE",
            "Onboarding Status field is not enabled for this company",
        )
    body = check(
        await read_json(request),
        {"onboardingStatus": Field(str, required=True, enum=ONBOARDING_STATUSES)},
    )
    t.set_onboarding_status(app, body["onboardingStatus"])
    return empty(204)


P = "/candidates/{id}/jobs/{jobId}"
ROUTES = [
    Route("/candidates", list_candidates, methods=["GET"]),
    Route("/candidates/{id}", get_candidate, methods=["GET"]),
    Route(P, get_application, methods=["GET"]),
    Route(f"{P}/status/history", get_status_history, methods=["GET"]),
    Route(f"{P}/status", put_status, methods=["PUT"]),
    Route(f"{P}/onboardingStatus", put_onboarding_status, methods=["PUT"]),
]
