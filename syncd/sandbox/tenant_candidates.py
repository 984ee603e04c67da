"""Changes to candidates and their applications: creation, status moves, source, onboarding
status, consent, attachments and deletion (Candidates API, application status, control API)."""

from __future__ import annotations

from typing import Any

from syncd.sandbox.errors import ApiError, not_found
from syncd.sandbox.tenant_core import TenantCore


class CandidateWrites(TenantCore):
    # ---- candidates and applications ----------------------------------------------------
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

    # ---- Candidates API writes (candidates_extra.py) ------------------------------------
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
