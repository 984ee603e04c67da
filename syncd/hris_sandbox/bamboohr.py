"""BambooHR as ``specs/hris/bamboohr/public.yaml`` (BambooHR's official OpenAPI 3.1) documents it.

Paths are the spec's (``/api/v1/...`` on ``https://{companyDomain}.bamboohr.com``); the older
gateway form ``/api/gateway.php/{companyDomain}/v1/...`` is accepted as an alias for the
configured company domain. Auth: HTTP Basic with the API key as user name (any password).
Errors on the employee endpoints carry no body, only ``X-BambooHR-Error-Message`` (the name
BambooHR's guides use) and ``X-BambooHR-Message`` (the spec's ``components.responses``).
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syncd.hris_sandbox.limits import LimitRule
from syncd.hris_sandbox.seed import people
from syncd.hris_sandbox.server import HrisSandbox, sandbox_of
from syncd.hris_sandbox.state import Credential, parse_date, today
from syncd.hris_sandbox.vendor import ApiError, Vendor
from syncd.sandbox.jsonresp import json_response

# (id, alias, display name, type): what GET /api/v1/meta/fields lists and what a create accepts.
FIELDS: tuple[tuple[int, str, str, str], ...] = (
    (1, "firstName", "First Name", "text"),
    (2, "lastName", "Last Name", "text"),
    (3, "middleName", "Middle Name", "text"),
    (4, "preferredName", "Preferred Name", "text"),
    (5, "employeeNumber", "Employee #", "text"),
    (6, "workEmail", "Work Email", "email"),
    (7, "homeEmail", "Home Email", "email"),
    (8, "jobTitle", "Job Title", "list"),
    (9, "department", "Department", "list"),
    (10, "division", "Division", "list"),
    (11, "location", "Location", "list"),
    (12, "hireDate", "Hire Date", "date"),
    (13, "status", "Status", "status"),
    (14, "mobilePhone", "Mobile Phone", "phone"),
    (15, "workPhone", "Work Phone", "phone"),
    (16, "employmentHistoryStatus", "Employment Status", "list"),
    (17, "displayName", "Display Name", "text"),
)
WRITABLE = frozenset(alias for _, alias, _, _ in FIELDS) - {"displayName"}
# Names GET /api/v1/employees/{id} also answers to (the spec's GetEmployeeResponse names).
# postNewEmployee's named properties are strings; only its additionalProperties admit null.
NOT_NULL = frozenset({"firstName", "lastName", "workEmail", "jobTitle", "department", "hireDate"})
READ_ALIASES = {"jobTitleName": "jobTitle", "employmentStatus": "employmentHistoryStatus"}
STATUSES = ("Active", "Inactive")
MAX_FIELDS = 400  # get-employee: "The maximum number of fields per request is 400."
DIRECTORY_FIELDS = (
    ("displayName", "text", "Display name"),
    ("firstName", "text", "First name"),
    ("lastName", "text", "Last name"),
    ("preferredName", "text", "Preferred name"),
    ("jobTitle", "list", "Job title"),
    ("workPhone", "text", "Work phone"),
    ("mobilePhone", "text", "Mobile phone"),
    ("workEmail", "email", "Work email"),
    ("department", "list", "Department"),
    ("location", "list", "Location"),
    ("division", "list", "Division"),
)
GATEWAY = re.compile(r"^/api/gateway\.php/([^/]+)/(v[0-9_]+/.*)$")
SCOPES = frozenset(
    {"employee", "employee.write", "employee_directory", "report", "field", "webhooks"}
)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A body-less BambooHR error; the message travels in the headers."""
    return Response(
        b"",
        status,
        headers={
            "X-BambooHR-Error-Message": message,
            "X-BambooHR-Message": message,
            **(headers or {}),
        },
    )


def fail(status: int, message: str) -> ApiError:
    return ApiError(error(status, message))


def credential_of(request: Request) -> Credential:
    cred: Credential = request.scope["state"]["credential"]
    return cred


def require(request: Request, scope: str) -> None:
    if scope not in credential_of(request).scopes:
        raise fail(403, f"The API user does not have the '{scope}' permission")


def display_name(emp: dict[str, Any]) -> str:
    first = emp.get("preferredName") or emp.get("firstName") or ""
    return f"{first} {emp.get('lastName') or ''}".strip()


def field_value(emp: dict[str, Any], name: str) -> Any:
    name = READ_ALIASES.get(name, name)
    if name == "displayName":
        return display_name(emp)
    if name in ("id", "employeeId"):
        return str(emp["id"])
    return emp.get(name)


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise fail(400, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise fail(400, "The request body must be a JSON object of field names and values")
    return body


def check_new_employee(sb: HrisSandbox, body: dict[str, Any]) -> dict[str, Any]:
    """The create rules: 400 for a malformed body or missing names, 409 for an invalid value
    (spec, create-employee responses)."""
    for name, value in body.items():
        if name not in WRITABLE:
            raise fail(400, f"Unknown field '{name}'; GET /api/v1/meta/fields lists the fields")
        if value is None and name in NOT_NULL:
            raise fail(409, f"Invalid value for field '{name}': null; leave the field out")
        if value is not None and not isinstance(value, str):
            raise fail(409, f"Invalid value for field '{name}': expected a string")
    if not (body.get("firstName") or "").strip() or not (body.get("lastName") or "").strip():
        raise fail(400, "firstName and lastName are required")
    if body.get("hireDate") is not None and parse_date(body["hireDate"]) is None:
        raise fail(409, "Invalid value for field 'hireDate': expected YYYY-MM-DD")
    if body.get("status") is not None and body["status"] not in STATUSES:
        raise fail(409, "Invalid value for field 'status': expected Active or Inactive")
    email = body.get("workEmail")
    if email is not None:
        if "@" not in email:
            raise fail(409, "Invalid value for field 'workEmail': not an email address")
        if sb.store.find(lambda e: (e.get("workEmail") or "").lower() == email.lower()):
            raise fail(409, "Invalid value for field 'workEmail': already used by an employee")
    record = {k: v for k, v in body.items() if v is not None}
    record["status"] = body.get("status") or sb.settings.new_employee_status or "Active"
    return record


async def create_employee(request: Request) -> Response:
    """``POST /api/v1/employees`` -> 201, no body, ``Location`` ends with the new id."""
    from syncd.hris_sandbox.bamboohr_webhooks import emit

    sb = sandbox_of(request)
    require(request, "employee.write")
    record = sb.store.add(check_new_employee(sb, await json_object(request)))
    sb.stats["created"] += 1
    emit(sb, "employee.created", record, [])
    base = str(request.base_url).rstrip("/")
    return Response(b"", 201, headers={"Location": f"{base}/api/v1/employees/{record['id']}"})


async def get_employee(request: Request) -> Response:
    """``GET /api/v1/employees/{id}?fields=a,b``: ``{"id": "<id>", a: …, b: …}``; unknown field
    names are left out; more than 400 fields is a 400; an unknown id a 404."""
    sb = sandbox_of(request)
    require(request, "employee")
    raw = request.query_params.get("fields") or "firstName,lastName"
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if len(names) > MAX_FIELDS:
        raise fail(400, f"Too many fields requested; at most {MAX_FIELDS}")
    emp = sb.store.get(request.path_params["id"])
    if emp is None:
        raise fail(404, "Employee not found")
    known = WRITABLE | {"displayName"} | set(READ_ALIASES)
    out: dict[str, Any] = {"id": str(emp["id"])}
    for name in names:
        if name in known:
            out[name] = field_value(emp, name)
    return json_response(out)


async def get_directory(request: Request) -> Response:
    """Active employees only; with ``onlyCurrent`` (default true) not those hired in the future;
    404 when nobody matches (spec, get-employees-directory)."""
    sb = sandbox_of(request)
    require(request, "employee_directory")
    only_current = request.query_params.get("onlyCurrent", "true").lower() not in ("false", "0")
    day = today()
    rows = []
    for emp in sb.store:
        if emp.get("status") != "Active":
            continue
        hired = parse_date(emp.get("hireDate"))
        if only_current and hired is not None and hired > day:
            continue
        row: dict[str, Any] = {"id": str(emp["id"])}
        for fid, _, _ in DIRECTORY_FIELDS:
            row[fid] = field_value(emp, fid)
        row["canUploadPhoto"] = 0
        rows.append(row)
    if not rows:
        raise fail(404, "The directory is empty")
    fields = [{"id": fid, "type": ftype, "name": name} for fid, ftype, name in DIRECTORY_FIELDS]
    return json_response({"fields": fields, "employees": rows})


async def get_meta_fields(request: Request) -> Response:
    return json_response(
        [
            {"id": fid, "name": name, "type": ftype, "alias": alias}
            for fid, alias, name, ftype in FIELDS
        ]
    )


class BambooHR(Vendor):
    name = "bamboohr"
    default_port = 8021
    scopes = SCOPES
    status_field = "status"
    active_status = "Active"

    def statuses(self) -> tuple[str, ...]:
        return STATUSES

    def routes(self) -> list[BaseRoute]:
        from syncd.hris_sandbox.bamboohr_datasets import ROUTES as DATASETS
        from syncd.hris_sandbox.bamboohr_webhooks import ROUTES as WEBHOOKS

        return [
            Route("/api/v1/employees", create_employee, methods=["POST"], name="create"),
            Route("/api/v1/employees/directory", get_directory, name="directory"),
            Route("/api/v1/employees/{id}", get_employee, name="get"),
            Route("/api/v1/meta/fields", get_meta_fields, name="fields"),
            *DATASETS,
            *WEBHOOKS,
        ]

    def limit_rules(self) -> list[LimitRule]:
        # BambooHR publishes no number; the sandbox allows 10 requests/s per API key, bursts of 20.
        return [LimitRule("api-key", per_second=10.0, capacity=20.0, scope="credential")]

    def rewrite(self, sb: HrisSandbox, path: str) -> str:
        m = GATEWAY.match(path)
        if m is None:
            return path
        if m.group(1) != sb.options.company_domain:
            return "/api/unknown-company"
        return f"/api/{m.group(2)}"

    def authenticate(self, sb: HrisSandbox, headers: dict[str, str]) -> Credential | Response:
        challenge = {"WWW-Authenticate": 'Basic realm="BambooHR"'}
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not value:
            return error(
                401, "Authentication required: HTTP Basic with the API key as user", challenge
            )
        try:
            user = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return error(401, "Malformed Basic credentials", challenge)
        cred = sb.credentials.get(user)
        if cred is None:
            return error(401, "Invalid API key", challenge)
        return cred

    def error(self, status: int, message: str) -> Response:
        return error(status, message)

    def throttled(self, sb: HrisSandbox, status: int, retry_after: int | None) -> Response:
        if status == 429:
            return error(429, "Too many requests", {"Retry-After": str(retry_after or 1)})
        return error(503, "Service temporarily unavailable")

    def seed(self, sb: HrisSandbox, rng: random.Random, count: int) -> None:
        for p in people(rng, count):
            sb.store.add(
                {
                    "firstName": p.first_name,
                    "lastName": p.last_name,
                    "employeeNumber": p.employee_number,
                    "workEmail": p.work_email,
                    "jobTitle": p.job_title,
                    "department": p.department,
                    "location": p.location,
                    "hireDate": p.hire_date,
                    "status": "Active",
                }
            )

    def activate(self, sb: HrisSandbox, employee: dict[str, Any]) -> None:
        from syncd.hris_sandbox.bamboohr_webhooks import emit

        if employee.get("status") != "Active":
            employee["status"] = "Active"
            emit(sb, "employee.updated", employee, ["status"])
