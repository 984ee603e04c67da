"""The tenant's data and the plumbing every change goes through.

``TenantCore`` holds the records, the lookups that raise the API's errors, the audit trail and
the webhook listeners, and the ``touch`` helpers that keep ``updatedOn`` and ``lastActivityOn``
current. The changes themselves live in one module per API group (``tenant_candidates``,
``tenant_jobs``, ``tenant_offers``, ``tenant_approvals``); ``state.Tenant`` puts them together.
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
from syncd.sandbox.errors import not_found
from syncd.sandbox.paging import OrderIndex

Listener = Callable[[str, dict[str, Any]], None]


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class TenantCore:
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
    attachment_content: dict[str, bytes] = field(default_factory=dict)  # id -> file bytes
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

    def app_payload(self, app: dict[str, Any]) -> dict[str, Any]:
        return {
            "job_id": app["jobId"],
            "candidate_id": app["candidateId"],
            "application_id": app["id"],
        }

    def random_user_id(self) -> str:
        return str(self.rng.choice(self.users)["id"]) if self.users else "system"

    # ---- updatedOn and lastActivityOn, which every change keeps current -----------------
    def touch_candidate(self, candidate_id: str, when: str) -> None:
        self.candidates[candidate_id]["updatedOn"] = when

    def touch_job_activity(self, job_id: str, when: str) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            job["lastActivityOn"] = when

    def touch_job(self, job: dict[str, Any], when: str | None = None) -> None:
        when = when or self.now()
        job["updatedOn"] = when
        job["lastActivityOn"] = when
