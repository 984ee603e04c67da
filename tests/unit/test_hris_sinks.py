"""Pure parts of the HRIS sinks: vendor answers to outcomes (with the vendor's own message),
where the secret comes from (and that it never shows), the default mappings (shipped in the
package, the same as config/mappings/, valid against the new-hire record), the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from syncd.delivery.mapping import load_mapping
from syncd.sinks import bamboohr, personio
from syncd.sinks.base import SinkError
from syncd.sinks.config import build_sink
from syncd.sinks.hris import MAPPINGS, present, refused, secret_from
from syncd.sinks.registry import sink_class

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        *[(400, "rejected"), (409, "rejected"), (422, "rejected"), (401, "auth"), (403, "auth")],
        *[(408, "retry"), (429, "retry"), (500, "retry"), (503, "retry")],
    ],
)
def test_answers_to_outcomes(code: int, kind: str) -> None:
    r = httpx.Response(code, headers={"Retry-After": "3"})
    o = refused(r, "msg")
    assert (o.kind, o.status_code) == (kind, code)
    if kind == "retry":
        assert o.retry_after == 3.0
    if kind == "rejected":
        assert o.reason == "msg"


def test_vendor_messages() -> None:
    header = httpx.Response(409, headers={"X-BambooHR-Error-Message": "Invalid value"})
    assert bamboohr.message(header) == "Invalid value"
    problem = httpx.Response(422, json={"title": "Validation failed", "detail": "bad filter"})
    assert bamboohr.message(problem) == "bad filter"
    v1 = httpx.Response(422, json={"success": False, "error": {"code": 422, "message": "x"}})
    assert personio.message(v1) == "x"
    assert personio.message(httpx.Response(502, text="Bad gateway")) == "Bad gateway"


def test_bamboohr_refusal_from_another_server_is_not_a_wrong_key() -> None:
    assert bamboohr.is_bamboohr(httpx.Response(401, headers={"WWW-Authenticate": "Basic a"}))
    assert not bamboohr.is_bamboohr(httpx.Response(401, headers={"WWW-Authenticate": "Bearer"}))
    assert bamboohr.quoted("O'Neil") == "'O''Neil'"


def test_secret_from_exactly_one_place(tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_text("file-secret\n")
    assert secret_from("hr", "api_key", common=None, file=f, value=None).get_secret_value() == (
        "file-secret"
    )
    env = SecretStr("env-secret")
    assert secret_from("hr", "api_key", common=None, file=None, value=env).get_secret_value() == (
        "env-secret"
    )
    with pytest.raises(SinkError, match="SYNCD_SINKS__HR__API_KEY") as none:
        secret_from("hr", "api_key", common=None, file=None, value=None)
    with pytest.raises(SinkError, match="api_key_file and api_key: give") as two:
        secret_from("hr", "api_key", common=None, file=f, value=env)
    with pytest.raises(SinkError, match="cannot read") as unreadable:
        secret_from("hr", "api_key", common=None, file=tmp_path / "nope", value=None)
    for exc in (none, two, unreadable):
        assert "file-secret" not in str(exc.value) and "env-secret" not in str(exc.value)


def test_settings_errors_name_the_key_and_hide_the_secret(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match=r"sinks\.hr\.client_id: required"):
        build_sink("hr", {"type": "personio", "client_secret": "s3cret-value"})
    with pytest.raises(SinkError) as bad:
        build_sink("hr", {"type": "bamboohr", "base_url": "ftp://x", "api_key": "s3cret-value"})
    assert "sinks.hr.base_url: must start with http" in str(bad.value)
    with pytest.raises(SinkError) as typo:
        build_sink("hr", {"type": "bamboohr", "base_url": "https://a", "api_kye": "s3cret-value"})
    assert "sinks.hr.api_kye: unknown setting" in str(typo.value)
    for exc in (bad, typo):
        assert "s3cret-value" not in str(exc.value)
    _, sink = build_sink(
        "hr", {"type": "bamboohr", "base_url": "https://acme.bamboohr.com/", "api_key": "key-zz9"}
    )
    assert sink.settings.base_url == "https://acme.bamboohr.com"  # type: ignore[attr-defined]
    assert "key-zz9" not in repr(sink.settings)


@pytest.mark.parametrize("name", ["bamboohr", "personio"])
def test_default_mappings_ship_and_match_config(name: str) -> None:
    shipped = MAPPINGS / f"{name}.toml"
    assert shipped.read_text() == (ROOT / "config" / "mappings" / f"{name}.toml").read_text()
    cls = sink_class(name)
    assert cls.default_mapping == shipped
    m = load_mapping(shipped, targets=cls.fields)
    record: dict[str, Any] = {
        "external_key": "sr-1",
        "candidate": {"first_name": "Ada", "last_name": "L", "email": "a@x.org"},
        "job": {"title": "Engineer", "department": "Engineering", "location": {"city": None}},
        "offer": {"start_date": "2027-01-04"},
    }
    out = present(m.apply(record))
    if name == "bamboohr":
        assert out == {
            "employeeNumber": "sr-1",
            "firstName": "Ada",
            "lastName": "L",
            "workEmail": "a@x.org",
            "hireDate": "2027-01-04",
            "jobTitle": "Engineer",
            "department": "Engineering",
        }
    else:
        assert out == {
            "email": "a@x.org",
            "first_name": "Ada",
            "last_name": "L",
            "hire_date": "2027-01-04",
            "position": "Engineer",
            "department": "Engineering",
        }
