"""Offers: the tenant-wide list (offset paging, no updatedAfter) and per application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from syncd.ats.client import path_of as P
from syncd.ats.groups.base import (
    Group,
    Json,
    checked_limit,
)
from syncd.ats.paging import MAX_PAGE, Page


class Offers(Group):
    """Offers: the tenant-wide list (offset paging, no updatedAfter) and per application."""

    def pages(
        self,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        status: list[str] | None = None,
        limit: int = MAX_PAGE,
        *,
        age: str | None = None,
        offset: int = 0,
    ) -> AsyncIterator[Page]:
        params = {
            "createdAfter": created_after,
            "createdBefore": created_before,
            "status": status,
            "age": age,
        }
        return self._c.offset_pages("/offers", params, limit=checked_limit(limit), offset=offset)

    async def for_application(self, candidate_id: str, job_id: str) -> list[Json]:
        """The application's offers; an application without offers gives ``[]`` (the API
        answers 404 OFFER_NOT_FOUND for it)."""
        from syncd.ats.errors import NotFoundError

        try:
            return await self._list(P("/candidates/{id}/jobs/{jobId}/offers", candidate_id, job_id))
        except NotFoundError as exc:
            if "OFFER_NOT_FOUND" in exc.codes:
                return []
            raise

    async def get(self, candidate_id: str, job_id: str, offer_id: str) -> Json:
        return await self._get(
            P("/candidates/{id}/jobs/{jobId}/offers/{offerId}", candidate_id, job_id, offer_id)
        )

    async def latest_approval(self, candidate_id: str, job_id: str, offer_id: str) -> Json:
        return await self._get(
            P(
                "/candidates/{id}/jobs/{jobId}/offers/{offerId}/approvals/latest",
                candidate_id,
                job_id,
                offer_id,
            )
        )
