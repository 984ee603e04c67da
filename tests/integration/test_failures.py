"""Issue 13: every failure an operator can meet ends in one clear line with a documented exit code,
never a traceback, never personal data, a secret or an SQL parameter. One test per row of the
issue's "Seen" list, each with real ``syncd`` subprocesses, real files and databases."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, text, update
from sqlalchemy import select as sql_select

from syncd.cli_errors import DATABASE, FAILED, OK, PIPE_CLOSED, REFUSED, USAGE
from syncd.mirror import schema as s
from syncd.mirror.db import head_revision, make_engine
from syncd.mirror.store import utcnow
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import CLIENT_ID, ROOT, TOKEN, sandbox_options
from tests.integration.failure_helpers import (
    DB_PASSWORD,
    ISO_Z,
    SECRET_KEY,
    assert_clean,
    base_env,
    personal_data,
    shared_tmp,
    syncd,
)

TENANT = "t1"


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=40, jobs=6, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def env_for(srv: ThreadServer, url: str, **more: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        "SYNCD_DATABASE_URL": url,
        "SYNCD_TENANT": TENANT,
        "SYNCD_SMARTRECRUITERS__BASE_URL": srv.base_url,
        "SYNCD_SMARTRECRUITERS__API_KEY": TOKEN,
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT": "1000",
    }
    values.update(more)
    env = base_env(**values)
    for name, value in more.items():
        if value is None:
            env.pop(name, None)
    return env


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'm.db'}"


# ---- 1. a database error prints no personal data ---------------------------------------------
def test_row01_database_error_prints_no_personal_data(tenant: ThreadServer, db_url: str) -> None:
    env = env_for(tenant, db_url, SYNCD_LOG_LEVEL="debug", SYNCD_LOG_FORMAT="json")
    assert syncd(env, "migrate").code == OK
    db = make_engine(db_url)
    with db.begin() as conn:
        if db.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON candidates "
                "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
            )
        else:
            # PostgreSQL's DETAIL quotes row values, as its constraint errors do.
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION "
                "'refused by a test trigger' USING DETAIL = 'Failing row contains ' || "
                "NEW.first_name || ' ' || NEW.last_name || ' ' || COALESCE(NEW.email, ''); "
                "END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON candidates "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
    r = syncd(env, "backfill")
    pii = personal_data(tenant)
    assert_clean(r, forbidden=pii)
    # The pass fails cleanly (or, where the engine quarantines per record, goes on): never a
    # statement, its parameters or the row's values.
    assert r.code in (OK, FAILED), r.err
    if r.code == FAILED:
        assert r.line.startswith("syncd: the mirror database refused a statement (")
        assert "refused by a test trigger" in r.line
    with db.connect() as conn:
        errors = [e for (e,) in conn.execute(sql_select(s.sync_runs.c.error_message)) if e]
    for e in errors:
        assert not any(p in e for p in pii) and "[parameters" not in e, e
    db.dispose()


# ---- 2. malformed TOML --------------------------------------------------------------------------
def test_row02_malformed_toml_names_file_line_and_column(tmp_path: Path) -> None:
    cfg = tmp_path / "syncd.toml"
    cfg.write_text('tenant = "x"\n[smartrecruiters\nrate_limit = 5\n')
    for args in (["sync", "--once"], ["status"], ["api", "check"]):
        r = syncd(base_env(SYNCD_CONFIG=str(cfg)), *args)
        assert_clean(r)
        assert r.code == USAGE
        assert r.err.strip() == (
            f"syncd: SYNCD_CONFIG ({cfg}): line 2, column 17: Expected ']' at the end of a table "
            "declaration; fix the file's TOML syntax"
        )


# ---- 3. unsupported database URLs ---------------------------------------------------------------
@pytest.mark.parametrize("url", [f"mysql://syncd:{DB_PASSWORD}@db/syncd", "foo://bar", "nonsense"])
def test_row03_unsupported_database_url_lists_the_supported_forms(url: str) -> None:
    for args in (["migrate"], ["status"]):
        r = syncd(base_env(SYNCD_DATABASE_URL=url), *args)
        assert_clean(r)
        assert r.code == USAGE
        assert r.err.startswith("syncd: invalid settings:\n  SYNCD_DATABASE_URL: unsupported")
        assert "sqlite:///path/to/mirror.db" in r.err and "postgresql://user:" in r.err


# ---- 4. PostgreSQL unreachable: the same line from every command --------------------------------
def test_row04_unreachable_postgresql_same_line_everywhere() -> None:
    url = f"postgresql://syncd:{DB_PASSWORD}@127.0.0.1:9/mirror"
    env = base_env(SYNCD_DATABASE_URL=url, SYNCD_SMARTRECRUITERS__API_KEY=SECRET_KEY)
    lines = set()
    for args in (
        ["migrate"],
        ["backfill"],
        ["sync", "--once"],
        ["status"],
        ["quarantine"],
        ["report", "time_to_hire"],
    ):
        r = syncd(env, *args)
        assert_clean(r)
        assert r.code == DATABASE, (args, r.err)
        lines.add(r.line)
    assert len(lines) == 1, lines
    (line,) = lines
    assert line.startswith(
        "syncd: cannot connect to the mirror database "
        "postgresql+psycopg://syncd:***@127.0.0.1:9/mirror ("
    )
    assert line.endswith("is the database running and SYNCD_DATABASE_URL right?")


# ---- 5. a read-only SQLite mirror --------------------------------------------------------------
def test_row05_read_only_mirror_reads_and_refuses_writes(tenant: ThreadServer) -> None:
    folder = shared_tmp()
    db_file = folder / "m.db"
    env = env_for(tenant, f"sqlite:///{db_file}", HOME=str(folder))
    assert syncd(env, "backfill").code == USAGE  # not migrated yet
    assert syncd(env, "migrate").code == OK
    assert syncd(env, "backfill").code == OK
    assert sorted(p.name for p in folder.iterdir()) == ["m.db", "m.db.lock"]
    try:
        db_file.chmod(0o444)
        (folder / "m.db.lock").chmod(0o444)
        folder.chmod(0o555)
        for args in (["status"], ["quarantine"], ["report", "time_to_hire"], ["status", "--json"]):
            r = syncd(env, *args, as_user=True)
            assert_clean(r)
            assert r.code == OK, (args, r.err)
        assert json.loads(syncd(env, "status", "--json", as_user=True).out)["resources"]
        # The schema is current: migrate has nothing to write, so it only reads and says so.
        r = syncd(env, "migrate", as_user=True)
        assert_clean(r)
        head = head_revision(make_engine(f"sqlite:///{db_file}", read_only=True))
        assert r.code == OK and r.out.strip().endswith(f"schema already at {head}"), r.err
        for args in (["backfill"], ["sync", "--once"]):
            r = syncd(env, *args, as_user=True)
            assert_clean(r)
            assert r.code == DATABASE, (args, r.err)
            assert r.line == (
                f"syncd: the folder {folder.resolve()} holding the mirror is not writable by "
                "this user; SQLite writes its -wal, -shm and lock files beside the database: "
                "make it writable"
            )
        folder.chmod(0o777)  # the folder writable, the file not
        r = syncd(env, "sync", "--once", as_user=True)
        assert_clean(r)
        assert r.code == DATABASE
        assert r.line == (
            f"syncd: the mirror file {db_file} is not writable by this user: make it writable, "
            "or use a read-only command (status, quarantine, report)"
        )
    finally:
        folder.chmod(0o755)
        db_file.chmod(0o644)
        shutil.rmtree(folder)


# ---- 6. a refused credential exits 3 from every command ----------------------------------------
def test_row06_refused_credential_exits_3_everywhere(tenant: ThreadServer, tmp_path: Path) -> None:
    env = env_for(tenant, sqlite_url(tmp_path), SYNCD_SMARTRECRUITERS__API_KEY=SECRET_KEY)
    assert syncd(env, "migrate").code == OK
    oauth = {
        **env,
        "SYNCD_SMARTRECRUITERS__CLIENT_ID": CLIENT_ID,
        "SYNCD_SMARTRECRUITERS__CLIENT_SECRET": SECRET_KEY,
    }
    del oauth["SYNCD_SMARTRECRUITERS__API_KEY"]
    for e in (env, oauth):
        for args in (["api", "check"], ["api", "get", "/jobs"], ["backfill"], ["sync", "--once"]):
            r = syncd(e, *args)
            assert_clean(r)
            assert r.code == REFUSED, (args, r.err)
            assert "refused" in r.line


# ---- 7. a refused credential writes nothing ----------------------------------------------------
def test_row07_refused_credential_writes_no_run(tenant: ThreadServer, tmp_path: Path) -> None:
    env = env_for(tenant, sqlite_url(tmp_path), SYNCD_SMARTRECRUITERS__API_KEY=SECRET_KEY)
    assert syncd(env, "migrate").code == OK
    for args in (["backfill"], ["sync", "--once"], ["sync", "--once", "--sweep"]):
        assert syncd(env, *args).code == REFUSED
    db = make_engine(sqlite_url(tmp_path))
    with db.connect() as conn:
        for t in (s.sync_runs, s.sync_state, s.changes):
            assert conn.execute(sql_select(func.count()).select_from(t)).scalar_one() == 0, t
    db.dispose()
    r = syncd(env, "status")
    assert r.code == OK and "no pass has run yet" in r.out


# ---- 8. JSON log times -------------------------------------------------------------------------
def test_row08_json_logs_show_iso_times_with_z(tenant: ThreadServer, tmp_path: Path) -> None:
    env = env_for(tenant, sqlite_url(tmp_path), SYNCD_LOG_FORMAT="json")
    assert syncd(env, "migrate").code == OK
    assert syncd(env, "backfill").code == OK
    r = syncd(env, "sync", "--once")
    assert r.code == OK
    assert_clean(r, forbidden=personal_data(tenant))
    events = [json.loads(line) for line in r.err.splitlines() if line.startswith("{")]
    started = [e for e in events if e["event"] == "pass_started"]
    assert len(started) == 4
    for e in started:
        assert ISO_Z.match(e["cursor"]), e
    assert all(ISO_Z.match(e["timestamp"]) for e in events)
    assert "datetime.datetime" not in r.err


# ---- 9. a resumed pass reports its own time ----------------------------------------------------
def test_row09_resumed_pass_reports_its_own_time(tenant: ThreadServer, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    env = env_for(tenant, url, COLUMNS="200")
    assert syncd(env, "migrate").code == OK
    assert syncd(env, "backfill").code == OK
    # An offers sweep that began two hours ago and was killed: the next run resumes it.
    db = make_engine(url)
    with db.begin() as conn:
        conn.execute(
            update(s.sync_state)
            .where(s.sync_state.c.resource == "offers")
            .values(pass_mode="sweep", pass_started_at=utcnow() - timedelta(hours=2))
        )
    db.dispose()
    r = syncd(env, "sync", "--once")
    assert r.code == OK, r.err
    row = next(line.split() for line in r.out.splitlines() if line.split()[:1] == ["offers"])
    assert row[1] == "sweep"  # the resumed pass
    assert float(row[10]) < 600, row  # its own seconds, not the two hours since the pass began


# ---- 10. 80 columns, stdout and stderr ---------------------------------------------------------
def test_row10_tables_fit_80_columns_and_logs_stay_on_stderr(
    tenant: ThreadServer, tmp_path: Path
) -> None:
    env = env_for(tenant, sqlite_url(tmp_path), SYNCD_LOG_LEVEL="debug", COLUMNS=None, LINES=None)
    assert syncd(env, "migrate").code == OK
    outs = [syncd(env, "backfill"), syncd(env, "sync", "--once"), syncd(env, "status")]
    outs += [syncd(env, "quarantine"), syncd(env, "report", "pipeline_by_status")]
    pii = personal_data(tenant)
    for r in outs:
        assert r.code == OK, r.err
        assert_clean(r, forbidden=pii)  # debug logs included
        assert "…" not in r.out, r.out
        assert all(len(line) <= 80 for line in r.out.splitlines()), r.out
        assert not any(line.startswith("{") for line in r.out.splitlines()), r.out
    assert "pass_started" in outs[0].err  # the logs went to stderr
    for line in ("syncd: ", "\njobs\n", "fetched: ", "status: ok"):
        assert line in outs[0].out
    for args in (
        ["status", "--json"],
        ["quarantine", "--json"],
        ["report", "hires_by_source", "--json"],
    ):
        r = syncd(env, *args)
        assert r.code == OK
        json.loads(r.out)  # stdout holds the JSON alone
    # A reader that went away (`| head -1`) ends the output quietly, without a traceback: the
    # pipe's read end is closed before the command starts, so its first write fails.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        pipe = subprocess.run(
            [sys.executable, "-m", "syncd", "status", "--json"],
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            check=False,
        )
    finally:
        os.close(write_end)
    assert pipe.returncode == PIPE_CLOSED  # 141, as a shell reports for `ls | head -1`
    assert pipe.stderr.decode() == ""


def test_one_large_document_into_a_pipe_closed_early_is_141_too(tmp_path: Path) -> None:
    """Commands that print one large document (JSON of ``api get --all``, ``report --format
    json|csv``, ``changes --json``) into a real pipe whose reader reads 10 bytes and closes it
    (``| head -c 10``): exit 141 and nothing on stderr, as a command printing line by line.
    (One large write the reader stopped reading returns the part written and drops the rest
    without an error: ``cli_errors.finish_stdout`` checks the pipe at the end.)"""
    srv = serve_in_thread(
        sandbox_options(candidates=300, jobs=20, limits=LimitConfig(enabled=False))
    )
    try:
        env = env_for(srv, sqlite_url(tmp_path))
        assert syncd(env, "migrate").code == OK
        synced = syncd(env, "sync", "--once")
        assert synced.code == OK, synced.err
        for args in (
            ["api", "get", "/candidates", "--all"],
            ["report", "report_applications", "--format", "json"],
            ["report", "report_applications", "--format", "csv"],
            ["changes", "--json", "--limit", "100000"],
        ):
            whole = syncd(env, *args)
            assert whole.code == OK, args
            assert len(whole.out) > 100_000, (args, len(whole.out))  # more than a pipe holds
            proc = subprocess.Popen(
                [sys.executable, "-m", "syncd", *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert proc.stdout is not None and proc.stderr is not None
            head = os.read(proc.stdout.fileno(), 10)  # as `head -c 10` does
            proc.stdout.close()
            err = proc.stderr.read().decode()
            assert proc.wait(timeout=120) == PIPE_CLOSED, (args, err)
            assert head and whole.out.encode().startswith(head), args
            assert err == ""
    finally:
        srv.stop()


# ---- 11. retries are logged and counted --------------------------------------------------------
def test_row11_retries_logged_with_reason_and_wait_and_counted(tmp_path: Path) -> None:
    srv = serve_in_thread(
        sandbox_options(candidates=30, jobs=4, limits=LimitConfig(enabled=False), faults="500=0.1")
    )
    try:
        env = env_for(srv, sqlite_url(tmp_path), SYNCD_LOG_FORMAT="json", COLUMNS="200")
        assert syncd(env, "migrate").code == OK
        r = syncd(env, "backfill")
        pii = personal_data(srv)
    finally:
        srv.stop()
    assert r.code == OK, r.err
    assert_clean(r, forbidden=pii)
    events = [json.loads(line) for line in r.err.splitlines() if line.startswith("{")]
    retries = [e for e in events if e["event"] == "api_retry"]
    assert retries, "the faults caused no retry"
    for e in retries:
        assert e["level"] == "info" and e["reason"] == "HTTP 500" and e["wait_seconds"] > 0
        assert e["method"] == "GET" and e["path"].startswith("/")
    m = re.search(r"syncd: (\d+) API calls, (\d+) retried", r.out)
    assert m, r.out
    per_pass = [
        json.loads(line)["retries"] for line in r.err.splitlines() if '"pass_ended"' in line
    ]
    # The credential check before the passes may itself have been retried.
    assert sum(per_pass) <= int(m.group(2)) == len(retries)


# ---- 12. misspelled settings --------------------------------------------------------------------
def test_row12_unknown_settings_name_the_closest_valid_one(tmp_path: Path) -> None:
    r = syncd(base_env(SYNCD_SMARTRECRUITERS__RATELIMIT="5"), "status")
    assert_clean(r)
    assert r.code == USAGE
    assert (
        "SYNCD_SMARTRECRUITERS__RATELIMIT: unknown setting; did you mean "
        "SYNCD_SMARTRECRUITERS__RATE_LIMIT?" in r.err
    )
    r = syncd(base_env(SYNCD_DATABSE_URL="sqlite:///x.db"), "status")
    assert r.code == USAGE and "did you mean SYNCD_DATABASE_URL?" in r.err
    cfg = tmp_path / "syncd.toml"
    cfg.write_text("[smartrecruiters]\nrate_limt = 5\n")
    r = syncd(base_env(SYNCD_CONFIG=str(cfg)), "status")
    assert_clean(r)
    assert r.code == USAGE
    assert f"SYNCD_CONFIG ({cfg}): [smartrecruiters] rate_limt: unknown key; did you mean " in r.err
    cfg.write_text('[smartrecruiters]\ntimeout = "soon"\n')
    r = syncd(base_env(SYNCD_CONFIG=str(cfg)), "status")
    assert r.code == USAGE
    assert f"SYNCD_CONFIG ({cfg}): [smartrecruiters] timeout: Input should be a valid number" in (
        r.err
    )
    # The environment wins over the file, and is named when its value is the bad one.
    r = syncd(base_env(SYNCD_CONFIG=str(cfg), SYNCD_SMARTRECRUITERS__TIMEOUT="later"), "status")
    assert r.code == USAGE and "SYNCD_SMARTRECRUITERS__TIMEOUT: Input should be" in r.err


# ---- 13. sandbox port, quarantine names, backfill before migrate -------------------------------
def test_row13_sandbox_prints_the_port_it_got() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "sandbox", "serve", "--port", "0", "--jobs", "2",
         "--candidates", "3", "--token", TOKEN],
        env=base_env(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "the sandbox printed nothing"
        line = proc.stderr.readline().decode()
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)$", line.strip())
        assert m and int(m.group(1)) > 0, line
        r = httpx.get(
            f"http://127.0.0.1:{m.group(1)}/jobs", headers={"X-SmartToken": TOKEN}, timeout=30
        )
        assert r.status_code == 200 and r.json()["totalFound"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_row13_quarantine_rejects_an_unknown_resource(tmp_path: Path) -> None:
    env = base_env(SYNCD_DATABASE_URL=sqlite_url(tmp_path))
    assert syncd(env, "migrate").code == OK
    r = syncd(env, "quarantine", "--resource", "nonsense")
    assert_clean(r)
    assert r.code == USAGE
    assert "Invalid value for '--resource': unknown resource 'nonsense'; choose from jobs" in r.err
    assert syncd(env, "quarantine", "--resource", "applications").code == OK


def test_row13_backfill_before_migrate_leaves_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    env = base_env(
        SYNCD_DATABASE_URL=f"sqlite:///{folder / 'm.db'}", SYNCD_SMARTRECRUITERS__API_KEY=TOKEN
    )
    for args in (["backfill"], ["sync", "--once"], ["status"], ["quarantine"]):
        r = syncd(env, *args)
        assert_clean(r)
        assert r.code == USAGE
        assert r.line == (
            f"syncd: no mirror database at {folder / 'm.db'} yet: run `syncd migrate` first "
            "(or set SYNCD_DATABASE_URL to the mirror you meant)"
        )
    assert list(folder.iterdir()) == []


# ---- 14. the Docker image and the systemd units ------------------------------------------------
def test_row14_container_data_dir_and_systemd_user() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    env_url = re.search(r"SYNCD_DATABASE_URL=sqlite:////(\S+)/syncd\.db", dockerfile)
    assert env_url, "the image's default database must live in a data directory"
    data = "/" + env_url.group(1)
    assert re.search(
        rf"mkdir -p {re.escape(data)}\b.*chown syncd:syncd {re.escape(data)}",
        (dockerfile.replace("\\\n", " ")),
    ), "the data directory must belong to the image's user"
    assert f"VOLUME {data}" in dockerfile and "USER syncd" in dockerfile
    assert dockerfile.index("chown syncd:syncd") < dockerfile.index("USER syncd")
    sysusers = (ROOT / "deploy" / "systemd" / "syncd.sysusers").read_text()
    assert re.search(r"^u syncd - .* /var/lib/syncd", sysusers, re.M)
    unit = (ROOT / "deploy" / "systemd" / "syncd-sync.service").read_text()
    assert "User=syncd" in unit and "systemd-sysusers" in unit
    notes = (ROOT / "deploy" / "README.md").read_text()
    assert "syncd.sysusers" in notes and "useradd --system" in notes


# ---- the exit-code table -----------------------------------------------------------------------
def test_readme_exit_code_table_is_the_code() -> None:
    from syncd.cli_errors import EXIT_CODES

    readme = (ROOT / "README.md").read_text()
    table = dict(
        (int(code), what.strip())
        for code, what in re.findall(r"^\| `(\d+)` \| (.+?) \|$", readme, re.M)
    )
    assert table == EXIT_CODES, table
    # And `syncd --help` ends with the same table.
    r = syncd(base_env(), "--help")
    assert r.code == OK
    for code, what in EXIT_CODES.items():
        assert f"{code:>5}  {what}\n" in r.out, r.out


def test_database_errors_are_classified_without_text(tmp_path: Path) -> None:
    """A statement the database refuses: one line naming the driver's message, never the
    statement (in-process: the boundary's classification of a real SQLite error)."""
    from sqlalchemy.exc import DBAPIError

    from syncd.cli_errors import classify

    db = make_engine(sqlite_url(tmp_path))
    with pytest.raises(DBAPIError) as caught, db.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "jane@example.com"})
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "jane@example.com"})
    db.dispose()
    known = classify(caught.value)
    assert known is not None
    code, line = known
    assert code == FAILED
    assert line == (
        "the mirror database refused a statement (IntegrityError: UNIQUE constraint failed: t.x); "
        "rerun to resume from the last checkpoint"
    )
    assert "jane@example.com" not in str(caught.value)  # hide_parameters


def test_a_postgresql_user_without_write_rights_is_told(
    tenant: ThreadServer, postgres_url: str
) -> None:
    """Row 5 on PostgreSQL: a role that may only read the mirror gets the reading commands, and
    the writing ones say it may not write (exit 6)."""
    from tests.integration.conftest import drop_pg_schema, pg_schema_url

    url, schema = pg_schema_url(postgres_url)
    role = f"reader_{schema}"
    admin = make_engine(postgres_url)
    try:
        env = env_for(tenant, url)
        assert syncd(env, "migrate").code == OK
        assert syncd(env, "backfill").code == OK
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
            conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
        reader = url.replace("://postgres@", f"://{role}@", 1)
        assert reader != url
        renv = {**env, "SYNCD_DATABASE_URL": reader}
        for args in (["status"], ["report", "time_to_hire"]):
            r = syncd(renv, *args)
            assert_clean(r)
            assert r.code == OK, r.err
        r = syncd(renv, "sync", "--once")
        assert_clean(r, forbidden=personal_data(tenant))
        assert r.code == DATABASE, r.err
        assert "may not do this (" in r.line and "permission denied" in r.line
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()
        drop_pg_schema(postgres_url, schema)


def test_sandbox_on_a_port_in_use_says_so_in_one_line() -> None:
    """``syncd sandbox serve`` on a taken port: exit 2 and the same line as
    ``syncd hris-sandbox serve`` (tests/integration/hris/test_cli.py)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = syncd(base_env(), "sandbox", "serve", "--port", str(port), "--candidates", "3")
    assert (r.code, r.out) == (USAGE, "")
    assert r.err.strip() == (
        f"syncd: --port: cannot listen on 127.0.0.1:{port} (Address already in use); choose "
        "another port, or 0 for any free one"
    )


# ---- output piped into `head` -------------------------------------------------------------------
def test_output_piped_into_head_ends_quietly_with_141(tmp_path: Path) -> None:
    """The reader of stdout goes away after one line: no traceback, nothing on stderr, exit 141
    (what a shell reports for ``ls`` or ``git log`` there)."""
    from syncd.mirror.db import migrate
    from syncd.mirror.store import Change, Mirror

    url = sqlite_url(tmp_path)
    db = make_engine(url)
    migrate(db)
    m = Mirror(db, TENANT)
    with m.begin() as conn:  # ~250 kB of lines: more than a pipe holds
        changes = [Change("candidates", f"c{i}", "created", {"status": "NEW"}) for i in range(3000)]
        m.emit(conn, changes, run_id="r", now=utcnow())
    db.dispose()
    env = base_env(SYNCD_DATABASE_URL=url, SYNCD_TENANT=TENANT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "changes", "--limit", "5000"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    assert ready, "syncd changes printed nothing within 120 s"
    first = proc.stdout.readline().decode()
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert first.split()[2:4] == ["candidate.created", "c0"]
    assert err == ""
