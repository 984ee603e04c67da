"""Personio's v1 API as ``specs/hris/personio/personio-auth-api.yaml`` and
``personio-personnel-data-api-oa3.yaml`` document it (server ``https://api.personio.de/v1``).

- ``POST /v1/auth`` (client id and secret as JSON, form or query) -> bearer with ``expires_in``
  (86400 s by default); bearers are reusable until they expire.
- ``POST /v1/company/employees`` ``{"employee": {email, first_name, last_name, …}}`` -> 200
  ``{"success": true, "data": {"id": …, "message": "success"}}``; 422 ``{"success": false,
  "error": {"code": 422, "message": …}}`` for an invalid payload. Without ``status`` the status
  follows ``hire_date``: in the future -> ``onboarding``, otherwise ``active`` (spec).
- ``GET /v1/company/employees`` with ``email``, ``limit`` (default 50, at most 100: Personio's
  pagination enforcement of 2025-01-31), ``offset``, ``attributes[]``; ``GET …/{employee_id}``;
  ``GET …/attributes``.
- Limits (Personio changelog): 2000 requests/min per client address on v1; ``GET
  /company/employees`` 300/min with bursts of 15/s; ``/auth`` 60/min.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syncd.hris_sandbox.limits import LimitRule
from syncd.hris_sandbox.seed import DEPARTMENTS, LOCATIONS, people
from syncd.hris_sandbox.server import HrisSandbox, sandbox_of
from syncd.hris_sandbox.state import Credential, Token, expired, now_iso, parse_date, today
from syncd.hris_sandbox.vendor import ApiError, Vendor
from syncd.sandbox.jsonresp import json_response

STATUSES = ("onboarding", "active", "leave", "inactive")
GENDERS = ("male", "female", "diverse")
SCOPES = frozenset({"employees:read", "employees:write"})
DEFAULT_LIMIT, MAX_LIMIT = 50, 100
SUBCOMPANIES = ("Sandbox GmbH",)
# key -> (label, type): the attributes every employee carries, in the order they are listed.
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "id": ("ID", "integer"),
    "first_name": ("First name", "standard"),
    "last_name": ("Last name", "standard"),
    "preferred_name": ("Name (preferred)", "standard"),
    "email": ("Email", "standard"),
    "gender": ("Gender", "standard"),
    "status": ("Status", "standard"),
    "position": ("Position", "standard"),
    "supervisor": ("Supervisor", "standard"),
    "weekly_working_hours": ("Weekly hours", "standard"),
    "hire_date": ("Hire date", "date"),
    "created_at": ("created_at", "date"),
    "last_modified_at": ("Last modified", "date"),
    "subcompany": ("Subcompany", "standard"),
    "office": ("Office", "standard"),
    "department": ("Department", "standard"),
}
ORGS = {
    "department": ("Department", DEPARTMENTS),
    "office": ("Office", LOCATIONS),
    "subcompany": ("Subcompany", SUBCOMPANIES),
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The v1 error body: ``{"success": false, "error": {"code": status, "message": …}}``."""
    body = {"success": False, "error": {"code": status, "message": message}}
    return json_response(body, status, headers=headers)


def fail(status: int, message: str) -> ApiError:
    return ApiError(error(status, message))


def require(request: Request, scope: str) -> None:
    cred: Credential = request.scope["state"]["credential"]
    if scope not in cred.scopes:
        raise fail(403, f"The API credentials lack the '{scope}' scope")


def _org(kind: str, name: str | None) -> dict[str, Any] | None:
    if name is None:
        return None
    label, names = ORGS[kind]
    return {"type": label, "attributes": {"id": names.index(name) + 1, "name": name}}


def _value(emp: dict[str, Any], key: str, sb: HrisSandbox) -> Any:
    if key in ORGS:
        return _org(key, emp.get(key))
    if key == "supervisor":
        boss = sb.store.get(emp["supervisor_id"]) if emp.get("supervisor_id") else None
        if boss is None:
            return None
        return {"type": "Employee", "attributes": {"id": _attr(boss, "id", sb)}}
    if key == "hire_date":
        return f"{emp['hire_date']}T00:00:00+00:00" if emp.get("hire_date") else None
    if key == "weekly_working_hours" and emp.get(key) is not None:
        return str(emp[key])
    return emp.get(key)


def _attr(emp: dict[str, Any], key: str, sb: HrisSandbox) -> dict[str, Any]:
    label, kind = ATTRIBUTES[key]
    return {"label": label, "value": _value(emp, key, sb), "type": kind, "universal_id": key}


def render(emp: dict[str, Any], sb: HrisSandbox, only: list[str] | None = None) -> dict[str, Any]:
    """An employee as the v1 API lists it: ``{"type": "Employee", "attributes": {key: {label,
    value, type, universal_id}}}``; ``only`` projects (``id`` is always kept)."""
    keys = [k for k in ATTRIBUTES if only is None or k == "id" or k in only]
    return {"type": "Employee", "attributes": {k: _attr(emp, k, sb) for k in keys}}


async def _form_or_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if "json" in request.headers.get("content-type", "") or raw.strip().startswith(b"{"):
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise fail(400, "The request body is not valid JSON") from None
        return body if isinstance(body, dict) else {}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def post_auth(request: Request) -> Response:
    """``POST /v1/auth``: 200 with a bearer, 400 without both fields, 401 for wrong ones."""
    sb = sandbox_of(request)
    body = {**dict(request.query_params), **(await _form_or_json(request))}
    cid, secret = body.get("client_id"), body.get("client_secret")
    if not isinstance(cid, str) or not isinstance(secret, str) or not cid or not secret:
        raise fail(400, "client_id and client_secret are required")
    cred = sb.credentials.get(cid)
    if cred is None or not cred.secret or not secrets.compare_digest(cred.secret, secret):
        raise fail(401, "Wrong credentials")
    token = secrets.token_urlsafe(32)
    ttl = sb.settings.token_ttl
    sb.tokens[token] = Token(cred, time.time() + ttl)
    sb.stats["tokens"] += 1
    return json_response(
        {
            "success": True,
            "data": {"token": token, "expires_in": ttl, "scope": " ".join(sorted(cred.scopes))},
        }
    )


def check_new_employee(sb: HrisSandbox, body: Any) -> tuple[dict[str, Any], list[str]]:
    """The create rules (spec, POST /company/employees): 422 naming the field for a missing or
    invalid value; an unknown department, office or subcompany is ignored and reported in
    ``meta``."""
    emp = body.get("employee") if isinstance(body, dict) else None
    if not isinstance(emp, dict):
        raise fail(422, 'The body must be {"employee": {...}}')
    for key in ("email", "first_name", "last_name"):
        if not isinstance(emp.get(key), str) or not emp[key].strip():
            raise fail(422, f"The employee's {key} is required")
    # The create schema has no nullable property: null is refused, not taken as absent.
    for key, value in emp.items():
        if value is None:
            raise fail(422, f"The employee's {key} must not be null; leave it out instead")
    for key in (
        "preferred_name",
        "gender",
        "position",
        "department",
        "office",
        "subcompany",
        "hire_date",
        "status",
    ):
        if emp.get(key) is not None and not isinstance(emp[key], str):
            raise fail(422, f"The employee's {key} must be a string")
    email = emp["email"].strip()
    if "@" not in email:
        raise fail(422, "The employee's email is not a valid email address")
    if sb.store.find(lambda e: e["email"].lower() == email.lower()):
        raise fail(422, "The email is already in use by another employee")
    if emp.get("hire_date") is not None and parse_date(emp["hire_date"]) is None:
        raise fail(422, "The employee's hire_date must be in the format yyyy-mm-dd")
    if emp.get("status") is not None and emp["status"] not in STATUSES:
        raise fail(422, f"The employee's status must be one of {', '.join(STATUSES)}")
    if emp.get("gender") is not None and emp["gender"] not in GENDERS:
        raise fail(422, f"The employee's gender must be one of {', '.join(GENDERS)}")
    hours = emp.get("weekly_working_hours")
    if hours is not None and (not isinstance(hours, int | float) or isinstance(hours, bool)):
        raise fail(422, "The employee's weekly_working_hours must be a number")
    boss = emp.get("supervisor_id")
    if boss is not None:
        whole = isinstance(boss, int | float) and not isinstance(boss, bool) and boss == int(boss)
        if not whole:
            raise fail(422, "The employee's supervisor_id must be an employee id (a number)")
        if sb.store.get(int(boss)) is None:
            raise fail(422, f"Supervisor with ID {int(boss)} not found")
    meta = []
    record: dict[str, Any] = {
        k: emp.get(k)
        for k in ("first_name", "last_name", "preferred_name", "gender", "position", "hire_date")
    }
    record["email"] = email
    record["weekly_working_hours"] = hours
    record["supervisor_id"] = int(boss) if boss is not None else None
    for kind, (label, names) in ORGS.items():
        name = emp.get(kind)
        record[kind] = name if name in names else None
        if name is not None and name not in names:
            meta.append(f"{label} is not defined in Personio and was ignored")
    custom = emp.get("custom_attributes")
    if isinstance(custom, dict):
        record["custom_attributes"] = {k: v for k, v in custom.items() if isinstance(v, str)}
    hired = parse_date(emp.get("hire_date"))
    rule = "onboarding" if hired is not None and hired > today() else "active"
    record["status"] = emp.get("status") or sb.settings.new_employee_status or rule
    record["created_at"] = record["last_modified_at"] = now_iso()
    return record, meta


async def create_employee(request: Request) -> Response:
    """``POST /v1/company/employees``: 200 ``{"success": true, "data": {"id", "message"}}``."""
    sb = sandbox_of(request)
    require(request, "employees:write")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise fail(422, "The request body is not valid JSON") from None
    record, meta = check_new_employee(sb, body)
    emp = sb.store.add(record)
    sb.stats["created"] += 1
    out: dict[str, Any] = {"success": True, "data": {"id": emp["id"], "message": "success"}}
    if meta:
        out["meta"] = meta
    return json_response(out)


def _int_param(request: Request, name: str, default: int, low: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low:
        raise fail(400, f"'{name}' must be an integer of at least {low}")
    return value


async def list_employees(request: Request) -> Response:
    """``GET /v1/company/employees``: ``email`` (exact, any case), ``limit`` (default 50, at most
    100), ``offset`` (items), ``attributes[]``; 400 for a limit below 1 or a negative offset."""
    sb = sandbox_of(request)
    require(request, "employees:read")
    if "updated_since" in request.query_params:
        raise fail(400, "updated_since is not modelled by the sandbox")
    limit = min(_int_param(request, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 0)
    only = request.query_params.getlist("attributes[]") or None
    email = request.query_params.get("email")
    rows = list(sb.store)
    if email is not None:
        rows = [e for e in rows if e["email"].lower() == email.strip().lower()]
    total = len(rows)
    return json_response(
        {
            "success": True,
            "metadata": {
                "total_elements": total,
                "current_page": offset // limit,
                "total_pages": math.ceil(total / limit),
            },
            "offset": offset,
            "limit": limit,
            "data": [render(e, sb, only) for e in rows[offset : offset + limit]],
        }
    )


async def get_employee(request: Request) -> Response:
    """``GET /v1/company/employees/{employee_id}``; 404 when unknown."""
    sb = sandbox_of(request)
    require(request, "employees:read")
    emp = sb.store.get(request.path_params["employee_id"])
    if emp is None:
        raise fail(404, "Employee not found")
    return json_response({"success": True, "data": render(emp, sb)})


async def list_attributes(request: Request) -> Response:
    """``GET /v1/company/employees/attributes``: every attribute an employee carries."""
    require(request, "employees:read")
    data = [
        {"key": k, "label": label, "type": kind, "universal_id": k, "options": []}
        for k, (label, kind) in ATTRIBUTES.items()
    ]
    return json_response({"success": True, "data": data})


class Personio(Vendor):
    name = "personio"
    default_port = 8022
    scopes = SCOPES
    uses_client_secret = True
    open_ops = frozenset({"auth"})
    status_field = "status"
    active_status = "active"

    def statuses(self) -> tuple[str, ...]:
        return STATUSES

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/auth", post_auth, methods=["POST"], name="auth"),
            Route("/v1/company/employees/attributes", list_attributes, name="attributes"),
            Route("/v1/company/employees", list_employees, methods=["GET"], name="list"),
            Route("/v1/company/employees", create_employee, methods=["POST"], name="create"),
            Route("/v1/company/employees/{employee_id:int}", get_employee, name="get"),
        ]

    def limit_rules(self) -> list[LimitRule]:
        return [
            LimitRule("per-address", per_second=2000 / 60, capacity=2000, scope="address"),
            LimitRule(
                "auth", per_second=1.0, capacity=60, ops=frozenset({"auth"}), scope="address"
            ),
            LimitRule(
                "employees-list",
                per_second=5.0,
                capacity=15,
                ops=frozenset({"list"}),
                scope="company",
            ),
        ]

    def authenticate(self, sb: HrisSandbox, headers: dict[str, str]) -> Credential | Response:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error(401, "Authorization is not provided")
        issued = sb.tokens.get(token.strip())
        if issued is None:
            return error(403, "Provided authorization is not valid")
        if expired(issued):
            return error(401, "The token has expired; request a new one from /v1/auth")
        return issued.credential

    def error(self, status: int, message: str) -> Response:
        return error(status, message)

    def throttled(self, sb: HrisSandbox, status: int, retry_after: int | None) -> Response:
        if status == 429:
            return error(429, "Too Many Requests", {"Retry-After": str(retry_after or 1)})
        return error(503, "Service Unavailable")

    def seed(self, sb: HrisSandbox, rng: random.Random, count: int) -> None:
        stamp = dt.datetime(2024, 1, 2, 9, 0, tzinfo=dt.UTC).isoformat()
        for p in people(rng, count):
            sb.store.add(
                {
                    "first_name": p.first_name,
                    "last_name": p.last_name,
                    "preferred_name": None,
                    "email": p.work_email,
                    "gender": None,
                    "position": p.job_title,
                    "hire_date": p.hire_date,
                    "weekly_working_hours": 40,
                    "supervisor_id": None,
                    "department": p.department,
                    "office": p.location,
                    "subcompany": SUBCOMPANIES[0],
                    "status": "active",
                    "created_at": stamp,
                    "last_modified_at": stamp,
                }
            )

    def activate(self, sb: HrisSandbox, employee: dict[str, Any]) -> None:
        employee["status"] = "active"
        employee["last_modified_at"] = now_iso()
