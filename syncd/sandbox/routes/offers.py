"""Offers: the tenant-wide list (offset paging; `createdAfter`, `createdBefore`, `age`, `status`;
no ``updatedAfter``) and the offers of one application."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import bad_request, not_found
from syncd.sandbox.jsonresp import json_response
from syncd.sandbox.paging import query_int
from syncd.sandbox.routes import render
from syncd.sandbox.routes.common import listing, query_time
from syncd.sandbox.server import tenant_of
from syncd.sandbox.state import OFFER_STATUSES
from syncd.sandbox.timefmt import iso

AGE = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week|month)s?\s*$", re.I)
UNIT = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400}


async def list_offers(request: Request) -> Response:
    t = tenant_of(request)
    limit = query_int(request, "limit", 100, 1, 100)
    offset = query_int(request, "offset", 0, 0, 10**9)
    after = query_time(request, "createdAfter")
    before = query_time(request, "createdBefore")
    statuses = set(request.query_params.getlist("status"))
    bad = statuses - set(OFFER_STATUSES)
    if bad:
        raise bad_request(
            "INVALID_PARAMETER",
            f"Query parameter 'status' must be one of {', '.join(OFFER_STATUSES)}",
        )
    age = request.query_params.get("age")
    if age:
        m = AGE.match(age)
        if not m:
            raise bad_request("INVALID_PARAMETER", "Query parameter 'age' must look like '10 days'")
        since = iso(t.clock.now() - int(m.group(1)) * UNIT[m.group(2).lower()])
        after = max(after or since, since)
    order = t.offer_order
    if not (after or before or statuses) and len(order.keys) == len(order):
        # Nothing filtered out and nothing deleted: the page is a slice of the creation order.
        # (Filtering every offer for every page made a crawl of the whole list quadratic: 8 s
        # of 413 pages at 41k offers.)
        page = [t.offers[k] for k in order.keys[offset : offset + limit]]
        total = len(order)
    else:
        items = [
            o
            for _, o in order.iter_from(0)
            if (not after or o["createdOn"] >= after)
            and (not before or o["createdOn"] < before)
            and (not statuses or o["status"] in statuses)
        ]
        page, total = items[offset : offset + limit], len(items)
    content = [render.offer(request, o) for o in page]
    body = {"limit": limit, "offset": offset, "totalFound": total, "content": content}
    return json_response(body)


async def list_application_offers(request: Request) -> Response:
    t = tenant_of(request)
    app = t.application(request.path_params["id"], request.path_params["jobId"])
    offers = [t.offers[o] for o in t.offers_of_app.get(app["id"], [])]
    if not offers:
        raise not_found("OFFER_NOT_FOUND", "No offers found for this application")
    return json_response(listing([render.offer(request, o) for o in offers]))


async def get_application_offer(request: Request) -> Response:
    t = tenant_of(request)
    p = request.path_params
    return json_response(render.offer(request, t.offer_of(p["id"], p["jobId"], p["offerId"])))


P = "/candidates/{id}/jobs/{jobId}/offers"
ROUTES = [
    Route("/offers", list_offers, methods=["GET"]),
    Route(P, list_application_offers, methods=["GET"]),
    Route(P + "/{offerId}", get_application_offer, methods=["GET"]),
]
