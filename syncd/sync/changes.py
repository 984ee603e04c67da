"""What a write tells the outbox: change records, and the domain events the catalogue's event
rules (``EventRule`` on each resource and child) derive from field changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.mirror.records import Row, format_ts
from syncd.mirror.store import Change, UpsertResult, key_of, key_text
from syncd.sync.catalogue import (
    CANDIDATE_DETAILS_PERSONAL,
    EVENTS,
    PERSONAL,
    TABLES,
    EventRule,
)


def change_records(resource: str, result: UpsertResult, *, full: bool) -> list[Change]:
    """Outbox records for an upsert of ``resource`` (a resource or child name): created/updated,
    plus the domain events of its rules; on inserts only outside complete passes, whose inserts
    are the mirror catching up."""
    out: list[Change] = []
    rules = EVENTS.get(resource, ())
    for new in result.inserted:
        key = record_key(resource, new)
        out.append(Change(resource, key, "created", summary(new)))
        if not full:
            out.extend(domain_events(resource, key, rules, None, new))
    for old, new in result.updated:
        key = record_key(resource, new)
        out.append(Change(resource, key, "updated", {**(summary(new) or {}), **changed(old, new)}))
        out.extend(domain_events(resource, key, rules, old, new))
    return out


def record_key(resource: str, row: Row) -> str:
    """The outbox's key of a row: its primary key without the tenant, ``/``-joined
    (``candidate/job`` for applications, ``job/user`` for hiring team members)."""
    return key_text(key_of(TABLES[resource], row))


def summary(row: Row) -> dict[str, Any] | None:
    out = {k: row.get(k) for k in ("status", "sub_status") if row.get(k) is not None}
    return out or None


# Bookkeeping columns: not a change anyone downstream acts on. Personal data stays out of the
# outbox (a deleted candidate's data must leave the mirror, and outbox rows are not tombstoned):
# a consumer reads the current value from the record.
_NOT_FIELDS = frozenset(
    ("tenant", "raw", "content_hash", "first_seen_at", "last_seen_at", "deleted_at", "recheck")
) | frozenset((*PERSONAL, *CANDIDATE_DETAILS_PERSONAL))


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


def domain_events(
    resource: str, key: str, rules: tuple[EventRule, ...], old: Row | None, new: Row
) -> list[Change]:
    """The events ``rules`` derive from ``old`` (None: a new record) becoming ``new``."""
    out: list[Change] = []
    for rule in rules:
        before = old.get(rule.field) if old is not None else None
        after = new.get(rule.field)
        if after is None or before == after:
            continue
        if rule.leaves is not None:
            if before == rule.leaves:
                out.append(Change(resource, key, rule.kind, {"from": before, "to": after}))
            continue
        if rule.to is None:
            if before is not None:
                out.append(Change(resource, key, rule.kind, {"from": before, "to": after}))
        elif after == rule.to:
            out.append(Change(resource, key, rule.kind))
    return out
