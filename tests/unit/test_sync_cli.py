"""The mirror's commands refuse clearly, before any work, when the schema or settings are wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k in ("SYNCD_SMARTRECRUITERS__API_KEY", "SYNCD_CONFIG"):
        monkeypatch.delenv(k, raising=False)
    return {
        "SYNCD_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
        "SYNCD_SMARTRECRUITERS__BASE_URL": "http://127.0.0.1:9",
    }


def test_migrate_then_again(env: dict[str, str]) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from syncd.mirror.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    r = CliRunner().invoke(main, ["migrate"], env=env)
    assert r.exit_code == 0 and f"schema empty -> {head}" in r.output
    r = CliRunner().invoke(main, ["migrate"], env=env)
    assert r.exit_code == 0 and f"already at {head}" in r.output


def test_backfill_on_an_unmigrated_database_says_to_migrate(env: dict[str, str]) -> None:
    r = CliRunner().invoke(
        main, ["backfill"], env={**env, "SYNCD_SMARTRECRUITERS__API_KEY": "k-secret-123"}
    )
    assert r.exit_code == 2
    assert "run `syncd migrate` first" in r.output
    assert "k-secret-123" not in r.output


def test_missing_credentials_stop_before_any_work(env: dict[str, str]) -> None:
    CliRunner().invoke(main, ["migrate"], env=env)
    r = CliRunner().invoke(main, ["sync", "--once"], env=env)
    assert r.exit_code == 2
    assert "SYNCD_SMARTRECRUITERS__API_KEY" in r.output


def test_bad_options_name_the_field(env: dict[str, str]) -> None:
    r = CliRunner().invoke(main, ["backfill", "--since", "last tuesday"], env=env)
    assert r.exit_code == 2 and "--since" in r.output and "ISO 8601" in r.output
    r = CliRunner().invoke(main, ["backfill", "--resources", "jobs,widgets"], env=env)
    assert r.exit_code == 2 and "unknown resource 'widgets'" in r.output


def test_bad_setting_names_the_variable(env: dict[str, str]) -> None:
    r = CliRunner().invoke(
        main, ["sync", "--once"], env={**env, "SYNCD_SYNC__LAG_WINDOW_SECONDS": "-1"}
    )
    assert r.exit_code == 2 and "SYNCD_SYNC__LAG_WINDOW_SECONDS" in r.output


def test_reading_commands_name_an_unreachable_database_without_its_password(
    env: dict[str, str],
) -> None:
    url = "postgresql://reader:pw-s3cret@127.0.0.1:9/mirror"
    for args in (["status"], ["quarantine"], ["report", "time_to_hire"]):
        r = CliRunner().invoke(main, args, env={**env, "SYNCD_DATABASE_URL": url})
        assert r.exit_code == 1, r.output
        assert "cannot read the mirror postgresql+psycopg://reader:***@127.0.0.1:9/mirror" in (
            r.output
        )
        assert "SYNCD_DATABASE_URL" in r.output and "pw-s3cret" not in r.output


def test_reading_commands_on_an_unmigrated_database_say_to_migrate(env: dict[str, str]) -> None:
    for args in (["status"], ["quarantine"], ["report", "time_to_hire"]):
        r = CliRunner().invoke(main, args, env=env)
        assert r.exit_code == 2 and "run `syncd migrate` first" in r.output, r.output
