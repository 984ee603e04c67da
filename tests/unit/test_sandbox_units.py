"""Pure unit tests of the sandbox core: the generator's determinism and invariants, the clock,
fault specs, page tokens and the limiter's arithmetic."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

import pytest

from syncd.sandbox import limits as limits_mod
from syncd.sandbox.clock import Clock
from syncd.sandbox.errors import ApiError
from syncd.sandbox.faults import FaultInjector, FaultPlan, FaultSpecError
from syncd.sandbox.generator import generate
from syncd.sandbox.limits import Bucket, LimitConfig, Limiter
from syncd.sandbox.paging import decode_token, encode_token
from syncd.sandbox.state import Tenant
from syncd.sandbox.timefmt import parse_iso

ANCHOR = parse_iso("2026-06-01T12:00:00Z")
OPEN = ("LEAD", "NEW", "IN_REVIEW", "INTERVIEW", "OFFERED")
FORWARD = {"LEAD": "NEW", "NEW": "IN_REVIEW", "IN_REVIEW": "INTERVIEW", "INTERVIEW": "OFFERED"}
LEAVING = ("REJECTED", "WITHDRAWN", "TRANSFERRED")


def tenant(seed: int = 7, candidates: int = 400) -> Tenant:
    return generate(seed, 15, candidates, clock=Clock(start=ANCHOR, frozen=True), anchor=ANCHOR)


@pytest.fixture(scope="module")
def t() -> Tenant:
    return tenant()


def _state(t: Tenant) -> dict[str, Any]:
    return {
        "jobs": t.jobs,
        "job_history": t.job_history,
        "positions": t.positions,
        "candidates": t.candidates,
        "candidate_order": t.candidate_order.keys,
        "applications": t.applications,
        "app_history": t.app_history,
        "offers": t.offers,
        "offer_order": t.offer_order.keys,
        "audit": t.audit,
        "users": t.users,
        "config": t.config,
    }


# ---- generator ------------------------------------------------------------------------------
def test_same_seed_and_anchor_same_tenant(t: Tenant) -> None:
    assert _state(tenant()) == _state(t)


def test_other_seed_other_tenant(t: Tenant) -> None:
    other = tenant(seed=8)
    assert set(other.candidates).isdisjoint(t.candidates)
    assert len(other.candidates) == len(t.candidates) == 400


def test_every_candidate_has_an_application(t: Tenant) -> None:
    assert all(t.apps_of_candidate[c] for c in t.candidates)


def _allowed(prev: str, nxt: str) -> bool:
    return (
        FORWARD.get(prev) == nxt
        or (prev == "OFFERED" and nxt == "HIRED")
        or (prev in OPEN and nxt in LEAVING)
    )


def test_status_histories_follow_the_machine(t: Tenant) -> None:
    for app_id, app in t.applications.items():
        history = t.app_history[app_id]
        statuses = [h["status"] for h in history]
        assert statuses[0] in ("LEAD", "NEW"), statuses
        for prev, nxt in pairwise(statuses):
            assert _allowed(prev, nxt), f"{app_id}: {prev} -> {nxt} in {statuses}"
        stamps = [h["changedOn"] for h in history]
        assert stamps == sorted(stamps), f"{app_id}: history out of time order"
        assert stamps[-1] <= t.clock.now_iso()
        assert app["status"] == statuses[-1] and app.get("subStatus") == history[-1]["subStatus"]
        assert app["createdOn"] == stamps[0] and app["updatedOn"] == stamps[-1]
        assert app["createdOn"] >= t.jobs[app["jobId"]]["createdOn"]


def test_every_history_transition_has_an_audit_event(t: Tenant) -> None:
    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in t.audit:
        if e["entityType"] == "APPLICATION":
            by_entity[e["entityId"]].append(e)
    for app_id, history in t.app_history.items():
        events = by_entity[app_id]
        assert len(events) == len(history), app_id
        created, *moves = events
        assert created["eventName"] == "JOB_APPLICATION_CREATED"
        assert created["eventDate"] == history[0]["changedOn"]
        assert created["context"]["status"] == history[0]["status"]
        pairs = pairwise(history)
        for (prev, step), event in zip(pairs, moves, strict=True):
            assert event["eventName"] == "JOB_APPLICATION_STATE_MODIFIED"
            assert event["eventDate"] == step["changedOn"]
            assert event["context"]["currentStatus"]["status"] == step["status"]
            assert event["context"]["previousStatus"]["status"] == prev["status"]


def test_audit_is_in_time_order(t: Tenant) -> None:
    dates = [e["eventDate"] for e in t.audit]
    assert dates == sorted(dates) == t.audit_dates


def test_hired_applications_have_an_accepted_offer(t: Tenant) -> None:
    hired = [a for a in t.applications.values() if a["status"] == "HIRED"]
    assert hired
    for app in hired:
        offers = [t.offers[o] for o in t.offers_of_app.get(app["id"], [])]
        assert any(o["status"] == "ACCEPTED" for o in offers), app["id"]
        assert app["startsOn"]
        accepted = [
            e
            for e in t.audit
            if e["eventName"] == "OFFER_ACCEPTED" and e["entityId"] in t.offers_of_app[app["id"]]
        ]
        assert accepted


def test_offers_only_where_the_application_was_offered(t: Tenant) -> None:
    for app_id, offer_ids in t.offers_of_app.items():
        assert "OFFERED" in [h["status"] for h in t.app_history[app_id]]
        for oid in offer_ids:
            assert t.offers[oid]["applicationId"] == app_id


def test_live_hire_keeps_the_invariants() -> None:
    t = tenant(candidates=50)
    app = next(a for a in t.applications.values() if a["status"] == "INTERVIEW")
    t.clock.advance(60)
    t.hire(app)
    history = [h["status"] for h in t.app_history[app["id"]]]
    assert history[-2:] == ["OFFERED", "HIRED"]
    offers = [t.offers[o] for o in t.offers_of_app[app["id"]]]
    assert [o["status"] for o in offers] == ["ACCEPTED"]
    names = [e["eventName"] for e in t.audit if e["entityId"] in (app["id"], offers[0]["id"])]
    assert names[-4:] == [
        "OFFER_CREATED",
        "OFFER_ACCEPTED",
        "JOB_APPLICATION_STATE_MODIFIED",
        "JOB_APPLICATION_STATE_MODIFIED",
    ]


# ---- clock ----------------------------------------------------------------------------------
def test_clock_only_moves_forward() -> None:
    clock = Clock(start=ANCHOR, frozen=True)
    assert clock.now() == ANCHOR
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.set(ANCHOR - 10)
    clock.advance(90)
    assert clock.now() == ANCHOR + 90
    clock.set(ANCHOR + 100)
    assert clock.now() == ANCHOR + 100
    assert clock.now_iso() == "2026-06-01T12:01:40.000Z"


def test_running_clock_never_steps_back() -> None:
    clock = Clock(start=ANCHOR)
    stamps = [clock.now() for _ in range(1000)]
    assert stamps == sorted(stamps)
    clock.freeze()
    frozen = clock.now()
    assert clock.now() == frozen and clock.frozen
    clock.unfreeze()
    assert clock.now() >= frozen and not clock.frozen


# ---- faults ---------------------------------------------------------------------------------
def test_fault_plan_parse() -> None:
    plan = FaultPlan.parse(
        "429=0.05, 500=0.02,timeout=0.01,reset=0.01,truncate=0.01,latency=50ms", 2.5
    )
    assert plan.rates == {
        "429": 0.05,
        "500": 0.02,
        "timeout": 0.01,
        "reset": 0.01,
        "truncate": 0.01,
    }
    assert plan.latency == 0.05 and plan.timeout_seconds == 2.5 and plan.active
    assert FaultPlan.parse("latency=0.2s").latency == 0.2
    assert FaultPlan.parse("latency=20").latency == 0.02  # bare numbers are milliseconds
    empty = FaultPlan.parse("")
    assert empty.rates == {} and not empty.active


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("boom=1", "fault 'boom': unknown"),
        ("429", "expected NAME=VALUE"),
        ("500=x", "rate must be a number"),
        ("500=-0.1", "between 0 and 1"),
        ("429=0.7,500=0.7", "add up to more than 1"),
        ("latency=fast", "latency: expected"),
    ],
)
def test_fault_plan_rejects(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        FaultPlan.parse(spec)


def test_fault_draws_are_seeded() -> None:
    plan = FaultPlan.parse("429=0.2,500=0.2,reset=0.1")
    a = [FaultInjector(plan, 3).draw()]
    one, two, other = FaultInjector(plan, 3), FaultInjector(plan, 3), FaultInjector(plan, 4)
    seq = [one.draw() for _ in range(200)]
    assert seq == [two.draw() for _ in range(200)]
    assert seq != [other.draw() for _ in range(200)]
    assert a == seq[:1]
    assert one.counts["429"] == seq.count("429") and one.counts["reset"] == seq.count("reset")
    assert FaultInjector(FaultPlan.parse("500=1"), 1).draw() == "500"
    assert FaultInjector(FaultPlan.parse(""), 1).draw() is None


# ---- page tokens ----------------------------------------------------------------------------
def test_page_token_round_trip() -> None:
    token = encode_token(1234, 10_000, "status=HIRED")
    assert decode_token(token, "status=HIRED") == (1234, 10_000)
    assert "=" not in token  # safe in a query string as is


@pytest.mark.parametrize("token", ["", "!!!", "AAAA", "bm90LmEudG9rZW4"])
def test_garbage_page_token(token: str) -> None:
    with pytest.raises(ApiError) as exc:
        decode_token(token, "")
    assert exc.value.status == 400 and exc.value.code == "INVALID_PAGE_ID"


def test_page_token_bound_to_its_filters() -> None:
    token = encode_token(5, 50, "jobId=a")
    with pytest.raises(ApiError) as exc:
        decode_token(token, "jobId=b")
    assert exc.value.code == "INVALID_PAGE_ID"


# ---- limiter arithmetic (fake monotonic clock) ----------------------------------------------
class FakeTime:
    def __init__(self) -> None:
        # Past any real monotonic reading: buckets stamped on creation only ever refill to full.
        self.now = 1e9

    def monotonic(self) -> float:
        return self.now


def test_bucket_refills_at_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTime()
    monkeypatch.setattr(limits_mod, "time", fake)
    bucket = Bucket(rate=10, capacity=10)
    assert sum(bucket.take() for _ in range(25)) == 10
    fake.now += 0.1
    assert bucket.take() and not bucket.take()
    fake.now += 60
    assert bucket.remaining() == 10  # never above capacity


def test_limiter_concurrency_and_release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_mod, "time", FakeTime())
    limiter = Limiter(LimitConfig(rate=1000))
    held = []
    for _ in range(8):
        reason, lim = limiter.admit("k", "GET", "/jobs")
        assert reason is None
        held.append(lim)
    reason, _ = limiter.admit("k", "GET", "/jobs")
    assert reason == "Too many concurrent requests"
    assert limiter.admit("other", "GET", "/jobs")[0] is None  # per credential
    limiter.release(held.pop(), "GET", "/jobs")
    assert limiter.admit("k", "GET", "/candidates")[0] is None
    limiter.release(held.pop(), "GET", "/jobs")
    reason, _ = limiter.admit("k", "GET", "/candidates")
    assert reason == "Too many concurrent GET /candidates requests"
    assert limiter.rejected == 2


def test_publication_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_mod, "time", FakeTime())
    limiter = Limiter(LimitConfig(rate=1000, concurrent=1000))
    paths = ["/jobs/j/publication", "/jobs/j/jobads/a/postings", "/offers/o/documents"]
    outcomes = [limiter.admit("k", "POST", p)[0] for p in paths]
    assert outcomes == [None, None, "Rate limit exceeded for publication endpoints"]
    assert limiter.admit("k", "GET", "/jobs/j")[0] is None


def test_disabled_limiter_admits_everything() -> None:
    limiter = Limiter(LimitConfig(enabled=False))
    assert all(limiter.admit("k", "GET", "/candidates")[0] is None for _ in range(100))
