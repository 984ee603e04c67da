"""Jobs API writes and reads beyond the job itself, over real HTTP against a fresh sandbox;
every change is checked against ``GET /_sandbox/snapshot`` or a follow-up GET."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.sandbox.runner import ThreadServer
from tests.conftest import TOKEN
from tests.integration.test_sandbox_candidates import (
    assert_no_server_errors,
    audit_names,
    code,
    spec_check,
)

NEW_JOB: dict[str, Any] = {
    "title": "Platform Engineer",
    "refNumber": "PLAT-1",
    "function": {"id": "fn-0"},
    "industry": {"id": "ind-0"},
    "experienceLevel": {"id": "exp-2"},
    "typeOfEmployment": {"id": "emp-0"},
    "department": {"id": "1000"},
    "location": {"countryCode": "de", "city": "Berlin", "remote": True},
    "targetHiringDate": "2027-03-01T00:00:00Z",
    "compensation": {"min": 70000, "max": 90000, "currency": "EUR"},
    "jobAd": {"sections": {"jobDescription": {"title": "The job", "text": "Build platforms."}}},
}


@pytest.fixture
def w(open_sandbox: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=open_sandbox.base_url, headers={"X-SmartToken": TOKEN}, timeout=30
    ) as c:
        yield c


def jobs(c: httpx.Client) -> dict[str, Any]:
    return dict(c.get("/_sandbox/snapshot", params={"include": "jobs"}).json()["jobs"])


def a_job(c: httpx.Client, **match: str) -> dict[str, Any]:
    return next(j for j in jobs(c).values() if all(j.get(k) == v for k, v in match.items()))


# ---- create, update, status --------------------------------------------------------------
def test_create_job(w: httpx.Client) -> None:
    r = w.post("/jobs", json=NEW_JOB)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["title"] == "Platform Engineer" and job["refNumber"] == "PLAT-1"
    assert job["status"] == "CREATED" and job["postingStatus"] == "NOT_PUBLISHED"
    assert job["department"] == {"id": "1000", "label": "Engineering"}
    assert job["industry"] == {"id": "ind-0", "label": "Computer Software"}
    assert job["experienceLevel"]["label"] == "Mid-Senior level"
    assert job["location"]["city"] == "Berlin" and job["location"]["country"] == "Germany"
    assert job["targetHiringDate"] == "2027-03-01T00:00:00.000Z"
    assert job["creator"]["id"] and job["actions"]["details"]["url"].endswith(f"/jobs/{job['id']}")
    stored = jobs(w)[job["id"]]
    assert stored["statusHistory"] == [{"changedOn": job["createdOn"], "status": "CREATED"}]
    assert w.get(f"/jobs/{job['id']}").json()["compensation"]["max"] == 90000
    assert "JOB_CREATED" in audit_names(w, job["id"])
    team = w.get(f"/jobs/{job['id']}/hiring-team").json()
    assert team["totalFound"] == 1 and team["content"][0]["role"] == "HIRING_MANAGER"

    dup = w.post("/jobs", json=NEW_JOB)
    assert dup.status_code == 409 and code(dup) == "REF_NUMBER_ALREADY_EXISTS"
    no_ref = w.post("/jobs", json={k: v for k, v in NEW_JOB.items() if k != "refNumber"})
    assert no_ref.status_code == 201 and no_ref.json()["refNumber"].startswith("REF")


@pytest.mark.parametrize(
    ("change", "status", "err", "names"),
    [
        ({"title": None}, 400, "INVALID_REQUEST_BODY", "'title' is required"),
        ({"function": None, "location": None}, 400, "INVALID_REQUEST_BODY", "'location'"),
        ({"industry": "ind-0"}, 400, "INVALID_REQUEST_BODY", "'industry' must be object"),
        ({"location": {"city": "X"}}, 400, "INVALID_REQUEST_BODY", "location.countryCode"),
        ({"department": {"id": "nope"}}, 400, "DEPARTMENT_NOT_FOUND", "department"),
        ({"industry": {"id": "ind-99"}}, 400, "INDUSTRY_NOT_FOUND", "industry"),
        ({"function": {"id": "x"}}, 400, "FUNCTION_NOT_FOUND", "function"),
        ({"targetHiringDate": "soon"}, 400, "INVALID_REQUEST_BODY", "targetHiringDate"),
        ({"template": "yes"}, 400, "INVALID_REQUEST_BODY", "'template' must be boolean"),
    ],
)
def test_create_job_errors(
    w: httpx.Client, change: dict[str, Any], status: int, err: str, names: str
) -> None:
    body = {k: v for k, v in {**NEW_JOB, **change}.items() if v is not None}
    r = w.post("/jobs", json=body)
    assert (r.status_code, code(r)) == (status, err)
    assert names in r.json()["message"]


def test_create_job_malformed_json(w: httpx.Client) -> None:
    r = w.post("/jobs", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST_BODY"


def test_update_job_replaces_fields(w: httpx.Client) -> None:
    job = a_job(w)
    body = {**NEW_JOB, "title": "Renamed", "refNumber": "NEW-REF"}
    del body["compensation"]
    r = w.put(f"/jobs/{job['id']}", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Renamed" and "compensation" not in r.json()
    stored = jobs(w)[job["id"]]
    assert stored["title"] == "Renamed" and stored["refNumber"] == "NEW-REF"
    assert "compensation" not in stored and stored["updatedOn"] > job["updatedOn"]
    assert stored["status"] == job["status"] and stored["createdOn"] == job["createdOn"]
    # Another job's refNumber is taken.
    other = next(j for j in jobs(w).values() if j["id"] != job["id"])
    r = w.put(f"/jobs/{job['id']}", json={**NEW_JOB, "refNumber": other["refNumber"]})
    assert r.status_code == 409 and code(r) == "REF_NUMBER_ALREADY_EXISTS"
    r = w.put("/jobs/nope", json=NEW_JOB)
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"


def test_put_job_status(w: httpx.Client) -> None:
    job = a_job(w)
    target = "ON_HOLD" if job["status"] != "ON_HOLD" else "SOURCING"
    r = w.put(f"/jobs/{job['id']}/status", json={"status": target})
    assert r.status_code == 201 and r.json() == {"status": target}
    assert jobs(w)[job["id"]]["statusHistory"][-1]["status"] == target
    history = w.get(f"/jobs/{job['id']}/status/history").json()
    assert history["content"][-1]["status"] == target
    r = w.put(f"/jobs/{job['id']}/status", json={"status": "PAUSED"})
    assert r.status_code == 400 and "must be one of" in r.json()["message"]
    r = w.put("/jobs/nope/status", json={"status": "FILLED"})
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"


# ---- headcount and approvals ---------------------------------------------------------------
def test_headcount_starts_a_job_approval(w: httpx.Client) -> None:
    job = a_job(w, status="SOURCING")
    salary = {"min": 50000, "max": 60000, "currency": "EUR"}
    r = w.patch(f"/jobs/{job['id']}/headcount", json={"salaryRange": salary})
    assert r.status_code == 202 and r.json() == {"status": "PENDING"}
    latest = w.get(f"/jobs/{job['id']}/approvals/latest").json()
    assert latest["salaryRange"] == salary
    assert {p["id"] for p in latest["positions"]} == {p["id"] for p in job["positions"]}
    got = w.get(f"/approvals-api/v201910/approvals/{latest['approvalRequestId']}")
    if got.status_code == 200:  # the approvals routes are another change's
        assert got.json()["status"] == "PENDING"
        assert got.json()["subject"] == {"id": job["id"], "type": "job"}
    # A second request abandons the first.
    w.patch(f"/jobs/{job['id']}/headcount", json={"salaryRange": {**salary, "max": 65000}})
    again = w.get(f"/jobs/{job['id']}/approvals/latest").json()
    assert again["approvalRequestId"] != latest["approvalRequestId"]
    assert again["salaryRange"]["max"] == 65000


@pytest.mark.parametrize(
    "salary",
    [{"min": 10, "max": 5}, {"min": -1}, {"min": "a lot"}, {"min": 1, "currency": "euro"}],
)
def test_headcount_invalid_salary_range(w: httpx.Client, salary: dict[str, Any]) -> None:
    job = a_job(w, status="SOURCING")
    r = w.patch(f"/jobs/{job['id']}/headcount", json={"salaryRange": salary})
    assert r.status_code == 400 and code(r) == "INVALID_SALARY_RANGE"


def test_job_approval_latest_404_without_approvals(
    w: httpx.Client, open_sandbox: ThreadServer
) -> None:
    job = a_job(w)
    open_sandbox.sandbox.tenant.job_approvals.pop(job["id"], None)
    r = w.get(f"/jobs/{job['id']}/approvals/latest")
    assert r.status_code == 404 and code(r) == "APPROVALS_NOT_FOUND"
    r = w.get("/jobs/nope/approvals/latest")
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"


# ---- hiring team, note, positions --------------------------------------------------------
def test_hiring_team_remove_members(w: httpx.Client) -> None:
    job = a_job(w)
    team = w.get(f"/jobs/{job['id']}/hiring-team").json()
    assert team["totalFound"] == len(team["content"]) == 3
    ids = [m["id"] for m in team["content"]]
    assert team["content"][0]["actions"]["details"]["url"].endswith(ids[0])
    assert w.delete(f"/jobs/{job['id']}/hiring-team/{ids[0]}").status_code == 204
    assert w.delete(f"/jobs/{job['id']}/hiring-team/{ids[1]}").status_code == 204
    left = w.get(f"/jobs/{job['id']}/hiring-team").json()
    assert [m["id"] for m in left["content"]] == [ids[2]]
    assert jobs(w)[job["id"]]["updatedOn"] > job["updatedOn"]
    last = w.delete(f"/jobs/{job['id']}/hiring-team/{ids[2]}")
    assert last.status_code == 400 and code(last) == "INVALID_HIRING_TEAM_STATE"
    gone = w.delete(f"/jobs/{job['id']}/hiring-team/{ids[0]}")
    assert gone.status_code == 404 and code(gone) == "USER_NOT_FOUND"


def test_job_note(w: httpx.Client, open_sandbox: ThreadServer) -> None:
    job = a_job(w)
    note = w.get(f"/jobs/{job['id']}/note").json()
    assert note == {"content": f"Internal note for {job['title']} ({job['refNumber']})."}
    open_sandbox.sandbox.tenant.job_notes.pop(job["id"])
    r = w.get(f"/jobs/{job['id']}/note")
    assert r.status_code == 404 and code(r) == "JOB_NOTE_NOT_FOUND"


def test_create_position(w: httpx.Client) -> None:
    job = a_job(w)
    body = {
        "type": "REPLACEMENT",
        "incumbentName": "Alan Turing",
        "positionOpenDate": "2026-12-01",
        "targetStartDate": "2027-02-01T09:00:00Z",
    }
    r = w.post(f"/jobs/{job['id']}/positions", json=body)
    assert r.status_code == 201, r.text
    pos = r.json()
    assert pos["type"] == "REPLACEMENT" and pos["incumbentName"] == "Alan Turing"
    assert pos["positionOpenDate"] == "2026-12-01T00:00:00.000Z"  # a bare date is midnight UTC
    assert pos["targetStartDate"] == "2027-02-01T09:00:00.000Z"
    assert pos["status"] == "OPEN" and pos["positionId"].startswith("POS-")
    assert w.get(f"/jobs/{job['id']}/positions/{pos['id']}").json() == pos
    assert pos["id"] in {p["id"] for p in jobs(w)[job["id"]]["positions"]}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"positionOpenDate": "2026-12-01", "targetStartDate": "2027-01-01"}, "'type'"),
        ({"type": "NEW", "positionOpenDate": "2026-12-01"}, "'targetStartDate' is required"),
        ({"type": "TEMP", "positionOpenDate": "x", "targetStartDate": "y"}, "NEW, REPLACEMENT"),
        ({"type": "NEW", "positionOpenDate": "Monday", "targetStartDate": "2027-01-01"}, "ISO"),
    ],
)
def test_create_position_errors(w: httpx.Client, body: dict[str, Any], needle: str) -> None:
    job = a_job(w)
    r = w.post(f"/jobs/{job['id']}/positions", json=body)
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST_BODY"
    assert needle in r.json()["message"]


# ---- job ads and publication ---------------------------------------------------------------
def test_job_ads_create_update_unpost(w: httpx.Client, open_sandbox: ThreadServer) -> None:
    job = a_job(w)
    body = {
        "title": "Platform Engineer (Berlin)",
        "language": {"code": "de"},
        "jobAd": {"sections": {"jobDescription": {"title": "Die Stelle", "text": "Plattformen."}}},
    }
    r = w.post(f"/jobs/{job['id']}/jobads", json=body)
    assert r.status_code == 200, r.text
    ad = r.json()
    assert ad["title"] == body["title"] and ad["language"]["code"] == "de"
    assert ad["postingStatus"] == "NOT_PUBLISHED" and ad["default"] is False
    assert ad["actions"]["postings"]["url"].endswith(
        f"/jobs/{job['id']}/jobads/{ad['id']}/postings"
    )
    stored = open_sandbox.sandbox.tenant.job_ads[job["id"]][ad["id"]]
    assert stored["jobAd"] == body["jobAd"]

    r = w.put(f"/jobs/{job['id']}/jobads/{ad['id']}", json={**body, "title": "Renamed ad"})
    assert r.status_code == 200 and r.json()["title"] == "Renamed ad"
    assert r.json()["updatedOn"] >= ad["updatedOn"]
    assert stored["title"] == "Renamed ad"

    w.post(f"/jobs/{job['id']}/publication", json={"visibility": "PUBLIC"})
    default = next(
        a for a in open_sandbox.sandbox.tenant.job_ads[job["id"]].values() if a["defaultJobAd"]
    )
    assert default["postingStatus"] == "PUBLIC"
    r = w.delete(f"/jobs/{job['id']}/jobads/{default['id']}/postings")
    assert r.status_code == 202 and r.json() == {"unpostingStatus": "PENDING"}
    assert default["postingStatus"] == "NOT_PUBLISHED"
    assert jobs(w)[job["id"]]["postingStatus"] == "NOT_PUBLISHED"


def test_job_ad_errors(w: httpx.Client) -> None:
    job = a_job(w)
    r = w.post(f"/jobs/{job['id']}/jobads", json={"language": {"code": "en"}})
    assert r.status_code == 400 and "'title' is required" in r.json()["message"]
    r = w.post(f"/jobs/{job['id']}/jobads", json={"title": "X", "language": {"code": "klingon"}})
    assert r.status_code == 400 and code(r) == "PROPERTY_INVALID"
    r = w.post("/jobs/nope/jobads", json={"title": "X"})
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"
    r = w.put(f"/jobs/{job['id']}/jobads/nope", json={"title": "X"})
    assert r.status_code == 404 and code(r) == "JOBAD_NOT_FOUND"
    r = w.delete(f"/jobs/{job['id']}/jobads/nope/postings")
    assert r.status_code == 404 and code(r) == "JOBAD_NOT_FOUND"


def test_publish_and_unpublish_job(w: httpx.Client) -> None:
    job = a_job(w, status="SOURCING")
    r = w.post(f"/jobs/{job['id']}/publication", json={"visibility": "INTERNAL"})
    assert r.status_code == 204
    assert jobs(w)[job["id"]]["postingStatus"] == "INTERNAL"
    assert w.delete(f"/jobs/{job['id']}/publication").status_code == 204
    after = jobs(w)[job["id"]]
    assert after["postingStatus"] == "NOT_PUBLISHED" and after["updatedOn"] > job["updatedOn"]
    assert "JOB_UNPUBLISHED" in audit_names(w, job["id"])
    r = w.post(f"/jobs/{job['id']}/publication", json={"visibility": "SECRET"})
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST_BODY"
    r = w.delete("/jobs/nope/publication")
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"


# ---- candidates created onto a job ---------------------------------------------------------
def test_create_candidate_on_job(w: httpx.Client) -> None:
    job = a_job(w)
    body = {
        "firstName": "Katherine",
        "lastName": "Johnson",
        "email": "kj@nasa.example",
        "tags": ["math"],
        "sourceDetails": {"sourceTypeId": "REFERRALS", "sourceId": "referrals-0"},
    }
    r = w.post(f"/jobs/{job['id']}/candidates", json=body)
    assert r.status_code == 201, r.text
    cand = r.json()
    assert cand["firstName"] == "Katherine" and cand["tags"] == ["math"]
    assert cand["primaryAssignment"]["job"]["id"] == job["id"]
    assert cand["primaryAssignment"]["status"] == "NEW"
    assert cand["primaryAssignment"]["source"] == "Employee Referral"
    snap = w.get("/_sandbox/snapshot", params={"include": "candidates,applications"}).json()
    assert snap["candidates"][cand["id"]]["email"] == "kj@nasa.example"
    app = next(a for a in snap["applications"].values() if a["candidateId"] == cand["id"])
    assert app["source"] == {"sourceTypeId": "REFERRALS", "sourceId": "referrals-0"}
    listed = w.get("/candidates", params={"jobId": job["id"], "q": "katherine"}).json()
    assert [c["id"] for c in listed["content"]] == [cand["id"]]


@pytest.mark.parametrize(
    ("source", "status", "err"),
    [
        ({"sourceTypeId": "CARRIER_PIGEON", "sourceId": "x"}, 404, "SOURCE_TYPE_NOT_FOUND"),
        ({"sourceTypeId": "REFERRALS", "sourceId": "linkedin"}, 400, "SOURCE_NOT_FOUND"),
        ({"sourceTypeId": "REFERRALS"}, 400, "INVALID_REQUEST_BODY"),
    ],
)
def test_create_candidate_bad_source(
    w: httpx.Client, source: dict[str, Any], status: int, err: str
) -> None:
    job = a_job(w)
    body = {"firstName": "A", "lastName": "B", "email": "a@b.example", "sourceDetails": source}
    before = w.get("/_sandbox/stats").json()["counts"]["candidates"]
    r = w.post(f"/jobs/{job['id']}/candidates", json=body)
    assert (r.status_code, code(r)) == (status, err)
    assert w.get("/_sandbox/stats").json()["counts"]["candidates"] == before


def test_create_candidate_bad_fields(w: httpx.Client) -> None:
    job = a_job(w)
    r = w.post(f"/jobs/{job['id']}/candidates", json={"firstName": "A", "email": "nope"})
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST_BODY"
    assert "'lastName' is required" in r.json()["message"]
    r = w.post(
        f"/jobs/{job['id']}/candidates",
        json={"firstName": "A", "lastName": "B", "email": "not-an-email"},
    )
    assert r.status_code == 400 and "'email'" in r.json()["message"]
    r = w.post("/jobs/nope/candidates", json={"firstName": "A", "lastName": "B", "email": "a@b.c"})
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"


def test_responses_match_the_openapi_spec(w: httpx.Client, shared_dir: Path) -> None:
    check = spec_check(shared_dir)
    r = w.post("/jobs", json=NEW_JOB)
    check("/jobs", "post", 201, r.json())
    jid = r.json()["id"]
    check("/jobs/{jobId}", "put", 200, w.put(f"/jobs/{jid}", json=NEW_JOB).json())
    r = w.put(f"/jobs/{jid}/status", json={"status": "SOURCING"})
    check("/jobs/{jobId}/status", "put", 201, r.json())
    r = w.patch(f"/jobs/{jid}/headcount", json={"salaryRange": {"min": 1, "max": 2}})
    check("/jobs/{jobId}/headcount", "patch", 202, r.json())
    r = w.get(f"/jobs/{jid}/approvals/latest")
    check("/jobs/{jobId}/approvals/latest", "get", 200, r.json())
    check("/jobs/{jobId}/hiring-team", "get", 200, w.get(f"/jobs/{jid}/hiring-team").json())
    ad = w.post(f"/jobs/{jid}/jobads", json={"title": "Ad"}).json()
    check("/jobs/{jobId}/jobads", "post", 200, ad)
    r = w.put(f"/jobs/{jid}/jobads/{ad['id']}", json={"title": "Ad 2"})
    check("/jobs/{jobId}/jobads/{jobAdId}", "put", 200, r.json())
    r = w.delete(f"/jobs/{jid}/jobads/{ad['id']}/postings")
    check("/jobs/{jobId}/jobads/{jobAdId}/postings", "delete", 202, r.json())
    old = a_job(w)
    check("/jobs/{jobId}/note", "get", 200, w.get(f"/jobs/{old['id']}/note").json())
    r = w.post(
        f"/jobs/{jid}/positions",
        json={
            "type": "NEW",
            "positionOpenDate": "2026-01-01T00:00:00Z",
            "targetStartDate": "2026-02-01T00:00:00Z",
        },
    )
    check("/jobs/{jobId}/positions", "post", 201, r.json())


def test_junk_input_never_500(w: httpx.Client) -> None:
    job = a_job(w)
    jid = job["id"]
    assert_no_server_errors(
        w,
        [
            ("POST", "/jobs"),
            ("PUT", f"/jobs/{jid}"),
            ("PUT", f"/jobs/{jid}/status"),
            ("PATCH", f"/jobs/{jid}/headcount"),
            ("POST", f"/jobs/{jid}/candidates"),
            ("POST", f"/jobs/{jid}/jobads"),
            ("PUT", f"/jobs/{jid}/jobads/nope"),
            ("POST", f"/jobs/{jid}/positions"),
            ("POST", f"/jobs/{jid}/publication"),
            ("DELETE", f"/jobs/{jid}/hiring-team/nope"),
            ("DELETE", "/jobs/nope/publication"),
        ],
    )
