"""Candidates API writes and per-application reads, and the Job Applications API, over real
HTTP against the sandbox; every change is checked against ``GET /_sandbox/snapshot`` or a
follow-up GET."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.sandbox.runner import ThreadServer
from tests import spec
from tests.conftest import TOKEN


@pytest.fixture
def w(open_sandbox: ThreadServer) -> Iterator[httpx.Client]:
    """A client on a fresh sandbox, for tests that change the tenant."""
    with httpx.Client(
        base_url=open_sandbox.base_url, headers={"X-SmartToken": TOKEN}, timeout=30
    ) as c:
        yield c


def snap(c: httpx.Client, include: str) -> dict[str, Any]:
    return c.get("/_sandbox/snapshot", params={"include": include}).json()


def an_app(c: httpx.Client, **match: str) -> dict[str, Any]:
    apps = snap(c, "applications")["applications"].values()
    return next(a for a in apps if all(a.get(k) == v for k, v in match.items()))


def code(r: httpx.Response) -> str:
    return str(r.json()["errors"][0]["code"])


def audit_names(c: httpx.Client, entity_id: str) -> list[str]:
    r = c.get(
        "/audit-api/v201910/audit-events",
        params={"entityId": entity_id, "eventDateAfter": "2000-01-01T00:00:00Z", "limit": 100},
    )
    assert r.status_code == 200, r.text
    return [e["eventName"] for e in r.json()["content"]]


# ---- attachments ----------------------------------------------------------------------------
def test_attach_file_then_delete_it(w: httpx.Client) -> None:
    app = an_app(w)
    cid, jid = app["candidateId"], app["jobId"]
    before = snap(w, "candidates")["candidates"][cid]["updatedOn"]
    r = w.post(
        f"/candidates/{cid}/jobs/{jid}/attachments",
        data={"attachmentType": "COVER_LETTER"},
        files={"file": ("letter.txt", b"Dear hiring team", "text/plain")},
    )
    assert r.status_code == 201, r.text
    att = r.json()
    assert att["name"] == "letter.txt" and att["type"] == "COVER_LETTER"
    assert att["contentType"] == "text/plain"
    assert att["actions"]["remove"]["method"] == "DELETE"
    assert att["actions"]["remove"]["url"].endswith(f"/candidates/attachments/{att['id']}")
    assert snap(w, "candidates")["candidates"][cid]["updatedOn"] > before
    assert "ATTACHMENT_ADDED" in audit_names(w, cid)

    again = w.post(
        f"/candidates/{cid}/jobs/{jid}/attachments",
        data={"attachmentType": "COVER_LETTER"},
        files={"file": ("letter.txt", b"Dear hiring team", "text/plain")},
    )
    assert again.status_code == 400 and code(again) == "FILE_ALREADY_EXIST"

    assert w.delete(f"/candidates/attachments/{att['id']}").status_code == 204
    gone = w.delete(f"/candidates/attachments/{att['id']}")
    assert gone.status_code == 404 and code(gone) == "FILE_NOT_FOUND"
    assert gone.json()["message"]


def test_attachment_errors(w: httpx.Client) -> None:
    app = an_app(w)
    url = f"/candidates/{app['candidateId']}/jobs/{app['jobId']}/attachments"
    files = {"file": ("cv.pdf", b"%PDF-1.4", "application/pdf")}
    r = w.post(url, data={"attachmentType": "PHOTO"}, files=files)
    assert r.status_code == 400 and "attachmentType" in r.json()["message"]
    r = w.post(url, data={"attachmentType": "RESUME"}, files={"file": ("x.exe", b"MZ", "a/b")})
    assert r.status_code == 400 and code(r) == "INVALID_FILE"
    r = w.post(url, json={"attachmentType": "RESUME"})
    assert r.status_code == 400 and "multipart/form-data" in r.json()["message"]
    r = w.post(url, data={"attachmentType": "RESUME"}, files={"photo": ("a.txt", b"x", "t/p")})
    assert r.status_code == 400 and "'file' is required" in r.json()["message"]
    apps = snap(w, "applications")["applications"].values()
    mine = {a["jobId"] for a in apps if a["candidateId"] == app["candidateId"]}
    other_job = next(j for j in snap(w, "jobs")["jobs"] if j not in mine)
    r = w.post(
        f"/candidates/{app['candidateId']}/jobs/{other_job}/attachments",
        data={"attachmentType": "RESUME"},
        files=files,
    )
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"


def test_delete_attachment_needs_candidates_manage(open_sandbox: ThreadServer) -> None:
    base = open_sandbox.base_url
    httpx.post(
        f"{base}/_sandbox/credentials",
        json={"apiKey": "reader", "scopes": ["candidates_read"]},
    ).raise_for_status()
    r = httpx.delete(f"{base}/candidates/attachments/x", headers={"X-SmartToken": "reader"})
    assert r.status_code == 403 and code(r) == "PERMISSION_DENIED"


# ---- consent ----------------------------------------------------------------------------------
def test_consent_requests_per_item_results(w: httpx.Client) -> None:
    cands = snap(w, "candidates")["candidates"]
    required = next(c for c in cands.values() if c["consent"]["status"] == "REQUIRED")
    acquired = next(c for c in cands.values() if c["consent"]["status"] == "ACQUIRED")
    r = w.post(
        "/candidates/consent-requests",
        json={"content": [{"id": required["id"]}, {"id": "no-such"}, {"id": acquired["id"]}]},
    )
    assert r.status_code == 201, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [202, 403, 202]
    assert results[0]["body"]["location"].endswith(f"/candidates/{required['id']}/consent")
    assert results[1]["body"] is False

    assert w.get(f"/candidates/{required['id']}/consent").json() == {"status": "PENDING"}
    consents = w.get(f"/candidates/{required['id']}/consents").json()
    assert consents["decisions"] == [{"status": "required", "scope": "Single"}]
    assert consents["recentPendingRequestCreatedOn"] >= required["updatedOn"]
    # An acquired consent stays acquired.
    got = w.get(f"/candidates/{acquired['id']}/consent").json()
    assert got["status"] == "ACQUIRED" and got["date"]
    assert w.get(f"/candidates/{acquired['id']}/consents").json()["decisions"][0]["status"] == (
        "acquired"
    )


@pytest.mark.parametrize(
    "body",
    [{"content": []}, {"content": [{"id": 5}]}, {"content": [{}] * 1001}, {"nope": 1}, [1]],
)
def test_consent_requests_bad_bodies(w: httpx.Client, body: Any) -> None:
    r = w.post("/candidates/consent-requests", json=body)
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "INVALID_REQUEST_BODY"


def test_consent_unknown_candidate_is_404(w: httpx.Client) -> None:
    for path in ("/candidates/nope/consent", "/candidates/nope/consents"):
        r = w.get(path)
        assert r.status_code == 404 and code(r) == "CANDIDATE_NOT_FOUND"


# ---- CV upload ----------------------------------------------------------------------------
RESUME = b"""Curriculum Vitae
Grace Hopper
grace.hopper@navy.example | +1 (555) 010-2030
Experience: compilers
"""


def test_cv_creates_a_talent_pool_candidate(w: httpx.Client) -> None:
    r = w.post(
        "/candidates/cv",
        data={"sourceTypeId": "JOB_BOARDS", "sourceId": "job_boards-0", "internal": "true"},
        files={"file": ("grace.txt", RESUME, "text/plain")},
    )
    assert r.status_code == 201, r.text
    cand = r.json()
    assert (cand["firstName"], cand["lastName"]) == ("Grace", "Hopper")
    assert cand["email"] == "grace.hopper@navy.example"
    assert cand["phoneNumber"] == "+15550102030"
    assert cand["internal"] is True
    assert "primaryAssignment" not in cand  # talent pool: no job
    stored = snap(w, "candidates")["candidates"][cand["id"]]
    assert stored["email"] == "grace.hopper@navy.example"
    assert w.get(f"/candidates/{cand['id']}").json()["lastName"] == "Hopper"
    assert audit_names(w, cand["id"]) == ["CANDIDATE_CREATED"]


def test_cv_reads_a_simple_pdf(w: httpx.Client) -> None:
    pdf = b"%PDF-1.4\nBT (Ada Lovelace) Tj ET\nBT (ada@engine.example) Tj ET\n%%EOF"
    r = w.post("/candidates/cv", files={"file": ("ada.pdf", pdf, "application/pdf")})
    assert r.status_code == 201, r.text
    assert (r.json()["firstName"], r.json()["email"]) == ("Ada", "ada@engine.example")


def test_cv_errors(w: httpx.Client) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    r = w.post("/candidates/cv", files={"file": ("me.png", png, "image/png")})
    assert r.status_code == 400 and code(r) == "UNPARSABLE_RESUME"
    r = w.post("/candidates/cv", files={"file": ("x.txt", b"just words here", "text/plain")})
    assert r.status_code == 400 and code(r) == "INCOMPLETE_RESUME"
    r = w.post(
        "/candidates/cv",
        data={"sourceTypeId": "CARRIER_PIGEON", "sourceId": "x"},
        files={"file": ("g.txt", RESUME, "text/plain")},
    )
    assert r.status_code == 404 and code(r) == "SOURCE_TYPE_NOT_FOUND"
    r = w.post(
        "/candidates/cv",
        data={"sourceTypeId": "JOB_BOARDS", "sourceId": "nope"},
        files={"file": ("g.txt", RESUME, "text/plain")},
    )
    assert r.status_code == 400 and code(r) == "SOURCE_NOT_FOUND"
    r = w.post("/candidates/cv", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST_BODY"
    r = w.post(
        "/candidates/cv",
        content=b"--xx\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=xx"},
    )
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST_BODY"


# ---- delete and tags ---------------------------------------------------------------------
def test_delete_candidate(w: httpx.Client) -> None:
    app = an_app(w)
    cid = app["candidateId"]
    assert w.delete(f"/candidates/{cid}").status_code == 204
    s = snap(w, "candidates,applications,deleted")
    assert cid not in s["candidates"] and cid in s["deleted"]["candidates"]
    assert app["id"] not in s["applications"]
    r = w.get(f"/candidates/{cid}")
    assert r.status_code == 404 and code(r) == "CANDIDATE_NOT_FOUND"
    r = w.delete(f"/candidates/{cid}")
    assert r.status_code == 404 and code(r) == "CANDIDATE_NOT_FOUND"


def test_put_tags_replaces_all(w: httpx.Client) -> None:
    cid = an_app(w)["candidateId"]
    r = w.put(f"/candidates/{cid}/tags", json={"tags": ["java", "remote", "java"]})
    assert r.status_code == 201
    assert r.json() == {"tags": ["java", "remote"]}
    assert snap(w, "candidates")["candidates"][cid]["tags"] == ["java", "remote"]
    assert w.put(f"/candidates/{cid}/tags", json={"tags": []}).json() == {"tags": []}
    assert w.get(f"/candidates/{cid}").json()["tags"] == []


@pytest.mark.parametrize(
    "body", [{"tags": "java"}, {"tags": [1]}, {}, {"tags": ["x"] * 101}, [1, 2]]
)
def test_put_tags_bad_bodies(w: httpx.Client, body: Any) -> None:
    cid = w.get("/candidates", params={"limit": 1}).json()["content"][0]["id"]
    r = w.put(f"/candidates/{cid}/tags", json=body)
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST_BODY"
    assert "tags" in r.json()["message"] or "object" in r.json()["message"]


def test_put_tags_malformed_json_and_unknown_candidate(w: httpx.Client) -> None:
    cid = w.get("/candidates", params={"limit": 1}).json()["content"][0]["id"]
    r = w.put(
        f"/candidates/{cid}/tags", content=b"{tags:", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and code(r) == "INVALID_REQUEST_BODY"
    r = w.put("/candidates/nope/tags", json={"tags": []})
    assert r.status_code == 404 and code(r) == "CANDIDATE_NOT_FOUND"


# ---- source ----------------------------------------------------------------------------
def test_put_source(w: httpx.Client) -> None:
    app = an_app(w)
    url = f"/candidates/{app['candidateId']}/jobs/{app['jobId']}/source"
    target = "referrals-0" if app["source"]["sourceId"] != "referrals-0" else "agencies-0"
    stype = target.split("-")[0].upper()
    r = w.put(url, json={"sourceTypeId": stype, "sourceId": target})
    assert r.status_code == 204, r.text
    stored = snap(w, "applications")["applications"][app["id"]]
    assert stored["source"] == {"sourceTypeId": stype, "sourceId": target}
    assert stored["updatedOn"] > app["updatedOn"]
    assert "APPLICATION_SOURCE_MODIFIED" in audit_names(w, app["id"])
    details = w.get(f"/candidates/{app['candidateId']}/jobs/{app['jobId']}").json()
    assert details["sourceDetails"]["sourceId"] == target


@pytest.mark.parametrize(
    ("body", "status", "err"),
    [
        ({"sourceTypeId": "NOPE", "sourceId": "x"}, 400, "INVALID_SOURCE_TYPE"),
        ({"sourceTypeId": "JOB_BOARDS", "sourceId": "referrals-0"}, 400, "INVALID_SOURCE"),
        ({"sourceTypeId": "JOB_BOARDS"}, 400, "INVALID_REQUEST_BODY"),
        ({"sourceTypeId": "", "sourceId": "x"}, 400, "INVALID_REQUEST_BODY"),
        ({"sourceTypeId": 3, "sourceId": "x"}, 400, "INVALID_REQUEST_BODY"),
    ],
)
def test_put_source_errors(w: httpx.Client, body: Any, status: int, err: str) -> None:
    a = w.get("/candidates", params={"limit": 1}).json()["content"][0]
    url = f"/candidates/{a['id']}/jobs/{a['primaryAssignment']['job']['id']}/source"
    r = w.put(url, json=body)
    assert (r.status_code, code(r)) == (status, err)


def test_put_source_subtype_required(w: httpx.Client, open_sandbox: ThreadServer) -> None:
    # SOCIAL_MEDIA has two sub-types: leaving the sub-type out is ambiguous.
    types = {s["id"]: s for s in w.get("/configuration/sources").json()["content"]}
    assert len(types["SOCIAL_MEDIA"]["subtypes"]) == 2
    app = an_app(w)
    url = f"/candidates/{app['candidateId']}/jobs/{app['jobId']}/source"
    r = w.put(url, json={"sourceTypeId": "SOCIAL_MEDIA", "sourceId": "social_media-0"})
    assert r.status_code == 400 and code(r) == "SUBTYPE_REQUIRED"
    r = w.put(
        url,
        json={
            "sourceTypeId": "SOCIAL_MEDIA",
            "sourceSubTypeId": "organic",
            "sourceId": "social_media-0",
        },
    )
    assert r.status_code == 204, r.text


def test_put_source_not_assigned_is_404(w: httpx.Client) -> None:
    cid = w.get("/candidates", params={"limit": 1}).json()["content"][0]["id"]
    r = w.put(f"/candidates/{cid}/jobs/nojob/source", json={"sourceTypeId": "A", "sourceId": "b"})
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"


# ---- properties, screening answers, offer approvals ----------------------------------------
def test_properties_by_context(w: httpx.Client) -> None:
    a = w.get("/candidates", params={"limit": 1}).json()["content"][0]
    url = f"/candidates/{a['id']}/jobs/{a['primaryAssignment']['job']['id']}/properties"
    profile = w.get(url).json()["content"]
    assert {p["id"] for p in profile} == {"cp-notice", "cp-salary"}
    salary = next(p for p in profile if p["id"] == "cp-salary")
    assert salary["type"] == "CURRENCY" and salary["value"]["code"] == "EUR"
    assert salary["actions"]["configuration"]["url"].endswith(
        "/configuration/candidate-properties/cp-salary"
    )
    assert w.get(url).json()["content"] == profile  # stable
    offer = w.get(url, params={"context": "OFFER_FORM"}).json()["content"]
    assert [p["id"] for p in offer] == ["cp-salary"]
    r = w.get(url, params={"context": "LUNCH_FORM"})
    assert r.status_code == 400 and code(r) == "INVALID_PARAMETER"
    r = w.get(f"/candidates/{a['id']}/jobs/nojob/properties")
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"


def test_screening_answers(w: httpx.Client) -> None:
    apps = w.get("/_sandbox/snapshot", params={"include": "applications"}).json()
    apps = list(apps["applications"].values())
    applied = next(a for a in apps if a["status"] != "LEAD")
    url = f"/candidates/{applied['candidateId']}/jobs/{applied['jobId']}/screening-answers"
    body = w.get(url).json()
    assert body["totalFound"] == len(body["content"]) >= 2
    q = body["content"][0]
    assert q["id"] == "q-work-permit" and q["records"][0]["fields"][0]["values"][0]["label"]
    lead = next((a for a in apps if a["status"] == "LEAD"), None)
    if lead is not None:
        url = f"/candidates/{lead['candidateId']}/jobs/{lead['jobId']}/screening-answers"
        assert w.get(url).json() == {"totalFound": 0, "content": []}
    r = w.get(f"/candidates/{applied['candidateId']}/jobs/nojob/screening-answers")
    assert r.status_code == 404 and code(r) == "JOB_NOT_FOUND"


def test_offer_approval_latest(w: httpx.Client, open_sandbox: ThreadServer) -> None:
    offers = snap(w, "offers")["offers"]
    offer = next(iter(offers.values()))
    base = f"/candidates/{offer['candidateId']}/jobs/{offer['jobId']}/offers"
    tenant = open_sandbox.sandbox.tenant
    tenant.offer_approvals.pop(offer["id"], None)
    r = w.get(f"{base}/{offer['id']}/approvals/latest")
    assert r.status_code == 404 and code(r) == "APPROVALS_NOT_FOUND"
    r = w.get(f"{base}/nope/approvals/latest")
    assert r.status_code == 404 and code(r) == "OFFERS_NOT_FOUND"
    # An approval request as the approvals generator stores them.
    tenant.approvals["appr-1"] = {
        "id": "appr-1",
        "subject": {"id": offer["id"], "type": "offer"},
        "type": "sequential",
        "decisionMode": "any",
        "status": "APPROVED",
        "steps": [{"status": "APPROVED", "approvers": [{"id": "u1", "decision": "APPROVED"}]}],
    }
    tenant.offer_approvals[offer["id"]] = "appr-1"
    got = w.get(f"{base}/{offer['id']}/approvals/latest").json()
    assert got["id"] == got["approvalRequestId"] == "appr-1"
    assert got["subject"] == {"id": offer["id"], "type": "offer"} and got["status"] == "APPROVED"


# ---- Job Applications API ------------------------------------------------------------------
def test_job_application_by_id(w: httpx.Client) -> None:
    app = next(
        iter(
            w.get("/_sandbox/snapshot", params={"include": "applications"})
            .json()["applications"]
            .values()
        )
    )
    r = w.get(f"/job-applications-api/v202112/job-applications/{app['id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["profileId"] == app["candidateId"] and body["jobId"] == app["jobId"]
    assert body["status"] == app["status"] and body["createDate"] == app["createdOn"]
    assert len(body["sourceIdentifier"]) == 36
    r = w.get("/job-applications-api/v202112/job-applications/not-a-uuid")
    assert r.status_code == 400 and code(r) == "INVALID_JOB_APPLICATION_ID"
    r = w.get("/job-applications-api/v202112/job-applications/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and code(r) == "JOB_APPLICATION_NOT_FOUND"


# ---- response shapes against the OpenAPI document -----------------------------------------
def spec_check(shared_dir: Path) -> Callable[[str, str, int, Any], None]:
    """Validate a body against the response schema of one operation of the prefixed spec."""

    def check_one(path: str, method: str, status: int, body: Any) -> None:
        spec.check(shared_dir / spec.SPEC, method, path, status, body)

    return check_one


def test_responses_match_the_openapi_spec(w: httpx.Client, shared_dir: Path) -> None:
    check = spec_check(shared_dir)
    app = an_app(w, status="IN_REVIEW")
    cid, jid = app["candidateId"], app["jobId"]
    p = "/candidates/{id}/jobs/{jobId}"
    base = f"/candidates/{cid}/jobs/{jid}"
    r = w.post(
        f"{base}/attachments",
        data={"attachmentType": "RESUME"},
        files={"file": ("cv.txt", b"hello", "text/plain")},
    )
    check(p + "/attachments", "post", 201, r.json())
    r = w.post("/candidates/consent-requests", json={"content": [{"id": cid}, {"id": "x"}]})
    check("/candidates/consent-requests", "post", 201, r.json())
    r = w.post("/candidates/cv", files={"file": ("g.txt", RESUME, "text/plain")})
    check("/candidates/cv", "post", 201, r.json())
    check("/candidates/{id}/consent", "get", 200, w.get(f"/candidates/{cid}/consent").json())
    check("/candidates/{id}/consents", "get", 200, w.get(f"/candidates/{cid}/consents").json())
    check(p + "/properties", "get", 200, w.get(f"{base}/properties").json())
    check(p + "/screening-answers", "get", 200, w.get(f"{base}/screening-answers").json())
    r = w.put(f"/candidates/{cid}/tags", json={"tags": ["a"]})
    check("/candidates/{id}/tags", "put", 201, r.json())
    ja = "/job-applications-api/v202112/job-applications/{jobApplicationId}"
    check(ja, "get", 200, w.get(ja.replace("{jobApplicationId}", app["id"])).json())


JUNK = [b"", b"null", b"[]", b'"x"', b"{", b'{"a": 1}', b'{"content": [null], "tags": {}}']


def assert_no_server_errors(c: httpx.Client, endpoints: list[tuple[str, str]]) -> None:
    """Junk bodies under JSON and multipart content types get a documented 4xx error body."""
    for method, path in endpoints:
        for body in JUNK:
            for ctype in ("application/json", "multipart/form-data; boundary=zz"):
                r = c.request(method, path, content=body, headers={"content-type": ctype})
                assert r.status_code < 500, (method, path, body, r.text)
                if r.status_code >= 400:
                    err = r.json()["errors"][0]
                    assert r.json()["message"] and (err.get("code") or "dataPath" in err)


def test_junk_input_never_500(w: httpx.Client) -> None:
    offer = next(iter(snap(w, "offers")["offers"].values()))
    app = an_app(w)
    base = f"/candidates/{app['candidateId']}/jobs/{app['jobId']}"
    offer_base = f"/candidates/{offer['candidateId']}/jobs/{offer['jobId']}/offers/{offer['id']}"
    assert_no_server_errors(
        w,
        [
            ("POST", "/candidates/consent-requests"),
            ("POST", "/candidates/cv"),
            ("POST", f"{base}/attachments"),
            ("PUT", f"{base}/source"),
            ("PUT", f"/candidates/{app['candidateId']}/tags"),
            ("GET", f"{base}/properties?context=NOPE"),
            ("GET", f"{offer_base}/approvals/latest"),
            ("GET", "/job-applications-api/v202112/job-applications/%20"),
            ("DELETE", "/candidates/attachments/nope"),
            ("DELETE", "/candidates/nope"),
        ],
    )
