"""Pure mapping: raw API JSON to mirror rows, hashing, timestamps."""

from __future__ import annotations

from datetime import datetime

import pytest

from syncd.mirror import records as rec


def test_hash_ignores_host_specific_links_and_key_order() -> None:
    a = {"id": "1", "status": "NEW", "actions": {"details": {"url": "http://127.0.0.1:1/x"}}}
    b = {"actions": {"details": {"url": "http://127.0.0.1:2/x"}}, "status": "NEW", "id": "1"}
    assert rec.content_hash(a) == rec.content_hash(b)
    assert rec.content_hash(a) != rec.content_hash({**a, "status": "IN_REVIEW"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:20:30.123Z", datetime(2024, 5, 1, 10, 20, 30, 123000)),
        ("2024-05-01T12:20:30+02:00", datetime(2024, 5, 1, 10, 20, 30)),
        ("2024-05-01", datetime(2024, 5, 1)),
        ("yesterday", None),
        (None, None),
        (17, None),
    ],
)
def test_parse_ts_is_tolerant(value: object, expected: datetime | None) -> None:
    assert rec.parse_ts(value) == expected


def test_format_round_trips_the_api_form() -> None:
    s = "2024-05-01T10:20:30.123Z"
    dt = rec.parse_ts(s)
    assert dt is not None and rec.format_ts(dt) == s


@pytest.mark.parametrize(
    ("fn", "raw", "reason"),
    [
        (rec.candidate_row, {"firstName": "A"}, "candidate: missing or empty 'id'"),
        (rec.candidate_row, ["not", "an", "object"], "candidate: expected a JSON object"),
        (rec.job_row, {"id": ""}, "job: missing or empty 'id'"),
        (rec.offer_row, {"id": None}, "offer: missing or empty 'id'"),
        (rec.audit_row, {"id": "1"}, "audit event: missing 'eventDate'"),
        (rec.assignment_row.__get__("c1"), {"status": "NEW"}, "assignment: missing 'job' object"),
    ],
)
def test_unusable_records_say_why(fn: object, raw: object, reason: str) -> None:
    with pytest.raises(rec.Invalid, match=reason.replace("(", r"\(")):
        fn(raw)  # type: ignore[operator]


def test_unknown_fields_and_odd_values_are_kept_in_raw() -> None:
    raw = {"id": "c1", "updatedOn": "garbage", "newField": {"x": 1}, "internal": "maybe"}
    row = rec.candidate_row(raw)
    assert row["updated_on"] is None and row["internal"] is None
    assert row["raw"]["newField"] == {"x": 1}


def test_offer_ids_come_from_action_urls() -> None:
    raw = {
        "id": "o1",
        "status": "CREATED",
        "actions": {
            "details": {"url": "http://h/candidates/c9/jobs/j3/offers/o1", "method": "GET"}
        },
    }
    row = rec.offer_row(raw)
    assert (row["candidate_id"], row["job_id"]) == ("c9", "j3")


def test_assignments_cover_primary_and_secondary() -> None:
    raw = {
        "id": "c1",
        "primaryAssignment": {"job": {"id": "j2"}, "status": "NEW"},
        "secondaryAssignments": [{"job": {"id": "j1"}, "status": "REJECTED", "subStatus": "x"}],
    }
    rows = [rec.assignment_row("c1", a) for a in rec.assignments(raw)]
    assert [(r["job_id"], r["status"], r["sub_status"]) for r in rows] == [
        ("j2", "NEW", None),
        ("j1", "REJECTED", "x"),
    ]
