"""Approvals, Interviews, Messages, Assessment and Configuration APIs of the sandbox over real
HTTP: each endpoint's success case (values checked against the tenant's own state, response
bodies against the spec's schema) and its documented errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.sandbox.generator import generate
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from syncd.sandbox.state import Tenant
from tests import spec
from tests.conftest import TOKEN, sandbox_options
from tests.spec import SPEC

AP = "/approvals-api/v201910/approvals"
IV = "/interviews-api/v201904"
AS = "/assessment-api/v202010"
ORDERS = "/assessment-api/v202107/assessment-orders"


# ---- fixtures and helpers ------------------------------------------------------------------
@pytest.fixture(scope="module")
def srv() -> Iterator[ThreadServer]:
    server = serve_in_thread(sandbox_options(limits=LimitConfig(enabled=False)))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def c(srv: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.base_url, headers={"X-SmartToken": TOKEN}, timeout=30) as cl:
        yield cl


@pytest.fixture(scope="module")
def t(srv: ThreadServer) -> Tenant:
    """The sandbox's own state: the truth the API answers from."""
    return srv.sandbox.tenant


@pytest.fixture(scope="module")
def weak(srv: ThreadServer, c: httpx.Client) -> Iterator[httpx.Client]:
    """A credential without scopes and without the ADMINISTRATOR role."""
    r = c.post("/_sandbox/credentials", json={"apiKey": "weak-key", "role": "USER", "scopes": []})
    assert r.status_code == 201
    with httpx.Client(base_url=srv.base_url, headers={"X-SmartToken": "weak-key"}) as cl:
        yield cl


def err(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = dict(r.json())
    assert body["message"]
    if code is not None:
        assert code in [e.get("code") for e in body["errors"]], body
    return body


def paths422(r: httpx.Response) -> list[str]:
    body = err(r, 422)
    return [e["dataPath"] for e in body["errors"]]


@pytest.fixture(scope="module")
def conforms(shared_dir: Path) -> Any:
    spec_path = shared_dir / SPEC

    def check(method: str, path: str, r: httpx.Response, status: int = 200) -> Any:
        """The body, after checking it against the operation's documented response."""
        assert r.status_code == status, r.text
        body = r.json()
        spec.check(spec_path, method, path, status, body)
        return body

    return check


def users(t: Tenant) -> list[str]:
    return [u["id"] for u in t.users]


# ---- generator -----------------------------------------------------------------------------
def test_extras_are_deterministic_and_consistent() -> None:
    a = generate(11, 8, 150, anchor=1_780_000_000.0)
    b = generate(11, 8, 150, anchor=1_780_000_000.0)
    assert a.approvals == b.approvals and a.interviews == b.interviews
    assert a.messages == b.messages and a.assessment_orders == b.assessment_orders
    assert [e["eventDate"] for e in a.audit] == sorted(e["eventDate"] for e in a.audit)
    assert a.audit_dates == [e["eventDate"] for e in a.audit]
    assert len({e["id"] for e in a.audit}) == len(a.audit)
    assert set(a.job_approvals) == set(a.jobs)
    for oid, offer in a.offers.items():
        if offer["status"] == "CREATED":
            assert oid not in a.offer_approvals
            continue
        approval = a.approvals[a.offer_approvals[oid]]
        want = {"PENDING_APPROVAL": "PENDING", "NOT_APPROVED": "REJECTED"}.get(
            offer["status"], "APPROVED"
        )
        assert approval["status"] == want
    for app_id, ivs in a.interviews_of_app.items():
        assert ivs and any(h["status"] == "INTERVIEW" for h in a.app_history[app_id])
    assert a.interviews and a.messages and a.assessment_orders
    names = {e["eventName"] for e in a.audit}
    assert {"JOB_APPROVAL_REQUESTED", "JOB_APPROVAL_APPROVED", "OFFER_APPROVAL_APPROVED"} <= names


# ---- approvals -----------------------------------------------------------------------------
def test_get_approval_and_comments(c: httpx.Client, t: Tenant, conforms: Any) -> None:
    jid, aid = next(iter(t.job_approvals.items()))
    body = conforms("GET", f"{AP}/{{approvalRequestId}}", c.get(f"{AP}/{aid}"))
    truth = t.approvals[aid]
    assert body["id"] == aid and body["subject"] == {"id": jid, "type": "job"}
    assert body["status"] == truth["status"]
    assert [s["status"] for s in body["steps"]] == [s["status"] for s in truth["steps"]]
    comments = conforms(
        "GET", f"{AP}/{{approvalRequestId}}/comments", c.get(f"{AP}/{aid}/comments")
    )
    assert comments == {"content": []}
    err(c.get(f"{AP}/no-such-id"), 404, "APPROVAL_REQUEST_NOT_FOUND")
    err(c.get(f"{AP}/no-such-id/comments"), 404, "APPROVAL_REQUEST_NOT_FOUND")


def _pending_offer_approval(t: Tenant) -> tuple[str, str]:
    for oid, aid in t.offer_approvals.items():
        if (
            t.approvals[aid]["status"] == "PENDING"
            and t.offers[oid]["status"] == "PENDING_APPROVAL"
        ):
            return oid, aid
    raise LookupError("no pending offer approval")


def test_create_then_approve_offer_approval(
    c: httpx.Client, t: Tenant, conforms: Any, weak: httpx.Client
) -> None:
    oid, base_id = _pending_offer_approval(t)
    u1, u2, stranger = users(t)[1], users(t)[2], users(t)[3]
    req = {
        "baseId": base_id,
        "type": "sequential",
        "decisionMode": "any",
        "steps": [{"approvers": [{"id": u1}]}, {"approvers": [{"id": u2}]}],
    }
    seen: list[tuple[str, dict[str, Any]]] = []
    t.listeners.append(lambda name, payload: seen.append((name, payload)))  # webhook feed
    body = conforms("POST", AP, c.post(AP, json=req), 201)
    new_id = body["id"]
    assert new_id != base_id and body["status"] == "PENDING"
    assert body["subject"] == {"id": oid, "type": "offer"}
    assert [a["decision"] for s in body["steps"] for a in s["approvers"]] == ["PENDING"] * 2
    assert t.approvals[base_id]["status"] == "ABANDONED"
    assert t.offer_approvals[oid] == new_id
    assert [(n, p["approval_id"]) for n, p in seen] == [
        ("offer.approval.abandoned", base_id),
        ("offer.approval.created", new_id),
    ]
    assert seen[-1][1]["offer_id"] == oid and seen[-1][1]["candidate_id"]

    ap = f"{AP}/{new_id}/approve-decisions"
    err(c.post(ap, json={"approverId": u2}), 400, "DECISION_NOT_YET_ALLOWED")
    err(c.post(ap, json={"approverId": stranger}), 400, "APPROVER_NOT_ALLOWED")
    err(c.post(ap, json={}), 400, "INVALID_REQUEST_BODY")
    err(c.post(ap, content=b"{nope"), 400, "INVALID_REQUEST_BODY")
    assert c.post(ap, json={"approverId": u1}).status_code == 204
    err(c.post(ap, json={"approverId": u1}), 400, "DECISION_ALREADY_TAKEN")
    assert c.post(ap, json={"approverId": u2, "comment": "Fine by me"}).status_code == 204
    got = c.get(f"{AP}/{new_id}").json()
    assert got["status"] == "APPROVED"
    assert [s["status"] for s in got["steps"]] == ["APPROVED", "APPROVED"]
    assert all(a["decidedOn"] for s in got["steps"] for a in s["approvers"])
    err(c.post(ap, json={"approverId": u2}), 400, "APPROVAL_COMPLETED")
    err(c.post(f"{AP}/nope/approve-decisions", json={"approverId": u1}), 404)
    snap = c.get("/_sandbox/snapshot", params={"include": "offers"}).json()
    assert snap["offers"][oid]["status"] == "APPROVED"
    events = [e for e in t.audit if e["entityId"] == oid]
    assert events[-1]["eventName"] == "OFFER_UPDATED"
    assert "OFFER_APPROVAL_APPROVED" in [e["eventName"] for e in events]
    names = [n for n, _ in seen]
    assert names.count("offer.approval.step.approved") == 2
    assert "offer.approval.approved" in names and "offer.approval.comment.created" in names
    comments = c.get(f"{AP}/{new_id}/comments").json()["content"]
    assert [(x["content"], x["authorId"]) for x in comments] == [("Fine by me", u2)]

    # Errors of the create call.
    err(c.post(AP, json={**req, "baseId": "missing"}), 400, "BASE_ID_NOT_FOUND")
    bad_step = {"approvers": [{"id": "ghost"}]}
    err(c.post(AP, json={**req, "steps": [bad_step]}), 400, "APPROVER_ID_NOT_FOUND")
    err(c.post(AP, json={**req, "decisionMode": "all"}), 400, "INVALID_DECISION_MODE")
    r = err(c.post(AP, json={**req, "type": "random", "steps": None}), 400, "INVALID_REQUEST_BODY")
    assert "'type' must be one of" in r["message"] and "'steps' is required" in r["message"]
    err(c.post(AP, json={**req, "steps": [{"approvers": []}]}), 400, "INVALID_REQUEST_BODY")
    err(weak.post(AP, json=req), 401, "UNAUTHORIZED_ACCESS")


def test_reject_job_approval_needs_comment(c: httpx.Client, t: Tenant) -> None:
    jid, base_id = next(iter(t.job_approvals.items()))
    u1, u2 = users(t)[4], users(t)[5]
    req = {
        "baseId": base_id,
        "type": "parallel",
        "decisionMode": "all",
        "steps": [{"approvers": [{"id": u1}, {"id": u2}]}],
    }
    new_id = c.post(AP, json=req).json()["id"]
    rj = f"{AP}/{new_id}/reject-decisions"
    err(c.post(rj, json={"approverId": u2}), 400, "COMMENT_IS_REQUIRED")
    err(c.post(rj, json={"approverId": u2, "comment": "  "}), 400, "COMMENT_IS_REQUIRED")
    err(c.post(f"{AP}/nope/reject-decisions", json={"approverId": u2, "comment": "x"}), 404)
    # parallel: the second approver may decide first.
    assert c.post(rj, json={"approverId": u2, "comment": "Budget is frozen"}).status_code == 204
    truth = t.approvals[new_id]
    assert truth["status"] == "REJECTED"
    assert [a["decision"] for a in truth["steps"][0]["approvers"]] == ["SKIPPED", "REJECTED"]
    comments = c.get(f"{AP}/{new_id}/comments").json()["content"]
    assert comments[0]["content"] == "Budget is frozen" and comments[0]["authorId"] == u2
    rejected = [e for e in t.audit if e["eventName"] == "JOB_APPROVAL_REJECTED"]
    assert rejected[-1]["entityId"] == jid and rejected[-1]["authorId"] == u2
    assert rejected[-1]["context"]["comments"][0]["text"] == "Budget is frozen"
    err(c.post(rj, json={"approverId": u1, "comment": "late"}), 400, "APPROVAL_COMPLETED")


# ---- interviews ----------------------------------------------------------------------------
def test_list_interviews(c: httpx.Client, t: Tenant, conforms: Any) -> None:
    app_id, ids = next(iter(t.interviews_of_app.items()))
    r = c.get(f"{IV}/interviews", params={"applicationId": app_id})
    body = conforms("GET", f"{IV}/interviews", r)
    truth = [t.interviews[i] for i in ids]
    assert [iv["id"] for iv in body["content"]] == [iv["id"] for iv in truth]
    first, want = body["content"][0], truth[0]
    assert first["candidate"]["id"] == want["candidateId"] and first["jobId"] == want["jobId"]
    assert first["timeslots"][0]["startsOn"] == want["timeslots"][0]["startsOn"]
    assert first["timeslots"][0]["noShow"] is want["timeslots"][0]["noShow"]
    assert paths422(c.get(f"{IV}/interviews")) == ["applicationId"]
    err(c.get(f"{IV}/interviews", params={"applicationId": "nope"}), 404, "APPLICATION_NOT_FOUND")


def _slot(t: Tenant, **kw: Any) -> dict[str, Any]:
    return {
        "title": "Technical",
        "startsOn": "2030-01-10T10:00:00Z",
        "endsOn": "2030-01-10T11:00:00Z",
        "interviewers": [{"id": users(t)[2], "status": "pending"}],
        **kw,
    }


def test_create_interview_and_timeslots(
    c: httpx.Client, t: Tenant, conforms: Any, weak: httpx.Client
) -> None:
    app = next(a for a in t.applications.values() if a["status"] == "IN_REVIEW")
    req = {
        "candidate": {"id": app["candidateId"]},
        "jobId": app["jobId"],
        "organizerId": users(t)[1],
        "timezone": "Europe/Berlin",
        "location": "Berlin office",
        "timeslots": [_slot(t)],
    }
    body = conforms("POST", f"{IV}/interviews", c.post(f"{IV}/interviews", json=req), 201)
    iv_id = body["id"]
    assert t.interviews[iv_id]["applicationId"] == app["id"]
    assert body["timeslots"][0]["startsOn"] == "2030-01-10T10:00:00.000Z"
    assert body["timeslots"][0]["candidateStatus"] == "pending"
    listed = c.get(f"{IV}/interviews", params={"applicationId": app["id"]}).json()["content"]
    assert iv_id in [x["id"] for x in listed]
    one_iv = conforms("GET", f"{IV}/interviews/{{interviewId}}", c.get(f"{IV}/interviews/{iv_id}"))
    assert one_iv == body

    # 422 names every bad field at once; named failures carry their code.
    r = c.post(f"{IV}/interviews", json={"timeslots": [{"interviewers": [{"status": "maybe"}]}]})
    assert set(paths422(r)) >= {
        "candidate",
        "jobId",
        "organizerId",
        "timezone",
        "timeslots[0].startsOn",
        "timeslots[0].interviewers[0].id",
        "timeslots[0].interviewers[0].status",
    }
    assert paths422(c.post(f"{IV}/interviews", content=b"[")) == [""]
    err(
        c.post(f"{IV}/interviews", json={**req, "timezone": "Mars/Olympus"}),
        400,
        "INVALID_TIMEZONE",
    )
    err(c.post(f"{IV}/interviews", json={**req, "organizerId": "x"}), 422, "NON_EXISTING_ORGANIZER")
    backwards = _slot(t, endsOn="2030-01-10T09:00:00Z")
    r = c.post(f"{IV}/interviews", json={**req, "timeslots": [backwards]})
    err(r, 422, "END_DATE_BEFORE_START_DATE")
    other_job = next(j for j in t.jobs if (app["candidateId"], j) not in t.app_by_pair)
    err(c.post(f"{IV}/interviews", json={**req, "jobId": other_job}), 422, "APPLICATION_NOT_FOUND")
    err(weak.post(f"{IV}/interviews", json=req), 403)

    # Timeslots
    ts_path = f"{IV}/interviews/{{interviewId}}/timeslots"
    r = c.post(f"{IV}/interviews/{iv_id}/timeslots", json=_slot(t, place="Room 2"))
    slot = conforms("POST", ts_path, r, 201)
    assert slot["place"] == "Room 2" and len(t.interviews[iv_id]["timeslots"]) == 2
    one = f"{IV}/interviews/{iv_id}/timeslots/{slot['id']}"
    got = conforms("GET", ts_path + "/{timeslotId}", c.get(one))
    assert got == slot
    err(c.get(f"{IV}/interviews/{iv_id}/timeslots/nope"), 404, "TIMESLOT_NOT_FOUND")
    err(c.get(f"{IV}/interviews/nope/timeslots/{slot['id']}"), 404, "INTERVIEW_NOT_FOUND")
    err(c.post(f"{IV}/interviews/nope/timeslots", json=_slot(t)), 404, "INTERVIEW_NOT_FOUND")
    bad = _slot(t, interviewers=[{"id": "ghost", "status": "pending"}])
    err(c.post(f"{IV}/interviews/{iv_id}/timeslots", json=bad), 422, "NON_EXISTING_INTERVIEWERS")
    assert paths422(c.post(f"{IV}/interviews/{iv_id}/timeslots", json={})) == [
        "startsOn",
        "endsOn",
        "interviewers",
    ]
    stored = t.interviews[iv_id]["timeslots"]
    stored.extend(dict(stored[0], id=f"filler-{i}") for i in range(48))
    err(
        c.post(f"{IV}/interviews/{iv_id}/timeslots", json=_slot(t)),
        409,
        "CANNOT_ADD_MORE_TIMESLOTS",
    )
    del stored[2:]

    # Statuses and no-show
    assert c.put(one + "/candidateStatus", json={"status": "accepted"}).status_code == 204
    assert t.interviews[iv_id]["timeslots"][1]["candidateStatus"] == "accepted"
    assert paths422(c.put(one + "/candidateStatus", json={"status": "yes"})) == ["status"]
    who = users(t)[2]
    r = c.put(f"{one}/interviewers/{who}/status", json={"status": "declined"})
    assert r.status_code == 204
    assert t.interviews[iv_id]["timeslots"][1]["interviewers"][0]["status"] == "declined"
    r = c.put(f"{one}/interviewers/{users(t)[5]}/status", json={"status": "declined"})
    err(r, 404, "NON_EXISTING_INTERVIEWERS")
    assert c.patch(one + "/noshow", params={"noShow": "true"}).status_code == 204
    assert c.get(one).json()["noShow"] is True
    assert c.patch(one + "/noshow", params={"value": "false"}).status_code == 204
    assert t.interviews[iv_id]["timeslots"][1]["noShow"] is False
    assert paths422(c.patch(one + "/noshow")) == ["noShow"]
    err(c.patch(f"{IV}/interviews/{iv_id}/timeslots/nope/noshow", params={"noShow": "true"}), 404)

    # Delete
    assert c.delete(f"{IV}/interviews/{iv_id}").status_code == 204
    assert iv_id not in t.interviews and iv_id not in t.interviews_of_app[app["id"]]
    err(c.delete(f"{IV}/interviews/{iv_id}"), 404, "INTERVIEW_NOT_FOUND")
    err(c.get(one), 404, "INTERVIEW_NOT_FOUND")


def test_interview_types(c: httpx.Client, t: Tenant, weak: httpx.Client) -> None:
    before = list(t.interview_types)
    assert c.get(f"{IV}/interview-types").json() == before
    r = c.patch(f"{IV}/interview-types", json=["Final round", before[0], "Final round"])
    assert r.status_code == 204
    assert t.interview_types == [*before, "Final round"]
    assert paths422(c.patch(f"{IV}/interview-types", json=[])) == [""]
    assert paths422(c.patch(f"{IV}/interview-types", json=["ok", 5, "x" * 401])) == ["[1]", "[2]"]
    many = [f"type {i}" for i in range(2000)]
    err(c.patch(f"{IV}/interview-types", json=many), 409, "INTERVIEW_TYPES_SIZE_EXCEEDED")
    assert len(t.interview_types) == len(before) + 1
    err(weak.patch(f"{IV}/interview-types", json=["x"]), 403)
    assert c.delete(f"{IV}/interview-types/Final round").status_code == 204
    assert t.interview_types == before
    err(c.delete(f"{IV}/interview-types/Final round"), 404, "INTERVIEW_TYPE_NOT_FOUND")


# ---- messages ------------------------------------------------------------------------------
def test_messages_of_candidate_paged(
    c: httpx.Client, t: Tenant, conforms: Any, weak: httpx.Client
) -> None:
    counts: dict[str, int] = {}
    for m in t.messages.values():
        counts[m["candidateId"]] = counts.get(m["candidateId"], 0) + 1
    cid = max(counts, key=lambda k: counts[k])
    truth = sorted(
        (m for m in t.messages.values() if m["candidateId"] == cid), key=lambda m: m["seq"]
    )
    assert len(truth) >= 2
    r = c.get("/messages", params={"candidateId": cid, "limit": 1})
    page = conforms("GET", "/messages", r)
    seen = [m["id"] for m in page]
    while "link" in r.headers:
        assert 'rel="next"' in r.headers["link"]
        r = c.get(r.headers["link"].split(";")[0].strip("<>"))
        assert r.status_code == 200 and len(r.json()) == 1
        seen += [m["id"] for m in r.json()]
    assert seen == [m["id"] for m in truth]
    full = c.get("/messages", params={"candidateId": cid}).json()
    assert full[0]["content"] == truth[0]["content"]
    assert full[0]["context"]["applications"][0]["applicationId"] == truth[0]["applicationIds"][0]
    app = t.applications[truth[0]["applicationIds"][0]]
    by_job = c.get("/messages", params={"candidateId": cid, "jobId": app["jobId"]}).json()
    assert [m["id"] for m in by_job] == [m["id"] for m in truth if app["id"] in m["applicationIds"]]
    err(weak.get("/messages", params={"candidateId": cid}), 403, "PERMISSION_DENIED")
    err(c.get("/messages"), 400, "INVALID_PARAMETER")
    err(c.get("/messages", params={"candidateId": "nope"}), 400, "CANDIDATE_NOT_FOUND")
    err(c.get("/messages", params={"candidateId": cid, "jobId": "nope"}), 400, "JOB_NOT_FOUND")
    other_job = next(j for j in t.jobs if (cid, j) not in t.app_by_pair)
    r = c.get("/messages", params={"candidateId": cid, "jobId": other_job})
    err(r, 400, "APPLICATION_NOT_FOUND")
    r = c.get("/messages", params={"candidateId": cid, "pageId": "garbage"})
    err(r, 400, "INVALID_PAGE_ID")
    err(c.get("/messages", params={"candidateId": cid, "limit": 101}), 400, "INVALID_PARAMETER")


def test_share_and_delete_message(
    c: httpx.Client, t: Tenant, conforms: Any, weak: httpx.Client
) -> None:
    cid = next(iter(t.apps_of_candidate))
    u = users(t)[3]
    body = {
        "content": f"Great interview with #[CANDIDATE:{cid}], @[USER:{u}] please review.",
        "correlationId": "crm-42",
        "shareWith": {"users": [u], "hiringTeamOf": [next(iter(t.jobs))]},
    }
    created = conforms("POST", "/messages/shares", c.post("/messages/shares", json=body), 201)
    assert created["shareRequired"] is False
    stored = t.messages[created["id"]]
    assert stored["candidateIds"] == [cid] and stored["correlationId"] == "crm-42"
    assert stored["applicationIds"] == t.apps_of_candidate[cid]
    listed = c.get("/messages", params={"candidateId": cid, "limit": 100}).json()
    assert listed[-1]["id"] == created["id"] and listed[-1]["visibility"] == "INTERNAL"
    lone = c.post("/messages/shares", json={"content": "note to self"}).json()
    assert lone["shareRequired"] is True

    share = body["shareWith"]
    cases = [
        ({**body, "shareWith": {"everyone": True, "openNote": True}}, "INVALID_VISIBILITY_OPTIONS"),
        ({**body, "shareWith": {"hiringTeamOf": ["nope"]}}, "JOB_NOT_FOUND"),
        ({**body, "content": "#[CANDIDATE:nope]"}, "NO_ACCESS_TO_CANDIDATE"),
        ({**body, "content": "@[USER:ghost]"}, "MENTIONED_USERS_NOT_FOUND"),
        ({**body, "shareWith": {**share, "users": ["ghost"]}}, "SHARED_WITH_USERS_NOT_FOUND"),
        ({"shareWith": share}, "INVALID_REQUEST_BODY"),
        ({"content": ""}, "INVALID_REQUEST_BODY"),
        ({"content": "x", "shareWith": {"everyone": "yes"}}, "INVALID_REQUEST_BODY"),
    ]
    for payload, code in cases:
        err(c.post("/messages/shares", json=payload), 400, code)
    err(weak.post("/messages/shares", json=body), 403, "PERMISSION_DENIED")

    err(weak.delete(f"/messages/shares/{created['id']}"), 403, "PERMISSION_DENIED")
    assert c.delete(f"/messages/shares/{created['id']}").status_code == 204
    assert created["id"] not in t.messages
    err(c.delete(f"/messages/shares/{created['id']}"), 404, "MESSAGE_NOT_FOUND")


# ---- assessments ---------------------------------------------------------------------------
def test_assessment_orders(c: httpx.Client, t: Tenant, conforms: Any) -> None:
    order = next(iter(t.assessment_orders.values()))
    r = c.get(ORDERS, params={"applicationId": order["applicationId"]})
    body = conforms("GET", ORDERS, r)
    mine = [o for o in t.assessment_orders.values() if o["applicationId"] == order["applicationId"]]
    assert sorted(o["orderId"] for o in body) == sorted(o["orderId"] for o in mine)
    got = next(o for o in body if o["orderId"] == order["orderId"])
    assert got["status"] == order["results"]["status"]
    assert got["assessmentPackageName"] == order["assessmentPackageName"]
    empty_app = next(a for a in t.applications if a not in {o["applicationId"] for o in mine})
    assert c.get(ORDERS, params={"applicationId": empty_app}).json() == []
    err(c.get(ORDERS), 400, "INVALID_PARAMETER")
    err(c.get(ORDERS, params={"applicationId": "nope"}), 404, "APPLICATION_NOT_FOUND")


def test_patch_results_and_attachment(
    c: httpx.Client, t: Tenant, conforms: Any, weak: httpx.Client
) -> None:
    order = next(o for o in t.assessment_orders.values() if o["results"]["status"] != "COMPLETED")
    url = f"{AS}/orders/{order['orderId']}/results"
    patch = {
        "status": "COMPLETED",
        "submissionDate": "2026-05-01T10:00:00+02:00",
        "score": {"raw": 28, "min": 20, "max": 80},
        "scoreLabel": "Average",
        "summary": "Solid fundamentals",
        "attachments": [
            {"fileName": "report.pdf", "type": "PDF_URL", "url": "https://x.example/r"}
        ],
        "assessmentResults": [{"assessmentId": "a-1", "status": "COMPLETED"}],
    }
    r = c.patch(url, json=patch, headers={"content-type": "application/merge-patch+json"})
    body = conforms("PATCH", f"{AS}/orders/{{orderId}}/results", r)
    assert body["status"] == "COMPLETED" and body["score"] == {"raw": 28, "min": 20, "max": 80}
    assert body["submissionDate"] == "2026-05-01T08:00:00.000Z"
    assert body["attachments"][0]["actions"]["download"]["url"] == "https://x.example/r"
    assert body["name"] == order["assessmentPackageName"]
    # null removes a field; nested objects merge.
    r = c.patch(url, json={"scoreLabel": None, "score": {"raw": 30}})
    assert "scoreLabel" not in r.json() and r.json()["score"]["raw"] == 30
    listed = c.get(ORDERS, params={"applicationId": order["applicationId"]}).json()
    mine = next(o for o in listed if o["orderId"] == order["orderId"])
    assert mine["status"] == "COMPLETED" and mine["score"] == "30/80"
    assert mine["summary"] == "Solid fundamentals"

    for bad, field in (
        ({"status": "DONE"}, "status"),
        ({"score": {"min": None}}, "score.min"),
        ({"score": {"raw": 99, "min": 0, "max": 10}}, "score"),
        ({"assessmentResults": [{"status": "COMPLETED"}]}, "assessmentResults[0].assessmentId"),
        ({"submissionDate": "yesterday"}, "submissionDate"),
        ({"colour": "red"}, "colour"),
    ):
        assert f"'{field}'" in err(c.patch(url, json=bad), 400, "INVALID_RESULT_UPDATE")["message"]
    assert t.assessment_orders[order["orderId"]]["results"]["score"]["raw"] == 30
    err(c.patch(url, content=b"status=x", headers={"content-type": "text/plain"}), 415)
    err(c.patch(f"{AS}/orders/nope/results", json={}), 404, "ORDER_NOT_FOUND")
    err(weak.patch(url, json={}), 403)

    att = f"{AS}/orders/{order['orderId']}/results/attachment"
    r = c.post(att, files={"file": ("result.pdf", b"%PDF-1.4 sandbox", "application/pdf")})
    link = conforms("POST", f"{AS}/orders/{{orderId}}/results/attachment", r, 201)["url"]
    download = c.get(link)
    assert download.content == b"%PDF-1.4 sandbox"
    assert download.headers["content-type"] == "application/pdf"
    listed = c.get(ORDERS, params={"applicationId": order["applicationId"]}).json()
    mine = next(o for o in listed if o["orderId"] == order["orderId"])
    assert link in [a["actions"]["download"]["url"] for a in mine["attachments"]]
    err(c.post(att, data={"note": "no file"}, files={}), 400, "INVALID_REQUEST_BODY")
    broken = {"content-type": "multipart/form-data; boundary=zz"}
    err(c.post(att, content=b"{not multipart", headers=broken), 400, "INVALID_REQUEST_BODY")
    err(c.post(att, json={"file": "x"}), 400, "INVALID_REQUEST_BODY")
    err(c.post(f"{AS}/orders/nope/results/attachment", files={"file": ("a", b"x")}), 404)
    err(weak.post(att, files={"file": ("a", b"x")}), 403)


def test_partner_configuration_and_integration(
    c: httpx.Client, t: Tenant, conforms: Any, weak: httpx.Client
) -> None:
    cfg = {
        "consentUrl": "https://p.example/integration",
        "consentDisplayMode": "POPUP",
        "assessmentPackageListUrl": "https://p.example/packages",
        "singleAssessmentPackageUrl": "https://p.example/packages/{id}",
        "oauthTokenUrl": "https://p.example/token",
        "fields": [{"id": "region", "name": "Region", "description": "Data region"}],
        "supportedAssessmentTypes": ["SKILL_TEST", "REFERENCE_CHECK"],
    }
    path = f"{AS}/partner/configuration"
    body = conforms("PUT", path, c.put(path, json=cfg))
    assert body == cfg and t.assessment_partner_config == cfg
    r = err(c.put(path, json={**cfg, "consentUrl": None}), 400, "INVALID_CONFIGURATION")
    assert "consentUrl" in r["message"]
    err(c.put(path, json={**cfg, "consentDisplayMode": "IFRAME"}), 400, "INVALID_CONFIGURATION")
    err(c.put(path, json={**cfg, "supportedAssessmentTypes": []}), 400, "INVALID_CONFIGURATION")
    err(c.put(path, json={**cfg, "oauthTokenUrl": "token"}), 400, "INVALID_CONFIGURATION")
    err(c.put(path, content=b"{"), 400, "INVALID_REQUEST_BODY")
    err(weak.put(path, json=cfg), 403)

    partner = f"{t.company_id}Partner"
    creds = {"clientId": "partner-app", "clientSecret": "partner-secret-value"}
    url = f"{AS}/integration/company/{{companyId}}"
    r = c.post(f"{AS}/integration/company/{partner}", json=creds)
    out = conforms("POST", url, r)
    assert out["clientId"] and out["clientSecret"] and "partner-secret-value" not in r.text
    stored = t.assessment_integrations[partner]
    assert stored["partnerClientId"] == "partner-app"
    assert "partner-secret-value" not in str(stored) and out["clientSecret"] not in str(stored)
    err(
        c.post(f"{AS}/integration/company/{partner}", json=creds), 409, "INTEGRATION_ALREADY_EXISTS"
    )
    err(c.post(f"{AS}/integration/company/{t.company_id}", json=creds), 409)
    err(c.post(f"{AS}/integration/company/Stranger", json=creds), 403, "COMPANY_CONSENT_MISSING")
    err(c.post(f"{AS}/integration/company/Stranger", json={"clientId": "x"}), 400)
    err(weak.post(f"{AS}/integration/company/Stranger", json=creds), 403)


# ---- configuration -------------------------------------------------------------------------
def test_configuration_lists(c: httpx.Client, t: Tenant, conforms: Any) -> None:
    for path, key in (
        ("/configuration/departments", "departments"),
        ("/configuration/rejection-reasons", "rejection_reasons"),
        ("/configuration/withdrawal-reasons", "withdrawal_reasons"),
    ):
        body = conforms("GET", path, c.get(path))
        assert body["totalFound"] == len(t.config[key])
        assert body["content"] == [{"id": x["id"], "label": x["label"]} for x in t.config[key]]
    sources = c.get("/configuration/sources")
    body = conforms("GET", "/configuration/sources", sources)
    assert [s["id"] for s in body["content"]] == [s["id"] for s in t.config["source_types"]]
    assert all(s["subtypes"] for s in body["content"])  # the spec asks for at least one
    values = c.get(body["content"][0]["actions"]["values"]["url"])
    page = conforms("GET", "/configuration/sources/{sourceType}/values", values)
    want = [v for v in t.config["source_values"] if v["sourceTypeId"] == body["content"][0]["id"]]
    assert [v["id"] for v in page["content"]] == [v["id"] for v in want]
    r = c.get("/configuration/sources/JOB_BOARDS/values", params={"limit": 2, "offset": 1})
    assert [v["id"] for v in r.json()["content"]] == ["job_boards-1", "job_boards-2"]
    assert r.json()["totalFound"] == 4
    one = c.get(r.json()["content"][0]["actions"]["sourceDetails"]["url"]).json()
    assert one["label"] == "Indeed"
    err(c.get("/configuration/sources/NOPE/values"), 404, "SOURCE_TYPE_NOT_FOUND")
    err(c.get("/configuration/sources/JOB_BOARDS/values", params={"limit": 0}), 400)

    hp = conforms(
        "GET", "/configuration/hiring-processes", c.get("/configuration/hiring-processes")
    )
    assert hp["content"][0]["subStatuses"]["INTERVIEW"] == [
        "Phone Screen",
        "Onsite",
        "Final Interview",
    ]
    one = c.get("/configuration/hiring-processes/default")
    assert conforms("GET", "/configuration/hiring-processes/{id}", one) == hp["content"][0]
    err(c.get("/configuration/hiring-processes/nope"), 404, "HIRING_PROCESS_NOT_FOUND")


def test_configuration_properties(c: httpx.Client, t: Tenant, conforms: Any) -> None:
    cp = "/configuration/candidate-properties"
    body = conforms("GET", cp, c.get(cp))
    assert [p["id"] for p in body["content"]] == [p["id"] for p in t.config["candidate_properties"]]
    values = conforms("GET", cp + "/{id}/values", c.get(f"{cp}/cp-notice/values"))
    truth = next(p for p in t.config["candidate_properties"] if p["id"] == "cp-notice")
    assert values["content"] == truth["values"] and values["totalFound"] == len(truth["values"])
    assert c.get(f"{cp}/cp-notice").json()["type"] == "SINGLE_SELECT"
    err(c.get(f"{cp}/nope/values"), 404, "CANDIDATE_PROPERTY_NOT_FOUND")
    err(c.get(f"{cp}/cp-salary/values"), 400, "PROPERTY_HAS_NO_VALUES")

    jp = "/configuration/job-properties"
    body = conforms("GET", jp, c.get(jp))
    assert body["content"][0]["id"] == "jp-cost-center" and body["content"][0]["active"] is True
    assert conforms("GET", jp + "/{id}", c.get(f"{jp}/jp-cost-center")) == body["content"][0]
    err(c.get(f"{jp}/nope"), 404, "JOB_PROPERTY_NOT_FOUND")
    seen: list[str] = []
    params: dict[str, Any] = {"pageSize": 2}
    while True:
        r = c.get(f"{jp}/jp-cost-center/values", params=params)
        page = conforms("GET", jp + "/{id}/values", r)
        assert page["totalFound"] == 5 and len(page["content"]) <= 2
        seen += [v["id"] for v in page["content"]]
        if "nextPageId" not in page:
            break
        params["pageId"] = page["nextPageId"]
    truth_values = t.config["job_properties"][0]["values"]
    assert seen == [v["id"] for v in truth_values]
    assert len(c.get(f"{jp}/jp-cost-center/values").json()["content"]) == 5
    err(c.get(f"{jp}/jp-cost-center/values", params={"pageSize": 20001}), 400)
    err(c.get(f"{jp}/jp-cost-center/values", params={"pageId": "bad!"}), 400, "INVALID_PAGE_ID")
    err(c.get(f"{jp}/nope/values"), 404, "JOB_PROPERTY_NOT_FOUND")
