"""Timestamps as SmartRecruiters writes them: UTC, millisecond precision, ``Z`` suffix.

The fixed width means these strings sort in time order, so filters compare strings directly.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> float:
    """Parse an ISO 8601 timestamp (``Z``, offset, or naive UTC). Raises ValueError."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def normalize(value: str) -> str:
    """Any accepted ISO form to the canonical sortable form."""
    return iso(parse_iso(value))


def iso_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
