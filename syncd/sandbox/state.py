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
        self.emit("candidate.updated", {"id": cand["id"]})

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
        self.emit("candidate.deleted", {"id": candidate_id})

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
        self.emit("job.status.updated", {"id": job["id"]})

    def delete_job(self, job_id: str) -> None:
        self.job(job_id)
        del self.jobs[job_id]
        self.record_audit("JOB_DELETED", "JOB", job_id, {})

    # ---- Candidates API and Jobs API writes (candidates_extra.py, jobs_extra.py) -------------
    def create_candidate(
        self,
        data: dict[str, Any],
        *,
        job_id: str | None = None,
        source: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A new candidate (``candidate.created``), with an application when ``job_id`` is
        given; without one the candidate sits in the talent pool, which ``GET /candidates`` does
        not list."""
        when = self.now()
        cand = self.add_candidate(data, at=when)
        self.record_audit("CANDIDATE_CREATED", "CANDIDATE", cand["id"], {}, at=when)
        self.emit("candidate.created", {"id": cand["id"]})
        app = None
        if job_id is not None:
            self.job(job_id)
            app = self.add_application(cand["id"], job_id, source=source, at=when)
        return cand, app

    def request_consent(self, cand: dict[str, Any]) -> None:
        when = self.now()
        self.consent_requests[cand["id"]] = when
        consent = cand.get("consent") or {}
        if consent.get("status") != "ACQUIRED":
            self.update_candidate(cand, {"consent": {"status": "PENDING"}})
        self.record_audit("CONSENT_REQUESTED", "CANDIDATE", cand["id"], {}, at=when)

    def add_attachment(
        self,
        app: dict[str, Any],
        *,
        name: str,
        attachment_type: str,
        content_type: str,
        content: bytes,
    ) -> dict[str, Any]:
        when = self.now()
        att = {
            "id": self.new_id(),
            "candidateId": app["candidateId"],
            "jobId": app["jobId"],
            "applicationId": app["id"],
            "name": name,
            "type": attachment_type,
            "contentType": content_type,
            "size": len(content),
            "createdOn": when,
        }
        self.attachments[att["id"]] = att
        self.attachment_content[att["id"]] = content
        self.touch_candidate(app["candidateId"], when)
        self.record_audit(
            "ATTACHMENT_ADDED",
            "CANDIDATE",
            app["candidateId"],
            {"attachmentId": att["id"], "jobId": app["jobId"], "type": attachment_type},
            at=when,
        )
        self.emit(
            "application.attachment.created", {**self.app_payload(app), "attachment_id": att["id"]}
        )
        return att

    def delete_attachment(self, attachment_id: str) -> None:
        att = self.attachments.pop(attachment_id, None)
        if att is None:
            raise not_found("FILE_NOT_FOUND", f"Attachment with id {attachment_id} not found")
        self.attachment_content.pop(attachment_id, None)
        cand = self.candidates.get(att["candidateId"])
        if cand is not None:
            self.update_candidate(cand, {})
        self.record_audit(
            "ATTACHMENT_DELETED",
            "CANDIDATE",
            att["candidateId"],
            {"attachmentId": attachment_id},
        )

    def create_job(self, data: dict[str, Any], *, creator: dict[str, Any]) -> dict[str, Any]:
        """``data`` holds the job's fields already resolved to ``{id, label}`` objects."""
        when = self.now()
        jid = self.new_id()
        job: dict[str, Any] = {
            "id": jid,
            **data,
            "createdOn": when,
            "updatedOn": when,
            "lastActivityOn": when,
            "status": "CREATED",
            "postingStatus": "NOT_PUBLISHED",
            "creator": creator,
        }
        self.jobs[jid] = job
        self.job_order.append(jid)
        self.job_history[jid] = [{"changedOn": when, "status": "CREATED"}]
        self.positions[jid] = {}
        self.hiring_team[jid] = [{**creator, "role": "HIRING_MANAGER"}]
        ad_id = self.new_id()
        self.job_ads[jid] = {
            ad_id: {
                "id": ad_id,
                "title": job["title"],
                "language": job["language"],
                "location": job["location"],
                "jobAd": job.get("jobAd") or {},
                "createdOn": when,
                "updatedOn": when,
                "postingStatus": "NOT_PUBLISHED",
                "defaultJobAd": True,
                "visibility": "PUBLIC",
                "creator": creator,
            }
        }
        self.record_audit("JOB_CREATED", "JOB", jid, {"title": job["title"]}, at=when)
        self.emit("job.created", {"id": jid})
        return job

    def update_job(
        self, job: dict[str, Any], data: dict[str, Any], replaced: tuple[str, ...]
    ) -> None:
        """PUT semantics: every key of ``replaced`` missing from ``data`` is removed."""
        when = self.now()
        for key in replaced:
            job.pop(key, None)
        job.update(data)
        self.touch_job(job, when)
        for ad in self.job_ads.get(job["id"], {}).values():
            if ad.get("defaultJobAd"):
                ad.update(title=job["title"], location=job["location"], updatedOn=when)
                ad["jobAd"] = job.get("jobAd") or {}
        self.record_audit("JOB_UPDATED", "JOB", job["id"], {"title": job["title"]}, at=when)
        self.emit("job.updated", {"id": job["id"]})

    def start_job_approval(
        self, job: dict[str, Any], salary_range: dict[str, Any] | None
    ) -> dict[str, Any]:
        """A headcount change asks the job's hiring managers (``create_approval`` abandons a
        pending earlier request); the request remembers what was asked for."""
        jid = job["id"]
        team = self.hiring_team.get(jid) or []
        approvers = [m["id"] for m in team if m.get("role") == "HIRING_MANAGER"] or [
            self.random_user_id()
        ]
        approval = self.create_approval("job", jid, [approvers])
        approval["jobDetails"] = {
            "positionIds": list(self.positions.get(jid, {})),
            "salaryRange": salary_range,
        }
        self.touch_job(job, approval["createdOn"])
        return approval

    def remove_hiring_team_member(self, job: dict[str, Any], user_id: str) -> None:
        team = self.hiring_team.setdefault(job["id"], [])
        if not any(m["id"] == user_id for m in team):
            raise not_found("USER_NOT_FOUND", f"User {user_id} is not a member of the hiring team")
        if len(team) == 1:
            raise ApiError(
                400,
                "INVALID_HIRING_TEAM_STATE",
                "Cannot remove the last hiring team member: a hiring team needs at least one",
            )
        self.hiring_team[job["id"]] = [m for m in team if m["id"] != user_id]
        self.touch_job(job)
        self.record_audit("HIRING_TEAM_MEMBER_REMOVED", "JOB", job["id"], {"userId": user_id})
        self.emit("job.hiring-team.updated", {"id": job["id"]})

    def add_job_ad(
        self, job: dict[str, Any], data: dict[str, Any], creator: dict[str, Any]
    ) -> dict[str, Any]:
        when = self.now()
        ad: dict[str, Any] = {
            "id": self.new_id(),
            "location": job["location"],
            **data,
            "createdOn": when,
            "updatedOn": when,
            "postingStatus": "NOT_PUBLISHED",
            "defaultJobAd": False,
            "visibility": "PUBLIC",
            "creator": creator,
        }
        self.job_ads.setdefault(job["id"], {})[ad["id"]] = ad
        self.touch_job(job, when)
        self.emit("job.ad.created", {"job_id": job["id"], "job_ad_id": ad["id"]})
        return ad

    def update_job_ad(self, job: dict[str, Any], ad: dict[str, Any], data: dict[str, Any]) -> None:
        when = self.now()
        ad.update(data)
        ad["updatedOn"] = when
        self.touch_job(job, when)
        self.emit("job.ad.updated", {"job_id": job["id"], "job_ad_id": ad["id"]})

    def set_job_publication(
        self, job: dict[str, Any], posting_status: str, ads: list[dict[str, Any]] | None = None
    ) -> None:
        """Publish (PUBLIC/INTERNAL) or unpublish (NOT_PUBLISHED) the given ads, by default the
        job's default ad (publish) or all of them (unpublish); the job's postingStatus follows."""
        when = self.now()
        all_ads = list(self.job_ads.get(job["id"], {}).values())
        if ads is None:
            ads = (
                all_ads
                if posting_status == "NOT_PUBLISHED"
                else [a for a in all_ads if a.get("defaultJobAd")][:1]
            )
        for ad in ads:
            ad["postingStatus"] = posting_status
            ad["updatedOn"] = when
            if posting_status != "NOT_PUBLISHED":
                ad["visibility"] = posting_status
            self.emit("job.ad.postings.updated", {"job_id": job["id"], "job_ad_id": ad["id"]})
        live = [a for a in all_ads if a["postingStatus"] != "NOT_PUBLISHED"]
        job["postingStatus"] = live[0]["postingStatus"] if live else "NOT_PUBLISHED"
        self.touch_job(job, when)
        name = "JOB_UNPUBLISHED" if posting_status == "NOT_PUBLISHED" else "JOB_PUBLISHED"
        self.record_audit(name, "JOB", job["id"], {"postingStatus": job["postingStatus"]}, at=when)
        self.emit("job.updated", {"id": job["id"]})

    def add_position(self, job: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        when = self.now()
        pid = self.new_id()
        pos = {
            "id": pid,
            "positionId": data.get("positionId") or f"POS-{self.rng.randrange(100000):05d}",
            **{k: v for k, v in data.items() if k != "positionId"},
            "createdOn": when,
            "status": "OPEN",
        }
        self.positions.setdefault(job["id"], {})[pid] = pos
        self.touch_job(job, when)
        self.record_audit("POSITION_CREATED", "JOB", job["id"], {"positionId": pid}, at=when)
        self.emit("position.created", {"job_id": job["id"], "position_id": pid})
        return pos

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

    # ---- approvals (approvals.py; offers and jobs ask through here) --------------------------
    def approval(self, approval_id: str) -> dict[str, Any]:
        approval = self.approvals.get(approval_id)
        if approval is None:
            raise not_found(
                "APPROVAL_REQUEST_NOT_FOUND", f"Approval request with id {approval_id} not found"
            )
        return approval

    def _approval_payload(self, approval: dict[str, Any]) -> dict[str, Any]:
        subject = approval["subject"]
        if subject["type"] == "job":
            return {"approval_id": approval["id"], "job_id": subject["id"]}
        offer = self.offers.get(subject["id"]) or {}
        return {
            "approval_id": approval["id"],
            "job_id": offer.get("jobId", ""),
            "candidate_id": offer.get("candidateId", ""),
            "offer_id": subject["id"],
        }

    def approval_event(
        self,
        approval: dict[str, Any],
        what: str,
        *,
        at: str,
        author_id: str | None = None,
        comment: dict[str, Any] | None = None,
    ) -> None:
        """Webhook ``{job|offer}.{what}`` and, where the audit feed has one, its audit event
        (``JOB_APPROVAL_APPROVED``, ``OFFER_APPROVAL_STEP_REJECTED``, ...)."""
        kind = approval["subject"]["type"]
        self.emit(f"{kind}.{what}", self._approval_payload(approval))
        audit = {
            "approval.created": "APPROVAL_REQUESTED",
            "approval.approved": "APPROVAL_APPROVED",
            "approval.rejected": "APPROVAL_REJECTED",
            "approval.abandoned": "APPROVAL_ABANDONED",
            "approval.step.approved": "APPROVAL_STEP_APPROVED",
            "approval.step.rejected": "APPROVAL_STEP_REJECTED",
            "approver.skipped": "APPROVAL_STEP_SKIPPED",
        }.get(what)
        # The audit feed knows no OFFER_APPROVAL_REQUESTED.
        if audit is None or (kind == "offer" and audit == "APPROVAL_REQUESTED"):
            return
        context: dict[str, Any] = {"approvalId": approval["id"]}
        if comment is not None:
            context["comments"] = [comment]
        self.record_audit(
            f"{kind.upper()}_{audit}",
            kind.upper(),
            approval["subject"]["id"],
            context,
            at=at,
            author_id=author_id,
        )

    def create_approval(
        self,
        subject_type: str,
        subject_id: str,
        steps: list[list[str]],
        *,
        kind: str = "sequential",
        decision_mode: str = "any",
    ) -> dict[str, Any]:
        """A PENDING request over ``steps`` (approver ids per step); it becomes the subject's
        latest approval, and a still pending previous one is abandoned."""
        when = self.now()
        latest = self.job_approvals if subject_type == "job" else self.offer_approvals
        previous = self.approvals.get(latest.get(subject_id, ""))
        if previous is not None and previous["status"] == "PENDING":
            self.abandon_approval(previous, at=when)
        approval = approval_record(
            self.new_id(), subject_type, subject_id, steps, kind, decision_mode, when
        )
        self.approvals[approval["id"]] = approval
        latest[subject_id] = approval["id"]
        offer = self.offers.get(subject_id) if subject_type == "offer" else None
        if offer is not None and offer["status"] in ("CREATED", "APPROVED", "NOT_APPROVED"):
            self.set_offer_status(offer, "PENDING_APPROVAL", at=when)
        self.approval_event(approval, "approval.created", at=when)
        return approval

    def abandon_approval(self, approval: dict[str, Any], *, at: str | None = None) -> None:
        when = at or self.now()
        approval["status"] = "ABANDONED"
        approval["updatedOn"] = when
        self.approval_event(approval, "approval.abandoned", at=when)

    def decide_approval(
        self,
        approval: dict[str, Any],
        approver_id: str,
        decision: str,
        comment: str | None = None,
    ) -> None:
        """One approver's APPROVED or REJECTED. Steps complete in order; in a step, ``any`` needs
        one approval and ``all`` every approver's; ``sequential`` asks a step's approvers in
        their listed order. One rejection rejects the request. Raises the API's 400 codes."""
        if approval["status"] != "PENDING":
            raise ApiError(
                400,
                "APPROVAL_COMPLETED",
                f"Approval request is already {approval['status'].lower()}",
            )
        steps = approval["steps"]
        mine = [
            (i, a) for i, s in enumerate(steps) for a in s["approvers"] if a["id"] == approver_id
        ]
        if not mine:
            raise ApiError(
                400,
                "APPROVER_NOT_ALLOWED",
                f"User {approver_id} is not an approver of this request",
            )
        open_ = [(i, a) for i, a in mine if a["decision"] == "PENDING"]
        open_ = [(i, a) for i, a in open_ if steps[i]["status"] == "PENDING"]
        if not open_:
            raise ApiError(400, "DECISION_ALREADY_TAKEN", f"User {approver_id} has already decided")
        current = next(i for i, s in enumerate(steps) if s["status"] == "PENDING")
        i, slot = open_[0]
        waiting = [a for a in steps[i]["approvers"] if a["decision"] == "PENDING"]
        if i != current or (approval["type"] == "sequential" and waiting[0] is not slot):
            raise ApiError(
                400,
                "DECISION_NOT_YET_ALLOWED",
                "An earlier step or approver has not decided yet",
            )
        when = self.now()
        slot["decision"] = decision
        slot["decidedOn"] = when
        approval["updatedOn"] = when
        note = None
        if comment:
            note = {"content": comment, "authorId": approver_id, "createdOn": when}
            self.approval_comments.setdefault(approval["id"], []).append(note)
        step = steps[i]
        audit_comment = (
            {"text": comment, "authorId": approver_id, "date": when} if comment else None
        )
        offer = self.offers.get(approval["subject"]["id"])
        if decision == "REJECTED":
            step["status"] = "REJECTED"
            for s in steps:
                for a in s["approvers"]:
                    if a["decision"] == "PENDING":
                        a["decision"] = "SKIPPED"
                if s["status"] == "PENDING":
                    s["status"] = "SKIPPED"
            approval["status"] = "REJECTED"
            self.approval_event(approval, "approval.step.rejected", at=when, author_id=approver_id)
            self.approval_event(
                approval,
                "approval.rejected",
                at=when,
                author_id=approver_id,
                comment=audit_comment,
            )
            if offer is not None and offer["status"] == "PENDING_APPROVAL":
                self.set_offer_status(offer, "NOT_APPROVED", at=when)
        else:
            done = approval["decisionMode"] == "any" or all(
                a["decision"] == "APPROVED" for a in step["approvers"]
            )
            if done:
                step["status"] = "APPROVED"
                for a in step["approvers"]:
                    if a["decision"] == "PENDING":
                        a["decision"] = "SKIPPED"
                self.approval_event(
                    approval, "approval.step.approved", at=when, author_id=approver_id
                )
            if all(s["status"] == "APPROVED" for s in steps):
                approval["status"] = "APPROVED"
                self.approval_event(
                    approval,
                    "approval.approved",
                    at=when,
                    author_id=approver_id,
                    comment=audit_comment,
                )
                if offer is not None and offer["status"] == "PENDING_APPROVAL":
                    self.set_offer_status(offer, "APPROVED", at=when)
        if note is not None:
            self.approval_event(approval, "approval.comment.created", at=when)


def approval_record(
    approval_id: str,
    subject_type: str,
    subject_id: str,
    steps: list[list[str]],
    kind: str,
    decision_mode: str,
    when: str,
) -> dict[str, Any]:
    """A new PENDING approval request as stored (the generator builds them the same way)."""
    return {
        "id": approval_id,
        "subject": {"id": subject_id, "type": subject_type},
        "type": kind,
        "decisionMode": decision_mode,
        "status": "PENDING",
        "steps": [
            {"status": "PENDING", "approvers": [{"id": a, "decision": "PENDING"} for a in step]}
            for step in steps
        ],
        "createdOn": when,
        "updatedOn": when,
    }
