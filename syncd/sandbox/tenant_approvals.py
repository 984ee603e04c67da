"""Approval requests for jobs and offers (routes/approvals.py; offers and jobs ask through here).

A decision moves the offer it is about (PENDING_APPROVAL -> APPROVED / NOT_APPROVED), hence
``ApprovalWrites`` builds on ``OfferWrites``."""

from __future__ import annotations

from typing import Any

from syncd.sandbox.errors import ApiError, not_found
from syncd.sandbox.tenant_offers import OfferWrites


class ApprovalWrites(OfferWrites):
    # ---- approvals ----------------------------------------------------------------------
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

    # ---- a job's headcount approval (jobs_extra.py) -------------------------------------
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
