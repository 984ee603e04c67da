"""The canonical new-hire record, assembled from the mirror (schema:
``syncd/delivery/schemas/new_hire.schema.json``, docs/push.md "The new-hire record").

A hire is **ready** when its details are in the mirror: the application is HIRED and live, its
status history and its details call (start date, source, application id) have been read
(``history_pending``/``details_pending`` are clear), and so has the candidate's full record
(``candidates.details_pending`` clear: phone, location; ``candidate_details``). The job's hiring
team is read with the job's page, so a mirrored job has it. The dispatcher sends nothing before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, tuple_

from syncd.mirror import schema as s
from syncd.mirror.records import Row, format_ts

SCHEMA_VERSION = 1
AppKey = tuple[str, str]  # (candidate_id, job_id)


def external_key(application_id: str) -> str:
    """The deterministic key a target stores for the person: ``sr-<application id>``. The
    SmartRecruiters application id is unique per candidate and job and never changes."""
    return f"sr-{application_id}"


def _ts(value: datetime | None) -> str | None:
    return format_ts(value) if value is not None else None


def _date(value: datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


def _chunks(keys: Sequence[AppKey], n: int = 400) -> list[list[AppKey]]:
    uniq = list(dict.fromkeys(keys))
    return [uniq[i : i + n] for i in range(0, len(uniq), n)]


def _app_filter(table: Any, tenant: str, chunk: list[AppKey]) -> Any:
    return and_(
        table.c.tenant == tenant,
        table.c.candidate_id.in_({k[0] for k in chunk}),
        tuple_(table.c.candidate_id, table.c.job_id).in_(chunk),
    )


def readiness(conn: Connection, tenant: str, keys: Sequence[AppKey]) -> dict[AppKey, str]:
    """Per application: ``ready``, ``waiting`` (details still owed), or ``gone`` (not HIRED any
    more, deleted, or never mirrored)."""
    a, c = s.applications, s.candidates
    out: dict[AppKey, str] = dict.fromkeys(keys, "gone")
    for chunk in _chunks(keys):
        q = (
            select(
                a.c.candidate_id,
                a.c.job_id,
                a.c.status,
                a.c.deleted_at,
                a.c.history_pending,
                a.c.details_pending,
                a.c.application_id,
                c.c.details_pending.label("record_pending"),
            )
            .join(
                c,
                and_(c.c.tenant == a.c.tenant, c.c.id == a.c.candidate_id),
                isouter=True,
            )
            .where(_app_filter(a, tenant, chunk))
        )
        for r in conn.execute(q):
            if r.deleted_at is not None or r.status != "HIRED":
                continue
            pending = (
                r.history_pending
                or r.details_pending
                or bool(r.record_pending)
                or not r.application_id
            )
            out[(r.candidate_id, r.job_id)] = "waiting" if pending else "ready"
    return out


def hired_applications(
    conn: Connection, tenant: str, *, hired_since: datetime | None
) -> list[tuple[str, str, datetime | None]]:
    """Live HIRED applications (candidate_id, job_id, hired_on), oldest hire first; with
    ``hired_since``, only those that moved to HIRED at or after it (a sink's ``start``)."""
    a, h = s.applications, s.application_status_history
    hired = (
        select(h.c.candidate_id, h.c.job_id, func.max(h.c.changed_on).label("hired_on"))
        .where(h.c.tenant == tenant, h.c.status == "HIRED")
        .group_by(h.c.candidate_id, h.c.job_id)
        .subquery()
    )
    q = (
        select(a.c.candidate_id, a.c.job_id, hired.c.hired_on)
        .join(
            hired,
            and_(hired.c.candidate_id == a.c.candidate_id, hired.c.job_id == a.c.job_id),
            isouter=True,
        )
        .where(a.c.tenant == tenant, a.c.status == "HIRED", a.c.deleted_at.is_(None))
    )
    if hired_since is not None:
        q = q.where(hired.c.hired_on >= hired_since)
    rows = [(r.candidate_id, r.job_id, r.hired_on) for r in conn.execute(q)]
    rows.sort(key=lambda r: (r[2] or datetime.min, r[0], r[1]))
    return rows


def new_hire_records(
    conn: Connection, tenant: str, keys: Sequence[AppKey]
) -> dict[AppKey, dict[str, Any]]:
    """The canonical record of each application in ``keys`` that is in the mirror (a few
    queries per 400 keys, not one per hire)."""
    a, c, j = s.applications, s.candidates, s.jobs
    apps: dict[AppKey, Row] = {}
    for chunk in _chunks(keys):
        for r in conn.execute(select(a).where(_app_filter(a, tenant, chunk))):
            apps[(r.candidate_id, r.job_id)] = dict(r._mapping)
    if not apps:
        return {}
    cands = _rows(conn, c, tenant, {k[0] for k in apps})
    jobs = _rows(conn, j, tenant, {k[1] for k in apps})
    details = _details(conn, tenant, {k[0] for k in apps})
    managers = _hiring_managers(conn, tenant, {k[1] for k in apps})
    offers = _offers(conn, tenant, list(apps))
    hired_on = hired_times(conn, tenant, list(apps))
    out: dict[AppKey, dict[str, Any]] = {}
    for key, app in apps.items():
        cand = cands.get(key[0], {})
        job = jobs.get(key[1], {})
        offer = offers.get(key)
        out[key] = assemble(
            app,
            cand,
            job,
            offer,
            hired_on.get(key),
            details=details.get(key[0]),
            manager=managers.get(key[1]),
        )
    return out


def assemble(
    app: Row,
    cand: Row,
    job: Row,
    offer: Row | None,
    hired_on: datetime | None,
    *,
    details: Row | None = None,
    manager: Row | None = None,
) -> dict[str, Any]:
    """One record from mirror rows (pure: unit-tested without a database). ``details``: the
    candidate's ``candidate_details`` row (phone, location); ``manager``: the job's
    ``hiring_team`` row with role HIRING_MANAGER."""
    craw = cand.get("raw") if isinstance(cand.get("raw"), dict) else {}
    jraw = job.get("raw") if isinstance(job.get("raw"), dict) else {}
    araw = app.get("raw") if isinstance(app.get("raw"), dict) else {}
    assert isinstance(craw, dict) and isinstance(jraw, dict) and isinstance(araw, dict)
    dloc = details.get("location") if details and isinstance(details.get("location"), dict) else {}
    cloc = dloc or (craw.get("location") if isinstance(craw.get("location"), dict) else {})
    jloc = jraw.get("location") if isinstance(jraw.get("location"), dict) else {}
    assert isinstance(cloc, dict) and isinstance(jloc, dict)
    source = araw.get("sourceDetails") if isinstance(araw.get("sourceDetails"), dict) else {}
    assert isinstance(source, dict)
    props: dict[str, Any] = {}
    if offer is not None and isinstance(offer.get("raw"), dict):
        p = offer["raw"].get("properties")
        props = p if isinstance(p, dict) else {}
    application_id = app.get("application_id") or ""
    return {
        "schema_version": SCHEMA_VERSION,
        "external_key": external_key(application_id),
        "ids": {
            "candidate_id": app["candidate_id"],
            "job_id": app["job_id"],
            "application_id": application_id,
            "offer_id": offer["id"] if offer else None,
            "department_id": job.get("department_id"),
            "source_id": app.get("source_id"),
            "source_type_id": app.get("source_type_id"),
        },
        "candidate": {
            "first_name": cand.get("first_name"),
            "last_name": cand.get("last_name"),
            "email": cand.get("email"),
            # The candidate list has no phone; the full candidate record (GET /candidates/{id})
            # has it (candidate_details).
            "phone": (details or {}).get("phone_number") or craw.get("phoneNumber"),
            "location": {
                "city": cand.get("city") or cloc.get("city"),
                "country_code": cand.get("country_code") or cloc.get("countryCode"),
                "region_code": cloc.get("regionCode"),
            },
            "internal": cand.get("internal"),
        },
        "job": {
            "title": job.get("title"),
            "ref_number": job.get("ref_number"),
            "department": job.get("department"),
            "location": {
                "city": job.get("city") or jloc.get("city"),
                "country_code": job.get("country_code") or jloc.get("countryCode"),
                "region_code": jloc.get("regionCode"),
                "remote": job.get("remote"),
            },
            "hiring_manager": _manager(manager),
        },
        "offer": None
        if offer is None
        else {
            "status": offer.get("status"),
            "start_date": _date(app.get("starts_on")),
            "compensation": {
                k: v
                for k, v in props.items()
                if any(w in k.lower() for w in ("salary", "compensation", "currency", "bonus"))
            },
            "properties": props,
        },
        "application": {
            "status": app.get("status"),
            "sub_status": app.get("sub_status"),
            "source": app.get("source") or source.get("sourceName"),
            "applied_on": _ts(app.get("created_on")),
            "hired_on": _ts(hired_on),
            "start_date": _date(app.get("starts_on")),
            "onboarding_status": app.get("onboarding_status"),
        },
    }


def _manager(member: Row | None) -> dict[str, Any] | None:
    """The hiring manager as the new-hire record gives it (the member's user id and names; the
    Hiring Team API gives no email)."""
    if member is None:
        return None
    raw = member.get("raw") if isinstance(member.get("raw"), dict) else {}
    assert isinstance(raw, dict)
    return {
        "id": member["user_id"],
        "first_name": raw.get("firstName"),
        "last_name": raw.get("lastName"),
        "email": raw.get("email"),
    }


def _details(conn: Connection, tenant: str, ids: set[str]) -> dict[str, Row]:
    """Live ``candidate_details`` rows by candidate id."""
    d = s.candidate_details
    out: dict[str, Row] = {}
    wanted = sorted(ids)
    for i in range(0, len(wanted), 400):
        q = select(d).where(
            d.c.tenant == tenant,
            d.c.candidate_id.in_(wanted[i : i + 400]),
            d.c.deleted_at.is_(None),
        )
        for r in conn.execute(q):
            out[r.candidate_id] = dict(r._mapping)
    return out


def _hiring_managers(conn: Connection, tenant: str, job_ids: set[str]) -> dict[str, Row]:
    """Per job, its live HIRING_MANAGER member (the first by user id when there are several)."""
    h = s.hiring_team
    out: dict[str, Row] = {}
    wanted = sorted(job_ids)
    for i in range(0, len(wanted), 400):
        q = (
            select(h)
            .where(
                h.c.tenant == tenant,
                h.c.job_id.in_(wanted[i : i + 400]),
                h.c.role == "HIRING_MANAGER",
                h.c.deleted_at.is_(None),
            )
            .order_by(h.c.job_id, h.c.user_id)
        )
        for r in conn.execute(q):
            out.setdefault(r.job_id, dict(r._mapping))
    return out


def _rows(conn: Connection, table: Any, tenant: str, ids: set[str]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    wanted = sorted(ids)
    for i in range(0, len(wanted), 500):
        q = select(table).where(table.c.tenant == tenant, table.c.id.in_(wanted[i : i + 500]))
        for r in conn.execute(q):
            out[r.id] = dict(r._mapping)
    return out


def _offers(conn: Connection, tenant: str, keys: list[AppKey]) -> dict[AppKey, Row]:
    """The offer that made the hire: the accepted one, else the newest (by creation)."""
    o = s.offers
    out: dict[AppKey, Row] = {}
    for chunk in _chunks(keys):
        q = (
            select(o)
            .where(_app_filter(o, tenant, chunk), o.c.deleted_at.is_(None))
            .order_by(o.c.created_on, o.c.id)
        )
        for r in conn.execute(q):
            key = (r.candidate_id, r.job_id)
            have = out.get(key)
            if have is None or have["status"] != "ACCEPTED" or r.status == "ACCEPTED":
                out[key] = dict(r._mapping)
    return out


def hired_times(conn: Connection, tenant: str, keys: list[AppKey]) -> dict[AppKey, datetime]:
    """When each application last moved to HIRED, from its status history (SmartRecruiters'
    own time)."""
    h = s.application_status_history
    out: dict[AppKey, datetime] = {}
    for chunk in _chunks(keys):
        q = (
            select(h.c.candidate_id, h.c.job_id, func.max(h.c.changed_on))
            .where(_app_filter(h, tenant, chunk), h.c.status == "HIRED")
            .group_by(h.c.candidate_id, h.c.job_id)
        )
        for cid, jid, at in conn.execute(q):
            out[(cid, jid)] = at
    return out
