"""The new-hire record against its JSON Schema, and mapping files: applied values, and errors
that name the file and the line."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from syncd.delivery.mapping import MappingError, load_mapping, load_schema
from syncd.mirror.hires import assemble

ROOT = Path(__file__).resolve().parents[2]


def record(**over: Any) -> dict[str, Any]:
    app = {
        "candidate_id": "c1",
        "job_id": "j1",
        "application_id": "a1",
        "status": "HIRED",
        "sub_status": None,
        "source": "LinkedIn",
        "source_id": "s1",
        "source_type_id": "st1",
        "onboarding_status": None,
        "starts_on": datetime(2027, 1, 4),
        "created_on": datetime(2026, 10, 1, 9, 30),
        "raw": {},
    }
    cand = {
        "id": "c1",
        "first_name": "Ada",
        "last_name": "Example",
        "email": "ada@example.com",
        "city": "Berlin",
        "country_code": "de",
        "internal": False,
        "raw": {"phoneNumber": "+15550000000", "location": {"regionCode": "BE"}},
    }
    job = {
        "id": "j1",
        "title": "Engineer",
        "ref_number": "REF-1",
        "department": "Engineering",
        "department_id": "d1",
        "city": "Berlin",
        "country_code": "de",
        "remote": False,
        "raw": {},
    }
    offer = {
        "id": "o1",
        "status": "ACCEPTED",
        "raw": {"properties": {"salary": "60000", "currency": "EUR", "car": "no"}},
    }
    return assemble(
        over.get("app", app), cand, job, over.get("offer", offer), datetime(2026, 11, 2, 8)
    )


def validator() -> jsonschema.Draft202012Validator:
    schema = load_schema("new_hire.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_record_is_valid_and_carries_every_id() -> None:
    r = record()
    validator().validate(r)
    assert r["external_key"] == "sr-a1"
    assert r["ids"] == {
        "candidate_id": "c1",
        "job_id": "j1",
        "application_id": "a1",
        "offer_id": "o1",
        "department_id": "d1",
        "source_id": "s1",
        "source_type_id": "st1",
    }
    assert r["candidate"]["phone"] == "+15550000000"
    assert r["offer"]["start_date"] == "2027-01-04"
    assert r["offer"]["compensation"] == {"salary": "60000", "currency": "EUR"}
    assert r["application"]["hired_on"] == "2026-11-02T08:00:00.000Z"
    # Without an offer the record is still valid.
    validator().validate(record(offer=None))


def test_schema_rejects_a_record_missing_a_field() -> None:
    r = record()
    del r["candidate"]["email"]
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(r)


def test_shipped_mapping_applies() -> None:
    m = load_mapping(ROOT / "config" / "mappings" / "hr.toml")
    out = m.apply(record())
    assert out["employeeNumber"] == "sr-a1"
    assert out["department"] == "17"
    assert out["hireDate"] == "2027-01-04"
    assert out["payRate"] == "60000"
    assert out["source"] == "SmartRecruiters"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.toml"
    p.write_text(text)
    return p


def test_maps_defaults_dates_and_nesting(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[fields]\n"employee.first" = "candidate.first_name"\n'
        'dept = { path = "job.department", map = "d", default = "none" }\n'
        'start = { path = "application.hired_on", date_format = "%d/%m/%Y" }\n'
        "[maps.d]\nSales = 1\n",
    )
    out = load_mapping(p).apply(record())
    assert out == {"employee": {"first": "Ada"}, "dept": "none", "start": "02/11/2026"}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[fields]\na = "candidate.first_name"\nb = "candidate.phon"\n', 3, "candidate.phon"),
        ('[fields]\n\nb = { path = "job.title", map = "x" }\n', 3, "[maps.x]"),
        ('[fields]\nb = { path = "job.title", colour = 1 }\n', 2, "colour"),
        ('[fields]\nb = { path = "job.title", date_format = "%Y" }\n', 2, "date paths"),
        ("[fields]\nb = {}\n", 2, "`path`"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(MappingError) as e:
        load_mapping(p)
    assert str(e.value).startswith(f"{p}:{line}: ")
    assert words in str(e.value)


def test_unknown_target_for_the_sink(tmp_path: Path) -> None:
    p = write(tmp_path, '[fields]\nfirstName = "candidate.first_name"\nshoeSize = "job.title"\n')
    with pytest.raises(MappingError, match=r"m\.toml:3: unknown target field 'shoeSize'"):
        load_mapping(p, targets=frozenset({"firstName", "lastName"}))
