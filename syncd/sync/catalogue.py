"""The resource catalogue: every polled SmartRecruiters object declared once, and the engine
(``syncd.sync.engine``) executes the declarations.

A ``Resource`` is a listed object (path, paginator, cursor, key, table, mapper). What hangs off it
is a ``Child``: fetched per parent with the parent's page (``page``: a job's history, positions and
hiring team), per flagged record after the walk (``followup``: a candidate's full record), fed by
the audit feed (``audit``), embedded in the parent (``parent``) or read by a follow-up written in
code (``per_parent``). Work owed after the walk is a ``FollowUp``, ordered by what it ``needs``;
resources are ordered the same way (graphlib), so no tuple is kept in order by hand. The delete
policy (``sweep_deletes``, and ``DeletePolicy``: personal columns, cascade) and the event rules
(``EventRule``: which field changes become which domain events) are declared on the resource and
its children. ``get`` reads one record by id (``syncd refresh``).

Adding a resource of an existing kind is a declaration here, a table (migration and
``syncd/mirror/schema.py``) and a mapper (``syncd/mirror``): see docs/mirror.md.
"""

from __future__ import annotations

import graphlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table

from syncd.ats import absent_ok
from syncd.ats.paging import CursorPaginator, OffsetPaginator, Page, Paginator, Position, Walk
from syncd.config import SyncSettings
from syncd.mirror import followup_queries as fq
from syncd.mirror import followup_records as fr
from syncd.mirror import records
from syncd.mirror import schema as s
from syncd.mirror.records import Row
from syncd.sync.passes import GROUP_PAGES

# (client, the resource, query parameters, where to start, the walk's outcome) -> pages
ListFn = Callable[[Any, "Resource", Mapping[str, Any], Position | None, Walk], AsyncIterator[Page]]
# (client, id) -> the record (raises NotFoundError when the API answers 404).
GetFn = Callable[[Any, str], Awaitable[Any]]
# (client, parent row) -> the answer for that parent, or None when absent (404).
CallFn = Callable[[Any, Row], Awaitable[Any]]
# (parent row, answer) -> rows (raises records.Invalid for an answer the mirror cannot store).
RowsFn = Callable[[Row, Any], list[Row]]

KEEP_IDS_DATES = ("id", "createdOn", "updatedOn")  # what a tombstone's raw keeps by default


@dataclass(frozen=True)
class EventRule:
    """A domain event from a field change (DESIGN "Outbox"; issue 10's event types).

    ``to`` None: ``kind`` with ``{"from": old, "to": new}`` whenever a stored value changes to
    another value. ``to`` set: ``kind`` when the field becomes ``to`` (also on a record new to an
    incremental pass, e.g. a hire first seen). ``leaves`` set: ``kind`` with ``{"from", "to"}``
    when a stored value moves away from ``leaves`` (a hire undone)."""

    kind: str
    field: str = "status"
    to: str | None = None
    leaves: str | None = None


@dataclass(frozen=True)
class Cascade:
    """Rows tombstoned with their parent: ``column`` names the parent's id, ``where`` narrows
    (e.g. approvals of jobs only), ``clear`` nulls personal columns, ``keep_raw`` is what the
    tombstone's raw keeps."""

    table: Table
    column: str
    keep_raw: tuple[str, ...] = KEEP_IDS_DATES
    where: tuple[tuple[str, str], ...] = ()
    clear: tuple[str, ...] = ()


@dataclass(frozen=True)
class Forget:
    """Columns of a bookkeeping table (not a record table: no tombstone) that copied the deleted
    record's personal data, set to NULL with it: ``column`` names the record's id."""

    table: Table
    column: str
    clear: tuple[str, ...]


@dataclass(frozen=True)
class DeletePolicy:
    """What a deletion does (the resource's ``sweep_deletes`` says whether a complete pass
    tombstones what it did not list). ``clear``: columns nulled on deletion (personal data leaves
    the mirror). ``cascade``: dependent rows that are not declared children (a child's own
    ``cascade`` is applied too)."""

    clear: tuple[str, ...] = ()
    cascade: tuple[Cascade, ...] = ()
    forget: tuple[Forget, ...] = ()


@dataclass(frozen=True)
class GetById:
    """One record by id: ``call(client, id)`` reads it (raises the client's errors; a 404 is
    absent). ``id_form`` says what an id looks like (``/`` between its parts). ``as_listed`` cuts
    the answer to what the list gives, so that a refreshed record hashes like a listed one (an
    unchanged record stays unchanged). ``gone_codes``: the 404 error codes that say the record
    itself does not exist (SMARTRECRUITERS.md "Errors"); only those feed the delete policy.

    ``call`` None: the record has no read of its own in the engine's terms (a child read by a
    code follow-up); refreshing it sets the child's flag on the parent rows named by the ids and
    runs the parent's follow-ups, which read it. ``name``: the refresh name when the child's
    name is shared (approvals of jobs and of offers)."""

    path: str
    call: GetFn | None
    id_form: str = "ID"
    as_listed: Callable[[Any], Any] | None = None
    gone_codes: tuple[str, ...] = ()
    name: str = ""

    def check_id(self, value: str) -> str | None:
        """None when ``value`` has the form ``id_form``, else what is wrong with it. Each part
        is non-empty and printable, with no blank and none of ``?#%\\`` (it goes into the
        request's path: SmartRecruiters' ids are UUIDs and numbers)."""
        parts = value.split("/")
        if len(parts) != self.id_form.count("/") + 1 or not all(
            p and all(c.isprintable() and not c.isspace() and c not in _NOT_IN_IDS for c in p)
            for p in parts
        ):
            return f"{value!r} is not of the form {self.id_form}"
        return None


_NOT_IN_IDS = frozenset("?#%\\")  # would change the request's path or query


@dataclass(frozen=True)
class Child:
    name: str
    path: str
    table: Table
    # How children are fetched: "page" (per parent, with the parent's page, for parents new or
    # changed), "followup" (per flagged parent after the walk), "audit" (from the audit feed),
    # "parent" (inside the parent record), "per_parent" (by a follow-up written in code).
    fetch: str
    call: CallFn | None = None  # page / followup: the per-parent read
    rows: RowsFn | None = None  # page / followup: its mapper
    parent_column: str = ""  # page: the column naming the parent (stale rows are per parent)
    stale: str = "tombstone"  # page: rows the answer no longer lists: "tombstone" or "delete"
    # The column set on new and changed rows of ``flag_on`` (None: the parent's table) to say
    # that this child is owed a read (followup children, and those read by code follow-ups).
    flag: str = ""
    flag_on: Table | None = None
    # followup: which flagged parents need the call, under the sync settings
    only: Callable[[SyncSettings], fq.Only] | None = None
    cascade: Cascade | None = None  # tombstoned with the parent
    swept: bool = False  # a complete pass of the parent touches every live row; the rest is gone
    events: tuple[EventRule, ...] = ()
    get: GetById | None = None
    # Its writes go to the outbox (created / updated / deleted). Off for a status history: its
    # entries are facts about the parent, whose own change records say what moved.
    outbox: bool = True
    # None ``get``: why it has no read by id of its own (``syncd refresh`` says it).
    no_get: str = ""


@dataclass(frozen=True)
class FollowUp:
    """Work owed after the walk. ``method`` names the engine's code for it; None: the generic
    per-record read of the ``followup`` child of the same name. Runs after what it ``needs``."""

    name: str
    needs: tuple[str, ...] = ()
    method: str | None = None


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
    # Work owed after the walk (see ``followup_order`` for the order they run in).
    followups: tuple[FollowUp, ...] = ()
    # Resources whose passes must run first (the order of a run comes from these).
    needs: tuple[str, ...] = ()
    delete: DeletePolicy = DeletePolicy()
    events: tuple[EventRule, ...] = ()
    # None: the API has no read of one record (``no_get`` says why).
    get: GetById | None = None
    no_get: str = ""
    # The engine's method that writes a page when more than an upsert is needed ("": upsert).
    writer: str = ""
    # Pages per write transaction (each with its checkpoint). Grouped: the audit feed (most
    # pages, small rows, measured 20 % faster) and offers. Jobs read the mirror on another
    # connection while preparing a page (which jobs changed), so they commit page by page;
    # candidates commit page by page too (grouped, their commits took 1.0 s less CPU in a 20k
    # backfill, but a run stopped early kept none of its candidates).
    write_group: int = 1


# The audit feed's default window is 7 days; a backfill asks for everything it keeps.
EPOCH = datetime.fromisoformat("2000-01-01T00:00:00+00:00")

STATUS_CHANGED = EventRule("status_changed")
PERSONAL = ("first_name", "last_name", "email", "city", "country_code")
CANDIDATE_DETAILS_PERSONAL = ("phone_number", "location", "web", "education", "experience")


UPDATED_AFTER = Incremental("updatedAfter", "updatedOn", "updated_on", inclusive=False)


# ---- the records as the list gives them (a refreshed record hashes like a listed one) ---------
# JobSummary (Jobs API): Job's fields plus language and actions.
JOB_LISTED = (
    "id", "title", "job", "refNumber", "createdOn", "updatedOn", "lastActivityOn", "department",
    "location", "status", "postingStatus", "language", "actions",
)  # fmt: skip
# CandidateDetails fields the list (Candidate) leaves out.
CANDIDATE_DETAIL_ONLY = ("phoneNumber", "web", "education", "experience")


def _job_as_listed(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    return {k: body[k] for k in JOB_LISTED if k in body}


def _assignment_as_listed(a: Any) -> Any:
    if not isinstance(a, dict):
        return a
    job = a.get("job")
    out: dict[str, Any] = {}
    if isinstance(job, dict):
        out["job"] = {k: job[k] for k in ("id", "title", "actions") if k in job}
    for k in ("status", "subStatus"):
        if a.get(k) is not None:
            out[k] = a[k]
    return out


def _candidate_as_listed(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    out = {k: v for k, v in body.items() if k not in CANDIDATE_DETAIL_ONLY}
    if "primaryAssignment" in out:
        out["primaryAssignment"] = _assignment_as_listed(out["primaryAssignment"])
    if isinstance(out.get("secondaryAssignments"), list):
        out["secondaryAssignments"] = [
            _assignment_as_listed(a) for a in out["secondaryAssignments"]
        ]
    return out


def _get_offer(sr: Any, ident: str) -> Awaitable[Any]:
    cid, jid, oid = ident.split("/")  # checked against id_form first
    return sr.offers.get(cid, jid, oid)


# ---- children's reads and mappers ----------------------------------------------------------
# A child's read is absent only when the 404 names its parent (the job or candidate is gone
# since it was listed: the audit feed or a sweep will say so); any other 404 is an error.
JOB_GONE = ("JOB_NOT_FOUND",)
CANDIDATE_GONE = ("CANDIDATE_NOT_FOUND",)


async def _hiring_team(sr: Any, parent: Row) -> Any:
    return await absent_ok(sr.jobs.hiring_team(parent["id"]), codes=JOB_GONE)


async def _candidate_details(sr: Any, parent: Row) -> Any:
    return await absent_ok(sr.candidates.get(parent["id"]), codes=CANDIDATE_GONE)


async def _job_history(sr: Any, parent: Row) -> Any:
    return await absent_ok(sr.jobs.status_history(parent["id"]), codes=JOB_GONE)


async def _positions(sr: Any, parent: Row) -> Any:
    return await absent_ok(sr.jobs.positions(parent["id"]), codes=JOB_GONE)


def _job_history_rows(parent: Row, body: Any) -> list[Row]:
    return records.job_history_rows(parent["id"], list(body or []))


def _position_rows(parent: Row, body: Any) -> list[Row]:
    return [records.position_row(parent["id"], p) for p in body or []]


def _hiring_team_rows(parent: Row, body: Any) -> list[Row]:
    return [fr.hiring_team_row(parent["id"], m) for m in body or []]


def _candidate_details_rows(parent: Row, body: Any) -> list[Row]:
    return [fr.candidate_details_row(parent["id"], body)] if body is not None else []


JOBS = Resource(
    name="jobs",
    path="/jobs",
    paginator=CursorPaginator("pageId"),
    incremental=UPDATED_AFTER,
    params={"sort": "job_id"},
    key=("id",),
    table=s.jobs,
    mapper=records.job_row,
    followups=(FollowUp("job_approvals", method="_read_job_approvals"),),
    children=(
        Child(
            "job_status_history",
            "/jobs/{id}/status/history",
            s.job_status_history,
            "page",
            call=_job_history,
            rows=_job_history_rows,
            parent_column="job_id",
            stale="delete",  # entries are positions in the list: a shorter list drops the tail
            outbox=False,
            cascade=Cascade(s.job_status_history, "job_id", keep_raw=("changedOn", "status")),
            get=GetById(
                "/jobs/{jobId}/status/history",
                lambda sr, i: sr.jobs.status_history(i),
                "JOB_ID",
                gone_codes=JOB_GONE,
            ),
        ),
        Child(
            "positions",
            "/jobs/{id}/positions",
            s.positions,
            "page",
            call=_positions,
            rows=_position_rows,
            parent_column="job_id",
            cascade=Cascade(s.positions, "job_id"),
            get=GetById(
                "/jobs/{jobId}/positions",
                lambda sr, i: sr.jobs.positions(i),
                "JOB_ID",
                gone_codes=JOB_GONE,
            ),
        ),
        Child(
            "hiring_team",
            "/jobs/{id}/hiring-team",
            s.hiring_team,
            "page",
            call=_hiring_team,
            rows=_hiring_team_rows,
            parent_column="job_id",
            cascade=Cascade(s.hiring_team, "job_id", keep_raw=("id", "role")),
            get=GetById(
                "/jobs/{jobId}/hiring-team",
                lambda sr, i: sr.jobs.hiring_team(i),
                "JOB_ID",
                gone_codes=JOB_GONE,
            ),
        ),
        Child(
            "approvals",
            "/jobs/{id}/approvals/latest",
            s.approvals,
            "per_parent",
            flag="approval_pending",
            cascade=Cascade(s.approvals, "subject_id", where=(("subject_type", "job"),)),
            events=(STATUS_CHANGED,),
            get=GetById(
                "/jobs/{jobId}/approvals/latest, then /approvals-api/v201910/approvals/{id}",
                None,
                "JOB_ID",
                name="job_approvals",
            ),
        ),
    ),
    events=(STATUS_CHANGED,),
    get=GetById(
        "/jobs/{jobId}",
        lambda sr, i: sr.jobs.get(i),
        "JOB_ID",
        _job_as_listed,
        gone_codes=JOB_GONE,
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
    # Approval decisions change neither the job nor (before the last step) the offer; their
    # events flag the job's approval, so the jobs are in the mirror first.
    followups=(FollowUp("approval_events", method="_approval_events"),),
    needs=("jobs",),
    writer="_write_audit",  # each page's events become history entries, flags and deletions
    no_get=(
        "the Audit API has no read of one event (only the list, GET /audit-events); events "
        "never change, so the next pass brings any that are missing"
    ),
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
        Child(
            "applications",
            "/candidates (primaryAssignment, secondaryAssignments); /candidates/{id}/jobs/{jobId}",
            s.applications,
            "parent",
            flag="details_pending",  # read by the application_details follow-up
            flag_on=s.applications,
            cascade=Cascade(s.applications, "candidate_id", keep_raw=()),
            swept=True,
            events=(
                STATUS_CHANGED,
                EventRule("hired", to="HIRED"),
                EventRule("hire_revoked", leaves="HIRED"),
            ),
            # Read through its candidate (what lists it), then flagged for its own reads.
            get=GetById(
                "/candidates/{id}, then /candidates/{id}/jobs/{jobId}",
                lambda sr, i: sr.candidates.get(i.split("/")[0]),
                "CANDIDATE_ID/JOB_ID",
                _candidate_as_listed,
                gone_codes=CANDIDATE_GONE,
            ),
        ),
        Child(
            "application_status_history",
            "/candidates/{id}/jobs/{jobId}/status/history",
            s.application_status_history,
            "audit",
            flag="history_pending",  # what the audit feed did not complete costs a call
            flag_on=s.applications,
            get=GetById(
                "/candidates/{id}/jobs/{jobId}/status/history", None, "CANDIDATE_ID/JOB_ID"
            ),
            cascade=Cascade(
                s.application_status_history, "candidate_id", keep_raw=("changedOn", "status")
            ),
        ),
        Child(
            "interviews",
            "/interviews-api/v201904/interviews?applicationId={applicationId}",
            s.interviews,
            "per_parent",
            flag="interviews_pending",
            flag_on=s.applications,
            get=GetById(
                "/interviews-api/v201904/interviews?applicationId={applicationId}",
                None,
                "CANDIDATE_ID/JOB_ID",
            ),
            cascade=Cascade(s.interviews, "candidate_id", keep_raw=("id", "jobId", "createdOn")),
        ),
        Child(
            "interview_timeslots",
            "(inside each interview)",
            s.interview_timeslots,
            "parent",
            no_get=(
                "timeslots come inside their interview: syncd refresh interviews "
                "CANDIDATE_ID/JOB_ID reads an application's interviews with their timeslots"
            ),
            cascade=Cascade(
                s.interview_timeslots, "candidate_id", keep_raw=("id", "startsOn", "endsOn")
            ),
        ),
        Child(
            "candidate_details",
            "/candidates/{id}",
            s.candidate_details,
            "followup",
            call=_candidate_details,
            rows=_candidate_details_rows,
            flag="details_pending",
            # The full record is what HRIS records need: candidates with an application in the
            # details statuses (default OFFERED, HIRED); [] turns these reads off with the others.
            only=lambda sync: fq.with_application_in(sync.application_details_statuses),
            cascade=Cascade(
                s.candidate_details,
                "candidate_id",
                keep_raw=KEEP_IDS_DATES,
                clear=CANDIDATE_DETAILS_PERSONAL,
            ),
            get=GetById(
                "/candidates/{id}",
                lambda sr, i: sr.candidates.get(i),
                "CANDIDATE_ID",
                gone_codes=CANDIDATE_GONE,
            ),
        ),
    ),
    followups=(
        FollowUp("application_histories", method="_resolve_histories"),
        FollowUp("application_details", method="_resolve_details"),
        # Whether an application reached an interview status is in its history.
        FollowUp(
            "application_interviews", needs=("application_histories",), method="_read_interviews"
        ),
        FollowUp("candidate_details"),
    ),
    # Application histories come from the audit feed: in the mirror before the candidate list
    # shows a status change, no per-application call is needed.
    needs=("audit",),
    writer="_write_candidates",  # each candidate carries its applications
    delete=DeletePolicy(
        clear=(*PERSONAL, "consent_status"),
        # Offers and offer approvals leave with their candidate (offers are their own resource).
        cascade=(Cascade(s.offers, "candidate_id"), Cascade(s.approvals, "candidate_id")),
        # A delivery's payload is the new-hire record sent (names, email, phone): it leaves too.
        forget=(Forget(s.deliveries, "candidate_id", ("payload",)),),
    ),
    get=GetById(
        "/candidates/{id}",
        lambda sr, i: sr.candidates.get(i),
        "CANDIDATE_ID",
        _candidate_as_listed,
        gone_codes=CANDIDATE_GONE,
    ),
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
            flag="approval_pending",
            events=(STATUS_CHANGED,),
            get=GetById(
                "/candidates/{candidateId}/jobs/{jobId}/offers/{id}/approvals/latest",
                None,
                "OFFER_ID",
                name="offer_approvals",
            ),
        ),
    ),
    # Offset paging shifts when offers vanish mid-pass; offers leave with their candidate.
    sweep_deletes=False,
    write_group=GROUP_PAGES,
    followups=(
        FollowUp("offer_rechecks", method="_recheck_offers"),
        FollowUp("offer_approvals", needs=("offer_rechecks",), method="_read_offer_approvals"),
    ),
    # The audit feed flags the offers to re-read; offers leave with their candidates.
    needs=("audit", "candidates"),
    writer="_write_offers",  # a listed offer needs no audit re-read
    events=(EventRule("offer_accepted", to="ACCEPTED"),),
    get=GetById(
        "/candidates/{id}/jobs/{jobId}/offers/{offerId}",
        _get_offer,
        "CANDIDATE_ID/JOB_ID/OFFER_ID",
        # The offer is absent too when its candidate or job is gone (the 404 names the parent):
        # an offer callback for a deleted candidate is then done, not retried for ever.
        gone_codes=("OFFER_NOT_FOUND", *CANDIDATE_GONE, *JOB_GONE),
    ),
)


def ordered(items: Iterable[Any], needs: Callable[[Any], Iterable[str]]) -> list[Any]:
    """``items`` (each with a ``name``) after what they need, declaration order otherwise.
    Raises ValueError on an unknown name or a cycle."""
    by_name = {i.name: i for i in items}
    position = {n: k for k, n in enumerate(by_name)}
    graph = graphlib.TopologicalSorter[str]()
    for name, item in by_name.items():
        deps = tuple(needs(item))
        for d in deps:
            if d not in by_name:
                raise ValueError(f"{name} needs {d!r}, which is not declared")
        graph.add(name, *deps)
    try:
        graph.prepare()
    except graphlib.CycleError as exc:
        raise ValueError(f"the declarations need each other in a cycle: {exc.args[1]}") from None
    out: list[Any] = []
    while graph.is_active():
        ready = sorted(graph.get_ready(), key=position.__getitem__)
        out += [by_name[n] for n in ready]
        graph.done(*ready)
    return out


def followup_order(res: Resource) -> list[FollowUp]:
    return ordered(res.followups, lambda f: f.needs)


DECLARED: tuple[Resource, ...] = (JOBS, AUDIT, CANDIDATES, OFFERS)
# The order of a run: each resource after the ones it needs.
CATALOGUE: tuple[Resource, ...] = tuple(ordered(DECLARED, lambda r: r.needs))
BY_NAME = {r.name: r for r in CATALOGUE}


def _tables_and_events() -> tuple[dict[str, Table], dict[str, tuple[EventRule, ...]]]:
    tables: dict[str, Table] = {}
    events: dict[str, tuple[EventRule, ...]] = {}
    for r in CATALOGUE:
        tables[r.name] = r.table
        events[r.name] = r.events
        for c in r.children:
            tables.setdefault(c.name, c.table)
            events[c.name] = events.get(c.name, ()) or c.events
    return tables, events


# Per record name (a resource or a child): its table and its event rules (syncd.sync.changes).
TABLES, EVENTS = _tables_and_events()


def flags_of(table: Table) -> dict[str, bool] | None:
    """Columns set on the new and changed rows of ``table``: the flags its children declare
    (None: none)."""
    out = {
        c.flag: True
        for r in CATALOGUE
        for c in r.children
        if c.flag and (c.flag_on if c.flag_on is not None else r.table) is table
    }
    return out or None


def cascades(res: Resource) -> list[Cascade]:
    """What a deletion of ``res`` records tombstones with them: its children's and its policy's."""
    out = [c.cascade for c in res.children if c.cascade is not None]
    return out + list(res.delete.cascade)


def no_get_reasons() -> dict[str, str]:
    """Record name -> why it has no read by id (resources and children without a ``get``)."""
    out = {r.name: r.no_get for r in CATALOGUE if r.get is None}
    out.update({c.name: c.no_get for r in CATALOGUE for c in r.children if c.get is None})
    return out


def refreshable() -> dict[str, tuple[Resource, Child | None, GetById]]:
    """Record name -> (resource, child or None, its get-by-id) for ``syncd refresh``."""
    out: dict[str, tuple[Resource, Child | None, GetById]] = {}
    for r in CATALOGUE:
        if r.get is not None:
            out[r.name] = (r, None, r.get)
        for c in r.children:
            if c.get is not None:
                out[c.get.name or c.name] = (r, c, c.get)
    return out
