"""``syncd report html`` on a mirror a real backfill filled (SQLite and PostgreSQL), opened in
headless Chromium through the DevTools protocol (over a pipe: no port, no extra package): every
chart is drawn (an <svg> with visible marks), nothing is fetched from the network, no error is
logged, and the numbers beside the charts are the views'."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from syncd.cli import main
from syncd.mirror.reporting import view_rows
from syncd.sandbox.limits import LimitConfig
from syncd.sandbox.runner import ThreadServer, serve_in_thread
from tests.conftest import sandbox_options
from tests.integration.test_mirror_sync import TENANT, run_pass, settings_for

CHROMIUM = "/usr/bin/chromium"
PARTS = ["funnel", "pipeline", "time-to-hire", "time-in-stage", "sources", "offers"]

# Run in the page: per part, its SVGs and how many of their marks have a visible size; the
# numbers in its table.
INSPECT = """
JSON.stringify(Array.from(document.querySelectorAll('section')).map(s => ({
  id: s.id,
  svgs: Array.from(s.querySelectorAll('svg')).map(svg => {
    const box = svg.getBoundingClientRect();
    const marks = Array.from(svg.querySelectorAll('g.mark-rect.role-mark path'))
      .filter(m => { const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
    return {width: box.width, height: box.height, marks: marks.length};
  }),
  cells: Array.from(s.querySelectorAll('table tbody tr'))
    .map(tr => Array.from(tr.children).map(td => td.textContent)),
})))
"""


class DevTools:
    """The Chrome DevTools protocol over --remote-debugging-pipe: JSON messages, each ended by a
    NUL byte, written to the browser's fd 3 and read from its fd 4."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def fds() -> None:  # in the child: the pipe ends as fds 3 and 4
            # Out of the way first: either end may itself be fd 3 or 4.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            preexec_fn=fds,  # the test is single-threaded here
            pass_fds=(3, 4),  # kept open after fds() ran
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, timeout: float = 120) -> dict[str, Any]:
        """The next DevTools message; fails when none comes in ``timeout`` seconds (generous:
        chromium starts slowly on a loaded machine)."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError(f"no DevTools message from chromium in {timeout} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)  # type: ignore[no-any-return]

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        while True:
            got = self._read()
            if got.get("id") == self._next:
                if "error" in got:
                    raise RuntimeError(f"{method}: {got['error']}")
                return got.get("result", {})  # type: ignore[no-any-return]
            self.events.append(got)

    def wait_for(self, method: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events:
                if e.get("method") == method:
                    return e
            self.events.append(self._read(max(deadline - time.monotonic(), 0.01)))
        raise TimeoutError(method)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.call("Browser.close")
        self.proc.wait(timeout=30)
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[DevTools]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian: apt-get install chromium)")
    tools = DevTools(tmp_path / "profile")
    yield tools
    tools.close()


@pytest.fixture
def tenant() -> Iterator[ThreadServer]:
    srv = serve_in_thread(sandbox_options(candidates=120, limits=LimitConfig(enabled=False)))
    yield srv
    srv.stop()


def test_report_html_draws_every_chart_in_chromium(
    tenant: ThreadServer, db: Engine, db_url: str, tmp_path: Path, chromium: DevTools
) -> None:
    run_pass(settings_for(tenant, db_url), db, "backfill")
    out = tmp_path / "report.html"
    env = {"SYNCD_DATABASE_URL": db_url, "SYNCD_TENANT": TENANT}
    r = CliRunner().invoke(main, ["report", "html", "--output", str(out)], env=env)
    assert r.exit_code == 0, r.output
    assert f"wrote {out}" in r.output
    page = out.read_text()
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    ).replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")

    target = chromium.call("Target.createTarget", url="about:blank")["targetId"]
    session = chromium.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        chromium.call(f"{domain}.enable", session)
    chromium.call("Page.navigate", session, url=out.as_uri())
    chromium.wait_for("Page.loadEventFired")
    result = chromium.call("Runtime.evaluate", session, expression=INSPECT, returnByValue=True)[
        "result"
    ]
    sections = {s["id"]: s for s in json.loads(result["value"])}

    errors = [
        e
        for e in chromium.events
        if e.get("method") in ("Runtime.exceptionThrown", "Network.loadingFailed")
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        or (
            e.get("method") == "Runtime.consoleAPICalled"
            and e["params"]["type"] in ("error", "warning")
        )
    ]
    assert errors == []
    fetched = [
        e["params"]["request"]["url"]
        for e in chromium.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert set(fetched) <= {out.as_uri()}, fetched  # the page itself at most, nothing else

    # The numbers beside the charts are the views'.
    with db.connect() as conn:
        funnel = view_rows(conn, "report_funnel", TENANT)
        offers = view_rows(conn, "report_offer_acceptance", TENANT)[0]
        tth = view_rows(conn, "report_time_to_hire", TENANT)[0]
        pipeline = view_rows(conn, "report_pipeline", TENANT)
        stages = view_rows(conn, "report_time_in_stage", TENANT)
        by_month = {
            (r["hired_month"], r["source"]) for r in view_rows(conn, "report_hires", TENANT)
        }
    live = sum(r["applications"] for r in pipeline)
    # One visible bar per non-zero number each chart draws (the histogram: at least one bin).
    bars = {
        "funnel": sum(1 for r in funnel if r["reached"]),
        "pipeline": len({r["status"] for r in pipeline}),
        "time-to-hire": 1,
        "time-in-stage": sum(1 for r in stages if r["avg_days"]),
        "sources": len(by_month),
        "offers": sum(
            1
            for k in ("accepted", "not_accepted", "abandoned", "not_approved", "open_offers")
            if offers[k]
        ),
    }
    assert list(sections) == PARTS
    for part in PARTS:
        (svg,) = sections[part]["svgs"]
        assert svg["width"] > 100 and svg["height"] > 50, (part, svg)
        if part == "time-to-hire":
            assert svg["marks"] >= 5, svg  # 120 candidates: hires spread over weeks
        else:
            assert svg["marks"] == bars[part], (part, svg, bars[part])
    assert [(c[0], int(c[1].replace(",", ""))) for c in sections["funnel"]["cells"]] == [
        (r["stage"], r["reached"]) for r in funnel
    ]
    assert sections["pipeline"]["cells"][-1][:2] == ["total", f"{live:,}"]
    assert ["hires", f"{tth['hires']:,}"] in sections["time-to-hire"]["cells"]
    assert ["acceptance %", f"{offers['acceptance_pct']:,.1f}"] in sections["offers"]["cells"]


def test_report_html_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # what a missing package looks like
    monkeypatch.delitem(sys.modules, "syncd.report_html", raising=False)
    env = {"SYNCD_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    r = CliRunner().invoke(main, ["report", "html", "--output", str(tmp_path / "r.html")], env=env)
    assert r.exit_code == 2
    assert "pip install 'syncd[report]'" in r.output and "vl_convert" in r.output
    r = CliRunner().invoke(main, ["report", "html"], env=env)
    assert r.exit_code == 2 and "needs --output FILE" in r.output


def test_report_html_on_an_empty_mirror_and_an_unwritable_output(tmp_path: Path) -> None:
    env = {"SYNCD_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}", "SYNCD_TENANT": TENANT}
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0
    out = tmp_path / "empty.html"
    r = CliRunner().invoke(main, ["report", "html", "--output", str(out)], env=env)
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert "no pass has run yet" in page
    assert page.count("Nothing to draw yet.") == len(PARTS) and "<svg" not in page
    bad = tmp_path / "missing-dir" / "r.html"
    r = CliRunner().invoke(main, ["report", "html", "--output", str(bad)], env=env)
    assert r.exit_code == 2
    assert f"syncd: cannot write --output {bad}: No such file or directory" in r.output
    r = CliRunner().invoke(main, ["report", "report_funnel", "--output", str(out)], env=env)
    assert r.exit_code == 2 and "--output is for `syncd report html`" in r.output
