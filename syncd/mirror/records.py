"""From raw API JSON to mirror rows: typed reporting columns plus the raw payload and its hash.

Tolerant by design (DESIGN invariant 6): unknown fields stay in ``raw``, an odd timestamp becomes
NULL in its typed column. Only a record the mirror cannot key (no id, not an object) is refused
with ``Invalid``, which the engine quarantines.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import orjson

Row = dict[str, Any]

# Parts of a payload that name the host we fetched from, not the record: a port change must not
# look like an edit.
VOLATILE = frozenset({"actions", "url"})


class Invalid(ValueError):
    """The record cannot be stored; the message says why (and goes to the quarantine table)."""


_HASH_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
# Quick test for "might hold a volatile key": the bytes only tell that the word occurs somewhere
# (key or value); when it does, the payload is stripped and serialized again.
_VOLATILE_MARKS = tuple(b'"' + k.encode() + b'"' for k in VOLATILE)


def content_hash(value: Any) -> str:
    data = orjson.dumps(value, option=_HASH_OPTS)
    if any(m in data for m in _VOLATILE_MARKS):
        data = orjson.dumps(_strip(value), option=_HASH_OPTS)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def parse_ts(value: Any) -> datetime | None:
    """ISO 8601 to naive UTC; anything unreadable is None (the raw JSON keeps the original)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def format_ts(dt: datetime) -> str:
    """Naive UTC to the API's form (``2024-01-02T03:04:05.678Z``)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _obj(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Invalid(f"{what}: expected a JSON object, got {type(raw).__name__}")
    return raw


def _id(raw: dict[str, Any], field: str, what: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise Invalid(f"{what}: missing or empty '{field}'")
    return str(value)


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _sub(raw: dict[str, Any], *path: str) -> Any:
    node: Any = raw
    for p in path:
        if not isinstance(node, dict):
            return None
        node = node.get(p)
    return node


def _with_hash(row: Row, raw: Any) -> Row:
    row["raw"] = raw
    row["content_hash"] = content_hash(raw)
    return row


def job_row(raw: Any) -> Row:
    r = _obj(raw, "job")
    return _with_hash(
        {
            "id": _id(r, "id", "job"),
            "title": _str(r.get("title")),
            "ref_number": _str(r.get("refNumber")),
            "status": _str(r.get("status")),
            "posting_status": _str(r.get("postingStatus")),
            "department_id": _str(_sub(r, "department", "id")),
            "department": _str(_sub(r, "department", "label")),
            "city": _str(_sub(r, "location", "city")),
            "country_code": _str(_sub(r, "location", "countryCode")),
            "remote": bool(_sub(r, "location", "remote"))
            if _sub(r, "location", "remote") is not None
            else None,
            "created_on": parse_ts(r.get("createdOn")),
            "updated_on": parse_ts(r.get("updatedOn")),
            "last_activity_on": parse_ts(r.get("lastActivityOn")),
        },
        r,
    )


def job_history_rows(job_id: str, items: list[Any]) -> list[Row]:
    out = []
    for i, item in enumerate(items):
        r = _obj(item, "job status history entry")
        out.append(
            _with_hash(
                {
                    "job_id": job_id,
                    "ordinal": i,
                    "changed_on": parse_ts(r.get("changedOn")),
                    "status": _str(r.get("status")),
                },
                r,
            )
        )
    return out


def position_row(job_id: str, raw: Any) -> Row:
    r = _obj(raw, "position")
    return _with_hash(
        {
            "id": _id(r, "id", "position"),
            "job_id": job_id,
            "position_id": _str(r.get("positionId")),
            "type": _str(r.get("type")),
            "status": _str(r.get("status")),
            "position_open_date": parse_ts(r.get("positionOpenDate")),
            "target_start_date": parse_ts(r.get("targetStartDate")),
            "created_on": parse_ts(r.get("createdOn")),
        },
        r,
    )


def candidate_row(raw: Any) -> Row:
    r = _obj(raw, "candidate")
    return _with_hash(
        {
            "id": _id(r, "id", "candidate"),
            "first_name": _str(r.get("firstName")),
            "last_name": _str(r.get("lastName")),
            "email": _str(r.get("email")),
            "city": _str(_sub(r, "location", "city")),
            "country_code": _str(_sub(r, "location", "countryCode")),
            "internal": r.get("internal") if isinstance(r.get("internal"), bool) else None,
            "consent_status": _str(_sub(r, "consent", "status")),
            "created_on": parse_ts(r.get("createdOn")),
            "updated_on": parse_ts(r.get("updatedOn")),
        },
        r,
    )


def assignments(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """A listed candidate's applications (``primaryAssignment`` + ``secondaryAssignments``)."""
    out: list[dict[str, Any]] = []
    primary = raw.get("primaryAssignment")
    if isinstance(primary, dict):
        out.append(primary)
    secondary = raw.get("secondaryAssignments")
    if isinstance(secondary, list):
        out.extend(a for a in secondary if isinstance(a, dict))
    return out


def assignment_row(candidate_id: str, raw: Any) -> Row:
    """The part of an application the candidate list carries: job, status, sub-status."""
    r = _obj(raw, "assignment")
    job = r.get("job")
    if not isinstance(job, dict):
        raise Invalid("assignment: missing 'job' object")
    job_id = _id(job, "id", "assignment job")
    listed = {"job": {"id": job_id, "title": job.get("title")}, "status": r.get("status")}
    if r.get("subStatus") is not None:
        listed["subStatus"] = r.get("subStatus")
    return {
        "candidate_id": candidate_id,
        "job_id": job_id,
        "status": _str(r.get("status")),
        "sub_status": _str(r.get("subStatus")),
        "raw": {"listed": listed},
    }


def application_detail_fields(raw: Any) -> Row:
    """Typed columns from ``GET /candidates/{id}/jobs/{jobId}``."""
    r = _obj(raw, "application")
    details = as_dict(r.get("sourceDetails"))
    return {
        "application_id": _str(r.get("applicationId")),
        "status": _str(r.get("status")),
        "sub_status": _str(r.get("subStatus")),
        "source": _str(r.get("source")),
        "source_type_id": _str(details.get("sourceTypeId")),
        "source_id": _str(details.get("sourceId")),
        "onboarding_status": _str(r.get("onboardingStatus")),
        "starts_on": parse_ts(r.get("startsOn")),
        "created_on": parse_ts(r.get("createdOn")),
        "updated_on": parse_ts(r.get("updatedOn")),
    }


_OFFER_PATH = re.compile(r"/candidates/([^/]+)/jobs/([^/]+)/offers/([^/?#]+)")


def offer_row(raw: Any) -> Row:
    """Offers name their application only inside action URLs
    (``/candidates/{cid}/jobs/{jid}/offers/{oid}``); explicit fields win when present."""
    r = _obj(raw, "offer")
    oid = _id(r, "id", "offer")
    cid, jid = r.get("candidateId"), r.get("jobId")
    if not (cid and jid):
        for act in (r.get("actions") or {}).values() if isinstance(r.get("actions"), dict) else []:
            url = act.get("url") if isinstance(act, dict) else None
            m = _OFFER_PATH.search(url or "")
            if m:
                cid, jid = m.group(1), m.group(2)
                break
    return _with_hash(
        {
            "id": oid,
            "candidate_id": _str(cid),
            "job_id": _str(jid),
            "status": _str(r.get("status")),
            "created_on": parse_ts(r.get("createdOn")),
            "updated_on": parse_ts(r.get("updatedOn")),
        },
        r,
    )


def audit_row(raw: Any) -> Row:
    r = _obj(raw, "audit event")
    ctx = as_dict(r.get("context"))
    if r.get("eventDate") is None:
        raise Invalid("audit event: missing 'eventDate'")
    return _with_hash(
        {
            "id": _id(r, "id", "audit event"),
            "event_name": _str(r.get("eventName")),
            "event_date": parse_ts(r.get("eventDate")),
            "entity_type": _str(r.get("entityType")),
            "entity_id": _str(r.get("entityId")),
            "author_type": _str(r.get("authorType")),
            "author_id": _str(r.get("authorId")),
            "candidate_id": _str(ctx.get("candidateId")),
            "job_id": _str(ctx.get("jobId")),
        },
        r,
    )


def app_history_row(
    candidate_id: str,
    job_id: str,
    application_id: str | None,
    raw: dict[str, Any],
    ordinal: int,
) -> Row:
    changed = parse_ts(raw.get("changedOn"))
    if changed is None or not raw.get("status"):
        raise Invalid("application status history entry: missing 'changedOn' or 'status'")
    return _with_hash(
        {
            "candidate_id": candidate_id,
            "job_id": job_id,
            "changed_on": changed,
            "status": str(raw["status"]),
            "sub_status": _str(raw.get("subStatus")),
            "application_id": application_id,
            "ordinal": ordinal,
        },
        raw,
    )
