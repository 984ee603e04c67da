"""The Personio sandbox over real HTTP: /v1/auth bearers with expiry, create (200 with the id),
the email filter and limit/offset paging, 422 validation errors in the v1 shape, status
onboarding -> active, and the auth and list rate limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from syncd.hris_sandbox.runner import HrisThreadServer
from tests.integration.hris.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    SEEDED,
    control,
    employees,
    personio_client,
    personio_token,
)

NEW = {
    "email": "grace.hopper@example.org",
    "first_name": "Grace",
    "last_name": "Hopper",
    "hire_date": "2031-03-01",
    "position": "Compiler Engineer",
    "department": "Engineering",
    "office": "Berlin",
}


def create(client: httpx.Client, **fields: Any) -> int:
    r = client.post("/v1/company/employees", json={"employee": {**NEW, **fields}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["data"]["message"] == "success"
    return int(body["data"]["id"])


def value(row: dict[str, Any], key: str) -> Any:
    return row["attributes"][key]["value"]


def by_email(client: httpx.Client, email: str) -> list[dict[str, Any]]:
    r = client.get("/v1/company/employees", params={"email": email})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def v1_error(r: httpx.Response, status: int) -> str:
    body = r.json()
    assert r.status_code == status and body["success"] is False
    assert body["error"]["code"] == status
    return str(body["error"]["message"])


def test_auth_issues_a_bearer_with_expiry(personio: HrisThreadServer) -> None:
    url = f"{personio.base_url}/v1/auth"
    good = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    r = httpx.post(url, json=good)
    data = r.json()["data"]
    assert r.status_code == 200 and r.json()["success"] is True
    assert data["expires_in"] == 86400 and data["scope"] == "employees:read employees:write"
    assert httpx.post(url, data=good).status_code == 200  # form-encoded
    assert httpx.post(url, params=good).status_code == 200  # query, as the Postman collection
    wrong = httpx.post(url, json={**good, "client_secret": "nope"})
    assert v1_error(wrong, 401) == "Wrong credentials"
    missing = httpx.post(url, json={"client_id": CLIENT_ID})
    assert v1_error(missing, 400) == "client_id and client_secret are required"
    control(personio.base_url, "settings", {"tokenTtl": 5})
    assert httpx.post(url, json=good).json()["data"]["expires_in"] == 5


def test_bearers_are_checked(personio: HrisThreadServer) -> None:
    base = personio.base_url
    none = httpx.get(f"{base}/v1/company/employees")
    assert v1_error(none, 401) == "Authorization is not provided"
    made_up = httpx.get(f"{base}/v1/company/employees", headers={"Authorization": "Bearer abc"})
    assert v1_error(made_up, 403) == "Provided authorization is not valid"
    token = personio_token(base)
    with personio_client(base, token) as c:
        assert c.get("/v1/company/employees").status_code == 200
        assert c.get("/v1/company/employees").status_code == 200  # reusable, not rotated
        assert control(base, "tokens/expire", {}) == {"expired": 1}
        assert "expired" in v1_error(c.get("/v1/company/employees"), 401)
    with personio_client(base) as fresh:
        assert fresh.get("/v1/company/employees").status_code == 200


def test_credentials_without_the_write_scope_get_403(personio: HrisThreadServer) -> None:
    base = personio.base_url
    control(
        base, "credentials", {"clientId": "ro", "clientSecret": "s", "scopes": ["employees:read"]}
    )
    token = personio_token(base, "ro", "s")
    with personio_client(base, token) as c:
        r = c.post("/v1/company/employees", json={"employee": NEW})
        assert v1_error(r, 403) == "The API credentials lack the 'employees:write' scope"
        assert c.get("/v1/company/employees").status_code == 200
    assert len(employees(base)) == SEEDED


def test_create_then_find_by_email_and_id(
    personio: HrisThreadServer, pclient: httpx.Client
) -> None:
    emp_id = create(pclient)
    assert emp_id == SEEDED + 1
    [row] = by_email(pclient, "Grace.Hopper@example.org")
    assert row["type"] == "Employee"
    assert value(row, "id") == emp_id
    assert value(row, "email") == "grace.hopper@example.org"
    assert value(row, "hire_date") == "2031-03-01T00:00:00+00:00"
    assert value(row, "department") == {
        "type": "Department",
        "attributes": {"id": 1, "name": "Engineering"},
    }
    assert row["attributes"]["status"] == {
        "label": "Status",
        "value": "onboarding",
        "type": "standard",
        "universal_id": "status",
    }
    got = pclient.get(f"/v1/company/employees/{emp_id}").json()
    assert got == {"success": True, "data": row}
    assert by_email(pclient, "nobody@example.org") == []
    missing = pclient.get("/v1/company/employees/999")
    assert v1_error(missing, 404) == "Employee not found"
    assert pclient.get("/v1/company/employees/abc").status_code == 404


@pytest.mark.parametrize(
    ("employee", "text"),
    [
        ({**NEW, "email": None}, "The employee's email is required"),
        ({**NEW, "position": None}, "The employee's position must not be null"),
        ({**NEW, "first_name": ""}, "The employee's first_name is required"),
        ({**NEW, "email": "grace"}, "not a valid email address"),
        ({**NEW, "hire_date": "01.03.2031"}, "hire_date must be in the format yyyy-mm-dd"),
        ({**NEW, "status": "hired"}, "status must be one of onboarding, active, leave, inactive"),
        ({**NEW, "gender": "x"}, "gender must be one of male, female, diverse"),
        ({**NEW, "weekly_working_hours": "forty"}, "weekly_working_hours must be a number"),
        ({**NEW, "supervisor_id": 999}, "Supervisor with ID 999 not found"),
        ({**NEW, "supervisor_id": "1"}, "supervisor_id must be an employee id"),
        ({**NEW, "supervisor_id": 1.5}, "supervisor_id must be an employee id"),
        ({**NEW, "position": ["a"]}, "position must be a string"),
    ],
)
def test_invalid_payloads_get_422_and_write_nothing(
    personio: HrisThreadServer, pclient: httpx.Client, employee: dict[str, Any], text: str
) -> None:
    r = pclient.post("/v1/company/employees", json={"employee": employee})
    assert text in v1_error(r, 422)
    assert len(employees(personio.base_url)) == SEEDED


def test_duplicate_email_and_bad_bodies_get_422(
    personio: HrisThreadServer, pclient: httpx.Client
) -> None:
    create(pclient)
    dup = pclient.post(
        "/v1/company/employees", json={"employee": {**NEW, "email": "GRACE.hopper@example.org"}}
    )
    assert v1_error(dup, 422) == "The email is already in use by another employee"
    flat = pclient.post("/v1/company/employees", json=NEW)
    assert v1_error(flat, 422) == 'The body must be {"employee": {...}}'
    junk = pclient.post(
        "/v1/company/employees", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert v1_error(junk, 422) == "The request body is not valid JSON"
    assert len(employees(personio.base_url)) == SEEDED + 1


def test_unknown_department_is_ignored_with_a_meta_note(pclient: httpx.Client) -> None:
    r = pclient.post(
        "/v1/company/employees",
        json={"employee": {**NEW, "department": "Alchemy", "supervisor_id": 1}},
    )
    assert r.json()["meta"] == ["Department is not defined in Personio and was ignored"]
    [row] = by_email(pclient, NEW["email"])
    assert value(row, "department") is None
    assert value(row, "supervisor")["attributes"]["id"]["value"] == 1


def test_limit_offset_paging(pclient: httpx.Client) -> None:
    for i in range(2):
        create(pclient, email=f"new{i}@example.org")
    total = SEEDED + 2
    seen = []
    for offset in (0, 3, 6):
        body = pclient.get("/v1/company/employees", params={"limit": 3, "offset": offset}).json()
        assert body["metadata"] == {
            "total_elements": total,
            "current_page": offset // 3,
            "total_pages": 3,
        }
        assert (body["offset"], body["limit"]) == (offset, 3)
        seen += [value(row, "id") for row in body["data"]]
    assert seen == list(range(1, total + 1))
    default = pclient.get("/v1/company/employees").json()
    assert default["limit"] == 50 and len(default["data"]) == total
    assert pclient.get("/v1/company/employees", params={"limit": 500}).json()["limit"] == 100
    bad = pclient.get("/v1/company/employees", params={"limit": 0})
    assert v1_error(bad, 400) == "'limit' must be an integer of at least 1"
    assert pclient.get("/v1/company/employees", params={"offset": "x"}).status_code == 400
    projected = pclient.get(
        "/v1/company/employees", params={"attributes[]": ["email", "status"], "limit": 1}
    ).json()["data"][0]["attributes"]
    assert set(projected) == {"id", "email", "status"}


def test_status_follows_hire_date_then_activation(
    personio: HrisThreadServer, pclient: httpx.Client
) -> None:
    future = create(pclient)
    past = create(pclient, email="past@example.org", hire_date="2020-01-01")
    chosen = create(pclient, email="chosen@example.org", hire_date="2020-01-01", status="leave")
    undated_person = {k: v for k, v in NEW.items() if k != "hire_date"}
    r = pclient.post(
        "/v1/company/employees",
        json={"employee": {**undated_person, "email": "undated@example.org"}},
    )
    undated = int(r.json()["data"]["id"])
    status = {e["id"]: e["status"] for e in employees(personio.base_url)}
    assert [status[i] for i in (future, past, chosen, undated)] == [
        "onboarding",
        "active",
        "leave",
        "active",
    ]
    activated = control(personio.base_url, f"employees/{future}/activate", {})
    assert activated["status"] == "active"
    [row] = by_email(pclient, NEW["email"])
    assert value(row, "status") == "active"
    control(personio.base_url, "settings", {"newEmployeeStatus": "onboarding"})
    held = create(pclient, email="held@example.org", hire_date="2020-01-01")
    [row] = by_email(pclient, "held@example.org")
    assert (value(row, "id"), value(row, "status")) == (held, "onboarding")


def test_attributes_lists_what_an_employee_carries(pclient: httpx.Client) -> None:
    body = pclient.get("/v1/company/employees/attributes").json()
    keys = [a["key"] for a in body["data"]]
    assert {"email", "first_name", "last_name", "status", "hire_date"} <= set(keys)


def test_the_documented_limits(personio: HrisThreadServer) -> None:
    rules = {r["name"]: r for r in control(personio.base_url, "limits", {})["rules"]}
    assert rules["per-address"]["capacity"] == 2000 and rules["per-address"]["ops"] is None
    assert round(rules["per-address"]["perSecond"] * 60) == 2000
    assert (rules["auth"]["capacity"], rules["auth"]["perSecond"], rules["auth"]["ops"]) == (
        60,
        1.0,
        ["auth"],
    )
    list_rule = rules["employees-list"]
    assert (list_rule["capacity"], list_rule["perSecond"], list_rule["ops"]) == (15, 5.0, ["list"])


def slow_refill(base: str, rule: str) -> None:
    """Keep the documented burst, refill once per 1000 s: the count is exact under any load."""
    control(base, "limits", {"rules": {rule: {"perSecond": 0.001}}})


def test_auth_is_limited_to_60_a_minute(personio: HrisThreadServer) -> None:
    slow_refill(personio.base_url, "auth")
    good = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    with httpx.Client(base_url=personio.base_url) as c:
        statuses = [c.post("/v1/auth", json=good).status_code for _ in range(61)]
        assert statuses == [200] * 60 + [429]
        r = c.post("/v1/auth", json=good)
    assert v1_error(r, 429) == "Too Many Requests"
    assert int(r.headers["Retry-After"]) >= 990


def test_employee_list_is_limited_to_bursts_of_15(
    personio: HrisThreadServer, pclient: httpx.Client
) -> None:
    slow_refill(personio.base_url, "employees-list")
    statuses = [pclient.get("/v1/company/employees").status_code for _ in range(16)]
    assert statuses == [200] * 15 + [429]
    r = pclient.get("/v1/company/employees")
    assert v1_error(r, 429) == "Too Many Requests"
    assert int(r.headers["Retry-After"]) >= 990
    # The list limit is its own: other operations go on.
    assert pclient.get("/v1/company/employees/1").status_code == 200
    control(personio.base_url, "limits", {"enabled": False})
    assert all(pclient.get("/v1/company/employees").status_code == 200 for _ in range(30))
