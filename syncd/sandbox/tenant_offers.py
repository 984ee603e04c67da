"""Changes to offers: creation, status moves, and hiring (which accepts the offer, then moves the
application, hence ``OfferWrites`` builds on ``CandidateWrites``)."""

from __future__ import annotations

from typing import Any

from syncd.sandbox.statuses import FINAL_OFFER_STATUSES
from syncd.sandbox.tenant_candidates import CandidateWrites
from syncd.sandbox.timefmt import iso


class OfferWrites(CandidateWrites):
    # ---- offers -------------------------------------------------------------------------
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
