"""`syncd demo`'s output: a rerun says it removes the last run's mirror before doing it; piped
output keeps each line whole and tables at a fixed width (no wrapping at 80 columns)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.table import Table

from syncd.demo import PIPE_WIDTH, SANDBOX_ARGS, demo_console, start_over
from syncd.sandbox.runner import sandbox_serving_line


def test_a_rerun_says_it_starts_over_before_removing_the_last_mirror(tmp_path: Path) -> None:
    out = tmp_path / "demo-data"
    out.mkdir()
    for name in ("mirror.db", "mirror.db-wal", "mirror.db-shm"):
        (out / name).write_bytes(b"last run")
    (out / "report.html").write_text("kept")
    said: list[str] = []

    def say(line: str) -> None:  # the mirror is still there when the line is printed
        assert (out / "mirror.db").exists()
        said.append(line)

    start_over(out, say)
    assert said == [f"demo: starting over: removing {out / 'mirror.db'} from the last run"]
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]
    start_over(out, said.append)  # a first run (nothing left over) says nothing
    assert len(said) == 1


def test_piped_output_keeps_lines_whole_and_tables_at_a_fixed_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    buf = io.StringIO()
    console = demo_console(buf)
    assert not console.is_terminal and console.width == PIPE_WIDTH
    long = (
        'Explore it: sqlite3 demo-data/mirror.db "SELECT sink, state, COUNT(*) FROM deliveries '
        "GROUP BY 1, 2\"   (the daemon's log: demo-data/syncd-run.log)"
    )
    assert len(long) > 80
    console.print(long)
    console.print("[bold]7. syncd run[/] (pid 1): /healthz /readyz /metrics on http://127.0.0.1:1")
    t = Table(title="9. summary", title_justify="left")
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("onboarding status written back " * 3, "1 ONBOARDING_SUCCESSFUL")
    console.print(t)
    lines = buf.getvalue().splitlines()
    assert lines[0] == long
    assert lines[1] == "7. syncd run (pid 1): /healthz /readyz /metrics on http://127.0.0.1:1"
    assert "\x1b" not in buf.getvalue()  # no colour or cursor codes in a log
    assert all(len(line) <= PIPE_WIDTH for line in lines[2:])
    assert any("onboarding status written back onboarding status written back" in line
               for line in lines[2:])  # fmt: skip


def test_the_readme_transcript_starts_with_the_sandbox_line_the_demo_prints() -> None:
    """The README's `make demo` transcript shows every line the demo prints, the sandbox
    tenant's first (syncd sandbox serve's, with the demo's seed and sizes; its time and port
    differ from run to run)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    transcript = readme.split("$ make demo\n", 1)[1].splitlines()
    assert transcript[0] == ".venv/bin/syncd demo"
    assert transcript[2].startswith("1. migrate ")
    m = re.fullmatch(
        r"(.*) generated in ([0-9.]+)s; serving http://127\.0\.0\.1:(\d+)", transcript[1]
    )
    assert m is not None, transcript[1]
    args = dict(zip(SANDBOX_ARGS[::2], SANDBOX_ARGS[1::2], strict=True))
    expected = sandbox_serving_line(
        int(args["--seed"]),
        int(args["--jobs"]),
        int(args["--candidates"]),
        float(m.group(2)),
        "127.0.0.1",
        int(m.group(3)),
    )
    assert transcript[1] == expected
