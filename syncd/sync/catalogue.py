"""The resource catalogue: every polled SmartRecruiters object declared once (path, paginator,
cursor parameter and field, key, table, children). The engine (``syncd.sync.engine``) does paging,
cursors, checkpoints, hashing, quarantine, outbox and sweeps for all of them; a resource only adds
a page hook when it feeds other tables (candidates carry their applications)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from syncd.mirror import records
from syncd.mirror import schema as s

ListFn = Callable[[Any, datetime | None, str | None, int], AsyncIterator[Any]]


@dataclass(frozen=True)
class Child:
    name: str
    path: str
    table: Table
    # How children are fetched: "per_parent" call, "audit" feed, or inside the "parent" record.
    fetch: str


@dataclass(frozen=True)
class Resource:
    name: str
    path: str
    paginator: str  # "cursor" (pageId / nextPageId) or "offset"
    cursor_param: str  # the API's filter for the cursor
    cursor_field: str  # the record field the cursor follows
    cursor_inclusive: bool  # does the API filter with >= (True) or > (False)?
    key: tuple[str, ...]
    table: Table
    mapper: Callable[[Any], records.Row]
    list: ListFn
    children: tuple[Child, ...] = ()
    # Deletions from a complete pass: safe only when the listing cannot skip live records.
    sweep_deletes: bool = True
    # Work owed after the walk, in order, by name (the engine maps each to its method): records
    # the walk flagged get their follow-up calls here, outside the page transactions.
    followups: tuple[str, ...] = ()


# The audit feed's default window is 7 days; a backfill asks for everything it keeps.
EPOCH = datetime.fromisoformat("2000-01-01T00:00:00+00:00")


def _jobs(sr: Any, cursor: datetime | None, start: str | None, limit: int) -> AsyncIterator[Any]:
    return sr.jobs.pages(updated_after=cursor, limit=limit, page_id=start)


def _candidates(
    sr: Any, cursor: datetime | None, start: str | None, limit: int
) -> AsyncIterator[Any]:
    return sr.candidates.pages(updated_after=cursor, limit=limit, page_id=start)


def _offers(sr: Any, cursor: datetime | None, start: str | None, limit: int) -> AsyncIterator[Any]:
    return sr.offers.pages(created_after=cursor, limit=limit, offset=int(start or 0))


def _audit(sr: Any, cursor: datetime | None, start: str | None, limit: int) -> AsyncIterator[Any]:
    return sr.audit.pages(event_date_after=cursor or EPOCH, limit=limit, page_id=start)


JOBS = Resource(
    name="jobs",
    path="/jobs",
    paginator="cursor",
    cursor_param="updatedAfter",
    cursor_field="updatedOn",
    cursor_inclusive=False,
    key=("id",),
    table=s.jobs,
    mapper=records.job_row,
    list=_jobs,
    followups=("job_approvals",),
    children=(
        Child(
            "job_status_history", "/jobs/{id}/status/history", s.job_status_history, "per_parent"
        ),
        Child("positions", "/jobs/{id}/positions", s.positions, "per_parent"),
        Child("approvals", "/jobs/{id}/approvals/latest", s.approvals, "per_parent"),
    ),
)

AUDIT = Resource(
    name="audit",
    path="/audit-api/v201910/audit-events",
    paginator="cursor",
    cursor_param="eventDateAfter",
    cursor_field="eventDate",
    cursor_inclusive=False,
    key=("id",),
    table=s.audit_events,
    mapper=records.audit_row,
    list=_audit,
    sweep_deletes=False,  # events are history, never deleted
    # Approval decisions change neither the job nor (before the last step) the offer.
    followups=("approval_events",),
)

CANDIDATES = Resource(
    name="candidates",
    path="/candidates",
    paginator="cursor",
    cursor_param="updatedAfter",
    cursor_field="updatedOn",
    cursor_inclusive=False,
    key=("id",),
    table=s.candidates,
    mapper=records.candidate_row,
    list=_candidates,
    children=(
        Child("applications", "/candidates/{id}/jobs/{jobId}", s.applications, "per_parent"),
        Child(
            "application_status_history",
            "/candidates/{id}/jobs/{jobId}/status/history",
            s.application_status_history,
            "audit",
        ),
        Child(
            "interviews",
            "/interviews-api/v201904/interviews?applicationId={applicationId}",
            s.interviews,
            "per_parent",
        ),
        Child("interview_timeslots", "(inside each interview)", s.interview_timeslots, "parent"),
    ),
    # Interviews last: whether an application reached an interview status is in its history.
    followups=("application_histories", "application_details", "application_interviews"),
)

OFFERS = Resource(
    name="offers",
    path="/offers",
    paginator="offset",
    cursor_param="createdAfter",
    cursor_field="createdOn",
    cursor_inclusive=True,
    key=("id",),
    table=s.offers,
    mapper=records.offer_row,
    list=_offers,
    children=(
        Child(
            "approvals",
            "/candidates/{candidateId}/jobs/{jobId}/offers/{id}/approvals/latest",
            s.approvals,
            "per_parent",
        ),
    ),
    # Offset paging shifts when offers vanish mid-pass; offers leave with their candidate.
    sweep_deletes=False,
    followups=("offer_rechecks", "offer_approvals"),
)

# Order matters: the audit feed runs before candidates so that application histories are in the
# mirror when the candidate list shows a status change (no per-application call needed).
CATALOGUE: tuple[Resource, ...] = (JOBS, AUDIT, CANDIDATES, OFFERS)
BY_NAME = {r.name: r for r in CATALOGUE}
