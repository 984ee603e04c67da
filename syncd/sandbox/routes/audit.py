"""Audit API: every change in time order, cursor paged with ``nextPageId``; the default window is
the last 7 days; ADMINISTRATOR only."""

from __future__ import annotations

import bisect
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.jsonresp import json_response
from syncd.sandbox.paging import decode_token, encode_token, filters_key, invalid_page_id, query_int
from syncd.sandbox.routes.common import query_time, require_admin
from syncd.sandbox.server import tenant_of
from syncd.sandbox.timefmt import iso

FILTERS = ("eventName", "authorType", "authorId", "entityType", "entityId")


async def list_events(request: Request) -> Response:
    require_admin(request, "Audit events access")
    t = tenant_of(request)
    limit = query_int(request, "limit", 100, 1, 100)
    after = query_time(request, "eventDateAfter")
    before = query_time(request, "eventDateBefore")
    if after is None and before is None:
        after = iso(t.clock.now() - 7 * 86400)
    wanted = {
        f: set(request.query_params.getlist(f)) for f in FILTERS if request.query_params.get(f)
    }
    fkey = filters_key(request)
    token = request.query_params.get("nextPageId")
    dates = t.audit_dates
    if token:
        start, _ = decode_token(token, fkey)
        if start > len(dates):
            raise invalid_page_id()
    else:
        start = bisect.bisect_right(dates, after) if after else 0
    stop = bisect.bisect_left(dates, before) if before else len(dates)
    content: list[dict[str, Any]] = []
    pos = start
    while pos < stop and len(content) < limit:
        e = t.audit[pos]
        pos += 1
        if all(e.get(f) in vals for f, vals in wanted.items()):
            content.append(e)
    body: dict[str, Any] = {"limit": limit, "content": content}
    if pos < stop:
        body["nextPageId"] = encode_token(pos, 0, fkey)
    return json_response(body)


ROUTES = [Route("/audit-api/v201910/audit-events", list_events, methods=["GET"])]
