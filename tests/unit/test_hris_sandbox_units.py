"""Pure pieces of the HRIS sandboxes: the dataset filter language, fault plans and draws, the
limiter's buckets and Retry-After, the webhook signature."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from syncd.hris_sandbox.bamboohr_datasets import FilterError, compile_filter
from syncd.hris_sandbox.bamboohr_webhooks import sign
from syncd.hris_sandbox.faults import FaultRule, Faults, FaultSpecError, parse_rates
from syncd.hris_sandbox.limits import Limiter, LimitRule

PEOPLE: list[dict[str, Any]] = [
    {
        "id": 1,
        "firstName": "Ada",
        "lastName": "O'Neil",
        "employeeNumber": "SR-1",
        "workEmail": "ada@x.org",
        "hireDate": "2020-01-01",
        "status": "Active",
    },
    {
        "id": 2,
        "firstName": "Bo",
        "lastName": "Berg",
        "employeeNumber": "SR-2",
        "hireDate": "2031-05-01",
        "status": "Inactive",
    },
    {"id": 10, "firstName": "Cy", "lastName": "Costa", "workEmail": "CY@x.org"},
]


def ids(flt: str) -> list[int]:
    pred = compile_filter(flt)
    return [p["id"] for p in PEOPLE if pred(p)]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("employeeNumber eq 'SR-2'", [2]),
        ("workEmail eq 'cy@X.org'", [10]),
        ("workEmail eq null", [2]),
        ("workEmail ne null", [1, 10]),
        ("lastName eq 'O''Neil'", [1]),
        ("employeeId gt 2", [10]),
        ("employeeId le 2 and status eq 'Active'", [1]),
        ("status eq 'Active' or status eq 'Inactive' and employeeId eq 1", [1]),
        ("(status eq 'Active' or status eq 'Inactive') and employeeId eq 2", [2]),
        ("employeeNumber in ('SR-1', 'SR-9')", [1]),
        ("hireDate ge '2021-01-01'", [2]),
        ("  firstName EQ 'bo'  ", [2]),
    ],
)
def test_filters_select(flt: str, expected: list[int]) -> None:
    assert ids(flt) == expected


@pytest.mark.parametrize(
    ("flt", "error"),
    [
        ("salary eq 1", "unknown field 'salary'"),
        ("firstName eq", "ends too early"),
        ("firstName like 'A%'", "expected one of eq, ne, lt, le, gt, ge or in"),
        ("firstName eq 'A' firstName", "unexpected 'firstName'"),
        ("(firstName eq 'A'", "ends too early"),
        ("firstName eq 'A", "cannot read the filter"),
        ("firstName in 'A'", "'in' needs a list"),
        ("firstName eq employeeId", "expected a value"),
    ],
)
def test_filters_refuse_with_a_reason(flt: str, error: str) -> None:
    with pytest.raises(FilterError, match=error.replace("(", r"\(")):
        compile_filter(flt)


def test_rates_parse_and_refuse() -> None:
    assert parse_rates(" 503=0.1, lost=0.2 ") == {"503": 0.1, "lost": 0.2}
    assert parse_rates("") == {}
    for bad in ("500=0.1", "503", "503=x", "503=1.5", "503=0.7,429=0.7"):
        with pytest.raises(FaultSpecError):
            parse_rates(bad)


def test_queue_before_rates_and_only_matching_ops() -> None:
    f = Faults(1, queue=[FaultRule("503", 2, "create"), FaultRule("lost", 1, None)])
    drawn = [
        r.kind if (r := f.draw(op)) else None for op in ("get", "create", "create", "create", "get")
    ]
    assert drawn == ["lost", "503", "503", None, None]
    assert dict(f.counts) == {"503": 2, "lost": 1}


def test_rates_are_seeded_and_scoped() -> None:
    def run(seed: int) -> list[str | None]:
        f = Faults(seed, rates={"503": 0.5}, rate_ops=frozenset({"get"}))
        return [r.kind if (r := f.draw("get")) else None for _ in range(40)]

    assert run(3) == run(3)
    assert run(3) != run(4)
    assert {"503", None} == set(run(3))
    f = Faults(3, rates={"503": 1.0}, rate_ops=frozenset({"get"}))
    assert f.draw("create") is None and f.draw("get") is not None


def test_limiter_buckets_and_retry_after() -> None:
    lim = Limiter(
        [
            LimitRule("all", per_second=0.001, capacity=3),
            LimitRule("lists", per_second=0.5, capacity=1, ops=frozenset({"list"})),
        ]
    )

    def key(kind: str) -> str:
        return "k"

    assert lim.admit("list", key) is None
    refused = lim.admit("list", key)
    assert refused is not None and refused.rule == "lists" and refused.retry_after == 2
    # A refusal takes no token from the other buckets: two more requests pass.
    assert lim.admit("get", key) is None and lim.admit("get", key) is None
    refused = lim.admit("get", key)
    assert refused is not None and refused.rule == "all" and 990 < refused.retry_after <= 1000
    assert lim.refused == 2
    assert lim.admit("get", lambda kind: "other") is None  # its own bucket
    lim.enabled = False
    assert lim.admit("get", key) is None


def test_signature_is_hex_hmac_of_body_then_timestamp() -> None:
    body, stamp = b'{"type":"employee.created"}', "1764420000"
    expected = hmac.new(b"k3y", body + stamp.encode(), hashlib.sha256).hexdigest()
    assert sign("k3y", body, stamp) == expected
    assert sign("k3y", body, "1764420001") != expected


@pytest.mark.parametrize("vendor", ["bamboohr", "personio"])
def test_same_seed_same_company(vendor: str) -> None:
    from syncd.hris_sandbox.server import HrisOptions, HrisSandbox

    def people(seed: int) -> list[dict[str, Any]]:
        return list(HrisSandbox(HrisOptions(vendor, seed=seed, employees=8)).store)

    assert people(3) == people(3)
    assert people(3) != people(4)
    assert [p["id"] for p in people(3)] == list(range(1, 9))
    email = "workEmail" if vendor == "bamboohr" else "email"
    assert len({p[email] for p in people(3)}) == 8  # lookups can tell every employee apart
