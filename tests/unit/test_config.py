"""Settings: environment, TOML, *_FILE secrets, and errors that name the setting."""

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


def test_defaults() -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///syncd.db"
    assert s.smartrecruiters.base_url == "https://api.smartrecruiters.com"
    assert s.smartrecruiters.rate_limit == 10.0
    assert s.sync.lag_window_seconds == 300.0
    assert not s.smartrecruiters.has_credentials


def test_env_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__BASE_URL", "http://127.0.0.1:8011/")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__API_KEY", "k-123")
    monkeypatch.setenv("SYNCD_SYNC__LAG_WINDOW_SECONDS", "60")
    s = load_settings()
    assert s.database_url == "postgresql://x@h/db"
    assert s.smartrecruiters.base_url == "http://127.0.0.1:8011"
    assert s.smartrecruiters.api_key is not None
    assert s.smartrecruiters.api_key.get_secret_value() == "k-123"
    assert "k-123" not in repr(s) and "k-123" not in str(s.model_dump())
    assert s.sync.lag_window_seconds == 60.0


def test_secret_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__CLIENT_ID", "cid")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__CLIENT_SECRET_FILE", str(secret))
    s = load_settings()
    assert s.smartrecruiters.client_secret is not None
    assert s.smartrecruiters.client_secret.get_secret_value() == "from-a-file"


def test_unreadable_secret_file_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__API_KEY_FILE", "/nonexistent/key")
    with pytest.raises(ConfigError, match="SYNCD_SMARTRECRUITERS__API_KEY_FILE"):
        load_settings()


def test_toml_file_and_env_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "syncd.toml"
    toml.write_text(
        'database_url = "sqlite:///from-toml.db"\n'
        "[smartrecruiters]\nrate_limit = 5\n"
        "[sync]\nlag_window_seconds = 120\n"
    )
    monkeypatch.setenv("SYNCD_CONFIG", str(toml))
    monkeypatch.setenv("SYNCD_SYNC__LAG_WINDOW_SECONDS", "30")
    s = load_settings()
    assert s.database_url == "sqlite:///from-toml.db"
    assert s.smartrecruiters.rate_limit == 5.0
    assert s.sync.lag_window_seconds == 30.0  # the environment wins over the file


def test_missing_toml_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_CONFIG", "/nonexistent/syncd.toml")
    with pytest.raises(ConfigError, match="SYNCD_CONFIG: no such file"):
        load_settings()


def test_bad_value_names_setting_and_expectation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__TIMEOUT", "soon")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    msg = str(exc.value)
    assert "SYNCD_SMARTRECRUITERS__TIMEOUT" in msg and "number" in msg and "'soon'" in msg


def test_bad_url_and_half_oauth_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__BASE_URL", "api.smartrecruiters.com")
    with pytest.raises(ConfigError, match=r"SYNCD_SMARTRECRUITERS__BASE_URL.*http"):
        load_settings()
    monkeypatch.delenv("SYNCD_SMARTRECRUITERS__BASE_URL")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__CLIENT_ID", "only-the-id")
    with pytest.raises(ConfigError, match="client_secret"):
        load_settings()


def test_api_key_and_oauth_client_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__API_KEY", "k-123")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__CLIENT_ID", "cid")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__CLIENT_SECRET", "s-456")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    msg = str(exc.value)
    assert msg.endswith(
        "SYNCD_SMARTRECRUITERS__API_KEY, SYNCD_SMARTRECRUITERS__CLIENT_ID, "
        "SYNCD_SMARTRECRUITERS__CLIENT_SECRET: api_key and client_id/client_secret are both set: "
        "syncd uses one "
        "credential, the API key or the OAuth2 client; unset the other"
    )
    assert "k-123" not in msg and "s-456" not in msg


def test_secret_value_never_echoed_in_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = tmp_path / "syncd.toml"
    toml.write_text('[smartrecruiters]\napi_key = 12345\nclient_secret = ["hunter2"]\n')
    monkeypatch.setenv("SYNCD_CONFIG", str(toml))
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert "hunter2" not in str(exc.value) and "12345" not in str(exc.value)
    # A bad value from the file is named by the file and the key it came from.
    assert f"SYNCD_CONFIG ({toml}): [smartrecruiters] client_secret" in str(exc.value)


def test_unknown_setting_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "syncd.toml"
    toml.write_text('databse_url = "typo"\n')
    monkeypatch.setenv("SYNCD_CONFIG", str(toml))
    with pytest.raises(ConfigError, match="databse_url: unknown key; did you mean database_url"):
        load_settings()


def test_a_list_setting_that_is_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_SYNC__INTERVIEW_STATUSES", "INTERVIEW")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "SYNCD_SYNC__INTERVIEW_STATUSES: not valid JSON" in str(err.value)
    assert '["INTERVIEW", "OFFERED"]' in str(err.value)


def test_a_config_file_that_is_not_utf8_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "syncd.toml"
    path.write_bytes(b"# caf\xe9\n")
    monkeypatch.setenv("SYNCD_CONFIG", str(path))
    with pytest.raises(ConfigError, match=r"byte 5 is not UTF-8; save the file as UTF-8"):
        load_settings()


def test_a_sqlite_url_with_two_slashes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", "sqlite://relative.db")
    with pytest.raises(ConfigError, match="a SQLite URL has three slashes"):
        load_settings()


def test_a_sinks_file_variable_reaches_the_sink_as_its_file_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = tmp_path / "key"
    key.write_text("not-echoed\n")
    monkeypatch.setenv("SYNCD_SINKS__HR__API_KEY_FILE", str(key))
    sinks = load_settings().sinks
    assert sinks["hr"] == {"api_key_file": str(key)}  # the sink reads the file itself


@pytest.mark.parametrize(
    "label", ["", "Acme", "acme eu", " acme", "acme\n", "-acme", "a" * 65, "acmé"]
)
def test_a_tenant_label_outside_the_names_rule_is_refused(
    monkeypatch: pytest.MonkeyPatch, label: str
) -> None:
    """SYNCD_TENANT follows the rule of [tenants.NAME] names, with or without [tenants]: one
    line naming the variable and the rule."""
    monkeypatch.setenv("SYNCD_TENANT", label)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        f"SYNCD_TENANT: {label!r} must be 1 to 64 lowercase letters, digits, '.', '_' or '-', "
        "starting with a letter or digit (e.g. default, acme_eu)"
    )


@pytest.mark.parametrize("label", ["default", "acme_eu", "a.b-c", "0", "a" * 64])
def test_a_tenant_label_inside_the_rule_is_taken(
    monkeypatch: pytest.MonkeyPatch, label: str
) -> None:
    monkeypatch.setenv("SYNCD_TENANT", label)
    assert load_settings().tenant == label


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SYNCD_SMARTRECRUITERS__API_KEY", "T1\nsecond-line"),
        ("SYNCD_SMARTRECRUITERS__CLIENT_SECRET", "s3cr\r\net"),
        ("SYNCD_SMARTRECRUITERS__API_KEY", "T1\u00e9"),
    ],
)
def test_a_credential_that_cannot_go_into_a_header_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    if "CLIENT_SECRET" in variable:
        monkeypatch.setenv("SYNCD_SMARTRECRUITERS__CLIENT_ID", "cid")
    with pytest.raises(ConfigError) as err:
        load_settings()
    msg = str(err.value)
    assert f"{variable}: holds a line break" in msg
    assert "second-line" not in msg and "s3cr" not in msg and "T1" not in msg


def test_a_credential_file_of_two_lines_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = tmp_path / "key"
    key.write_text("T1\nsecond-line\n")
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__API_KEY_FILE", str(key))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "SYNCD_SMARTRECRUITERS__API_KEY_FILE: holds a line break" in str(err.value)
    assert "second-line" not in str(err.value)


def test_a_password_with_an_unencoded_at_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", "postgresql://postgres:p@ss@127.0.0.1:5432/x")
    with pytest.raises(ConfigError) as err:
        load_settings()
    msg = str(err.value)
    assert "SYNCD_DATABASE_URL: has more than one '@'" in msg
    assert "percent-encode @ in the password as %40" in msg
    assert "p@ss" not in msg and "ss@127" not in msg


def test_a_database_url_shown_in_messages_hides_all_of_the_password() -> None:
    from syncd.mirror.db import display_url

    shown = display_url("postgresql://postgres:p@ss@127.0.0.1:5432/x")
    assert shown == "postgresql+psycopg://postgres:***@127.0.0.1:5432/x"
    assert display_url("postgresql://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"
    assert display_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert display_url("sqlite:///m.db") == "sqlite:///m.db"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite+pysqlite://"])
def test_an_in_memory_mirror_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", url)
    with pytest.raises(ConfigError, match="SYNCD_DATABASE_URL: a mirror needs a file path"):
        load_settings()


# ---- [smartrecruiters] api_key_file / client_secret_file in the TOML file ----------------------
def _toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, body: str) -> Path:
    toml = tmp_path / "syncd.toml"
    toml.write_text(body)
    monkeypatch.setenv("SYNCD_CONFIG", str(toml))
    return toml


def _key_file(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "content", [b"k-toml\n", b"\xef\xbb\xbfk-toml\r\n", b"\xc2\xa0 k-toml \n\n"]
)
@pytest.mark.parametrize("table", ["smartrecruiters", "tenants.acme.smartrecruiters"])
def test_a_toml_api_key_file_gives_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes, table: str
) -> None:
    """The TOML form of SYNCD_SMARTRECRUITERS__API_KEY_FILE, read by the secret-file reader (a
    BOM and surrounding blanks dropped), top-level and a tenant's."""
    key = _key_file(tmp_path, "key", content)
    _toml(monkeypatch, tmp_path, f'[{table}]\napi_key_file = "{key}"\n')
    s = load_settings().select_tenant()
    assert s.smartrecruiters.api_key is not None
    assert s.smartrecruiters.api_key.get_secret_value() == "k-toml"


def test_a_toml_client_secret_file_gives_the_oauth_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = _key_file(tmp_path, "secret", b"s-toml\n")
    _toml(
        monkeypatch,
        tmp_path,
        f'[smartrecruiters]\nclient_id = "cid"\nclient_secret_file = "{secret}"\n',
    )
    s = load_settings()
    assert s.smartrecruiters.client_secret is not None
    assert s.smartrecruiters.client_secret.get_secret_value() == "s-toml"


@pytest.mark.parametrize("table", ["smartrecruiters", "tenants.acme.smartrecruiters"])
@pytest.mark.parametrize("spelling", ["API_KEY", "API_KEY_FILE"])
def test_the_environment_wins_over_a_toml_api_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, table: str, spelling: str
) -> None:
    """As for the sinks: a key from the environment (the variable or its _FILE) wins, and the
    TOML file's api_key_file is not read (here it names no file at all)."""
    _toml(monkeypatch, tmp_path, f'[{table}]\napi_key_file = "{tmp_path / "gone"}"\n')
    variable = "SYNCD_" + "__".join(table.upper().split(".")) + "__" + spelling
    value = "k-env" if spelling == "API_KEY" else str(_key_file(tmp_path, "env", b"k-env\n"))
    monkeypatch.setenv(variable, value)
    s = load_settings().select_tenant()
    assert s.smartrecruiters.api_key is not None
    assert s.smartrecruiters.api_key.get_secret_value() == "k-env"


@pytest.mark.parametrize("table", ["smartrecruiters", "tenants.acme.smartrecruiters"])
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read '{path}' (No such file or directory); point it at a readable file "
         "holding the SmartRecruiters API key"),
        (b"\n \n", "'{path}' is empty; put the SmartRecruiters API key in it"),
        (b"k-toml\nsecond-line\n", "holds a line break or another control or non-ASCII "
         "character (an invisible one too, such as a zero-width space); put the secret alone "
         "on one line"),
        (b"k-\xe2\x80\x8btoml\n", "holds a line break or another control or non-ASCII "
         "character (an invisible one too, such as a zero-width space); put the secret alone "
         "on one line"),
    ],
)  # fmt: skip
def test_a_bad_toml_api_key_file_is_one_line_naming_the_key(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    table: str,
    content: bytes | None,
    problem: str,
) -> None:
    key = tmp_path / "key"
    if content is not None:
        key.write_bytes(content)
    toml = _toml(monkeypatch, tmp_path, f'[{table}]\napi_key_file = "{key}"\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        f"SYNCD_CONFIG ({toml}): [{table}] api_key_file: " + problem.format(path=key)
    )


def test_a_toml_api_key_and_its_file_in_one_table_are_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = _key_file(tmp_path, "key", b"k-file\n")
    toml = _toml(
        monkeypatch, tmp_path, f'[smartrecruiters]\napi_key = "k-inline"\napi_key_file = "{key}"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        f"SYNCD_CONFIG ({toml}): [smartrecruiters] api_key and api_key_file both give the "
        "SmartRecruiters API key; keep one of them"
    )
    # The environment's key settles it: the file's two spellings are both set aside.
    monkeypatch.setenv("SYNCD_SMARTRECRUITERS__API_KEY", "k-env")
    s = load_settings()
    assert s.smartrecruiters.api_key is not None
    assert s.smartrecruiters.api_key.get_secret_value() == "k-env"


def test_a_misspelt_toml_api_key_file_names_the_closest_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = _toml(monkeypatch, tmp_path, '[smartrecruiters]\napikey_file = "/x"\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        f"invalid settings:\n  SYNCD_CONFIG ({toml}): [smartrecruiters] apikey_file: unknown key; "
        "did you mean api_key_file?"
    )


def test_migrate_wait_seconds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """How long `syncd migrate` waits for another migrate: 120 s unless set, from the TOML file
    or the environment (which wins); a negative or non-numeric value is refused naming it."""
    assert load_settings().migrate_wait_seconds == 120.0
    _toml(monkeypatch, tmp_path, "migrate_wait_seconds = 30\n")
    assert load_settings().migrate_wait_seconds == 30.0
    monkeypatch.setenv("SYNCD_MIGRATE_WAIT_SECONDS", "0")
    assert load_settings().migrate_wait_seconds == 0.0
    monkeypatch.setenv("SYNCD_MIGRATE_WAIT_SECONDS", "-1")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        "invalid settings:\n  SYNCD_MIGRATE_WAIT_SECONDS: Input should be greater than or equal "
        "to 0 (got '-1')"
    )
