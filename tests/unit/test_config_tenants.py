"""[tenants.NAME] tables: inheritance from the top-level settings, the tenant a one-shot command
acts on, and errors that name the exact variable or key."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("SYNCD_"):
            monkeypatch.delenv(name)


def _config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, body: str) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(body)
    monkeypatch.setenv("SYNCD_CONFIG", str(path))
    return path


TWO = """
[smartrecruiters]
api_key = "top-key"
rate_limit = 5
max_concurrency = 3

[sinks.hr]
type = "webhook"

[tenants.acme.smartrecruiters]
api_key = "acme-key"
rate_limit = 2

[tenants.beta.smartrecruiters]
client_id = "beta-client"
client_secret = "beta-secret"
base_url = "http://127.0.0.1:8011/"

[tenants.beta.sinks.files]
type = "files"

[tenants.beta.webhooks]
callback_url = "https://syncd.example.com/webhooks/smartrecruiters/beta"
"""


def test_each_tenant_inherits_what_it_leaves_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _config(monkeypatch, tmp_path, TWO)
    monkeypatch.setenv("SYNCD_WEBHOOKS__TOLERANCE_SECONDS", "60")
    s = load_settings()
    assert s.tenant_names() == ["acme", "beta"]
    acme, beta = s.for_tenant("acme"), s.for_tenant("beta")
    assert acme.tenant == "acme" and beta.tenant == "beta"
    assert acme.smartrecruiters.api_key is not None
    assert acme.smartrecruiters.api_key.get_secret_value() == "acme-key"
    assert (acme.smartrecruiters.rate_limit, acme.smartrecruiters.max_concurrency) == (2.0, 3)
    assert acme.smartrecruiters.base_url == "https://api.smartrecruiters.com"
    # A tenant that sets a credential inherits none: no top-level API key beside its OAuth pair.
    assert beta.smartrecruiters.api_key is None
    assert beta.smartrecruiters.client_id == "beta-client"
    assert (beta.smartrecruiters.rate_limit, beta.smartrecruiters.base_url) == (
        5.0,
        "http://127.0.0.1:8011",
    )
    assert list(acme.sinks) == ["hr"] and list(beta.sinks) == ["files"]
    assert acme.webhooks.callback_url is None
    assert beta.webhooks.callback_url == "https://syncd.example.com/webhooks/smartrecruiters/beta"
    assert beta.webhooks.tolerance_seconds == 60.0  # inherited from [webhooks]
    assert acme.tenants == {} and beta.tenants == {}


def test_tenants_from_the_environment_and_secret_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = tmp_path / "key"
    key.write_text("gamma-key\n")
    monkeypatch.setenv("SYNCD_TENANTS__GAMMA__SMARTRECRUITERS__API_KEY_FILE", str(key))
    monkeypatch.setenv("SYNCD_TENANTS__GAMMA__SMARTRECRUITERS__RATE_LIMIT", "7")
    monkeypatch.setenv("SYNCD_TENANTS__DELTA__SMARTRECRUITERS__API_KEY", "delta-key")
    s = load_settings()
    assert s.tenant_names() == ["delta", "gamma"]
    gamma = s.for_tenant("gamma").smartrecruiters
    assert gamma.api_key is not None and gamma.api_key.get_secret_value() == "gamma-key"
    assert gamma.rate_limit == 7.0


def test_without_tenants_the_single_tenant_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_TENANT", "t1")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__API_KEY", "k")
    s = load_settings()
    assert s.tenant_names() == ["t1"]
    assert s.select_tenant() is s and s.for_tenant("t1") is s


def test_a_one_shot_command_acts_on_the_selected_tenant(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _config(monkeypatch, tmp_path, TWO)
    monkeypatch.setenv("SYNCD_TENANT", "beta")
    chosen = load_settings().select_tenant()
    assert chosen.tenant == "beta" and chosen.smartrecruiters.client_id == "beta-client"
    monkeypatch.setenv("SYNCD_TENANT", "zeta")
    with pytest.raises(ConfigError) as err:
        load_settings().select_tenant()
    assert str(err.value) == (
        "SYNCD_TENANT: 'zeta' is not one of the configured tenants (acme, beta); "
        "set SYNCD_TENANT to one of them"
    )
    monkeypatch.delenv("SYNCD_TENANT")
    with pytest.raises(
        ConfigError,
        match=r"SYNCD_TENANT: not set, and several tenants are configured \(acme, beta\)",
    ):
        load_settings().select_tenant()


def test_one_configured_tenant_needs_no_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_TENANTS__SOLO__SMARTRECRUITERS__API_KEY", "k")
    assert load_settings().select_tenant().tenant == "solo"


def test_bad_tenant_settings_name_the_variable_or_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _config(
        monkeypatch, tmp_path, '[tenants.acme.smartrecruiters]\napi_key = "k"\nrate_limt = 3\n'
    )
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert (
        f"SYNCD_CONFIG ({path}): [tenants.acme.smartrecruiters] rate_limt: unknown key; "
        "did you mean rate_limit?" in str(err.value)
    )
    _config(monkeypatch, tmp_path, "[tenants.acme]\nsmartrecruiter = {}\n")
    with pytest.raises(ConfigError, match=r"\[tenants.acme\] smartrecruiter: unknown key; did you"):
        load_settings()
    monkeypatch.delenv("SYNCD_CONFIG")
    monkeypatch.setenv("SYNCD_TENANTS__ACME__SMARTRECRUITERS__RATE_LIMIT", "fast")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "SYNCD_TENANTS__ACME__SMARTRECRUITERS__RATE_LIMIT: Input should be a valid number" in (
        str(err.value)
    )
    monkeypatch.delenv("SYNCD_TENANTS__ACME__SMARTRECRUITERS__RATE_LIMIT")
    monkeypatch.setenv("SYNCD_TENANTS__ACME__SMARTRECRUITER__API_KEY", "secret-value")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert (
        "SYNCD_TENANTS__ACME__SMARTRECRUITER__API_KEY: unknown setting; did you mean "
        "SYNCD_TENANTS__ACME__SMARTRECRUITERS__API_KEY?" in str(err.value)
    )
    assert "secret-value" not in str(err.value)


def test_a_bad_tenant_name_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _config(monkeypatch, tmp_path, '[tenants."Acme EU".smartrecruiters]\napi_key = "k"\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        f"invalid settings:\n  SYNCD_CONFIG ({path}): tenants: tenant name 'Acme EU' must be 1 "
        "to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit "
        "(e.g. [tenants.acme_eu])"
    )


def test_a_tenant_credential_with_a_line_break_names_the_tenant_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _config(monkeypatch, tmp_path, TWO)
    monkeypatch.setenv("SYNCD_TENANTS__ACME__SMARTRECRUITERS__API_KEY", "T1\nX")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "SYNCD_TENANTS__ACME__SMARTRECRUITERS__API_KEY: holds a line break" in str(err.value)
    assert "T1" not in str(err.value)


def test_a_refused_credential_names_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The fix for a refused credential names the variable when the environment gave it, else
    the configuration file's table (where api_key or api_key_file put it)."""
    key = tmp_path / "acme.key"
    key.write_text("acme-file-key\n")
    body = TWO.replace('api_key = "acme-key"', f'api_key_file = "{key}"')
    _config(monkeypatch, tmp_path, body)
    s = load_settings()
    acme, beta = s.for_tenant("acme"), s.for_tenant("beta")
    assert acme.smartrecruiters.api_key is not None
    assert acme.credential_variables() == (
        "api_key (or api_key_file) of [tenants.acme.smartrecruiters] in SYNCD_CONFIG, "
        "or set SYNCD_TENANTS__ACME__SMARTRECRUITERS__API_KEY"
    )
    assert beta.credential_variables() == (
        "client_id and client_secret (or client_secret_file) of [tenants.beta.smartrecruiters] "
        "in SYNCD_CONFIG, or set SYNCD_TENANTS__BETA__SMARTRECRUITERS__CLIENT_ID and "
        "SYNCD_TENANTS__BETA__SMARTRECRUITERS__CLIENT_SECRET"
    )
    monkeypatch.setenv("SYNCD_TENANTS__ACME__SMARTRECRUITERS__API_KEY", "from-env")
    assert load_settings().for_tenant("acme").credential_variables() == (
        "SYNCD_TENANTS__ACME__SMARTRECRUITERS__API_KEY"
    )
