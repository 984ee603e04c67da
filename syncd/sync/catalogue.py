"""The resource catalogue: every polled SmartRecruiters object declared once (path, paginator,
incremental spec, key, table, children). The engine (``syncd.sync.engine``) does paging,
completeness, cursors, checkpoints, hashing, quarantine, outbox and sweeps for all of them; a
resource only adds a page hook when it feeds other tables (candidates carry their applications)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table

from syncd.ats.paging import CursorPaginator, OffsetPaginator, Page, Paginator, Position, Walk
from syncd.mirror import records
from syncd.mirror import schema as s
from syncd.sync.passes import GROUP_PAGES

# (client, the resource, query parameters, where to start, the walk's outcome) -> pages
ListFn = Callable[[Any, "Resource", Mapping[str, Any], Position | None, Walk], AsyncIterator[Page]]


@dataclass(frozen=True)
class Child:
    name: str
    path: str
    table: Table
    # How children are fetched: "per_parent" call, "audit" feed, or inside the "parent" record.
    fetch: str


# The smallest step of the API's timestamps: a strict filter moved back by it includes the value.
TICK = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Incremental:
    """How a listing is filtered to what changed since a cursor: the API's filter ``param``, the
    record ``field`` it compares (``column`` is the mirror column that holds it), and whether the
    API compares with ``>=`` (``inclusive``) or ``>``. ``initial`` is sent when there is no
    cursor (the audit feed's default window is 7 days; a complete pass asks for everything)."""

    param: str
    field: str
    column: str
    inclusive: bool
    initial: datetime | None = None

    def params(self, cursor: datetime | None) -> dict[str, Any]:
        """The filter for records stamped at or after ``cursor`` (an aware datetime): a strict
        filter gets the cursor minus one tick, so that a record stamped at the cursor is read."""
        value = cursor if cursor is not None else self.initial
        if value is None:
            return {}
        return {self.param: value if self.inclusive or cursor is None else value - TICK}


def api_list(
    sr: Any, res: Resource, params: Mapping[str, Any], start: Position | None, walk: Walk
) -> AsyncIterator[Page]:
    """``GET res.path`` with ``params``, walked by the resource's paginator."""
    return sr.paged(res.paginator, res.path, {**res.params, **params}, start=start, walk=walk)


@dataclass(frozen=True)
class Resource:
    name: str
    path: str
    paginator: Paginator
    incremental: Incremental
    key: tuple[str, ...]
    table: Table
    mapper: Callable[[Any], records.Row]
    # Query parameters sent with every list call (besides the page size and the filter).
    params: Mapping[str, Any] = field(default_factory=dict)
    list: ListFn = api_list
    children: tuple[Child, ...] = ()
    # Deletions from a complete pass: safe only when the listing cannot skip live records.
    sweep_deletes: bool = True
    # Work owed after the walk, in order, by name (the engine maps each to its method): records
    # the walk flagged get their follow-up calls here, outside the page transactions.
    followups: tuple[str, ...] = ()
    # Pages per write transaction (each with its checkpoint). Grouped: the audit feed (most
    # pages, small rows, measured 20 % faster) and offers. Jobs read the mirror on another
    # connection while preparing a page (which jobs changed), so they commit page by page;
    # candidates showed no gain.
    write_group: int = 1


# The audit feed's default window is 7 days; a backfill asks for everything it keeps.
EPOCH = datetime.fromisoformat("2000-01-01T00:00:00+00:00")

UPDATED_AFTER = Incremental("updatedAfter", "updatedOn", "updated_on", inclusive=False)

JOBS = Resource(
    name="jobs",
    path="/jobs",
    paginator=CursorPaginator("pageId"),
    incremental=UPDATED_AFTER,
    params={"sort": "job_id"},
    key=("id",),
    table=s.jobs,
    mapper=records.job_row,
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
    paginator=CursorPaginator("nextPageId"),
    incremental=Incremental(
        "eventDateAfter", "eventDate", "event_date", inclusive=False, initial=EPOCH
    ),
    key=("id",),
    table=s.audit_events,
    mapper=records.audit_row,
    sweep_deletes=False,  # events are history, never deleted
    write_group=GROUP_PAGES,
    # Approval decisions change neither the job nor (before the last step) the offer.
    followups=("approval_events",),
)

CANDIDATES = Resource(
    name="candidates",
    path="/candidates",
    paginator=CursorPaginator("pageId"),
    incremental=UPDATED_AFTER,
    key=("id",),
    table=s.candidates,
    mapper=records.candidate_row,
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
    paginator=OffsetPaginator(),
    incremental=Incremental("createdAfter", "createdOn", "created_on", inclusive=True),
    key=("id",),
    table=s.offers,
    mapper=records.offer_row,
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
    write_group=GROUP_PAGES,
    followups=("offer_rechecks", "offer_approvals"),
)

# Order matters: the audit feed runs before candidates so that application histories are in the
# mirror when the candidate list shows a status change (no per-application call needed).
CATALOGUE: tuple[Resource, ...] = (JOBS, AUDIT, CANDIDATES, OFFERS)
BY_NAME = {r.name: r for r in CATALOGUE}
