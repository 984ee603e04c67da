"""``syncd demo``: the real job on embedded defaults. Start a sandbox tenant (its real rate limits
on), migrate a SQLite mirror in ./demo-data, backfill it, let the tenant change, run one
incremental pass, show counts and a few reporting queries; then ``syncd run`` for about a minute
while recruiters hire, the hires reach a local HRIS stand-in and onboarding statuses flow back
(``syncd.demo_daemon``)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx

from syncd.sandbox.runner import spawn_serving, wait_healthy

if TYPE_CHECKING:
    from rich.console import Console

TOKEN = "demo-token"
# The width of tables when stdout is not a terminal (a pipe, a CI log, `make demo | tee`): wide
# enough for every table of the demo; plain lines are never wrapped there (soft wrap).
PIPE_WIDTH = 120


def demo_console(file: TextIO | None = None) -> Console:
    """The demo's console on ``file`` (stdout). A terminal: its own width, live output. Not a
    terminal: tables at PIPE_WIDTH columns whatever ``COLUMNS`` says, lines printed whole (a
    wrapped URL or SQL line cannot be copied), no colour codes and nothing redrawn in place."""
    from rich.console import Console

    out = file if file is not None else sys.stdout
    console = Console(file=out)
    if console.is_terminal:
        return console
    return Console(file=out, width=PIPE_WIDTH, soft_wrap=True, no_color=True, force_terminal=False)


# The demo's sandbox tenant (the README's transcript shows its data).
SANDBOX_ARGS = ("--seed", "7", "--jobs", "20", "--candidates", "300")


def start_over(out: Path, say: Callable[[str], None]) -> None:
    """Remove the mirror a previous ``syncd demo`` left in ``out`` (the demo starts from an empty
    one), saying so first in one line; nothing said when there is none."""
    leftovers = sorted(out.glob("mirror.db*"))
    if not leftovers:
        return
    say(f"demo: starting over: removing {out / 'mirror.db'} from the last run")
    for leftover in leftovers:
        leftover.unlink()


def run_demo(data_dir: str = "demo-data", run_seconds: float = 60.0) -> int:
    from rich.table import Table
    from sqlalchemy import text

    from syncd.config import load_settings
    from syncd.logging import configure_logging
    from syncd.mirror.db import make_engine, migrate
    from syncd.mirror.reporting import QUERIES
    from syncd.mirror.store import Mirror
    from syncd.sync.runner import run_job

    configure_logging("warning")
    console = demo_console()
    cmd = [sys.executable, "-m", "syncd", "sandbox", "serve", "--port", "0", *SANDBOX_ARGS]
    cmd += ["--token", TOKEN]
    try:
        # The port the sandbox bound, read from its "serving" line: one chosen here and released
        # could be taken by another process before the sandbox binds it.
        proc, base = spawn_serving(cmd, timeout=60)
    except (RuntimeError, TimeoutError) as exc:
        print(f"demo: the sandbox did not start ({exc})", file=sys.stderr)
        return 1
    try:
        try:
            wait_healthy(base, timeout=60, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            print(f"demo: the sandbox did not start ({exc})", file=sys.stderr)
            return 1
        out = Path(data_dir)
        out.mkdir(exist_ok=True)
        db_file = out / "mirror.db"
        start_over(out, lambda line: console.print(line, markup=False, highlight=False))
        settings = load_settings(
            database_url=f"sqlite:///{db_file}",
            tenant="demo",
            smartrecruiters={"base_url": base, "api_key": TOKEN},
        )
        engine = make_engine(settings.database_url)
        before, after = migrate(engine)
        console.print(f"[bold]1. migrate[/] {db_file}: schema {before or 'empty'} -> {after}")

        def show(title: str, reports: list[Any], calls: int, seconds: float) -> None:
            t = Table(title=f"{title}: {calls} API calls in {seconds:.1f}s", title_justify="left")
            for col in ("resource", "fetched", "inserted", "updated", "unchanged", "deleted"):
                t.add_column(col, justify="left" if col == "resource" else "right")
            for r in reports:
                c = r.counts
                t.add_row(
                    r.resource, *(str(v) for v in (c.fetched, c.inserted, c.updated,
                                                  c.unchanged, c.deleted))
                )  # fmt: skip
            console.print(t)

        t0 = time.perf_counter()
        reports, calls = asyncio.run(run_job(settings, "backfill"))
        show("2. backfill (10 req/s, the API's limit)", reports, calls, time.perf_counter() - t0)

        with httpx.Client(base_url=base, timeout=30) as control:
            steps = control.post("/_sandbox/activity", json={"steps": 40}).json()["steps"]
        kinds: dict[str, int] = {}
        for s in steps:
            kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
        console.print(f"[bold]3. sandbox activity[/]: {kinds}")

        t0 = time.perf_counter()
        reports, calls = asyncio.run(run_job(settings, "incremental"))
        show("4. sync --once (incremental)", reports, calls, time.perf_counter() - t0)

        mirror = Mirror(engine, settings.tenant)
        with engine.connect() as conn:
            counts = mirror.counts(conn)
            outbox = conn.exec_driver_sql(
                "SELECT kind, COUNT(*) FROM changes GROUP BY kind ORDER BY 2 DESC"
            ).all()
        t = Table(title="5. mirror tables", title_justify="left")
        t.add_column("table")
        t.add_column("live", justify="right")
        t.add_column("deleted", justify="right")
        for name, c in counts.items():
            t.add_row(name, str(c["live"]), str(c["deleted"]))
        console.print(t)
        console.print("outbox: " + ", ".join(f"{k}={n}" for k, n in outbox))
        for name in ("pipeline_by_status", "time_to_hire", "hires_by_source"):
            with engine.connect() as conn:
                result = conn.execute(text(QUERIES[name]), {"tenant": settings.tenant})
                t = Table(title=f"report: {name}", title_justify="left")
                for col in result.keys():  # noqa: SIM118 (a Result, not a dict)
                    t.add_column(col, justify="right")
                for row in result.all()[:5]:
                    t.add_row(*(str(v) for v in row))
            console.print(t)
        console.print(f"Explore it: sqlite3 {db_file}  (tables and queries: docs/reporting.md)")
        console.print(_html_report(engine, settings.tenant, out / "report.html"))
        engine.dispose()
        if run_seconds <= 0:
            return 0
        from syncd.demo_daemon import run_daemon_story

        code = run_daemon_story(console, base, TOKEN, db_file, settings.tenant, run_seconds)
        return 0 if code == 0 else 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _html_report(engine: Any, tenant: str, path: Path) -> str:
    """6. The dashboard (`syncd report html`), when the `report` extra is installed."""
    try:
        from syncd.report_html import write_report
    except ImportError:
        return "6. report: pip install 'syncd[report]' for the HTML dashboard (make demo does)"
    with engine.connect() as conn:
        written, seconds = write_report(conn, tenant, path)
    return f"[bold]6. report[/] ({seconds:.1f}s): open {written.resolve()}"
