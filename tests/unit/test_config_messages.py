"""Messages a new user meets: each names the setting to change (the tenant's own variable with
``[tenants]``), and none carries pydantic's wording or class names."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli import main
from syncd.config import ConfigError, load_settings

TENANTS = """
[tenants.acme_eu.smartrecruiters]
rate_limit = 5

[tenants.nocred.smartrecruiters]
rate_limit = 5
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("SYNCD_"):
            monkeypatch.delenv(name)


@pytest.fixture
def tenants(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "mt.toml"
    path.write_text(TENANTS)
    monkeypatch.setenv("SYNCD_CONFIG", str(path))
    monkeypatch.setenv("SYNCD_DATABASE_URL", f"sqlite:///{tmp_path / 'mirror.db'}")
    return path


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


@pytest.mark.parametrize("args", [["sync", "--once"], ["api", "check"], ["refresh", "jobs", "1"]])
def test_a_tenant_without_credentials_names_its_own_variables(
    tenants: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("SYNCD_TENANT", "nocred")
    code, out = _run(*args)
    assert code == 2, out
    assert out.strip().endswith(
        "no SmartRecruiters credentials for tenant nocred: set "
        "SYNCD_TENANTS__NOCRED__SMARTRECRUITERS__API_KEY, or "
        "SYNCD_TENANTS__NOCRED__SMARTRECRUITERS__CLIENT_ID and "
        "SYNCD_TENANTS__NOCRED__SMARTRECRUITERS__CLIENT_SECRET"
    ), out


def test_without_tenants_the_credentials_message_names_the_top_level_variables() -> None:
    assert load_settings().select_tenant().missing_credentials() == (
        "no SmartRecruiters credentials: set SYNCD_SMARTRECRUITERS__API_KEY, or "
        "SYNCD_SMARTRECRUITERS__CLIENT_ID and SYNCD_SMARTRECRUITERS__CLIENT_SECRET"
    )


def test_a_half_oauth_pair_from_the_environment_names_the_variable(
    tenants: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_TENANTS__ACME_EU__SMARTRECRUITERS__CLIENT_ID", "x")
    with pytest.raises(ConfigError) as err:
        load_settings()
    msg = str(err.value)
    assert "SYNCD_TENANTS__ACME_EU__SMARTRECRUITERS__CLIENT_ID: client_id and client_secret" in msg
    assert "SYNCD_CONFIG" not in msg


def test_a_tenant_without_callback_url_names_its_variable_and_path(
    tenants: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCD_TENANT", "acme_eu")
    monkeypatch.setenv("SYNCD_TENANTS__ACME_EU__SMARTRECRUITERS__API_KEY", "k")
    code, out = _run("webhooks", "subscribe")
    assert code == 2, out
    assert (
        "no callback URL: set SYNCD_TENANTS__ACME_EU__WEBHOOKS__CALLBACK_URL to the public URL "
        "of the daemon's /webhooks/smartrecruiters/acme_eu endpoint"
    ) in out


def test_migrate_needs_no_tenant_status_shows_each_and_quarantine_asks_for_one(
    tenants: Path,
) -> None:
    code, out = _run("migrate")
    assert code == 0 and "-> " in out, out
    code, out = _run("status")
    assert code == 0, out
    assert "== tenant acme_eu ==" in out and "== tenant nocred ==" in out
    code, out = _run("quarantine")
    assert code == 2, out
    assert (
        "SYNCD_TENANT: not set, and several tenants are configured (acme_eu, nocred); set "
        "SYNCD_TENANT to the one this command acts on"
    ) in out


@pytest.mark.parametrize(
    ("host", "variable"), [("999.1.1.1", "SYNCD_HTTP__HOST"), ("8.8.8.8", "SYNCD_HTTP__HOST")]
)
def test_an_address_that_cannot_be_bound_names_the_host(host: str, variable: str) -> None:
    from syncd.daemon.http import bind

    with pytest.raises(ConfigError) as err:
        bind(host, 0)
    assert str(err.value).startswith(f"{variable}: cannot listen on {host}:0"), err.value
    assert "free port" not in str(err.value)


def test_a_port_in_use_names_the_port() -> None:
    from syncd.daemon.http import bind

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ConfigError) as err:
            bind("127.0.0.1", port)
    finally:
        taken.close()
    assert str(err.value).startswith(f"SYNCD_HTTP__PORT: cannot listen on 127.0.0.1:{port}")
    assert "choose a free port" in str(err.value)


def test_a_bad_sink_value_has_no_pydantic_prefix() -> None:
    from syncd.sinks.base import SinkError
    from syncd.sinks.config import build_sink

    with pytest.raises(SinkError) as err:
        build_sink("hr", {"type": "webhook", "url": "hr.example.com/hooks"})
    assert "sinks.hr.url: must start with http:// or https://" in str(err.value)
    assert "Value error" not in str(err.value)


@pytest.mark.parametrize(
    ("variable", "table"),
    [
        ("SYNCD_TENANTS__ACME", "[tenants.acme.smartrecruiters]"),
        ("SYNCD_TENANTS__ACME__SMARTRECRUITERS", "[tenants.acme.smartrecruiters]"),
    ],
)
def test_a_tenant_that_is_no_table_says_so(
    monkeypatch: pytest.MonkeyPatch, variable: str, table: str
) -> None:
    monkeypatch.setenv(variable, "3")
    with pytest.raises(ConfigError) as err:
        load_settings()
    msg = str(err.value)
    assert f"{variable}: must be a table of settings (e.g. {table})" in msg
    assert "Settings" not in msg and "dictionary" not in msg


def test_a_tenant_table_in_the_file_that_is_no_table_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[tenants.acme]\nsmartrecruiters = "x"\n')
    monkeypatch.setenv("SYNCD_CONFIG", str(path))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert (
        "[tenants.acme] smartrecruiters: must be a table of settings "
        "(e.g. [tenants.acme.smartrecruiters])"
    ) in str(err.value)


@pytest.mark.parametrize(
    "variable",
    [
        "SYNCD_SCHEDULE__POLL_INTERVAL_SECONDS",
        "SYNCD_SCHEDULE__STOP_GRACE_SECONDS",
        "SYNCD_SMARTRECRUITERS__TIMEOUT",
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT",
        "SYNCD_SYNC__LAG_WINDOW_SECONDS",
        "SYNCD_WEBHOOKS__TOLERANCE_SECONDS",
        "SYNCD_MIGRATE_WAIT_SECONDS",
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_number_setting_that_is_not_finite_says_a_finite_number_is_expected(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        f"invalid settings:\n  {variable}: must be a finite number (not nan or inf) (got {value!r})"
    )


@pytest.mark.parametrize("key", ["timeout", "retry_initial_seconds", "retry_max_seconds"])
def test_a_sink_number_that_is_not_finite_says_a_finite_number_is_expected(key: str) -> None:
    from syncd.sinks.base import SinkError
    from syncd.sinks.config import build_sink

    table = {"type": "webhook", "url": "http://127.0.0.1:9/hooks", key: float("nan")}
    with pytest.raises(SinkError) as err:
        build_sink("hr", table)
    assert f"sinks.hr.{key}: must be a finite number (not nan or inf) (got nan)" in str(err.value)
