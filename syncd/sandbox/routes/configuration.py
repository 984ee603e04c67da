"""Configuration API reads a sync needs: departments, sources and their values, hiring
processes, rejection and withdrawal reasons, candidate properties and job properties.

Lists are not paged (``{totalFound, content}``), except source values (``limit``/``offset``, as
the spec has it) and job-property values (``pageId``/``pageSize`` up to 20000, ``nextPageId``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.errors import bad_request, not_found
from syncd.sandbox.jsonresp import json_response
from syncd.sandbox.paging import decode_token, encode_token, filters_key, invalid_page_id, query_int
from syncd.sandbox.routes.common import action, listing
from syncd.sandbox.server import tenant_of
from syncd.sandbox.state import Tenant

C = "/configuration"


def _find(items: list[dict[str, Any]], key: str, code: str, what: str) -> dict[str, Any]:
    for item in items:
        if item["id"] == key:
            return item
    raise not_found(code, f"{what} with id {key} not found")


def _pairs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": i["id"], "label": i["label"]} for i in items]


async def departments(request: Request) -> Response:
    return json_response(listing(_pairs(tenant_of(request).config.get("departments", []))))


def _source_type(request: Request, st: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": st["id"],
        "label": st["label"],
        "subtypes": [
            {"id": s["id"]} if isinstance(s, dict) else {"id": str(s)}
            for s in st.get("sourceSubTypes", [])
        ],
        "actions": {"values": action(request, f"{C}/sources/{st['id']}/values")},
    }


async def sources(request: Request) -> Response:
    t = tenant_of(request)
    return json_response(
        listing([_source_type(request, st) for st in t.config.get("source_types", [])])
    )


def _source_value(request: Request, v: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": v["id"], "label": v["label"]}
    if v.get("sourceSubTypeId"):
        out["sourceSubType"] = {"id": v["sourceSubTypeId"]}
    out["actions"] = {
        "sourceDetails": action(request, f"{C}/sources/{v['sourceTypeId']}/values/{v['id']}")
    }
    return out


def _values_of_type(t: Tenant, source_type: str) -> list[dict[str, Any]]:
    _find(t.config.get("source_types", []), source_type, "SOURCE_TYPE_NOT_FOUND", "Source type")
    return [v for v in t.config.get("source_values", []) if v["sourceTypeId"] == source_type]


async def source_values(request: Request) -> Response:
    t = tenant_of(request)
    limit = query_int(request, "limit", 100, 1, 100)
    offset = query_int(request, "offset", 0, 0, 10**9)
    values = _values_of_type(t, request.path_params["sourceType"])
    sub = request.query_params.get("sourceSubType")
    if sub:
        values = [v for v in values if v.get("sourceSubTypeId") == sub]
    page = [_source_value(request, v) for v in values[offset : offset + limit]]
    return json_response(
        {"totalFound": len(values), "limit": limit, "offset": offset, "content": page}
    )


async def source_value(request: Request) -> Response:
    t = tenant_of(request)
    values = _values_of_type(t, request.path_params["sourceType"])
    value = _find(values, request.path_params["valueId"], "SOURCE_NOT_FOUND", "Source")
    return json_response(_source_value(request, value))


def _process(p: dict[str, Any]) -> dict[str, Any]:
    subs = {k: list(v) for k, v in (p.get("subStatuses") or {}).items() if v}
    return {"id": p["id"], "name": p["name"], "active": p.get("active", True), "subStatuses": subs}


async def hiring_processes(request: Request) -> Response:
    t = tenant_of(request)
    return json_response(listing([_process(p) for p in t.config.get("hiring_processes", [])]))


async def hiring_process(request: Request) -> Response:
    t = tenant_of(request)
    items = t.config.get("hiring_processes", [])
    p = _find(items, request.path_params["id"], "HIRING_PROCESS_NOT_FOUND", "Hiring process")
    return json_response(_process(p))


async def rejection_reasons(request: Request) -> Response:
    return json_response(listing(_pairs(tenant_of(request).config.get("rejection_reasons", []))))


async def withdrawal_reasons(request: Request) -> Response:
    return json_response(listing(_pairs(tenant_of(request).config.get("withdrawal_reasons", []))))


def _candidate_property(request: Request, p: dict[str, Any]) -> dict[str, Any]:
    out = {"id": p["id"], "label": p["label"], "type": p["type"]}
    out["availability"] = {"toUsers": "ALL", "context": ["PROFILE"]}
    actions = {"details": action(request, f"{C}/candidate-properties/{p['id']}")}
    if p["type"] == "SINGLE_SELECT":
        actions["values"] = action(request, f"{C}/candidate-properties/{p['id']}/values")
    out["actions"] = actions
    return out


def _cand_prop(request: Request) -> dict[str, Any]:
    t = tenant_of(request)
    return _find(
        t.config.get("candidate_properties", []),
        request.path_params["id"],
        "CANDIDATE_PROPERTY_NOT_FOUND",
        "Candidate property",
    )


async def candidate_properties(request: Request) -> Response:
    t = tenant_of(request)
    props = t.config.get("candidate_properties", [])
    return json_response(listing([_candidate_property(request, p) for p in props]))


async def candidate_property(request: Request) -> Response:
    return json_response(_candidate_property(request, _cand_prop(request)))


async def candidate_property_values(request: Request) -> Response:
    prop = _cand_prop(request)
    if prop["type"] != "SINGLE_SELECT":
        raise bad_request(
            "PROPERTY_HAS_NO_VALUES",
            f"Candidate property {prop['id']} is of type {prop['type']}, not SINGLE_SELECT",
        )
    return json_response(listing(_pairs(prop.get("values", []))))


def _job_property(request: Request, p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p["id"],
        "label": p["label"],
        "category": p.get("category", "job"),
        "active": p.get("enabled", True),
        "visible": p.get("visible", True),
        "required": p.get("required", False),
        "actions": {"values": action(request, f"{C}/job-properties/{p['id']}/values")},
    }


def _job_prop(request: Request) -> dict[str, Any]:
    t = tenant_of(request)
    return _find(
        t.config.get("job_properties", []),
        request.path_params["id"],
        "JOB_PROPERTY_NOT_FOUND",
        "Job property",
    )


async def job_properties(request: Request) -> Response:
    t = tenant_of(request)
    props = t.config.get("job_properties", [])
    return json_response(listing([_job_property(request, p) for p in props]))


async def job_property(request: Request) -> Response:
    return json_response(_job_property(request, _job_prop(request)))


async def job_property_values(request: Request) -> Response:
    prop = _job_prop(request)
    size = query_int(request, "pageSize", 20000, 1, 20000)
    values = prop.get("values", [])
    filters = f"{prop['id']}|{filters_key(request, 'pageSize')}"
    token = request.query_params.get("pageId")
    if token:
        start, total = decode_token(token, filters)
        if start > len(values):
            raise invalid_page_id()
    else:
        start, total = 0, len(values)
    page = values[start : start + size]
    body: dict[str, Any] = {
        "totalFound": total,
        "content": [
            {
                "id": v["id"],
                "label": v["label"],
                **({"archived": True} if v.get("archived") else {}),
            }
            for v in page
        ],
    }
    if start + size < len(values):
        body["nextPageId"] = encode_token(start + size, total, filters)
    return json_response(body)


ROUTES = [
    Route(f"{C}/departments", departments, methods=["GET"]),
    Route(f"{C}/sources", sources, methods=["GET"]),
    Route(f"{C}/sources/{{sourceType}}/values", source_values, methods=["GET"]),
    Route(f"{C}/sources/{{sourceType}}/values/{{valueId}}", source_value, methods=["GET"]),
    Route(f"{C}/hiring-processes", hiring_processes, methods=["GET"]),
    Route(f"{C}/hiring-processes/{{id}}", hiring_process, methods=["GET"]),
    Route(f"{C}/rejection-reasons", rejection_reasons, methods=["GET"]),
    Route(f"{C}/withdrawal-reasons", withdrawal_reasons, methods=["GET"]),
    Route(f"{C}/candidate-properties", candidate_properties, methods=["GET"]),
    Route(f"{C}/candidate-properties/{{id}}", candidate_property, methods=["GET"]),
    Route(f"{C}/candidate-properties/{{id}}/values", candidate_property_values, methods=["GET"]),
    Route(f"{C}/job-properties", job_properties, methods=["GET"]),
    Route(f"{C}/job-properties/{{id}}", job_property, methods=["GET"]),
    Route(f"{C}/job-properties/{{id}}/values", job_property_values, methods=["GET"]),
]
