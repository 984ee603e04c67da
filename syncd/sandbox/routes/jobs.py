"""Jobs API reads: the list (cursor with ``sort=job_id`` + ``pageId``, or the deprecated offset),
details, status history and positions."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import bad_request, not_found
from syncd.sandbox.jsonresp import json_response
from syncd.sandbox.paging import cursor_page, filters_key, next_link, query_int
from syncd.sandbox.routes import render
from syncd.sandbox.routes.common import listing, query_time
from syncd.sandbox.server import tenant_of
from syncd.sandbox.state import JOB_STATUSES, POSTING_STATUSES


def _job_filter(request: Request) -> Any:
    updated_after = query_time(request, "updatedAfter")
    activity_after = query_time(request, "lastActivityAfter")
    statuses = set(request.query_params.getlist("status"))
    postings = set(request.query_params.getlist("postingStatus"))
    for name, values, allowed in (
        ("status", statuses, JOB_STATUSES),
        ("postingStatus", postings, POSTING_STATUSES),
    ):
        bad = values - set(allowed)
        if bad:
            raise bad_request(
                "INVALID_PARAMETER",
                f"Query parameter '{name}' must be one of {', '.join(allowed)}; "
                f"got '{sorted(bad)[0]}'",
            )
    q = (request.query_params.get("q") or "").lower()
    city = request.query_params.get("city")
    department = request.query_params.get("department")
    if not any((updated_after, activity_after, statuses, postings, q, city, department)):
        return None

    def keep(j: dict[str, Any]) -> bool:
        return (
            (not updated_after or j["updatedOn"] > updated_after)
            and (not activity_after or j.get("lastActivityOn", "") > activity_after)
            and (not statuses or j["status"] in statuses)
            and (not postings or j["postingStatus"] in postings)
            and (not q or q in j["title"].lower() or q in j.get("refNumber", "").lower())
            and (not city or j["location"].get("city") == city)
            and (not department or j.get("department", {}).get("id") == department)
        )

    return keep


async def list_jobs(request: Request) -> Response:
    t = tenant_of(request)
    limit = query_int(request, "limit", 10, 1, 100)
    keep = _job_filter(request)
    body: dict[str, Any]
    headers: dict[str, str] = {}
    sort = request.query_params.get("sort")
    if sort not in (None, "", "job_id"):
        raise bad_request("INVALID_PARAMETER", "Query parameter 'sort' must be job_id")
    if request.query_params.get("pageId") or sort == "job_id":
        content, total, token = cursor_page(
            request,
            t.job_order,
            keep=keep,
            render=lambda j: render.job_summary(request, j),
            limit=limit,
            filters=filters_key(request),
        )
        body = {"limit": limit, "offset": 0, "totalFound": total, "content": content}
        if token:
            body["nextPageId"] = token
            headers["Link"] = next_link(request, "pageId", token)
        return json_response(body, headers=headers)
    # Deprecated offset paging, kept because old clients still use it.
    offset = query_int(request, "offset", 0, 0, 10**9)
    items = [j for _, j in t.job_order.iter_from(0) if keep is None or keep(j)]
    content = [render.job_summary(request, j) for j in items[offset : offset + limit]]
    return json_response(
        {"limit": limit, "offset": offset, "totalFound": len(items), "content": content}
    )


async def get_job(request: Request) -> Response:
    t = tenant_of(request)
    return json_response(render.job_details(request, t.job(request.path_params["jobId"])))


async def get_job_history(request: Request) -> Response:
    t = tenant_of(request)
    jid = request.path_params["jobId"]
    t.job(jid)
    return json_response(listing([dict(h) for h in t.job_history.get(jid, [])]))


async def list_positions(request: Request) -> Response:
    t = tenant_of(request)
    jid = request.path_params["jobId"]
    t.job(jid)
    return json_response(listing(list(t.positions.get(jid, {}).values())))


async def get_position(request: Request) -> Response:
    t = tenant_of(request)
    jid = request.path_params["jobId"]
    t.job(jid)
    pos = t.positions.get(jid, {}).get(request.path_params["positionId"])
    if pos is None:
        raise not_found("POSITION_NOT_FOUND", "Position not found")
    return json_response(pos)


ROUTES = [
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{jobId}", get_job, methods=["GET"]),
    Route("/jobs/{jobId}/status/history", get_job_history, methods=["GET"]),
    Route("/jobs/{jobId}/positions", list_positions, methods=["GET"]),
    Route("/jobs/{jobId}/positions/{positionId}", get_position, methods=["GET"]),
]
