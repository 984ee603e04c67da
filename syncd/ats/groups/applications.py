"""A candidate's application to a job: ``/candidates/{id}/jobs/{jobId}/…`` and the Job
Applications API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from syncd.ats.client import path_of as P
from syncd.ats.groups.base import (
    JOB_APPLICATIONS,
    FileArg,
    Group,
    Json,
    as_json_object,
)


class Applications(Group):
    """A candidate's application to a job: ``/candidates/{id}/jobs/{jobId}/…`` and the Job
    Applications API."""

    @staticmethod
    def _p(candidate_id: str, job_id: str, tail: str = "") -> str:
        return P("/candidates/{id}/jobs/{jobId}", candidate_id, job_id) + tail

    async def get(self, candidate_id: str, job_id: str) -> Json:
        return await self._get(self._p(candidate_id, job_id))

    async def get_by_id(self, job_application_id: str) -> Json:
        """``GET /job-applications-api/v202112/job-applications/{id}``."""
        return await self._get(P(JOB_APPLICATIONS + "/job-applications/{id}", job_application_id))

    async def status_history(self, candidate_id: str, job_id: str) -> list[Json]:
        return await self._list(self._p(candidate_id, job_id, "/status/history"))

    async def set_status(
        self,
        candidate_id: str,
        job_id: str,
        status: str,
        *,
        sub_status: str | None = None,
        starts_on: datetime | str | None = None,
        reason: Mapping[str, Any] | None = None,
    ) -> None:
        body: Json = {"status": status}
        if sub_status is not None:
            body["subStatus"] = sub_status
        if starts_on is not None:
            body["startsOn"] = (
                starts_on.isoformat() if isinstance(starts_on, datetime) else starts_on
            )
        if reason is not None:
            body["reason"] = dict(reason)
        await self._c.request("PUT", self._p(candidate_id, job_id, "/status"), json=body)

    async def set_onboarding_status(self, candidate_id: str, job_id: str, status: str) -> None:
        await self._c.request(
            "PUT",
            self._p(candidate_id, job_id, "/onboardingStatus"),
            json={"onboardingStatus": status},
        )

    async def set_source(
        self,
        candidate_id: str,
        job_id: str,
        source_type_id: str,
        source_id: str,
        source_sub_type_id: str | None = None,
    ) -> None:
        body: Json = {"sourceTypeId": source_type_id, "sourceId": source_id}
        if source_sub_type_id is not None:
            body["sourceSubTypeId"] = source_sub_type_id
        await self._c.request("PUT", self._p(candidate_id, job_id, "/source"), json=body)

    async def properties(
        self, candidate_id: str, job_id: str, *, context: str | None = None
    ) -> list[Json]:
        return await self._list(self._p(candidate_id, job_id, "/properties"), {"context": context})

    async def screening_answers(self, candidate_id: str, job_id: str) -> list[Json]:
        return await self._list(self._p(candidate_id, job_id, "/screening-answers"))

    async def add_attachment(
        self, candidate_id: str, job_id: str, file: FileArg, attachment_type: str = "GENERIC_FILE"
    ) -> Json:
        body = await self._c.request(
            "POST",
            self._p(candidate_id, job_id, "/attachments"),
            files={"file": file},
            data={"attachmentType": attachment_type},
        )
        return as_json_object(body)
