"""The tenant's state and every change made to it.

All writes go through ``Tenant`` methods so that ``updatedOn``, status histories, the audit trail
and outgoing webhook events stay consistent whoever makes the change: an API call, the control
API, or background activity.
"""

from __future__ import annotations

import bisect
import itertools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syncd.sandbox.clock import Clock
from syncd.sandbox.errors import ApiError, not_found
from syncd.sandbox.paging import OrderIndex
from syncd.sandbox.timefmt import iso

APPLICATION_STATUSES = (
    "LEAD",
    "NEW",
    "IN_REVIEW",
    "INTERVIEW",
    "OFFERED",
    "HIRED",
    "REJECTED",
    "WITHDRAWN",
    "TRANSFERRED",
)
FINAL_APPLICATION_STATUSES = ("HIRED", "REJECTED", "WITHDRAWN", "TRANSFERRED")
JOB_STATUSES = ("CREATED", "SOURCING", "FILLED", "INTERVIEW", "OFFER", "CANCELLED", "ON_HOLD")
POSTING_STATUSES = ("PUBLIC", "INTERNAL", "NOT_PUBLISHED", "PRIVATE")
OFFER_STATUSES = (
    "CREATED",
    "PENDING_APPROVAL",
    "APPROVED",
    "NOT_APPROVED",
    "PENDING_ACCEPTANCE",
    "ACCEPTED",
    "NOT_ACCEPTED",
    "ABANDONED",
)
FINAL_OFFER_STATUSES = ("ACCEPTED", "NOT_ACCEPTED", "ABANDONED", "NOT_APPROVED")
ONBOARDING_STATUSES = ("READY_TO_ONBOARD", "ONBOARDING_SUCCESSFUL", "ONBOARDING_FAILED")
CONSENT_STATUSES = ("REQUIRED", "PENDING", "ACQUIRED")

Listener = Callable[[str, dict[str, Any]], None]


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class Tenant:
    seed: int
    clock: Clock
    company_id: str = "SandboxCompany"
    rng: random.Random = field(default_factory=random.Random)
    onboarding_status_enabled: bool = True

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    job_history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    positions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    hiring_team: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    job_ads: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    job_notes: dict[str, str] = field(default_factory=dict)
    job_approvals: dict[str, str] = field(default_factory=dict)  # job id -> approval id

    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)
    app_by_pair: dict[tuple[str, str], str] = field(default_factory=dict)
    apps_of_candidate: dict[str, list[str]] = field(default_factory=dict)
    app_history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    attachments: dict[str, dict[str, Any]] = field(default_factory=dict)
    consent_requests: dict[str, str] = field(default_factory=dict)  # candidate id -> requested on

    offers: dict[str, dict[str, Any]] = field(default_factory=dict)
    offers_of_app: dict[str, list[str]] = field(default_factory=dict)
    offer_approvals: dict[str, str] = field(default_factory=dict)  # offer id -> approval id

    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    approval_comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    interviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    interviews_of_app: dict[str, list[str]] = field(default_factory=dict)
    interview_types: list[str] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    assessment_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    assessment_partner_config: dict[str, Any] | None = None
    assessment_integrations: dict[str, dict[str, Any]] = field(default_factory=dict)

    users: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    audit: list[dict[str, Any]] = field(default_factory=list)
    audit_dates: list[str] = field(default_factory=list)

    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.job_order: OrderIndex[dict[str, Any]] = OrderIndex(self.jobs)
        self.candidate_order: OrderIndex[dict[str, Any]] = OrderIndex(self.candidates)
        self.offer_order: OrderIndex[dict[str, Any]] = OrderIndex(self.offers)
        self._audit_seq = itertools.count(1)

    # ---- ids and time -------------------------------------------------------------------
    def new_id(self) -> str:
        return new_id(self.rng)

    def now(self) -> str:
        return self.clock.now_iso()

    # ---- lookups that raise the API's errors ---------------------------------------------
    def job(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise not_found("JOB_NOT_FOUND", f"Job with id {job_id} not found")
        return job

    def candidate(self, candidate_id: str) -> dict[str, Any]:
        cand = self.candidates.get(candidate_id)
        if cand is None:
            raise not_found("CANDIDATE_NOT_FOUND", f"Candidate with id {candidate_id} not found")
        return cand

    def application(self, candidate_id: str, job_id: str) -> dict[str, Any]:
        self.candidate(candidate_id)
        app_id = self.app_by_pair.get((candidate_id, job_id))
        if app_id is None:
            raise not_found("JOB_NOT_FOUND", "Candidate is not assigned to given job")
        return self.applications[app_id]

    def offer_of(self, candidate_id: str, job_id: str, offer_id: str) -> dict[str, Any]:
        app = self.application(candidate_id, job_id)
        offer = self.offers.get(offer_id)
        if offer is None or offer["applicationId"] != app["id"]:
            raise not_found("OFFER_NOT_FOUND", f"Offer with id {offer_id} not found")
        return offer

    # ---- audit and webhooks ---------------------------------------------------------------
    def record_audit(
        self,
        event_name: str,
        entity_type: str,
        entity_id: str,
        context: dict[str, Any] | None = None,
        *,
        at: str | None = None,
        author_id: str | None = None,
    ) -> dict[str, Any]:
        when = at or self.now()
        event = {
            "id": f"{next(self._audit_seq):012d}",
            "version": "1",
            "eventName": event_name,
            "eventDate": when,
            "authorType": "USER" if author_id else "SYSTEM",
            "authorId": author_id or "system",
            "entityType": entity_type,
            "entityId": entity_id,
            "context": context or {},
        }
        # Live events arrive in time order; generated history is sorted once by the generator.
        if self.audit_dates and when < self.audit_dates[-1]:
            i = bisect.bisect_right(self.audit_dates, when)
            self.audit.insert(i, event)
            self.audit_dates.insert(i, when)
        else:
            self.audit.append(event)
            self.audit_dates.append(when)
        return event

    def emit(self, event_name: str, payload: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(event_name, payload)

    def random_user_id(self) -> str:
        return str(self.rng.choice(self.users)["id"]) if self.users else "system"

    # ---- candidates and applications -----------------------------------------------------
    def touch_candidate(self, candidate_id: str, when: str) -> None:
        self.candidates[candidate_id]["updatedOn"] = when

    def add_candidate(self, data: dict[str, Any], *, at: str | None = None) -> dict[str, Any]:
        when = at or self.now()
        cand = {
            "id": data.get("id") or self.new_id(),
            "firstName": data["firstName"],
            "lastName": data["lastName"],
            "email": data.get("email"),
            "phoneNumber": data.get("phoneNumber"),
            "location": data.get("location") or {},
            "web": data.get("web") or {},
            "tags": list(data.get("tags") or []),
            "education": list(data.get("education") or []),
            "experience": list(data.get("experience") or []),
            "internal": bool(data.get("internal", False)),
            "consent": {"status": data.get("consentStatus", "REQUIRED")},
            "applicationLanguage": data.get("applicationLanguage", "en"),
            "createdOn": when,
            "updatedOn": when,
        }
        cand = {k: v for k, v in cand.items() if v is not None}
        self.candidates[cand["id"]] = cand
        self.candidate_order.append(cand["id"])
        self.apps_of_candidate[cand["id"]] = []
        return cand

    def add_application(
        self,
        candidate_id: str,
        job_id: str,
        *,
        status: str = "NEW",
        sub_status: str | None = None,
        source: dict[str, Any] | None = None,
        at: str | None = None,
        author_id: str | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        if (candidate_id, job_id) in self.app_by_pair:
            raise ApiError(409, "CANDIDATE_DATA_CONFLICT", "Candidate already applied to this job")
        when = at or self.now()
        app: dict[str, Any] = {
            "id": self.new_id(),
            "candidateId": candidate_id,
            "jobId": job_id,
            "status": status,
            "subStatus": sub_status,
            "createdOn": when,
            "updatedOn": when,
            "source": source or self.default_source(),
        }
        self.applications[app["id"]] = app
        self.app_by_pair[(candidate_id, job_id)] = app["id"]
        self.apps_of_candidate.setdefault(candidate_id, []).append(app["id"])
        self.app_history[app["id"]] = [
            {"changedOn": when, "status": status, "subStatus": sub_status}
        ]
        self.touch_candidate(candidate_id, when)
        self.touch_job_activity(job_id, when)
        self.record_audit(
            "JOB_APPLICATION_CREATED",
            "APPLICATION",
            app["id"],
            {"candidateId": candidate_id, "jobId": job_id, "status": status},
            at=when,
            author_id=author_id,
        )
        if emit:
            self.emit("application.created", self.app_payload(app))
        return app

    def default_source(self) -> dict[str, Any]:
        sources = self.config.get("source_values") or []
        if not sources:
            return {"sourceTypeId": "OTHER", "sourceId": "other"}
        s = sources[0]
        return {"sourceTypeId": s["sourceTypeId"], "sourceId": s["id"]}

    def app_payload(self, app: dict[str, Any]) -> dict[str, Any]:
        return {
            "job_id": app["jobId"],
            "candidate_id": app["candidateId"],
            "application_id": app["id"],
        }

    def set_status(
        self,
        app: dict[str, Any],
        status: str,
        sub_status: str | None = None,
        *,
        reason: dict[str, Any] | None = None,
        starts_on: str | None = None,
        at: str | None = None,
        author_id: str | None = None,
        emit: bool = True,
    ) -> None:
        when = at or self.now()
        previous = {"status": app["status"], "subStatus": app.get("subStatus")}
        app["status"] = status
        app["subStatus"] = sub_status
        app.pop("reasonOfRejection", None)
        app.pop("reasonOfWithdrawal", None)
        if reason is not None:
            key = "reasonOfRejection" if status == "REJECTED" else "reasonOfWithdrawal"
            app[key] = reason
        if starts_on is not None:
            app["startsOn"] = starts_on
        app["updatedOn"] = when
        self.app_history[app["id"]].append(
            {"changedOn": when, "status": status, "subStatus": sub_status}
        )
        self.touch_candidate(app["candidateId"], when)
        self.touch_job_activity(app["jobId"], when)
        self.record_audit(
            "JOB_APPLICATION_STATE_MODIFIED",
            "APPLICATION",
            app["id"],
            {
                "candidateId": app["candidateId"],
                "jobId": app["jobId"],
                "previousStatus": previous,
                "currentStatus": {"status": status, "subStatus": sub_status},
            },
            at=when,
            author_id=author_id,
        )
        if emit:
            self.emit("application.status.updated", self.app_payload(app))

    def set_onboarding_status(self, app: dict[str, Any], status: str) -> None:
        when = self.now()
        app["onboardingStatus"] = status
        app["updatedOn"] = when
        self.touch_candidate(app["candidateId"], when)
        self.record_audit(
            "ONBOARDING_STATUS_UPDATED",
            "APPLICATION",
            app["id"],
            {"candidateId": app["candidateId"], "jobId": app["jobId"], "onboardingStatus": status},
            at=when,
        )
        self.emit("application.onboarding-status.updated", self.app_payload(app))

    def set_source(self, app: dict[str, Any], source: dict[str, Any]) -> None:
        when = self.now()
        app["source"] = source
        app["updatedOn"] = when
        self.touch_candidate(app["candidateId"], when)
        self.record_audit(
            "APPLICATION_SOURCE_MODIFIED",
            "APPLICATION",
            app["id"],
            {"candidateId": app["candidateId"], "jobId": app["jobId"], **source},
            at=when,
        )
        self.emit("application.source.updated", self.app_payload(app))

    def update_candidate(self, cand: dict[str, Any], changes: dict[str, Any]) -> None:
        cand.update(changes)
        cand["updatedOn"] = self.now()
        self.emit("candidate.updated", {"candidate_id": cand["id"]})

    def delete_candidate(self, candidate_id: str, *, merged_into: str | None = None) -> None:
        self.candidate(candidate_id)
        when = self.now()
        for app_id in self.apps_of_candidate.pop(candidate_id, []):
            app = self.applications.pop(app_id)
            self.app_by_pair.pop((candidate_id, app["jobId"]), None)
            self.app_history.pop(app_id, None)
            for offer_id in self.offers_of_app.pop(app_id, []):
                self.offers.pop(offer_id, None)
            for iv in self.interviews_of_app.pop(app_id, []):
                self.interviews.pop(iv, None)
            self.assessment_orders = {
                k: v for k, v in self.assessment_orders.items() if v["applicationId"] != app_id
            }
        self.attachments = {
            k: v for k, v in self.attachments.items() if v["candidateId"] != candidate_id
        }
        self.messages = {
            k: v for k, v in self.messages.items() if v.get("candidateId") != candidate_id
        }
        del self.candidates[candidate_id]
        name = "CANDIDATE_DELETED_DUE_TO_MERGE" if merged_into else "CANDIDATE_DELETED"
        context = {"mergedInto": merged_into} if merged_into else {}
        self.record_audit(name, "CANDIDATE", candidate_id, context, at=when)
        self.emit("candidate.deleted", {"candidate_id": candidate_id})

    # ---- jobs ----------------------------------------------------------------------------
    def touch_job_activity(self, job_id: str, when: str) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            job["lastActivityOn"] = when

    def touch_job(self, job: dict[str, Any], when: str | None = None) -> None:
        when = when or self.now()
        job["updatedOn"] = when
        job["lastActivityOn"] = when

    def set_job_status(self, job: dict[str, Any], status: str, *, at: str | None = None) -> None:
        when = at or self.now()
        job["status"] = status
        self.touch_job(job, when)
        self.job_history.setdefault(job["id"], []).append({"changedOn": when, "status": status})
        self.record_audit("JOB_STATUS_MODIFIED", "JOB", job["id"], {"status": status}, at=when)
        self.emit("job.status.updated", {"job_id": job["id"]})

    def delete_job(self, job_id: str) -> None:
        self.job(job_id)
        del self.jobs[job_id]
        self.record_audit("JOB_DELETED", "JOB", job_id, {})

    # ---- offers --------------------------------------------------------------------------
    def create_offer(
        self,
        app: dict[str, Any],
        status: str = "CREATED",
        *,
        properties: dict[str, str] | None = None,
        at: str | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        when = at or self.now()
        offer: dict[str, Any] = {
            "id": self.new_id(),
            "candidateId": app["candidateId"],
            "jobId": app["jobId"],
            "applicationId": app["id"],
            "status": status,
            "createdOn": when,
            "updatedOn": when,
            "properties": properties or {},
        }
        self.offers[offer["id"]] = offer
        self.offer_order.append(offer["id"])
        self.offers_of_app.setdefault(app["id"], []).append(offer["id"])
        self.record_audit(
            "OFFER_CREATED",
            "OFFER",
            offer["id"],
            {"candidateId": app["candidateId"], "jobId": app["jobId"], "status": status},
            at=when,
        )
        if emit:
            self.emit("offer.created", {**self.app_payload(app), "offer_id": offer["id"]})
        return offer

    def set_offer_status(
        self, offer: dict[str, Any], status: str, *, at: str | None = None, emit: bool = True
    ) -> None:
        when = at or self.now()
        offer["status"] = status
        offer["updatedOn"] = when
        name = {"ACCEPTED": "OFFER_ACCEPTED", "NOT_ACCEPTED": "OFFER_DECLINED"}.get(
            status, "OFFER_UPDATED"
        )
        self.record_audit(
            name,
            "OFFER",
            offer["id"],
            {"candidateId": offer["candidateId"], "jobId": offer["jobId"], "status": status},
            at=when,
        )
        if emit:
            self.emit(
                "offer.updated",
                {
                    "job_id": offer["jobId"],
                    "candidate_id": offer["candidateId"],
                    "application_id": offer["applicationId"],
                    "offer_id": offer["id"],
                },
            )

    def hire(self, app: dict[str, Any], *, starts_on: str | None = None) -> dict[str, Any]:
        """Move an application to HIRED the way a recruiter would: accept (or create and accept)
        its offer first, then the status change with a start date."""
        offers = [self.offers[o] for o in self.offers_of_app.get(app["id"], [])]
        open_offers = [o for o in offers if o["status"] not in FINAL_OFFER_STATUSES]
        offer = open_offers[-1] if open_offers else None
        if offer is None and not any(o["status"] == "ACCEPTED" for o in offers):
            offer = self.create_offer(app, "PENDING_ACCEPTANCE")
        if offer is not None and offer["status"] != "ACCEPTED":
            self.set_offer_status(offer, "ACCEPTED")
        if app["status"] != "OFFERED":
            self.set_status(app, "OFFERED")
        start = starts_on or iso(self.clock.now() + 30 * 86400)
        self.set_status(app, "HIRED", starts_on=start)
        if self.onboarding_status_enabled and "onboardingStatus" not in app:
            app["onboardingStatus"] = "READY_TO_ONBOARD"
        return app
