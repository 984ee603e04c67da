"""Interviews API ``/interviews-api/v201904``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from syncd.ats.client import path_of as P
from syncd.ats.groups.base import (
    INTERVIEWS,
    Group,
    Json,
    as_json_object,
)


class Interviews(Group):
    """Interviews API ``/interviews-api/v201904``."""

    async def list(self, application_id: str) -> list[Json]:
        return await self._list(INTERVIEWS + "/interviews", {"applicationId": application_id})

    async def create(self, interview: Mapping[str, Any]) -> Json:
        return as_json_object(
            await self._c.request("POST", INTERVIEWS + "/interviews", json=dict(interview))
        )

    async def delete(self, interview_id: str) -> None:
        await self._c.request("DELETE", P(INTERVIEWS + "/interviews/{id}", interview_id))

    async def add_timeslots(self, interview_id: str, timeslots: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "POST", P(INTERVIEWS + "/interviews/{id}/timeslots", interview_id), json=dict(timeslots)
        )
        return as_json_object(body)

    async def timeslot(self, interview_id: str, timeslot_id: str) -> Json:
        return await self._get(
            P(INTERVIEWS + "/interviews/{id}/timeslots/{tid}", interview_id, timeslot_id)
        )

    async def set_candidate_status(self, interview_id: str, timeslot_id: str, status: str) -> None:
        await self._c.request(
            "PUT",
            P(
                INTERVIEWS + "/interviews/{id}/timeslots/{tid}/candidateStatus",
                interview_id,
                timeslot_id,
            ),
            json={"status": status},
        )

    async def set_interviewer_status(
        self, interview_id: str, timeslot_id: str, user_id: str, status: str
    ) -> None:
        await self._c.request(
            "PUT",
            P(
                INTERVIEWS + "/interviews/{id}/timeslots/{tid}/interviewers/{uid}/status",
                interview_id,
                timeslot_id,
                user_id,
            ),
            json={"status": status},
        )

    async def set_no_show(self, interview_id: str, timeslot_id: str, no_show: bool = True) -> None:
        """The value travels as a query parameter (the seed describes it so; the published
        OpenAPI files lack this endpoint, and name it nowhere: ``noShow`` is our reading)."""
        await self._c.request(
            "PATCH",
            P(INTERVIEWS + "/interviews/{id}/timeslots/{tid}/noshow", interview_id, timeslot_id),
            params={"noShow": no_show},
        )

    async def add_types(self, types: Sequence[str]) -> None:
        """``PATCH /interview-types``: add interview types to the company's list."""
        await self._c.request("PATCH", INTERVIEWS + "/interview-types", json=list(types))

    async def delete_type(self, interview_type: str) -> None:
        await self._c.request("DELETE", P(INTERVIEWS + "/interview-types/{type}", interview_type))
