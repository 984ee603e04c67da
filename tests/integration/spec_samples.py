"""Sample requests for the spec conformance test (``test_sandbox_spec.py``).

One row per spec operation that the sandbox serves: the method and the path exactly as
``smartrecruiters-openapi.prefixed.yaml`` writes it, and a builder that turns the live tenant
(``Ctx``) into a concrete request. The test sends it, checks the status, and validates the body
against the operation's response schema. To cover a new endpoint, append a row to ``SAMPLES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx


@dataclass
class Req:
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    # Sent without the API credential (e.g. the OAuth token endpoint).
    anonymous: bool = False


@dataclass
class Ctx:
    """The tenant as the builders see it: an authenticated client and the sandbox's snapshot."""

    client: httpx.Client

    @cached_property
    def snap(self) -> dict[str, Any]:
        return dict(self.client.get("/_sandbox/snapshot").json())

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

    def offer(self) -> dict[str, Any]:
        return dict(next(iter(self.snap["offers"].values())))

    def position(self) -> tuple[str, str]:
        for jid, job in self.snap["jobs"].items():
            if job["positions"]:
                return jid, str(job["positions"][0]["id"])
        raise LookupError("no job with positions")


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


def _offer_path(ctx: Ctx) -> str:
    o = ctx.offer()
    return f"/candidates/{o['candidateId']}/jobs/{o['jobId']}/offers"


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
]
