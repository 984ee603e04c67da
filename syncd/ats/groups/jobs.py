"""Jobs API: ``/jobs``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from syncd.ats.client import path_of as P
from syncd.ats.groups.base import (
    Group,
    Json,
    as_json_object,
    checked_limit,
)
from syncd.ats.paging import MAX_PAGE, Page


class Jobs(Group):
    """Jobs API: ``/jobs``."""

    def pages(
        self,
        updated_after: datetime | None = None,
        last_activity_after: datetime | None = None,
        limit: int = MAX_PAGE,
        *,
        page_id: str | None = None,
        **filters: Any,
    ) -> AsyncIterator[Page]:
        """Cursor pages of ``GET /jobs`` (``sort=job_id`` + ``pageId``; the offset style is
        deprecated). ``filters``: ``status``, ``postingStatus``, ``q``, ``city``, ``department``…"""
        params = {
            "sort": "job_id",
            "limit": checked_limit(limit),
            "updatedAfter": updated_after,
            "lastActivityAfter": last_activity_after,
            **filters,
        }
        return self._c.cursor_pages("/jobs", params, start=page_id)

    async def get(self, job_id: str) -> Json:
        return await self._get(P("/jobs/{jobId}", job_id))

    async def create(self, job: Mapping[str, Any]) -> Json:
        return as_json_object(await self._c.request("POST", "/jobs", json=dict(job)))

    async def update(self, job_id: str, job: Mapping[str, Any]) -> Json:
        return as_json_object(
            await self._c.request("PUT", P("/jobs/{jobId}", job_id), json=dict(job))
        )

    async def status_history(self, job_id: str) -> list[Json]:
        return await self._list(P("/jobs/{jobId}/status/history", job_id))

    async def set_status(self, job_id: str, status: str) -> Json:
        body = await self._c.request(
            "PUT", P("/jobs/{jobId}/status", job_id), json={"status": status}
        )
        return as_json_object(body)

    async def positions(self, job_id: str) -> list[Json]:
        return await self._list(P("/jobs/{jobId}/positions", job_id))

    async def position(self, job_id: str, position_id: str) -> Json:
        return await self._get(P("/jobs/{jobId}/positions/{positionId}", job_id, position_id))

    async def create_position(self, job_id: str, position: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "POST", P("/jobs/{jobId}/positions", job_id), json=dict(position)
        )
        return as_json_object(body)

    async def latest_approval(self, job_id: str) -> Json:
        return await self._get(P("/jobs/{jobId}/approvals/latest", job_id))

    async def add_candidate(self, job_id: str, candidate: Mapping[str, Any]) -> Json:
        """``POST /jobs/{jobId}/candidates``: create a candidate applied to this job."""
        body = await self._c.request(
            "POST", P("/jobs/{jobId}/candidates", job_id), json=dict(candidate)
        )
        return as_json_object(body)

    async def set_headcount(
        self, job_id: str, salary_range: Mapping[str, Any] | None = None
    ) -> Json:
        """``PATCH /jobs/{jobId}/headcount`` (answers 202): ``salary_range`` is
        ``{min, max, currency}``."""
        body: Json = {} if salary_range is None else {"salaryRange": dict(salary_range)}
        return as_json_object(
            await self._c.request("PATCH", P("/jobs/{jobId}/headcount", job_id), json=body)
        )

    async def hiring_team(self, job_id: str) -> list[Json]:
        return await self._list(P("/jobs/{jobId}/hiring-team", job_id))

    async def add_hiring_team_member(self, job_id: str, user_id: str, role: str) -> Json:
        """``POST /jobs/{jobId}/hiring-team``: ``role`` is HIRING_MANAGER, RECRUITER,
        INTERVIEW_TEAM, EXECUTIVE or COORDINATOR."""
        body = await self._c.request(
            "POST", P("/jobs/{jobId}/hiring-team", job_id), json={"id": user_id, "role": role}
        )
        return as_json_object(body)

    async def remove_hiring_team_member(self, job_id: str, user_id: str) -> None:
        await self._c.request("DELETE", P("/jobs/{jobId}/hiring-team/{userId}", job_id, user_id))

    async def create_job_ad(self, job_id: str, job_ad: Mapping[str, Any]) -> Json:
        body = await self._c.request("POST", P("/jobs/{jobId}/jobads", job_id), json=dict(job_ad))
        return as_json_object(body)

    async def update_job_ad(self, job_id: str, job_ad_id: str, job_ad: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "PUT", P("/jobs/{jobId}/jobads/{jobAdId}", job_id, job_ad_id), json=dict(job_ad)
        )
        return as_json_object(body)

    async def unpublish_job_ad(self, job_id: str, job_ad_id: str) -> None:
        await self._c.request(
            "DELETE", P("/jobs/{jobId}/jobads/{jobAdId}/postings", job_id, job_ad_id)
        )

    async def publish(
        self, job_id: str, *, visibility: str | None = None, aggregators: bool | None = None
    ) -> Json:
        """``POST /jobs/{jobId}/publication`` (2 requests/s per credential)."""
        body = {
            k: v
            for k, v in {"visibility": visibility, "aggregators": aggregators}.items()
            if v is not None
        }
        return as_json_object(
            await self._c.request("POST", P("/jobs/{jobId}/publication", job_id), json=body)
        )

    async def unpublish(self, job_id: str) -> None:
        """``DELETE /jobs/{jobId}/publication``: unpublish every ad of the job."""
        await self._c.request("DELETE", P("/jobs/{jobId}/publication", job_id))

    async def note(self, job_id: str) -> Json:
        return await self._get(P("/jobs/{jobId}/note", job_id))
