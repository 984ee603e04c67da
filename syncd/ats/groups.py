"""The API groups, one class each: typed async methods over ``SmartRecruitersClient.request``.

Reads return the JSON as received (``dict``/``list[dict]``); ``syncd.ats.models`` validates it
into tolerant pydantic models when a caller wants types. Paths are the API's own; ids are
percent-encoded. Lists come as async iterators of ``Page`` at the maximum page size by default.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from syncd.ats.client import path_of as P
from syncd.ats.paging import MAX_PAGE, Page

if TYPE_CHECKING:
    from syncd.ats.client import SmartRecruitersClient

Json = dict[str, Any]
FileArg = tuple[str, bytes | BinaryIO, str]  # (filename, content, content type)

APPROVALS = "/approvals-api/v201910"
AUDIT = "/audit-api/v201910"
INTERVIEWS = "/interviews-api/v201904"
JOB_APPLICATIONS = "/job-applications-api/v202112"
ASSESSMENT_ORDERS = "/assessment-api/v202107"
ASSESSMENT_PARTNER = "/assessment-api/v202010"
WEBHOOKS = "/webhooks-api/v201907"


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    return limit


def _dict(body: Any) -> Json:
    return body if isinstance(body, dict) else {} if body is None else {"content": body}


class _Group:
    def __init__(self, client: SmartRecruitersClient) -> None:
        self._c = client

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Json:
        return _dict(await self._c.request("GET", path, params=params))

    async def _list(self, path: str, params: Mapping[str, Any] | None = None) -> list[Json]:
        return await self._c.get_list(path, params)


class Candidates(_Group):
    """Candidates API: ``/candidates``."""

    def pages(
        self,
        updated_after: datetime | None = None,
        limit: int = MAX_PAGE,
        *,
        page_id: str | None = None,
        **filters: Any,
    ) -> AsyncIterator[Page]:
        """Cursor pages of ``GET /candidates``. ``filters`` are passed as query parameters by
        their API names (``status``, ``subStatus``, ``jobId``, ``tag``, ``onboardingStatus``,
        ``consentStatus``, ``q`` …; lists repeat the parameter). ``page_id`` resumes a crawl."""
        params = {"limit": _limit(limit), "updatedAfter": updated_after, **filters}
        return self._c.cursor_pages("/candidates", params, start=page_id)

    async def get(self, candidate_id: str) -> Json:
        return await self._get(P("/candidates/{id}", candidate_id))

    async def delete(self, candidate_id: str) -> None:
        await self._c.request("DELETE", P("/candidates/{id}", candidate_id))

    async def consent(self, candidate_id: str) -> Json:
        """Deprecated single consent status of a candidate."""
        return await self._get(P("/candidates/{id}/consent", candidate_id))

    async def consents(self, candidate_id: str) -> list[Json]:
        return await self._list(P("/candidates/{id}/consents", candidate_id))

    async def request_consents(self, candidate_ids: Sequence[str]) -> Json:
        """``POST /candidates/consent-requests``: ask candidates for consent (1-1000 ids)."""
        body = await self._c.request(
            "POST",
            "/candidates/consent-requests",
            json={"content": [{"id": cid} for cid in candidate_ids]},
        )
        return _dict(body)

    async def parse_cv(
        self,
        file: FileArg,
        *,
        source_type_id: str | None = None,
        source_sub_type_id: str | None = None,
        source_id: str | None = None,
        internal: bool | None = None,
    ) -> Json:
        """``POST /candidates/cv``: create a candidate from a résumé (multipart)."""
        fields = {
            "sourceTypeId": source_type_id,
            "sourceSubTypeId": source_sub_type_id,
            "sourceId": source_id,
            "internal": None if internal is None else str(internal).lower(),
        }
        data = {k: v for k, v in fields.items() if v is not None}
        return _dict(
            await self._c.request("POST", "/candidates/cv", files={"file": file}, data=data or None)
        )

    async def delete_attachment(self, attachment_id: str) -> None:
        await self._c.request("DELETE", P("/candidates/attachments/{id}", attachment_id))

    async def set_tags(self, candidate_id: str, tags: Sequence[str]) -> Json:
        """``PUT /candidates/{id}/tags``: replaces the candidate's tags."""
        body = await self._c.request(
            "PUT", P("/candidates/{id}/tags", candidate_id), json={"tags": list(tags)}
        )
        return _dict(body)


class Applications(_Group):
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
        return _dict(body)


class Jobs(_Group):
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
            "limit": _limit(limit),
            "updatedAfter": updated_after,
            "lastActivityAfter": last_activity_after,
            **filters,
        }
        return self._c.cursor_pages("/jobs", params, start=page_id)

    async def get(self, job_id: str) -> Json:
        return await self._get(P("/jobs/{jobId}", job_id))

    async def create(self, job: Mapping[str, Any]) -> Json:
        return _dict(await self._c.request("POST", "/jobs", json=dict(job)))

    async def update(self, job_id: str, job: Mapping[str, Any]) -> Json:
        return _dict(await self._c.request("PUT", P("/jobs/{jobId}", job_id), json=dict(job)))

    async def status_history(self, job_id: str) -> list[Json]:
        return await self._list(P("/jobs/{jobId}/status/history", job_id))

    async def set_status(self, job_id: str, status: str) -> Json:
        body = await self._c.request(
            "PUT", P("/jobs/{jobId}/status", job_id), json={"status": status}
        )
        return _dict(body)

    async def positions(self, job_id: str) -> list[Json]:
        return await self._list(P("/jobs/{jobId}/positions", job_id))

    async def position(self, job_id: str, position_id: str) -> Json:
        return await self._get(P("/jobs/{jobId}/positions/{positionId}", job_id, position_id))

    async def create_position(self, job_id: str, position: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "POST", P("/jobs/{jobId}/positions", job_id), json=dict(position)
        )
        return _dict(body)

    async def latest_approval(self, job_id: str) -> Json:
        return await self._get(P("/jobs/{jobId}/approvals/latest", job_id))

    async def add_candidate(self, job_id: str, candidate: Mapping[str, Any]) -> Json:
        """``POST /jobs/{jobId}/candidates``: create a candidate applied to this job."""
        body = await self._c.request(
            "POST", P("/jobs/{jobId}/candidates", job_id), json=dict(candidate)
        )
        return _dict(body)

    async def set_headcount(
        self, job_id: str, salary_range: Mapping[str, Any] | None = None
    ) -> Json:
        """``PATCH /jobs/{jobId}/headcount`` (answers 202): ``salary_range`` is
        ``{min, max, currency}``."""
        body: Json = {} if salary_range is None else {"salaryRange": dict(salary_range)}
        return _dict(
            await self._c.request("PATCH", P("/jobs/{jobId}/headcount", job_id), json=body)
        )

    async def hiring_team(self, job_id: str) -> list[Json]:
        return await self._list(P("/jobs/{jobId}/hiring-team", job_id))

    async def remove_hiring_team_member(self, job_id: str, user_id: str) -> None:
        await self._c.request("DELETE", P("/jobs/{jobId}/hiring-team/{userId}", job_id, user_id))

    async def create_job_ad(self, job_id: str, job_ad: Mapping[str, Any]) -> Json:
        body = await self._c.request("POST", P("/jobs/{jobId}/jobads", job_id), json=dict(job_ad))
        return _dict(body)

    async def update_job_ad(self, job_id: str, job_ad_id: str, job_ad: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "PUT", P("/jobs/{jobId}/jobads/{jobAdId}", job_id, job_ad_id), json=dict(job_ad)
        )
        return _dict(body)

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
        return _dict(
            await self._c.request("POST", P("/jobs/{jobId}/publication", job_id), json=body)
        )

    async def unpublish(self, job_id: str) -> None:
        """``DELETE /jobs/{jobId}/publication``: unpublish every ad of the job."""
        await self._c.request("DELETE", P("/jobs/{jobId}/publication", job_id))

    async def note(self, job_id: str) -> Json:
        return await self._get(P("/jobs/{jobId}/note", job_id))


class Offers(_Group):
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
        return self._c.offset_pages("/offers", params, limit=_limit(limit), offset=offset)

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


class Approvals(_Group):
    """Approvals API ``/approvals-api/v201910``."""

    async def create(self, request: Mapping[str, Any]) -> Json:
        return _dict(await self._c.request("POST", APPROVALS + "/approvals", json=dict(request)))

    async def get(self, approval_request_id: str) -> Json:
        return await self._get(P(APPROVALS + "/approvals/{id}", approval_request_id))

    async def comments(self, approval_request_id: str) -> list[Json]:
        return await self._list(P(APPROVALS + "/approvals/{id}/comments", approval_request_id))

    async def approve(self, approval_request_id: str, approver_id: str, **extra: Any) -> None:
        await self._c.request(
            "POST",
            P(APPROVALS + "/approvals/{id}/approve-decisions", approval_request_id),
            json={"approverId": approver_id, **extra},
        )

    async def reject(
        self, approval_request_id: str, approver_id: str, comment: str, **extra: Any
    ) -> None:
        """A rejection needs a comment (``COMMENT_IS_REQUIRED`` otherwise)."""
        await self._c.request(
            "POST",
            P(APPROVALS + "/approvals/{id}/reject-decisions", approval_request_id),
            json={"approverId": approver_id, "comment": comment, **extra},
        )


class Interviews(_Group):
    """Interviews API ``/interviews-api/v201904``."""

    async def list(self, application_id: str) -> list[Json]:
        return await self._list(INTERVIEWS + "/interviews", {"applicationId": application_id})

    async def create(self, interview: Mapping[str, Any]) -> Json:
        return _dict(
            await self._c.request("POST", INTERVIEWS + "/interviews", json=dict(interview))
        )

    async def delete(self, interview_id: str) -> None:
        await self._c.request("DELETE", P(INTERVIEWS + "/interviews/{id}", interview_id))

    async def add_timeslots(self, interview_id: str, timeslots: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "POST", P(INTERVIEWS + "/interviews/{id}/timeslots", interview_id), json=dict(timeslots)
        )
        return _dict(body)

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


class Messages(_Group):
    """Messages API: ``/messages``."""

    def pages(
        self, candidate_id: str, *, job_id: str | None = None, limit: int = MAX_PAGE
    ) -> AsyncIterator[Page]:
        params = {"candidateId": candidate_id, "jobId": job_id, "limit": _limit(limit)}
        return self._c.cursor_pages("/messages", params)

    async def share(
        self,
        content: str,
        *,
        share_with: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> Json:
        """``POST /messages/shares``: post a note; ``share_with`` is ``{users, hiringTeamOf,
        everyone, openNote}``."""
        body: Json = {"content": content}
        if share_with is not None:
            body["shareWith"] = dict(share_with)
        if correlation_id is not None:
            body["correlationId"] = correlation_id
        return _dict(await self._c.request("POST", "/messages/shares", json=body))

    async def delete_share(self, message_id: str) -> None:
        await self._c.request("DELETE", P("/messages/shares/{id}", message_id))


class Audit(_Group):
    """Audit API ``/audit-api/v201910/audit-events`` (ADMINISTRATOR role)."""

    def pages(
        self,
        event_date_after: datetime | None = None,
        event_date_before: datetime | None = None,
        event_names: list[str] | None = None,
        limit: int = MAX_PAGE,
        *,
        page_id: str | None = None,
        **filters: Any,
    ) -> AsyncIterator[Page]:
        """``filters``: ``authorType``, ``authorId``, ``entityType``, ``entityId``."""
        params = {
            "eventDateAfter": event_date_after,
            "eventDateBefore": event_date_before,
            "eventName": event_names,
            "limit": _limit(limit),
            **filters,
        }
        return self._c.cursor_pages(
            AUDIT + "/audit-events", params, token_param="nextPageId", start=page_id
        )


class Assessments(_Group):
    """Assessment API: orders (``v202107``) and the partner side (``v202010``)."""

    async def orders(self, application_id: str) -> list[Json]:
        return await self._list(
            ASSESSMENT_ORDERS + "/assessment-orders", {"applicationId": application_id}
        )

    async def set_partner_configuration(self, configuration: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "PUT", ASSESSMENT_PARTNER + "/partner/configuration", json=dict(configuration)
        )
        return _dict(body)

    async def integrate_company(self, company_id: str, settings: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "POST",
            P(ASSESSMENT_PARTNER + "/integration/company/{id}", company_id),
            json=dict(settings),
        )
        return _dict(body)

    async def set_results(self, order_id: str, results: Mapping[str, Any]) -> Json:
        body = await self._c.request(
            "PATCH", P(ASSESSMENT_PARTNER + "/orders/{id}/results", order_id), json=dict(results)
        )
        return _dict(body)

    async def add_results_attachment(self, order_id: str, file: FileArg) -> Json:
        body = await self._c.request(
            "POST",
            P(ASSESSMENT_PARTNER + "/orders/{id}/results/attachment", order_id),
            files={"file": file},
        )
        return _dict(body)


class Configuration(_Group):
    """Configuration API: single lists ``{totalFound, content}``."""

    async def departments(self) -> list[Json]:
        return await self._list("/configuration/departments")

    async def sources(self) -> list[Json]:
        return await self._list("/configuration/sources")

    async def hiring_processes(self) -> list[Json]:
        return await self._list("/configuration/hiring-processes")

    async def rejection_reasons(self) -> list[Json]:
        return await self._list("/configuration/rejection-reasons")

    async def withdrawal_reasons(self) -> list[Json]:
        return await self._list("/configuration/withdrawal-reasons")

    async def candidate_properties(self) -> list[Json]:
        return await self._list("/configuration/candidate-properties")

    async def job_properties(self) -> list[Json]:
        return await self._list("/configuration/job-properties")


class Webhooks(_Group):
    """Webhooks API ``/webhooks-api/v201907`` (cursor ``page_id``)."""

    async def create(
        self,
        callback_url: str,
        events: Sequence[str],
        *,
        alerting_email_address: str | None = None,
        callback_authentication: Mapping[str, Any] | None = None,
    ) -> Json:
        body: Json = {"callbackUrl": callback_url, "events": list(events)}
        if alerting_email_address is not None:
            body["alertingEmailAddress"] = alerting_email_address
        if callback_authentication is not None:
            body["callbackAuthentication"] = dict(callback_authentication)
        return _dict(await self._c.request("POST", WEBHOOKS + "/subscriptions", json=body))

    def pages(self, limit: int = MAX_PAGE) -> AsyncIterator[Page]:
        return self._c.cursor_pages(
            WEBHOOKS + "/subscriptions", {"limit": _limit(limit)}, token_param="page_id"
        )

    async def get(self, subscription_id: str) -> Json:
        return await self._get(P(WEBHOOKS + "/subscriptions/{id}", subscription_id))

    async def delete(self, subscription_id: str) -> None:
        await self._c.request("DELETE", P(WEBHOOKS + "/subscriptions/{id}", subscription_id))

    async def activate(self, subscription_id: str) -> None:
        """``PUT …/activation``: SmartRecruiters then handshakes with the callback URL."""
        await self._c.request(
            "PUT", P(WEBHOOKS + "/subscriptions/{id}/activation", subscription_id)
        )

    async def generate_secret_key(self, subscription_id: str) -> Json:
        body = await self._c.request(
            "POST", P(WEBHOOKS + "/subscriptions/{id}/secret-key", subscription_id)
        )
        return _dict(body)

    async def secret_key(self, subscription_id: str) -> Json:
        return await self._get(P(WEBHOOKS + "/subscriptions/{id}/secret-key", subscription_id))

    def callbacks_log(
        self,
        subscription_id: str,
        *,
        callback_status: str | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        limit: int = MAX_PAGE,
    ) -> AsyncIterator[Page]:
        params = {
            "limit": _limit(limit),
            "callbackStatus": callback_status,
            "after": after,
            "before": before,
        }
        return self._c.cursor_pages(
            P(WEBHOOKS + "/subscriptions/{id}/callbacks-log", subscription_id),
            params,
            token_param="page_id",
        )
