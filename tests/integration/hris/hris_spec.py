"""Checking HRIS sandbox exchanges against the vendors' OpenAPI documents in ../shared.

A ``Recorder`` is an httpx response hook: every request a test client sends and every answer it
gets is kept as an ``Exchange``. ``SpecDoc.problems`` finds the operation, checks that the status
is documented (or one of the vendor's ``UNDOCUMENTED`` statuses, each with its reason), validates
the JSON body of every accepted request against the operation's request body schema, and the
answer's JSON body against the documented schema.

Relaxations are by schema name only, each with its reason (``RELAXED``);
``test_relaxed_schemas_are_named`` keeps them from spreading.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from openapi_schema_validator import (
    OAS30Validator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)

from tests.spec import load_spec, ref_alone

BAMBOO = Path("specs/hris/bamboohr/public.yaml")
PERSONIO = Path("specs/hris/personio/personio-personnel-data-api-oa3.yaml")
PERSONIO_AUTH = Path("specs/hris/personio/personio-auth-api.yaml")
METHODS = ("get", "put", "post", "patch", "delete")
GATEWAY = re.compile(r"^/api/gateway\.php/[^/]+/")

# Schemas whose documented form contradicts the API's own examples, by name, with the reason.
RELAXED: dict[str, dict[str, str]] = {
    "bamboohr": {},
    "personio": {
        "EmployeesResponse": (
            "allOf [Response, {data: array}] while Response says data is an object: no list can "
            "satisfy both. The list's own part (data: array of employees) is kept."
        ),
        "Department": "value is null for an employee without one (the spec lacks nullable).",
        "Office": "value is null for an employee without one; also used for subcompany.",
        "Supervisor": "value is null for an employee without a supervisor.",
    },
}

# Statuses an operation does not document, accepted with the reason. Personio's bodies are still
# checked against the v1 ErrorResponse schema.
UNDOCUMENTED: dict[str, dict[int, str]] = {
    "bamboohr": {
        429: "HRIS.md: BambooHR throttles with 429 + Retry-After since 2026-09-16",
        503: "HRIS.md: BambooHR throttled with 503 before 2026-09-16",
        504: "the sandbox's timeout fault (a gateway giving up)",
    },
    "personio": {
        400: "a malformed auth or paging request (v1 error shape)",
        401: "components.responses.401UnauthorizedResponse (not listed on every operation)",
        403: "components.responses.403ForbiddenResponse (not listed on every operation)",
        404: "an unknown id on an operation that lists no 404",
        429: "Personio changelog: rate limits answer 429",
        503: "the sandbox's 503 fault",
        504: "the sandbox's timeout fault (a gateway giving up)",
    },
}


@dataclass
class Exchange:
    method: str
    path: str
    query: list[tuple[str, str]]
    request_type: str
    request_body: bytes
    status: int
    response_type: str
    response_body: bytes

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class Recorder:
    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        req = response.request
        self.exchanges.append(
            Exchange(
                method=req.method,
                path=req.url.path,
                query=parse_qsl(req.url.query.decode(), keep_blank_values=True),
                request_type=req.headers.get("content-type", ""),
                request_body=req.content,
                status=response.status_code,
                response_type=response.headers.get("content-type", ""),
                response_body=response.content,
            )
        )


def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")


def _relax(vendor: str, comps: dict[str, Any]) -> dict[str, Any]:
    schemas = comps["schemas"]
    if vendor == "personio":
        base = copy.deepcopy(schemas["Response"])
        del base["properties"]["data"]
        schemas["EmployeesResponse"]["allOf"][0] = base
        for name in ("Department", "Office", "Supervisor"):
            value = schemas[name]["properties"]["value"]
            schemas[name]["properties"]["value"] = {"anyOf": [value, {"enum": [None]}]}
    return comps


class SpecDoc:
    """One vendor's documents; ``base`` is the path prefix the server adds to the spec's paths."""

    def __init__(self, vendor: str, shared: Path) -> None:
        self.vendor = vendor
        self.oas31 = vendor == "bamboohr"
        files = [BAMBOO] if self.oas31 else [PERSONIO_AUTH, PERSONIO]
        self.base = "" if self.oas31 else "/v1"
        self.docs = [load_spec(shared / f) for f in files]
        self.main = self.docs[-1]
        # Each document resolves its own $refs; the main one with the named relaxations.
        self.components = {id(d): dict(ref_alone(d["components"])) for d in self.docs}
        self.components[id(self.main)] = relaxed_components(vendor, shared)

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(spec path, operation, its document) for a request; the literal path wins. BambooHR's
        ``/api/gateway.php/{companyDomain}/v…`` alias is read as the spec's ``/api/v…``."""
        path = GATEWAY.sub("/api/", path.removeprefix(self.base))
        found = []
        for doc in self.docs:
            for tpl, item in doc["paths"].items():
                if method.lower() in item and _template(tpl).match(path):
                    found.append((tpl.count("{"), tpl, item[method.lower()], doc))
        if not found:
            raise LookupError(f"{method} {path} is not in the {self.vendor} spec")
        _, tpl, op, doc = min(found, key=lambda f: f[0])
        return tpl, op, doc

    def check(
        self, schema: dict[str, Any], value: Any, doc: dict[str, Any] | None = None
    ) -> list[str]:
        comps = self.components[id(doc if doc is not None else self.main)]
        if self.oas31:
            root = {**schema, "components": comps}
            validator: Any = OAS31Validator(root, format_checker=oas31_format_checker)
        else:
            root = {**ref_alone(schema), "components": comps}
            validator = OAS30Validator(root, format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in errors
        ]

    def problems(self, ex: Exchange) -> list[str]:
        try:
            tpl, op, doc = self.operation(ex.method, ex.path)
        except LookupError as exc:
            return [str(exc)]
        out = [f"request: {p}" for p in self._request(op, ex, doc)] if ex.status < 400 else []
        responses = op.get("responses", {})
        documented = responses.get(str(ex.status))
        if documented is None and self.oas31:
            documented = self.main["components"]["responses"].get(str(ex.status))
        if documented is None:
            if ex.status not in UNDOCUMENTED[self.vendor]:
                return [*out, f"status {ex.status} is not documented for {ex.method} {tpl}"]
            if not self.oas31:
                error = {"$ref": "#/components/schemas/ErrorResponse"}
                out += [f"error body: {p}" for p in self.check(error, json.loads(ex.response_body))]
            return out
        return out + self._response(documented, ex, doc)

    def _request(self, op: dict[str, Any], ex: Exchange, doc: dict[str, Any]) -> list[str]:
        declared = {p.get("name") for p in op.get("parameters", []) if "name" in p}
        out = [f"query parameter '{k}' is not declared" for k, _ in ex.query if k not in declared]
        content = (op.get("requestBody") or {}).get("content") or {}
        if not ex.request_body:
            return out
        if "json" in ex.request_type:
            schema = (content.get("application/json") or {}).get("schema")
            body = json.loads(ex.request_body)
        elif "form" in ex.request_type:
            schema = (content.get("application/x-www-form-urlencoded") or {}).get("schema")
            body = dict(parse_qsl(ex.request_body.decode()))
        else:
            return [*out, f"request body of type '{ex.request_type}' is not documented"]
        if schema is None:
            return [*out, f"no {ex.request_type} request body is documented"]
        return out + self.check(schema, body, doc)

    def _response(self, documented: dict[str, Any], ex: Exchange, doc: dict[str, Any]) -> list[str]:
        content = documented.get("content") or {}
        json_media = content.get("application/json")
        if json_media is None:
            if "text/plain" in content:
                return [] if ex.response_type.startswith("text/plain") else ["not text/plain"]
            return [] if not ex.response_body else ["a body where the spec documents none"]
        if not ex.response_body:
            return []  # documented as JSON without a schema ({}), sent without a body
        schema = json_media.get("schema")
        if schema is None:
            return []
        return self.check(schema, json.loads(ex.response_body), doc)


@cache
def relaxed_components(vendor: str, shared: Path) -> dict[str, Any]:
    main = load_spec(shared / (BAMBOO if vendor == "bamboohr" else PERSONIO))
    comps = copy.deepcopy(main["components"])
    return _relax(vendor, comps if vendor == "bamboohr" else ref_alone(comps))


def original_components(vendor: str, shared: Path) -> dict[str, Any]:
    main = load_spec(shared / (BAMBOO if vendor == "bamboohr" else PERSONIO))
    comps = copy.deepcopy(main["components"])
    return comps if vendor == "bamboohr" else dict(ref_alone(comps))
