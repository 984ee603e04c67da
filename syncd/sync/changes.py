"""What a write tells the outbox: change records and the domain events they imply."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.mirror.records import Row, format_ts
from syncd.mirror.store import Change, UpsertResult, key_text


def change_records(resource: str, result: UpsertResult, *, full: bool) -> list[Change]:
    """Outbox records for an upsert: created/updated, plus domain events (status changed, hired,
    offer accepted) outside complete passes, whose inserts are the mirror catching up."""
    out: list[Change] = []
    status_col = "status"
    for new in result.inserted:
        key = record_key(resource, new)
        out.append(Change(resource, key, "created", summary(new)))
        if not full:
            out.extend(domain_events(resource, key, None, new.get(status_col)))
    for old, new in result.updated:
        key = record_key(resource, new)
        out.append(Change(resource, key, "updated", {**(summary(new) or {}), **changed(old, new)}))
        if old.get(status_col) != new.get(status_col) or old.get("sub_status") != new.get(
            "sub_status"
        ):
            out.extend(domain_events(resource, key, old.get(status_col), new.get(status_col)))
    return out


def record_key(resource: str, row: Row) -> str:
    if resource == "applications":
        return f"{row['candidate_id']}/{row['job_id']}"
    if resource == "approvals":
        return f"{row['subject_type']}/{row['subject_id']}"
    return key_text((row["id"],))


def summary(row: Row) -> dict[str, Any] | None:
    out = {k: row.get(k) for k in ("status", "sub_status") if row.get(k) is not None}
    return out or None


# Bookkeeping columns: not a change anyone downstream acts on. Personal data stays out of the
# outbox (a deleted candidate's data must leave the mirror, and outbox rows are not tombstoned):
# a consumer reads the current value from the record.
_NOT_FIELDS = frozenset(
    ("tenant", "raw", "content_hash", "first_seen_at", "last_seen_at", "deleted_at", "recheck")
) | frozenset(("first_name", "last_name", "email", "city"))


def changed(old: Row, new: Row) -> dict[str, Any]:
    """``{"changed": {column: [old, new]}}`` for the typed columns whose value moved (the outbox
    envelope's ``changes``); {} when only raw JSON or bookkeeping moved."""
    moved = {
        k: [_plain(old.get(k)), _plain(v)]
        for k, v in new.items()
        if k in old and k not in _NOT_FIELDS and not k.endswith("_pending") and old.get(k) != v
    }
    return {"changed": moved} if moved else {}


def _plain(value: Any) -> Any:
    return format_ts(value) if isinstance(value, datetime) else value


def domain_events(resource: str, key: str, old: Any, new: Any) -> list[Change]:
    out: list[Change] = []
    if resource == "applications" and new is not None:
        if old is not None and old != new:
            out.append(Change(resource, key, "status_changed", {"from": old, "to": new}))
        if new == "HIRED" and old != "HIRED":
            out.append(Change(resource, key, "hired"))
        if old == "HIRED" and new != "HIRED":
            out.append(Change(resource, key, "hire_revoked", {"from": old, "to": new}))
    if resource == "offers" and new == "ACCEPTED" and old != "ACCEPTED":
        out.append(Change(resource, key, "offer_accepted"))
    if resource in ("jobs", "approvals") and old is not None and old != new:
        out.append(Change(resource, key, "status_changed", {"from": old, "to": new}))
    return out
