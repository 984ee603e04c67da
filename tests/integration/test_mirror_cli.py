"""``syncd backfill`` / ``syncd sync --once`` over real HTTP: a refused credential ends with a
clear message, a non-zero exit and nothing written; a good one fills the mirror."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from syncd.cli import main
from syncd.mirror import schema as s
from syncd.mirror.db import make_engine
from syncd.sandbox.runner import ThreadServer
from tests.conftest import TOKEN


def test_refused_credentials_and_a_real_run(open_sandbox: ThreadServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    env = {
        "SYNCD_DATABASE_URL": url,
        "SYNCD_SMARTRECRUITERS__BASE_URL": open_sandbox.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": "wrong-key-s3cr3t",
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000",
    }
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0
    r = CliRunner().invoke(main, ["backfill"], env=env)
    assert r.exit_code == 3, r.output
    assert "refused the credentials" in r.output and "wrong-key-s3cr3t" not in r.output
    db = make_engine(url)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.jobs)).scalar_one() == 0
    r = CliRunner().invoke(main, ["backfill"], env={**env, "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN})
    assert r.exit_code == 0, r.output
    assert "API calls" in r.output
    r = CliRunner().invoke(
        main, ["sync", "--once"], env={**env, "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN}
    )
    assert r.exit_code == 0, r.output
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.candidates)).scalar_one() == 300
        runs = [
            (r.mode, r.status) for r in conn.execute(select(s.sync_runs).order_by(s.sync_runs.c.id))
        ]
    # The refused credential left no run and no checkpoint (issue 13, row 7); then a backfill
    # and a pass.
    assert runs == [("backfill", "ok")] * 4 + [("incremental", "ok")] * 4
    db.dispose()
