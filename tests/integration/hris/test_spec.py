"""Conformance: every request a test sends to the HRIS sandboxes and every answer they give is
checked against the vendor's OpenAPI document (BambooHR's public.yaml, Personio's v1 personnel
and auth documents) in ../shared. A scenario per vendor walks every served operation, its
refusals, throttling and faults; every exchange must conform. Skipped, with the reason, when
../shared is absent."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Match

from syncd.hris_sandbox.runner import HrisThreadServer, serve_in_thread
from tests.integration.hris.conftest import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    bamboo_options,
    control,
    personio_options,
)
from tests.integration.hris.hris_spec import (
    RELAXED,
    Exchange,
    Recorder,
    SpecDoc,
    original_components,
    relaxed_components,
)

VENDORS = ("bamboohr", "personio")


class _Ok(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def bamboo_scenario(base: str, record: Recorder) -> None:
    hooks: dict[str, list[Callable[[httpx.Response], Any]]] = {"response": [record]}
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    with httpx.Client(base_url=base, auth=(API_KEY, "x"), event_hooks=hooks, timeout=10) as c:
        new = {
            "firstName": "Grace",
            "lastName": "Hopper",
            "workEmail": "g@example.org",
            "employeeNumber": "SR-1",
            "hireDate": "2031-03-01",
            "jobTitle": "Engineer",
        }
        hook = c.post(
            "/api/v1/webhooks",
            json={"name": "n", "url": hook_url, "format": "json", "events": ["employee.created"]},
        ).json()
        c.post("/api/v1/webhooks", json={"name": "", "url": "http://x.example.com"})
        c.get("/api/v1/webhooks")
        c.get(f"/api/v1/webhooks/{hook['id']}")
        c.get("/api/v1/webhooks/99")
        created = c.post("/api/v1/employees", json=new)
        emp = created.headers["Location"].rsplit("/", 1)[1]
        c.post("/api/v1/employees", json={"firstName": "A"})
        c.post("/api/v1/employees", json={**new, "hireDate": "soon"})
        c.get(f"/api/v1/employees/{emp}", params={"fields": "firstName,status,hireDate,workEmail"})
        c.get(
            f"/api/v1/employees/{emp}", params={"fields": "employeeNumber,jobTitleName,mobilePhone"}
        )
        c.get("/api/v1/employees/999")
        c.get("/api/v1/employees/directory")
        c.get("/api/v1/employees/directory", params={"onlyCurrent": "false"})
        c.get("/api/v1/meta/fields")
        c.get("/api/v1_2/datasets")
        c.get("/api/v1_2/datasets/employee/fields")
        for body in (
            {
                "fields": ["employeeId", "employeeNumber", "workEmail"],
                "filter": "employeeNumber eq 'SR-1' or workEmail eq 'g@example.org'",
            },
            {
                "fields": ["employeeId", "division"],
                "page": 2,
                "pageSize": 2,
                "orderBy": "employeeId desc",
            },
            {"fields": ["employeeId"], "filter": "nope eq 1"},
            {"fields": []},
        ):
            c.post("/api/v2/datasets/employee/data", json=body)
        c.post("/api/v2/datasets/people/data", json={"fields": ["employeeId"]})
        httpx.post(
            f"{base}/_sandbox/faults",
            json={"queue": [{"kind": "429", "op": "get"}, {"kind": "503", "op": "get"}]},
        )
        c.get(f"/api/v1/employees/{emp}")
        c.get(f"/api/v1/employees/{emp}")
        c.delete(f"/api/v1/webhooks/{hook['id']}")
    with httpx.Client(base_url=base, event_hooks=hooks) as anonymous:
        anonymous.get("/api/v1/employees/1")
    receiver.shutdown()
    receiver.server_close()


def personio_scenario(base: str, record: Recorder) -> None:
    hooks: dict[str, list[Callable[[httpx.Response], Any]]] = {"response": [record]}
    with httpx.Client(base_url=base, event_hooks=hooks, timeout=10) as c:
        creds = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        token = c.post("/v1/auth", json=creds).json()["data"]["token"]
        c.post("/v1/auth", data=creds)
        c.post("/v1/auth", json={**creds, "client_secret": "wrong"})
        c.get("/v1/company/employees")
        c.headers["Authorization"] = f"Bearer {token}"
        new = {
            "email": "g@example.org",
            "first_name": "Grace",
            "last_name": "Hopper",
            "hire_date": "2031-03-01",
            "department": "Engineering",
            "office": "Lisbon",
            "position": "Engineer",
            "weekly_working_hours": 32,
            "supervisor_id": 1,
        }
        emp = c.post("/v1/company/employees", json={"employee": new}).json()["data"]["id"]
        c.post(
            "/v1/company/employees",
            json={
                "employee": {
                    **new,
                    "email": "h@example.org",
                    "department": "Alchemy",
                    "supervisor_id": 2,
                }
            },
        )
        c.post("/v1/company/employees", json={"employee": {**new, "email": "x"}})
        c.post("/v1/company/employees", json={"employee": {**new, "position": None}})
        c.post("/v1/company/employees", json={"employee": {**new, "supervisor_id": 999}})
        c.get("/v1/company/employees", params={"email": "g@example.org"})
        c.get("/v1/company/employees", params={"limit": 2, "offset": 2})
        c.get("/v1/company/employees", params={"attributes[]": ["email", "status"], "limit": 1})
        c.get("/v1/company/employees", params={"limit": 0})
        c.get(f"/v1/company/employees/{emp}")
        c.get("/v1/company/employees/999")
        c.get("/v1/company/employees/attributes")
        httpx.post(
            f"{base}/_sandbox/faults",
            json={"queue": [{"kind": "429", "op": "list"}, {"kind": "503", "op": "list"}]},
        )
        c.get("/v1/company/employees")
        c.get("/v1/company/employees")
        c.headers["Authorization"] = "Bearer made-up"
        c.get("/v1/company/employees")


@pytest.fixture(scope="module", params=VENDORS)
def recorded(request: pytest.FixtureRequest) -> Iterator[tuple[str, HrisThreadServer, Recorder]]:
    vendor = request.param
    # Limits off: the scenario's 429 and 503 come from the fault queue, at known points.
    options = (bamboo_options if vendor == "bamboohr" else personio_options)(limits=False)
    srv = serve_in_thread(options)
    record = Recorder()
    try:
        (bamboo_scenario if vendor == "bamboohr" else personio_scenario)(srv.base_url, record)
        yield vendor, srv, record
    finally:
        srv.stop()


def test_every_exchange_matches_the_spec(
    shared_dir: Path, recorded: tuple[str, HrisThreadServer, Recorder]
) -> None:
    vendor, _, record = recorded
    doc = SpecDoc(vendor, shared_dir)
    assert len(record.exchanges) > 15
    found = [f"{ex}: {p}" for ex in record.exchanges for p in doc.problems(ex)]
    assert not found, "\n".join(found[:30])


def _route_of(srv: HrisThreadServer, ex: Exchange) -> str | None:
    scope = {"type": "http", "method": ex.method, "path": ex.path, "root_path": ""}
    for route in srv.sandbox.routes:
        if route.matches(scope)[0] == Match.FULL:
            return str(getattr(route, "name", ""))
    return None


def test_every_served_operation_is_exercised_and_documented(
    shared_dir: Path, recorded: tuple[str, HrisThreadServer, Recorder]
) -> None:
    vendor, srv, record = recorded
    doc = SpecDoc(vendor, shared_dir)
    answered = {_route_of(srv, ex) for ex in record.exchanges if ex.status < 300}
    served = {str(getattr(r, "name", "")) for r in srv.sandbox.routes}
    assert served <= answered, f"not exercised with a success: {sorted(served - answered)}"
    for ex in record.exchanges:
        doc.operation(ex.method, ex.path)  # raises for a path the spec does not have
    statuses = {ex.status for ex in record.exchanges}
    assert {401, 429, 503} <= statuses
    assert control(srv.base_url, "stats")["faults"] == {"429": 1, "503": 1}


@pytest.mark.parametrize("vendor", VENDORS)
def test_relaxed_schemas_are_named(shared_dir: Path, vendor: str) -> None:
    relaxed = relaxed_components(vendor, shared_dir)["schemas"]
    original = original_components(vendor, shared_dir)["schemas"]
    changed = {name for name, schema in relaxed.items() if schema != original[name]}
    assert changed == set(RELAXED[vendor])


@pytest.mark.parametrize(
    ("vendor", "method", "path", "status", "body"),
    [
        ("bamboohr", "GET", "/api/v1/employees/1", 200, {"id": 1}),
        ("bamboohr", "GET", "/api/v1/employees/1", 200, {"id": "1", "status": "Pending"}),
        (
            "bamboohr",
            "POST",
            "/api/v2/datasets/employee/data",
            200,
            {"data": [{"fields": {"a": 1}}]},
        ),
        ("personio", "POST", "/v1/auth", 200, {"success": True, "data": {"expires_in": 1}}),
        ("personio", "GET", "/v1/company/employees", 200, {"success": True, "data": {}}),
        ("personio", "GET", "/v1/company/employees/1", 401, {"success": False, "error": []}),
    ],
)
def test_the_checker_refuses_wrong_answers(
    shared_dir: Path, vendor: str, method: str, path: str, status: int, body: Any
) -> None:
    ex = Exchange(method, path, [], "", b"", status, "application/json", json.dumps(body).encode())
    assert SpecDoc(vendor, shared_dir).problems(ex)


def test_the_checker_refuses_wrong_requests(shared_dir: Path) -> None:
    doc = SpecDoc("personio", shared_dir)
    body = json.dumps({"employee": {"email": "a@b.c", "first_name": "A"}}).encode()
    ex = Exchange(
        "POST",
        "/v1/company/employees",
        [("lmit", "1")],
        "application/json",
        body,
        200,
        "application/json",
        b'{"success": true, "data": {"id": 1}}',
    )
    assert doc.problems(ex) == [
        "request: query parameter 'lmit' is not declared",
        "request: employee: 'last_name' is a required property",
    ]
