"""Sample requests for the spec conformance test (``test_sandbox_spec.py``).

One row per spec operation that the sandbox serves: the method and the path exactly as
``smartrecruiters-openapi.prefixed.yaml`` writes it, and a builder that turns the live tenant
(``Ctx``) into a concrete request. The test sends it, checks the status, and validates the body
against the operation's response schema. To cover a new endpoint, append a row to ``SAMPLES``.

Builders of writes first create what they need through the API (a job, a candidate, an
interview, a subscription, ...); destructive rows only delete or change objects they created,
except ``DELETE /jobs/{jobId}/hiring-team/{userId}``: a new job's team is its creator alone (who
cannot be removed), so that row removes a member of a generated job's team.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote

import httpx

AP = "/approvals-api/v201910/approvals"
AS = "/assessment-api/v202010"
IV = "/interviews-api/v201904"
WH = "/webhooks-api/v201907/subscriptions"
JA = "/job-applications-api/v202112/job-applications"


@dataclass
class Req:
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    # Multipart file parts: name -> (file name, bytes, content type).
    files: dict[str, tuple[str, bytes, str]] | None = None
    # Sent without the API credential (e.g. the OAuth token endpoint).
    anonymous: bool = False


class SetupError(AssertionError):
    """A builder's own set-up call failed: the sandbox refused a request the sample relies on."""


@dataclass
class Ctx:
    """The tenant as the builders see it: an authenticated client, the sandbox's snapshot, a
    loopback URL that answers webhook handshakes, and the tenant's company id."""

    client: httpx.Client
    hook_url: str = ""
    company_id: str = ""
    memo: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def snap(self) -> dict[str, Any]:
        return dict(self.client.get("/_sandbox/snapshot").json())

    # ---- raw calls for set-up ------------------------------------------------------------
    def call(self, method: str, path: str, want: int, **kw: Any) -> Any:
        r = self.client.request(method, path, **kw)
        if r.status_code != want:
            raise SetupError(f"set-up {method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """A set-up object shared by the rows that only read or extend it."""
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

    # ---- generated tenant ----------------------------------------------------------------
    def application(self, status: str | None = None) -> dict[str, Any]:
        """An application (optionally in a status) whose candidate and job still exist."""
        for app in self.snap["applications"].values():
            if (status is None or app["status"] == status) and app["jobId"] in self.snap["jobs"]:
                return dict(app)
        raise LookupError(f"no application with status {status}")

    @property
    def candidate_id(self) -> str:
        return str(self.application()["candidateId"])

    @property
    def job_id(self) -> str:
        return next(iter(self.snap["jobs"]))

    def offer(self, approved: bool = False) -> dict[str, Any]:
        """An offer; with ``approved``, one past CREATED (those carry an approval request)."""
        for o in self.snap["offers"].values():
            if not approved or o["status"] != "CREATED":
                return dict(o)
        raise LookupError("no offer past CREATED")

    def position(self) -> tuple[str, str]:
        for jid, job in self.snap["jobs"].items():
            if job["positions"]:
                return jid, str(job["positions"][0]["id"])
        raise LookupError("no job with positions")

    def users(self) -> list[str]:
        """User ids, from the generated jobs' hiring teams."""

        def make() -> list[str]:
            seen: dict[str, None] = {}
            for jid in list(self.snap["jobs"])[:10]:
                team = self.call("GET", f"/jobs/{jid}/hiring-team", 200)["content"]
                seen.update((m["id"], None) for m in team)
            return list(seen)

        return list(self.once("users", make))

    def team_job(self) -> tuple[str, str]:
        """A generated job with two or more hiring team members, and a non-manager member."""
        for jid in reversed(list(self.snap["jobs"])):
            team = self.call("GET", f"/jobs/{jid}/hiring-team", 200)["content"]
            others = [m["id"] for m in team if m.get("role") != "HIRING_MANAGER"]
            if len(team) >= 2 and others:
                return jid, others[0]
        raise LookupError("no job with two or more hiring team members")

    def note_job(self) -> str:
        for jid in self.snap["jobs"]:
            if self.client.get(f"/jobs/{jid}/note").status_code == 200:
                return str(jid)
        raise LookupError("no job with a note")

    def source(self) -> tuple[str, str]:
        """(sourceTypeId, sourceId) of a source type with a single sub-type (none to name)."""

        def make() -> tuple[str, str]:
            for st in self.call("GET", "/configuration/sources", 200)["content"]:
                if len(st.get("subtypes") or []) == 1:
                    values = self.call("GET", f"/configuration/sources/{st['id']}/values", 200)
                    if values["content"]:
                        return str(st["id"]), str(values["content"][0]["id"])
            raise LookupError("no source type with a single sub-type")

        return tuple(self.once("source", make))  # type: ignore[return-value]

    def config_id(self, kind: str, pick: Callable[[dict[str, Any]], bool] = bool) -> str:
        items = self.call("GET", f"/configuration/{kind}", 200)["content"]
        return str(next(i["id"] for i in items if pick(i)))

    def order(self) -> dict[str, Any]:
        """A generated assessment order (about one application in ten that reached IN_REVIEW)."""

        def make() -> dict[str, Any]:
            for app in self.snap["applications"].values():
                if any(h["status"] == "IN_REVIEW" for h in app["history"]):
                    orders = self.call(
                        "GET",
                        "/assessment-api/v202107/assessment-orders",
                        200,
                        params={"applicationId": app["id"]},
                    )
                    if orders:
                        return dict(orders[0])
            raise LookupError("no assessment order")

        return dict(self.once("order", make))

    # ---- objects the samples create ------------------------------------------------------
    def new_job(self) -> dict[str, Any]:
        body = {
            "title": "Spec Sample Engineer",
            "refNumber": f"SPEC-{uuid.uuid4().hex[:10]}",
            "function": {"id": "fn-0"},
            "industry": {"id": "ind-0"},
            "experienceLevel": {"id": "exp-2"},
            "location": {"countryCode": "de", "city": "Berlin"},
        }
        return dict(self.call("POST", "/jobs", 201, json=body))

    def new_candidate(self) -> dict[str, Any]:
        """A new candidate with an application to a generated job."""
        tag = uuid.uuid4().hex[:10]
        body = {"firstName": "Spec", "lastName": f"Sample{tag}", "email": f"{tag}@spec.example"}
        return dict(self.call("POST", f"/jobs/{self.job_id}/candidates", 201, json=body))

    def new_attachment(self) -> tuple[str, str, str]:
        """(candidateId, jobId, attachmentId) of a file attached to a new application."""
        cid = self.new_candidate()["id"]
        att = self.call(
            "POST",
            f"/candidates/{cid}/jobs/{self.job_id}/attachments",
            201,
            data={"attachmentType": "GENERIC_FILE"},
            files={"file": ("notes.txt", b"spec sample notes", "text/plain")},
        )
        return cid, self.job_id, str(att["id"])

    def new_interview(self) -> dict[str, Any]:
        app = self.application()
        u = self.users()
        body = {
            "candidate": {"id": app["candidateId"]},
            "jobId": app["jobId"],
            "organizerId": u[0],
            "timezone": "Europe/Berlin",
            "location": "Room 1",
            "timeslots": [
                {
                    "startsOn": "2031-03-04T10:00:00.000Z",
                    "endsOn": "2031-03-04T11:00:00.000Z",
                    "title": "Spec sample",
                    "interviewers": [{"id": u[1], "status": "pending"}],
                }
            ],
        }
        iv = self.call("POST", f"{IV}/interviews", 201, json=body)
        # The interview resource does not name its application; the listing row needs it.
        return {**iv, "applicationId": app["id"]}

    def interview(self) -> dict[str, Any]:
        return dict(self.once("interview", self.new_interview))

    def job_approval_base(self) -> str:
        """The pending approval request of a new job (a headcount change starts one)."""
        jid = self.new_job()["id"]
        self.call("PATCH", f"/jobs/{jid}/headcount", 202, json={})
        return str(self.call("GET", f"/jobs/{jid}/approvals/latest", 200)["approvalRequestId"])

    def new_approval(self) -> tuple[str, str]:
        """(approvalRequestId, approverId) of a new one-step request on a new job."""
        approver = self.users()[0]
        body = {
            "baseId": self.job_approval_base(),
            "type": "parallel",
            "decisionMode": "any",
            "steps": [{"approvers": [{"id": approver}]}],
        }
        return str(self.call("POST", AP, 201, json=body)["id"]), approver

    def new_message(self) -> str:
        body = {
            "content": f"Spec sample about #[CANDIDATE:{self.candidate_id}]",
            "shareWith": {"everyone": True},
        }
        return str(self.call("POST", "/messages/shares", 201, json=body)["id"])

    def new_subscription(self) -> str:
        body = {"callbackUrl": self.hook_url, "events": ["application.status.updated"]}
        return str(self.call("POST", WH, 201, json=body)["id"])

    def subscription(self) -> str:
        return str(self.once("subscription", self.new_subscription))


Builder = Callable[[Ctx], Req]


@dataclass(frozen=True)
class Sample:
    method: str
    path: str  # as the spec writes it
    build: Builder
    status: int = 200


def _app_path(ctx: Ctx, suffix: str = "", status: str | None = None) -> str:
    app = ctx.application(status)
    return f"/candidates/{app['candidateId']}/jobs/{app['jobId']}{suffix}"


def _offer_path(ctx: Ctx, approved: bool = False) -> str:
    o = ctx.offer(approved)
    return f"/candidates/{o['candidateId']}/jobs/{o['jobId']}/offers"


def _approve(c: Ctx) -> Req:
    aid, approver = c.new_approval()
    return Req(f"{AP}/{aid}/approve-decisions", json={"approverId": approver})


def _comments(c: Ctx) -> Req:
    aid, approver = c.new_approval()
    body = {"approverId": approver, "comment": "Fits the plan"}
    c.call("POST", f"{AP}/{aid}/approve-decisions", 204, json=body)
    return Req(f"{AP}/{aid}/comments")


def _reject(c: Ctx) -> Req:
    aid, approver = c.new_approval()
    body = {"approverId": approver, "comment": "Budget moved to next quarter"}
    return Req(f"{AP}/{aid}/reject-decisions", json=body)


def _create_approval(c: Ctx) -> Req:
    u = c.users()
    body = {
        "baseId": c.job_approval_base(),
        "type": "sequential",
        "decisionMode": "any",
        "steps": [{"approvers": [{"id": u[0]}]}, {"approvers": [{"id": u[1]}]}],
    }
    return Req(AP, json=body)


def _delete_attachment(c: Ctx) -> Req:
    _, _, att = c.new_attachment()
    return Req(f"/candidates/attachments/{att}")


def _post_attachment(c: Ctx) -> Req:
    cid = c.new_candidate()["id"]
    return Req(
        f"/candidates/{cid}/jobs/{c.job_id}/attachments",
        form={"attachmentType": "RESUME"},
        files={"file": ("resume.txt", b"Ada Lovelace\nada@spec.example\n", "text/plain")},
    )


def _slot(c: Ctx, suffix: str = "") -> str:
    iv = c.interview()
    return f"{IV}/interviews/{iv['id']}/timeslots/{iv['timeslots'][0]['id']}{suffix}"


def _delete_type(c: Ctx) -> Req:
    name = f"spec-sample-{uuid.uuid4().hex[:8]}"
    c.call("PATCH", f"{IV}/interview-types", 204, json=[name])
    return Req(f"{IV}/interview-types/{quote(name)}")


def _put_job(c: Ctx) -> Req:
    job = c.new_job()
    body = {
        "title": "Spec Sample Engineer II",
        "refNumber": job["refNumber"],
        "function": {"id": "fn-1"},
        "industry": {"id": "ind-0"},
        "experienceLevel": {"id": "exp-2"},
        "location": {"countryCode": "de", "city": "Hamburg"},
    }
    return Req(f"/jobs/{job['id']}", json=body)


def _job_ad(c: Ctx, job_id: str) -> str:
    body = {"title": "Spec Sample Engineer", "language": {"code": "en"}}
    return str(c.call("POST", f"/jobs/{job_id}/jobads", 200, json=body)["id"])


def _put_job_ad(c: Ctx) -> Req:
    jid = c.new_job()["id"]
    ad = _job_ad(c, jid)
    return Req(f"/jobs/{jid}/jobads/{ad}", json={"title": "Spec Sample Engineer (m/f/d)"})


def _unpost_job_ad(c: Ctx) -> Req:
    jid = c.new_job()["id"]
    ad = _job_ad(c, jid)
    c.call("POST", f"/jobs/{jid}/publication", 204, json={"visibility": "PUBLIC"})
    return Req(f"/jobs/{jid}/jobads/{ad}/postings")


def _unpublish(c: Ctx) -> Req:
    jid = c.new_job()["id"]
    _job_ad(c, jid)
    c.call("POST", f"/jobs/{jid}/publication", 204, json={})
    return Req(f"/jobs/{jid}/publication")


def _publish(c: Ctx) -> Req:
    jid = c.new_job()["id"]
    _job_ad(c, jid)
    return Req(f"/jobs/{jid}/publication", json={"visibility": "INTERNAL"})


def _callbacks_log(c: Ctx) -> Req:
    """An active subscription with one delivered event, so the log has entries to check."""
    sid = c.new_subscription()
    c.call("PUT", f"{WH}/{sid}/activation", 204)
    path = f"/candidates/{c.new_candidate()['id']}/jobs/{c.job_id}/status"
    c.call("PUT", path, 204, json={"status": "IN_REVIEW"})
    c.call("POST", "/_sandbox/webhooks/flush", 200, json={})
    return Req(f"{WH}/{sid}/callbacks-log", {"limit": 10})


def _activation(c: Ctx) -> Req:
    return Req(f"{WH}/{c.new_subscription()}/activation")


def _secret_key(c: Ctx) -> Req:
    sid = c.subscription()
    c.once("secret-key", lambda: c.call("POST", f"{WH}/{sid}/secret-key", 201))
    return Req(f"{WH}/{sid}/secret-key")


def _partner_config(c: Ctx) -> Req:
    return Req(
        f"{AS}/partner/configuration", json=c.call("GET", f"{AS}/partner/configuration", 200)
    )


def _messages(c: Ctx) -> Req:
    c.once("message", c.new_message)
    return Req("/messages", {"candidateId": c.candidate_id, "limit": 10})


def _single_select(p: dict[str, Any]) -> bool:
    return p.get("type") == "SINGLE_SELECT"


SAMPLES: list[Sample] = [
    # Candidates
    Sample("GET", "/candidates", lambda c: Req("/candidates", {"limit": 20})),
    Sample("GET", "/candidates/{id}", lambda c: Req(f"/candidates/{c.candidate_id}")),
    Sample("GET", "/candidates/{id}/jobs/{jobId}", lambda c: Req(_app_path(c))),
    Sample(
        "GET",
        "/candidates/{id}/jobs/{jobId}/status/history",
        lambda c: Req(_app_path(c, "/status/history")),
    ),
    Sample(
        "PUT",
        "/candidates/{id}/jobs/{jobId}/status",
        lambda c: Req(_app_path(c, "/status", "IN_REVIEW"), json={"status": "INTERVIEW"}),
        204,
    ),
    Sample(
        "PUT",
        "/candidates/{id}/jobs/{jobId}/onboardingStatus",
        lambda c: Req(
            _app_path(c, "/onboardingStatus", "HIRED"),
            json={"onboardingStatus": "ONBOARDING_SUCCESSFUL"},
        ),
        204,
    ),
    Sample("DELETE", "/candidates/attachments/{attachmentId}", _delete_attachment, 204),
    Sample(
        "POST",
        "/candidates/consent-requests",
        lambda c: Req("/candidates/consent-requests", json={"content": [{"id": c.candidate_id}]}),
        201,
    ),
    Sample(
        "POST",
        "/candidates/cv",
        lambda c: Req(
            "/candidates/cv",
            files={"file": ("cv.txt", b"Grace Hopper\ngrace@spec.example\n", "text/plain")},
        ),
        201,
    ),
    Sample(
        "DELETE", "/candidates/{id}", lambda c: Req(f"/candidates/{c.new_candidate()['id']}"), 204
    ),
    Sample(
        "GET", "/candidates/{id}/consent", lambda c: Req(f"/candidates/{c.candidate_id}/consent")
    ),
    Sample(
        "GET", "/candidates/{id}/consents", lambda c: Req(f"/candidates/{c.candidate_id}/consents")
    ),
    Sample("POST", "/candidates/{id}/jobs/{jobId}/attachments", _post_attachment, 201),
    Sample(
        "GET",
        "/candidates/{id}/jobs/{jobId}/offers/{offerId}/approvals/latest",
        lambda c: Req(f"{_offer_path(c, True)}/{c.offer(True)['id']}/approvals/latest"),
    ),
    Sample(
        "GET",
        "/candidates/{id}/jobs/{jobId}/properties",
        lambda c: Req(_app_path(c, "/properties"), {"context": "PROFILE"}),
    ),
    Sample(
        "GET",
        "/candidates/{id}/jobs/{jobId}/screening-answers",
        lambda c: Req(_app_path(c, "/screening-answers", "IN_REVIEW")),
    ),
    Sample(
        "PUT",
        "/candidates/{id}/jobs/{jobId}/source",
        lambda c: Req(
            _app_path(c, "/source"),
            json={"sourceTypeId": c.source()[0], "sourceId": c.source()[1]},
        ),
        204,
    ),
    Sample(
        "PUT",
        "/candidates/{id}/tags",
        lambda c: Req(
            f"/candidates/{c.new_candidate()['id']}/tags", json={"tags": ["spec", "sample"]}
        ),
        201,
    ),
    Sample(
        "GET",
        "/job-applications-api/v202112/job-applications/{jobApplicationId}",
        lambda c: Req(f"{JA}/{c.application()['id']}"),
    ),
    # Jobs
    Sample("GET", "/jobs", lambda c: Req("/jobs", {"limit": 20})),
    Sample("GET", "/jobs/{jobId}", lambda c: Req(f"/jobs/{c.job_id}")),
    Sample(
        "GET", "/jobs/{jobId}/status/history", lambda c: Req(f"/jobs/{c.job_id}/status/history")
    ),
    Sample("GET", "/jobs/{jobId}/positions", lambda c: Req(f"/jobs/{c.position()[0]}/positions")),
    Sample(
        "GET",
        "/jobs/{jobId}/positions/{positionId}",
        lambda c: Req("/jobs/{}/positions/{}".format(*c.position())),
    ),
    Sample(
        "POST",
        "/jobs",
        lambda c: Req(
            "/jobs",
            json={
                "title": "Spec Sample Analyst",
                "refNumber": f"SPEC-{uuid.uuid4().hex[:10]}",
                "function": {"id": "fn-0"},
                "industry": {"id": "ind-0"},
                "experienceLevel": {"id": "exp-1"},
                "location": {"countryCode": "fr", "city": "Lyon"},
            },
        ),
        201,
    ),
    Sample("PUT", "/jobs/{jobId}", _put_job),
    Sample(
        "PUT",
        "/jobs/{jobId}/status",
        lambda c: Req(f"/jobs/{c.new_job()['id']}/status", json={"status": "SOURCING"}),
        201,
    ),
    Sample(
        "GET", "/jobs/{jobId}/approvals/latest", lambda c: Req(f"/jobs/{c.job_id}/approvals/latest")
    ),
    Sample(
        "POST",
        "/jobs/{jobId}/candidates",
        lambda c: Req(
            f"/jobs/{c.job_id}/candidates",
            json={
                "firstName": "Katherine",
                "lastName": "Johnson",
                "email": f"kj-{uuid.uuid4().hex[:8]}@spec.example",
                "sourceDetails": {"sourceTypeId": c.source()[0], "sourceId": c.source()[1]},
            },
        ),
        201,
    ),
    Sample(
        "PATCH",
        "/jobs/{jobId}/headcount",
        lambda c: Req(
            f"/jobs/{c.new_job()['id']}/headcount",
            json={"salaryRange": {"min": 50000, "max": 70000, "currency": "EUR"}},
        ),
        202,
    ),
    Sample("GET", "/jobs/{jobId}/hiring-team", lambda c: Req(f"/jobs/{c.job_id}/hiring-team")),
    Sample(
        "POST",
        "/jobs/{jobId}/hiring-team",
        lambda c: Req(
            f"/jobs/{c.new_job()['id']}/hiring-team", json={"id": c.users()[0], "role": "RECRUITER"}
        ),
    ),
    Sample(
        "DELETE",
        "/jobs/{jobId}/hiring-team/{userId}",
        lambda c: Req("/jobs/{}/hiring-team/{}".format(*c.team_job())),
        204,
    ),
    Sample(
        "POST",
        "/jobs/{jobId}/jobads",
        lambda c: Req(
            f"/jobs/{c.new_job()['id']}/jobads",
            json={"title": "Spec Sample Engineer", "language": {"code": "de"}},
        ),
    ),
    Sample("PUT", "/jobs/{jobId}/jobads/{jobAdId}", _put_job_ad),
    Sample("DELETE", "/jobs/{jobId}/jobads/{jobAdId}/postings", _unpost_job_ad, 202),
    Sample("GET", "/jobs/{jobId}/note", lambda c: Req(f"/jobs/{c.note_job()}/note")),
    Sample(
        "POST",
        "/jobs/{jobId}/positions",
        lambda c: Req(
            f"/jobs/{c.new_job()['id']}/positions",
            json={
                "type": "NEW",
                "positionOpenDate": "2031-01-15T00:00:00.000Z",
                "targetStartDate": "2031-04-01T09:00:00.000Z",
            },
        ),
        201,
    ),
    Sample("POST", "/jobs/{jobId}/publication", _publish, 204),
    Sample("DELETE", "/jobs/{jobId}/publication", _unpublish, 204),
    # Offers
    Sample("GET", "/offers", lambda c: Req("/offers", {"limit": 20})),
    Sample("GET", "/candidates/{id}/jobs/{jobId}/offers", lambda c: Req(_offer_path(c))),
    Sample(
        "GET",
        "/candidates/{id}/jobs/{jobId}/offers/{offerId}",
        lambda c: Req(f"{_offer_path(c)}/{c.offer()['id']}"),
    ),
    # Audit
    Sample(
        "GET",
        "/audit-api/v201910/audit-events",
        lambda c: Req(
            "/audit-api/v201910/audit-events",
            {"limit": 100, "eventDateAfter": "2000-01-01T00:00:00.000Z"},
        ),
    ),
    # Approvals
    Sample("POST", "/approvals-api/v201910/approvals", _create_approval, 201),
    Sample(
        "GET",
        "/approvals-api/v201910/approvals/{approvalRequestId}",
        lambda c: Req(
            f"{AP}/{c.call('GET', f'/jobs/{c.job_id}/approvals/latest', 200)['approvalRequestId']}"
        ),
    ),
    Sample(
        "GET",
        "/approvals-api/v201910/approvals/{approvalRequestId}/comments",
        _comments,
    ),
    Sample(
        "POST",
        "/approvals-api/v201910/approvals/{approvalRequestId}/approve-decisions",
        _approve,
        204,
    ),
    Sample(
        "POST",
        "/approvals-api/v201910/approvals/{approvalRequestId}/reject-decisions",
        _reject,
        204,
    ),
    # Assessment
    Sample(
        "GET",
        "/assessment-api/v202107/assessment-orders",
        lambda c: Req(
            "/assessment-api/v202107/assessment-orders",
            {"applicationId": c.order()["applicationId"]},
        ),
    ),
    Sample(
        "PATCH",
        "/assessment-api/v202010/orders/{orderId}/results",
        lambda c: Req(
            f"{AS}/orders/{c.order()['orderId']}/results",
            json={
                "status": "COMPLETED",
                "summary": "Strong result",
                "submissionDate": "2031-02-01T09:30:00.000Z",
                "score": {"raw": 42, "min": 0, "max": 50},
                "scoreLabel": "Top 10%",
            },
        ),
    ),
    Sample(
        "POST",
        "/assessment-api/v202010/orders/{orderId}/results/attachment",
        lambda c: Req(
            f"{AS}/orders/{c.order()['orderId']}/results/attachment",
            files={"file": ("report.pdf", b"%PDF-1.4 spec sample report", "application/pdf")},
        ),
        201,
    ),
    Sample(
        "GET",
        "/assessment-api/v202010/partner/configuration",
        lambda c: Req(f"{AS}/partner/configuration"),
    ),
    Sample("PUT", "/assessment-api/v202010/partner/configuration", _partner_config),
    Sample(
        "POST",
        "/assessment-api/v202010/integration/company/{companyId}",
        # The generator's second consenting company, not yet integrated: one set-up per tenant.
        lambda c: Req(
            f"{AS}/integration/company/{c.company_id}Partner",
            json={"clientId": "spec-partner", "clientSecret": "spec-partner-secret"},
        ),
    ),
    # Configuration
    Sample("GET", "/configuration/departments", lambda c: Req("/configuration/departments")),
    Sample("GET", "/configuration/sources", lambda c: Req("/configuration/sources")),
    Sample(
        "GET",
        "/configuration/sources/{sourceType}/values",
        lambda c: Req(f"/configuration/sources/{c.source()[0]}/values", {"limit": 10}),
    ),
    Sample(
        "GET",
        "/configuration/sources/{sourceType}/values/{sourceValueId}",
        lambda c: Req("/configuration/sources/{}/values/{}".format(*c.source())),
    ),
    Sample(
        "GET", "/configuration/hiring-processes", lambda c: Req("/configuration/hiring-processes")
    ),
    Sample(
        "GET",
        "/configuration/hiring-processes/{id}",
        lambda c: Req(f"/configuration/hiring-processes/{c.config_id('hiring-processes')}"),
    ),
    Sample(
        "GET", "/configuration/rejection-reasons", lambda c: Req("/configuration/rejection-reasons")
    ),
    Sample(
        "GET",
        "/configuration/withdrawal-reasons",
        lambda c: Req("/configuration/withdrawal-reasons"),
    ),
    Sample(
        "GET",
        "/configuration/candidate-properties",
        lambda c: Req("/configuration/candidate-properties"),
    ),
    Sample(
        "GET",
        "/configuration/candidate-properties/{id}",
        lambda c: Req(f"/configuration/candidate-properties/{c.config_id('candidate-properties')}"),
    ),
    Sample(
        "GET",
        "/configuration/candidate-properties/{id}/values",
        lambda c: Req(
            "/configuration/candidate-properties/"
            f"{c.config_id('candidate-properties', _single_select)}/values"
        ),
    ),
    Sample("GET", "/configuration/job-properties", lambda c: Req("/configuration/job-properties")),
    Sample(
        "GET",
        "/configuration/job-properties/{id}",
        lambda c: Req(f"/configuration/job-properties/{c.config_id('job-properties')}"),
    ),
    Sample(
        "GET",
        "/configuration/job-properties/{id}/values",
        lambda c: Req(
            f"/configuration/job-properties/{c.config_id('job-properties')}/values",
            {"pageSize": 50},
        ),
    ),
    # Interviews
    Sample("GET", f"{IV}/interview-types", lambda c: Req(f"{IV}/interview-types")),
    Sample(
        "PATCH",
        f"{IV}/interview-types",
        lambda c: Req(f"{IV}/interview-types", json=[f"Spec round {uuid.uuid4().hex[:6]}"]),
        204,
    ),
    Sample("DELETE", f"{IV}/interview-types/{{interviewType}}", _delete_type, 204),
    Sample(
        "GET",
        f"{IV}/interviews",
        lambda c: Req(f"{IV}/interviews", {"applicationId": c.interview()["applicationId"]}),
    ),
    Sample(
        "POST",
        f"{IV}/interviews",
        lambda c: Req(
            f"{IV}/interviews",
            json={
                "candidate": {"id": c.candidate_id},
                "jobId": c.application()["jobId"],
                "organizerId": c.users()[0],
                "timezone": "America/New_York",
                "timeslots": [
                    {
                        "startsOn": "2031-05-06T14:00:00.000Z",
                        "endsOn": "2031-05-06T15:00:00.000Z",
                        "interviewType": "Phone screen",
                        "interviewers": [{"id": c.users()[1], "status": "accepted"}],
                    }
                ],
            },
        ),
        201,
    ),
    Sample(
        "GET",
        f"{IV}/interviews/{{interviewId}}",
        lambda c: Req(f"{IV}/interviews/{c.interview()['id']}"),
    ),
    Sample(
        "DELETE",
        f"{IV}/interviews/{{interviewId}}",
        lambda c: Req(f"{IV}/interviews/{c.new_interview()['id']}"),
        204,
    ),
    Sample(
        "POST",
        f"{IV}/interviews/{{interviewId}}/timeslots",
        lambda c: Req(
            f"{IV}/interviews/{c.interview()['id']}/timeslots",
            json={
                "startsOn": "2031-03-05T10:00:00.000Z",
                "endsOn": "2031-03-05T10:45:00.000Z",
                "place": "Room 2",
                "interviewers": [{"id": c.users()[0], "status": "tentative"}],
            },
        ),
        201,
    ),
    Sample(
        "GET",
        f"{IV}/interviews/{{interviewId}}/timeslots/{{timeslotId}}",
        lambda c: Req(_slot(c)),
    ),
    Sample(
        "PUT",
        f"{IV}/interviews/{{interviewId}}/timeslots/{{timeslotId}}/candidateStatus",
        lambda c: Req(_slot(c, "/candidateStatus"), json={"status": "accepted"}),
        204,
    ),
    Sample(
        "PUT",
        f"{IV}/interviews/{{interviewId}}/timeslots/{{timeslotId}}/interviewers/{{userId}}/status",
        lambda c: Req(
            _slot(
                c, f"/interviewers/{c.interview()['timeslots'][0]['interviewers'][0]['id']}/status"
            ),
            json={"status": "declined"},
        ),
        204,
    ),
    # Messages
    Sample("GET", "/messages", _messages),
    Sample(
        "POST",
        "/messages/shares",
        lambda c: Req(
            "/messages/shares",
            json={
                "content": f"Great call with #[CANDIDATE:{c.candidate_id}], @[USER:{c.users()[0]}]",
                "shareWith": {"hiringTeamOf": [c.job_id]},
            },
        ),
        201,
    ),
    Sample(
        "DELETE", "/messages/shares/{id}", lambda c: Req(f"/messages/shares/{c.new_message()}"), 204
    ),
    # Webhooks
    Sample(
        "POST",
        WH,
        lambda c: Req(
            WH, json={"callbackUrl": c.hook_url, "events": ["candidate.created", "job.created"]}
        ),
        201,
    ),
    Sample("GET", WH, lambda c: Req(WH, {"limit": 10})),
    Sample("GET", f"{WH}/{{id}}", lambda c: Req(f"{WH}/{c.subscription()}")),
    Sample("DELETE", f"{WH}/{{id}}", lambda c: Req(f"{WH}/{c.new_subscription()}"), 204),
    Sample("PUT", f"{WH}/{{id}}/activation", _activation, 204),
    Sample(
        "GET",
        f"{WH}/{{id}}/callbacks-log",
        _callbacks_log,
    ),
    Sample(
        "POST", f"{WH}/{{id}}/secret-key", lambda c: Req(f"{WH}/{c.subscription()}/secret-key"), 201
    ),
    Sample("GET", f"{WH}/{{id}}/secret-key", _secret_key),
]
