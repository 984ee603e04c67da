"""The BambooHR sandbox over real HTTP: Basic auth with the API key as user, create (201 with the
id in Location), get with fields, the dataset lookup, the directory, field metadata, errors in
X-BambooHR-Error-Message, throttling, and activation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from syncd.hris_sandbox.runner import HrisThreadServer, running
from tests.integration.hris.conftest import (
    API_KEY,
    SEEDED,
    bamboo_client,
    bamboo_options,
    control,
    employees,
)

NEW = {
    "firstName": "Grace",
    "lastName": "Hopper",
    "workEmail": "grace.hopper@example.org",
    "employeeNumber": "SR-7f3a",
    "hireDate": "2031-03-01",
    "jobTitle": "Compiler Engineer",
    "department": "Engineering",
}


def create(client: httpx.Client, **fields: Any) -> str:
    r = client.post("/api/v1/employees", json={**NEW, **fields})
    assert r.status_code == 201, r.headers
    assert r.content == b""
    return r.headers["Location"].rsplit("/", 1)[1]


def message(r: httpx.Response) -> str:
    assert r.headers["X-BambooHR-Error-Message"] == r.headers["X-BambooHR-Message"]
    return r.headers["X-BambooHR-Error-Message"]


def test_basic_auth_takes_the_api_key_as_user(bamboo: HrisThreadServer) -> None:
    url = f"{bamboo.base_url}/api/v1/employees/1"
    assert httpx.get(url, auth=(API_KEY, "anything")).status_code == 200
    none = httpx.get(url)
    assert none.status_code == 401
    assert none.headers["WWW-Authenticate"] == 'Basic realm="BambooHR"'
    assert "API key" in message(none)
    wrong = httpx.get(url, auth=("not-the-key", "x"))
    assert (wrong.status_code, message(wrong)) == (401, "Invalid API key")
    garbled = httpx.get(url, headers={"Authorization": "Basic %%%"})
    assert (garbled.status_code, message(garbled)) == (401, "Malformed Basic credentials")
    assert control(bamboo.base_url, "stats")["stats"]["unauthorized"] == 3


def test_a_key_without_the_write_permission_gets_403(bamboo: HrisThreadServer) -> None:
    control(bamboo.base_url, "credentials", {"apiKey": "reader", "scopes": ["employee"]})
    with bamboo_client(bamboo.base_url, key="reader") as reader:
        r = reader.post("/api/v1/employees", json=NEW)
        assert r.status_code == 403
        assert message(r) == "The API user does not have the 'employee.write' permission"
        assert reader.get("/api/v1/employees/1").status_code == 200
    assert len(employees(bamboo.base_url)) == SEEDED


def test_create_then_get_with_fields(bamboo: HrisThreadServer, bclient: httpx.Client) -> None:
    r = bclient.post("/api/v1/employees", json=NEW)
    assert r.status_code == 201
    assert r.headers["Location"] == f"{bamboo.base_url}/api/v1/employees/{SEEDED + 1}"
    emp_id = str(SEEDED + 1)
    got = bclient.get(
        f"/api/v1/employees/{emp_id}",
        params={"fields": "firstName,workEmail,employeeNumber,hireDate,status,jobTitleName,nope"},
    )
    assert got.status_code == 200
    assert got.json() == {
        "id": emp_id,
        "firstName": "Grace",
        "workEmail": "grace.hopper@example.org",
        "employeeNumber": "SR-7f3a",
        "hireDate": "2031-03-01",
        "status": "Active",
        "jobTitleName": "Compiler Engineer",
    }
    default = bclient.get(f"/api/v1/employees/{emp_id}")
    assert default.json() == {"id": emp_id, "firstName": "Grace", "lastName": "Hopper"}
    missing = bclient.get(f"/api/v1/employees/{emp_id}", params={"fields": "mobilePhone"})
    assert missing.json() == {"id": emp_id, "mobilePhone": None}
    snap = employees(bamboo.base_url)
    assert [e for e in snap if e["id"] == SEEDED + 1] == [
        {**NEW, "status": "Active", "id": SEEDED + 1}
    ]


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"firstName": "A"}, 400, "firstName and lastName are required"),
        ({"firstName": "A", "lastName": " "}, 400, "firstName and lastName are required"),
        ({"firstName": "A", "lastName": "B", "shoeSize": "9"}, 400, "Unknown field 'shoeSize'"),
        ({"firstName": "A", "lastName": "B", "hireDate": "01/03/2031"}, 409, "'hireDate'"),
        ({"firstName": "A", "lastName": "B", "status": "Pending"}, 409, "'status'"),
        ({"firstName": "A", "lastName": "B", "workEmail": "nobody"}, 409, "'workEmail'"),
        ({"firstName": "A", "lastName": "B", "department": 7}, 409, "expected a string"),
        ({"firstName": "A", "lastName": "B", "workEmail": None}, 409, "null; leave the field out"),
    ],
)
def test_create_refusals_write_nothing(
    bamboo: HrisThreadServer, bclient: httpx.Client, body: dict[str, Any], status: int, text: str
) -> None:
    r = bclient.post("/api/v1/employees", json=body)
    assert r.status_code == status
    assert r.content == b""
    assert text in message(r)
    assert len(employees(bamboo.base_url)) == SEEDED


def test_create_refuses_a_work_email_in_use_and_bad_json(
    bamboo: HrisThreadServer, bclient: httpx.Client
) -> None:
    create(bclient)
    dup = bclient.post("/api/v1/employees", json={**NEW, "workEmail": "GRACE.hopper@example.org"})
    assert dup.status_code == 409
    assert message(dup) == "Invalid value for field 'workEmail': already used by an employee"
    bad = bclient.post("/api/v1/employees", content=b"{not json", headers={"Content-Type": "x"})
    assert (bad.status_code, message(bad)) == (400, "The request body is not valid JSON")
    listed = bclient.post("/api/v1/employees", json=[NEW])
    assert listed.status_code == 400
    assert len(employees(bamboo.base_url)) == SEEDED + 1


def test_get_unknown_employee_and_too_many_fields(bclient: httpx.Client) -> None:
    r = bclient.get("/api/v1/employees/999")
    assert (r.status_code, message(r)) == (404, "Employee not found")
    assert bclient.get("/api/v1/employees/abc").status_code == 404
    many = ",".join(["firstName"] * 401)
    r = bclient.get("/api/v1/employees/1", params={"fields": many})
    assert (r.status_code, message(r)) == (400, "Too many fields requested; at most 400")


def lookup(client: httpx.Client, flt: str, fields: list[str] | None = None) -> list[dict[str, str]]:
    body = {"fields": fields or ["employeeId", "employeeNumber", "workEmail"], "filter": flt}
    r = client.post("/api/v2/datasets/employee/data", json=body)
    assert r.status_code == 200, r.text
    return [row["fields"] for row in r.json()["data"]]


def test_dataset_lookup_by_employee_number_or_work_email(bclient: httpx.Client) -> None:
    first = create(bclient)
    second = create(bclient, workEmail="ada@example.org", employeeNumber="SR-0001")
    assert lookup(bclient, "employeeNumber eq 'SR-7f3a'") == [
        {"employeeId": first, "employeeNumber": "SR-7f3a", "workEmail": "grace.hopper@example.org"}
    ]
    assert [r["employeeId"] for r in lookup(bclient, "workEmail eq 'ADA@example.org'")] == [second]
    either = "employeeNumber eq 'SR-0001' or workEmail eq 'grace.hopper@example.org'"
    assert sorted(r["employeeId"] for r in lookup(bclient, either)) == sorted([first, second])
    both = "(employeeNumber in ('SR-0001','x')) and workEmail ne 'grace.hopper@example.org'"
    assert [r["employeeId"] for r in lookup(bclient, both)] == [second]
    assert lookup(bclient, "employeeNumber eq 'SR-none'") == []
    quoted = lookup(bclient, "lastName eq 'O''Brien'", ["employeeId"])
    assert quoted == []
    # A field without a value comes back as an empty string (the spec's rows are string-only).
    assert lookup(bclient, f"employeeId eq {first}", ["division"]) == [{"division": ""}]


def test_dataset_pages_and_orders(bclient: httpx.Client) -> None:
    def page(n: int) -> dict[str, Any]:
        body = {
            "fields": ["employeeId", "lastName"],
            "orderBy": "employeeId desc",
            "page": n,
            "pageSize": 2,
        }
        r = bclient.post("/api/v2/datasets/employee/data", json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    first, last = page(1), page(3)
    assert first["meta"] == {"page": 1, "pageSize": 2, "totalPages": 3, "totalItems": SEEDED}
    assert first["links"]["prev"] is None and first["links"]["next"].endswith("page=2&pageSize=2")
    assert last["links"]["next"] is None
    ids = [row["fields"]["employeeId"] for n in (1, 2, 3) for row in page(n)["data"]]
    assert ids == [str(i) for i in range(SEEDED, 0, -1)]


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        ("people", {"fields": ["employeeId"]}, 404, "No dataset named 'people'"),
        ("employee", {"filter": "x"}, 400, "'fields' is required"),
        ("employee", {"fields": ["salary"]}, 400, "Unknown field 'salary'"),
        ("employee", {"fields": ["employeeId"], "filter": "salary eq 1"}, 422, "unknown field"),
        ("employee", {"fields": ["employeeId"], "filter": "employeeId eq"}, 422, "ends too early"),
        ("employee", {"fields": ["employeeId"], "pageSize": 1001}, 422, "pageSize"),
        ("employee", {"fields": ["employeeId"], "orderBy": "lastName asc"}, 422, "orderBy"),
    ],
)
def test_dataset_errors_are_problem_details(
    bclient: httpx.Client, path: str, body: dict[str, Any], status: int, detail: str
) -> None:
    r = bclient.post(f"/api/v2/datasets/{path}/data", json=body)
    assert r.status_code == status
    problem = r.json()
    assert problem["status"] == status and detail in problem["detail"]


def test_directory_lists_active_current_employees(bamboo: HrisThreadServer) -> None:
    with bamboo_client(bamboo.base_url) as c:
        future = create(c)  # hired 2031: not current
        inactive = create(c, workEmail="x@example.org", hireDate="2020-01-01", status="Inactive")
        r = c.get("/api/v1/employees/directory")
        assert r.status_code == 200
        body = r.json()
        ids = [e["id"] for e in body["employees"]]
        assert ids == [str(i) for i in range(1, SEEDED + 1)]
        assert {f["id"] for f in body["fields"]} >= {"displayName", "workEmail", "department"}
        later = c.get("/api/v1/employees/directory", params={"onlyCurrent": "false"}).json()
        assert [e["id"] for e in later["employees"]][-1] == future
        assert inactive not in [e["id"] for e in later["employees"]]
    with running(bamboo_options(employees=0)) as empty, bamboo_client(empty.base_url) as c:
        r = c.get("/api/v1/employees/directory")
        assert (r.status_code, message(r)) == (404, "The directory is empty")


def test_field_metadata_lists_the_create_fields(bclient: httpx.Client) -> None:
    r = bclient.get("/api/v1/meta/fields")
    assert r.status_code == 200
    aliases = {f["alias"]: f for f in r.json()}
    assert {"firstName", "lastName", "employeeNumber", "workEmail", "hireDate", "status"} <= set(
        aliases
    )
    assert aliases["hireDate"]["type"] == "date"
    fields = bclient.get("/api/v1_2/datasets/employee/fields").json()
    assert {f["name"] for f in fields["fields"]} >= {"employeeNumber", "workEmail", "employeeId"}
    assert bclient.get("/api/v1_2/datasets").json() == {
        "datasets": [{"name": "employee", "label": "Employee"}]
    }


def test_gateway_paths_are_an_alias_for_the_company_domain(bclient: httpx.Client) -> None:
    r = bclient.get("/api/gateway.php/sandbox/v1/employees/1", params={"fields": "status"})
    assert r.json() == {"id": "1", "status": "Active"}
    created = bclient.post("/api/gateway.php/sandbox/v1/employees", json=NEW)
    assert created.status_code == 201
    other = bclient.get("/api/gateway.php/othercorp/v1/employees/1")
    assert (other.status_code, message(other)) == (404, "Not found")


def test_new_hires_wait_inactive_until_activated(
    bamboo: HrisThreadServer, bclient: httpx.Client
) -> None:
    settings = control(bamboo.base_url, "settings", {"newEmployeeStatus": "Inactive"})
    assert settings["newEmployeeStatus"] == "Inactive"
    emp = create(bclient)
    status = bclient.get(f"/api/v1/employees/{emp}", params={"fields": "status,hireDate"})
    assert status.json() == {"id": emp, "status": "Inactive", "hireDate": "2031-03-01"}
    assert control(bamboo.base_url, f"employees/{emp}/activate", {})["status"] == "Active"
    status = bclient.get(f"/api/v1/employees/{emp}", params={"fields": "status"})
    assert status.json() == {"id": emp, "status": "Active"}
    r = httpx.post(f"{bamboo.base_url}/_sandbox/employees/999/activate")
    assert r.status_code == 404
    bad = httpx.post(f"{bamboo.base_url}/_sandbox/settings", json={"newEmployeeStatus": "active"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "'newEmployeeStatus': use one of Active, Inactive or null"}


def test_throttling_answers_429_with_retry_after(bamboo: HrisThreadServer) -> None:
    limits = control(bamboo.base_url, "limits", {})
    assert limits["rules"] == [
        {"name": "api-key", "perSecond": 10.0, "capacity": 20.0, "ops": None, "scope": "credential"}
    ]
    # A refill of one request per 1000 s: exactly the capacity passes, whatever the machine load.
    control(bamboo.base_url, "limits", {"rules": {"api-key": {"perSecond": 0.001}}})
    with bamboo_client(bamboo.base_url) as c:
        statuses = [c.get("/api/v1/employees/1").status_code for _ in range(21)]
        assert statuses == [200] * 20 + [429]
        r = c.get("/api/v1/employees/1")
        assert r.status_code == 429
        assert 990 <= int(r.headers["Retry-After"]) <= 1000
        assert message(r) == "Too many requests"
        control(
            bamboo.base_url,
            "limits",
            {"throttleStatus": 503, "rules": {"api-key": {"capacity": 1}}},
        )
        assert c.get("/api/v1/employees/1").status_code == 200
        r = c.get("/api/v1/employees/1")
        assert r.status_code == 503
        assert "Retry-After" not in r.headers
        assert message(r) == "Service temporarily unavailable"
        control(bamboo.base_url, "limits", {"enabled": False})
        assert all(c.get("/api/v1/employees/1").status_code == 200 for _ in range(30))
        # Limits are per API key: a second key has its own bucket.
        control(bamboo.base_url, "credentials", {"apiKey": "other"})
        control(bamboo.base_url, "limits", {"enabled": True})
        with bamboo_client(bamboo.base_url, key="other") as other:
            assert [c.get("/api/v1/employees/1").status_code for _ in range(2)] == [200, 503]
            assert other.get("/api/v1/employees/1").status_code == 200
    assert control(bamboo.base_url, "stats")["stats"]["throttled"] == 4


def test_bad_limit_changes_are_refused(bamboo: HrisThreadServer) -> None:
    url = f"{bamboo.base_url}/_sandbox/limits"
    bad = httpx.post(url, json={"rules": {"burst": {"capacity": 3}}})
    assert bad.json() == {"error": "'rules': 'burst' unknown; the rules are api-key"}
    assert httpx.post(url, json={"throttleStatus": 500}).status_code == 400
    zero = httpx.post(url, json={"rules": {"api-key": {"perSecond": 0}}})
    assert zero.json()["error"] == "'rules.api-key': perSecond must be > 0 and capacity >= 1"


def test_reset_returns_to_the_seeded_company(
    bamboo: HrisThreadServer, bclient: httpx.Client
) -> None:
    create(bclient)
    assert len(employees(bamboo.base_url)) == SEEDED + 1
    assert control(bamboo.base_url, "reset", {}) == {"reset": True, "employees": SEEDED}
    again = bamboo_client(bamboo.base_url)
    assert create(again) == str(SEEDED + 1)
