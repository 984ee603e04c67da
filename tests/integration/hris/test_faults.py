"""Faults of both HRIS sandboxes as a raw client sees them: 503/429 bursts (nothing written),
timeouts (held, never handled), hangs (held until released, never handled), and a create that
is written but whose answer is lost (``lost``: the connection drops; ``slow``: the answer comes
after the client gave up). After a lost answer the employee exists exactly once and the
vendor's lookup finds it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from syncd.hris_sandbox.runner import HrisThreadServer, serve_in_thread
from tests.integration.hris.conftest import (
    SEEDED,
    bamboo_client,
    bamboo_options,
    control,
    employees,
    personio_client,
    personio_options,
)

EMAIL = "margaret.hamilton@example.org"
# Gives up reading after 0.3 s (connecting may take longer on a busy machine); faults hold 2 s.
IMPATIENT = httpx.Timeout(10, read=0.3)


@dataclass
class Vendor:
    """One vendor's create and lookup, so each fault test runs against both sandboxes."""

    name: str
    srv: HrisThreadServer

    def client(self, timeout: float | httpx.Timeout = 10) -> httpx.Client:
        if self.name == "bamboohr":
            return bamboo_client(self.srv.base_url, timeout=timeout)
        return personio_client(self.srv.base_url, timeout=timeout)

    def create(self, client: httpx.Client) -> httpx.Response:
        if self.name == "bamboohr":
            body = {"firstName": "Margaret", "lastName": "Hamilton", "workEmail": EMAIL}
            return client.post("/api/v1/employees", json=body)
        person = {"email": EMAIL, "first_name": "Margaret", "last_name": "Hamilton"}
        return client.post("/v1/company/employees", json={"employee": person})

    def created(self, r: httpx.Response) -> bool:
        return r.status_code == (201 if self.name == "bamboohr" else 200)

    def lookup(self, client: httpx.Client) -> list[str]:
        """Ids the vendor's own lookup finds for EMAIL (dataset query / email filter)."""
        if self.name == "bamboohr":
            body = {"fields": ["employeeId"], "filter": f"workEmail eq '{EMAIL}'"}
            r = client.post("/api/v2/datasets/employee/data", json=body)
            assert r.status_code == 200, r.text
            return [row["fields"]["employeeId"] for row in r.json()["data"]]
        r = client.get("/v1/company/employees", params={"email": EMAIL})
        assert r.status_code == 200, r.text
        return [str(row["attributes"]["id"]["value"]) for row in r.json()["data"]]

    def in_snapshot(self) -> list[dict[str, Any]]:
        key = "workEmail" if self.name == "bamboohr" else "email"
        return [e for e in employees(self.srv.base_url) if e.get(key) == EMAIL]

    def faults(self, **plan: Any) -> dict[str, Any]:
        return dict(control(self.srv.base_url, "faults", plan))


@pytest.fixture(params=["bamboohr", "personio"])
def vendor(request: pytest.FixtureRequest) -> Iterator[Vendor]:
    options = bamboo_options if request.param == "bamboohr" else personio_options
    srv = serve_in_thread(options(limits=False))
    yield Vendor(request.param, srv)
    srv.stop()


def test_a_503_burst_refuses_then_lets_through(vendor: Vendor) -> None:
    vendor.faults(queue=[{"kind": "503", "count": 2, "op": "create"}])
    with vendor.client() as c:
        first, second = vendor.create(c), vendor.create(c)
        assert (first.status_code, second.status_code) == (503, 503)
        assert "Retry-After" not in first.headers
        assert vendor.lookup(c) == []  # other operations are not in the burst
        third = vendor.create(c)
        assert vendor.created(third), third.text
        assert len(vendor.lookup(c)) == 1
    assert control(vendor.srv.base_url, "stats")["faults"] == {"503": 2}


def test_a_429_burst_carries_retry_after_and_writes_nothing(vendor: Vendor) -> None:
    vendor.faults(queue=[{"kind": "429", "count": 1, "op": "create", "retryAfter": 7}])
    with vendor.client() as c:
        r = vendor.create(c)
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "7"
        assert vendor.in_snapshot() == []
        assert vendor.created(vendor.create(c))


def test_a_timeout_is_never_handled(vendor: Vendor) -> None:
    vendor.faults(queue=[{"kind": "timeout", "op": "create"}], timeoutSeconds=2)
    with vendor.client(timeout=IMPATIENT) as impatient, pytest.raises(httpx.ReadTimeout):
        vendor.create(impatient)
    with vendor.client() as c:
        assert vendor.lookup(c) == []
    vendor.faults(queue=[{"kind": "timeout", "op": "create"}], timeoutSeconds=0.1)
    with vendor.client() as patient:
        r = vendor.create(patient)
        assert r.status_code == 504
        assert vendor.lookup(patient) == []
    assert vendor.in_snapshot() == []


def test_a_hang_holds_until_released_and_writes_nothing(vendor: Vendor) -> None:
    """``hang``: the connection is accepted and nothing answers, however long the client waits,
    until the plan is replaced; the sandbox sees the client give up, and the hung request is
    let go with a 504 (never handled)."""
    vendor.faults(queue=[{"kind": "hang", "count": 5, "op": "create"}])
    with vendor.client(timeout=IMPATIENT) as impatient, pytest.raises(httpx.ReadTimeout):
        vendor.create(impatient)
    base = vendor.srv.base_url

    def gave_up() -> dict[str, Any]:
        stats = dict(control(base, "stats"))
        return stats if stats["abandoned"] else {}

    stats = poll(gave_up)
    assert (stats["hanging"], stats["faults"]) == (1, {"hang": 1})
    assert 0.25 <= stats["abandoned"][0] < 3.0, stats  # the client's 0.3 s read timeout
    with vendor.client() as c:
        assert vendor.lookup(c) == []  # other operations still answer
    vendor.faults()  # released: the HRIS answers again
    assert control(base, "stats")["hanging"] == 0
    with vendor.client() as c:
        assert vendor.created(vendor.create(c))
        assert len(vendor.lookup(c)) == 1  # only the create after the release was written


def poll(check: Any, timeout: float = 10.0) -> Any:
    """``check()`` until it returns something truthy; fails at the deadline."""
    import time

    deadline = time.monotonic() + timeout
    while not (got := check()):
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.05)
    return got


def test_a_lost_answer_still_wrote_the_employee(vendor: Vendor) -> None:
    vendor.faults(queue=[{"kind": "lost", "op": "create"}])
    with vendor.client() as c:
        with pytest.raises(httpx.RemoteProtocolError):
            vendor.create(c)
        [found] = vendor.lookup(c)
    [written] = vendor.in_snapshot()
    assert str(written["id"]) == found
    assert control(vendor.srv.base_url, "stats")["faults"] == {"lost": 1}


def test_a_slow_answer_arrives_after_the_client_gave_up(vendor: Vendor) -> None:
    vendor.faults(queue=[{"kind": "slow", "op": "create"}], timeoutSeconds=2)
    with vendor.client(timeout=IMPATIENT) as impatient, pytest.raises(httpx.ReadTimeout):
        vendor.create(impatient)
    with vendor.client() as c:
        [found] = vendor.lookup(c)
    assert [str(e["id"]) for e in vendor.in_snapshot()] == [found]


def test_rates_are_seeded_and_limited_to_named_operations(vendor: Vendor) -> None:
    op = "get"
    path = "/api/v1/employees/1" if vendor.name == "bamboohr" else "/v1/company/employees/1"

    def run() -> list[int]:
        with vendor.client() as c:
            return [c.get(path).status_code for _ in range(30)]

    plan = vendor.faults(rates="503=0.3,429=0.2", rateOps=[op], seed=11)
    assert plan["rates"] == {"503": 0.3, "429": 0.2} and plan["rateOps"] == [op]
    once = run()
    vendor.faults(rates="503=0.3,429=0.2", rateOps=[op], seed=11)
    assert run() == once
    assert {503, 429, 200} == set(once)
    with vendor.client() as c:  # creates are not in rateOps
        assert all(vendor.created(vendor.create(c)) for _ in range(1))
    vendor.faults()
    assert set(run()) == {200}


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        ({"queue": [{"kind": "500"}]}, "queue[0].kind: use one of 503, 429, timeout, lost, slow"),
        ({"queue": [{"kind": "lost", "op": "hire"}]}, "queue[0].op: 'hire' unknown"),
        ({"queue": [{"kind": "lost", "count": 0}]}, "count must be >= 1"),
        ({"queue": {"kind": "lost"}}, "'queue': expected a list"),
        ({"rates": "503=2"}, "rates: '503' must be between 0 and 1"),
        ({"rates": "lost"}, "rates: 'lost' is not NAME=RATE"),
        ({"rates": "503=0.6,429=0.6"}, "add up to more than 1"),
        ({"timeoutSeconds": "1"}, "'timeoutSeconds': expected seconds"),
        ({"rateOps": ["nope"]}, "'rateOps': expected a list of"),
        ({"plan": [{"kind": "lost"}]}, "'plan': not a fault plan key; use queue, rateOps"),
    ],
)
def test_bad_fault_plans_are_refused_with_the_field(vendor: Vendor, plan: Any, error: str) -> None:
    r = httpx.post(f"{vendor.srv.base_url}/_sandbox/faults", json=plan)
    assert r.status_code == 400
    assert error in r.json()["error"]
    bad_json = httpx.post(f"{vendor.srv.base_url}/_sandbox/faults", content=b"[")
    assert bad_json.json() == {"error": "body: not valid JSON"}
    assert len(employees(vendor.srv.base_url)) == SEEDED
