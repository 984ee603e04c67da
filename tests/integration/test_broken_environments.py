"""Every ``syncd`` command, fed each broken environment an operator can meet (no database, a
read-only database, an unreachable API, a refused credential, a malformed config file), ends with
a documented exit code and its message, never a traceback, a secret or an SQL parameter.

The commands are read from the CLI itself, so a command added later is fed the same
environments; commands that serve until stopped are listed in ``LONG_RUNNING``."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from sqlalchemy import text

from syncd.cli import main
from syncd.cli_errors import OK, USAGE
from syncd.mirror.db import make_engine, normalize_url
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import TOKEN, sandbox_options
from tests.integration.failure_helpers import (
    DB_PASSWORD,
    SECRET_KEY,
    assert_clean,
    base_env,
    shared_tmp,
    syncd,
)

# Serve or run until stopped: not started here (their own tests cover their errors).
LONG_RUNNING = ("serve", "demo")

# Arguments a command needs to get past its usage check.
ARGS: dict[str, list[str]] = {
    "sync": ["--once"],
    "report": ["time_to_hire"],
    "refresh": ["jobs", "no-such-job"],
    "deliveries retry": ["--dead"],
    "deliveries skip": ["1", "--reason", "handled by hand"],
    "sinks check": ["hr"],
    "push": ["--once"],
    "api get": ["/jobs"],
    "api post": ["/jobs/nope/notes", "--json", "{}"],
    "api put": ["/jobs/nope/notes", "--json", "{}"],
    "api patch": ["/jobs/nope", "--json", "{}"],
    "api delete": ["/jobs/nope/notes"],
}


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        if any(word in name for word in LONG_RUNNING):
            continue
        if isinstance(cmd, click.Group):
            out += commands(cmd, path)
        else:
            out.append([*path, *ARGS.get(" ".join(path), [])])
    return out


@pytest.fixture(scope="module")
def srv() -> Iterator[ThreadServer]:
    server = serve_in_thread(sandbox_options(candidates=5, jobs=2))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mirror(srv: ThreadServer) -> Iterator[Path]:
    """A migrated, backfilled SQLite mirror in a folder any user can enter."""
    folder = shared_tmp()
    db = folder / "m.db"
    env = base_env(
        SYNCD_DATABASE_URL=f"sqlite:///{db}",
        SYNCD_SMARTRECRUITERS__BASE_URL=srv.base_url,
        SYNCD_SMARTRECRUITERS__API_KEY=TOKEN,
    )
    assert syncd(env, "migrate").code == OK
    assert syncd(env, "backfill").code == OK
    yield db
    shutil.rmtree(folder)


def broken(name: str, srv: ThreadServer, mirror: Path, tmp: Path) -> dict[str, str]:
    good = {
        "SYNCD_DATABASE_URL": f"sqlite:///{mirror}",
        "SYNCD_SMARTRECRUITERS__BASE_URL": srv.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_SMARTRECRUITERS__MAX_RETRIES": "0",
        "HOME": str(mirror.parent),
    }
    if name == "no database":
        good["SYNCD_DATABASE_URL"] = f"sqlite:///{tmp / 'missing' / 'm.db'}"
    elif name == "no postgresql":
        good["SYNCD_DATABASE_URL"] = f"postgresql://syncd:{DB_PASSWORD}@127.0.0.1:9/mirror"
    elif name == "unreachable api":
        good["SYNCD_SMARTRECRUITERS__BASE_URL"] = "http://127.0.0.1:9"
    elif name == "refused credential":
        good["SYNCD_SMARTRECRUITERS__API_KEY"] = SECRET_KEY
    elif name == "malformed config":
        cfg = tmp / "syncd.toml"
        cfg.write_text("[smartrecruiters\n")
        good["SYNCD_CONFIG"] = str(cfg)
    return base_env(**good)


ENVIRONMENTS = [
    "no database",
    "no postgresql",
    "read-only database",
    "unreachable api",
    "refused credential",
    "malformed config",
]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_command_in_a_broken_environment(
    environment: str, srv: ThreadServer, mirror: Path, tmp_path: Path
) -> None:
    env = broken(environment, srv, mirror, tmp_path)
    cmds = commands()
    assert ["backfill"] in cmds and ["api", "check"] in cmds and ["status"] in cmds
    read_only = environment == "read-only database"
    folder = mirror.parent
    try:
        if read_only:
            mirror.chmod(0o444)
            folder.chmod(0o555)
        for args in cmds:
            r = syncd(env, *args, timeout=120, as_user=read_only)
            assert_clean(r)
            if r.code != OK:
                assert r.line.startswith(("syncd", "Error: ")), (args, r.err)
            if environment == "malformed config":
                assert r.code == 2 and "SYNCD_CONFIG (" in r.err, (args, r.err)
            if read_only and args[0] in ("status", "quarantine", "report"):
                assert r.code == OK, (args, r.err)
            if read_only and args[0] in ("backfill", "sync"):
                assert r.code == 6 and "not writable" in r.line, (args, r.err)
            if read_only and args[0] == "migrate":
                # The mirror is at head: nothing to write, no lock taken (docs/daemon.md, "Migrate
                # and the schema every tenant shares").
                assert r.code == OK and "schema already at" in r.out, (args, r.err)
            if environment == "refused credential" and args[0] in ("backfill", "sync", "api"):
                assert r.code == 3, (args, r.err)
    finally:
        folder.chmod(0o755)
        mirror.chmod(0o644)


def test_migrate_into_a_postgresql_schema_that_does_not_exist(postgres_url: str) -> None:
    """A search_path naming a schema never created is a setting to fix (exit 2, the schema and
    the fix named), not a statement to rerun (exit 1); once it exists, migrate creates the
    mirror in it and nowhere else."""
    name = "nope_" + uuid.uuid4().hex[:8]
    url = normalize_url(postgres_url) + f"?options=-csearch_path%3D{name}"
    env = base_env(SYNCD_DATABASE_URL=url)
    r = syncd(env, "migrate", timeout=120)
    assert_clean(r)
    assert r.code == USAGE, r.err
    assert r.line == (
        f"syncd: schema {name} does not exist: create it (CREATE SCHEMA {name}) or fix "
        "search_path in SYNCD_DATABASE_URL"
    )
    eng = make_engine(postgres_url)
    try:
        with eng.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {name}"))
        r = syncd(env, "migrate", timeout=120)
        assert r.code == OK, r.err
        with eng.connect() as conn:
            tables = conn.execute(
                text("SELECT COUNT(*) FROM pg_tables WHERE schemaname = :s"), {"s": name}
            ).scalar_one()
        assert tables > 10
    finally:
        with eng.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        eng.dispose()
