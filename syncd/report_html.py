"""``syncd report html``: the dashboard, one self-contained HTML file (no script, no network needed
to open it). Each part is a chart and, beside it, the numbers it draws: the funnel, the pipeline
by stage, time to hire, time in each stage, hires by source over time, offer acceptance.

Charts are Vega-Lite specifications (altair) rendered to inline SVG by vl-convert, both from the
optional extra ``report`` (``pip install 'syncd[report]'``). The rows come from the mirror's
reporting views (``syncd.mirror.reporting.dashboard_data``)."""

from __future__ import annotations

import html
import re
import statistics
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert
from sqlalchemy import Connection

from syncd.mirror.reporting import dashboard_data

WIDTH = 460
STATUS_ORDER = (
    "LEAD",
    "NEW",
    "IN_REVIEW",
    "INTERVIEW",
    "OFFERED",
    "HIRED",
    "REJECTED",
    "WITHDRAWN",
    "TRANSFERRED",
)
OFFER_OUTCOMES = (
    ("accepted", "Accepted"),
    ("not_accepted", "Not accepted"),
    ("abandoned", "Abandoned"),
    ("not_approved", "Not approved"),
    ("open_offers", "Open"),
)

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
header p, .note { color: #666; }
section { border-top: 1px solid #ddd; padding: 12px 0 20px; }
.part { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""


def _svg(chart: alt.TopLevelMixin, prefix: str) -> str:
    svg = vl_convert.vegalite_to_svg(chart.to_dict())
    # Several SVGs share one document: keep any ids (clip paths, gradients) apart.
    svg = re.sub(r'id="([^"]+)"', rf'id="{prefix}-\1"', svg)
    return re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)


def _fmt(value: Any) -> str:
    if value is None:
        return "\u2013"  # en dash: no value
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _part(key: str, title: str, chart: alt.TopLevelMixin | None, numbers: str, note: str) -> str:
    drawn = (
        f'<figure class="chart">{_svg(chart, key)}</figure>'
        if chart is not None
        else '<p class="note">Nothing to draw yet.</p>'
    )
    return (
        f'<section id="{key}"><h2>{html.escape(title)}</h2>'
        f'<div class="part">{drawn}<div class="numbers">{numbers}</div></div>'
        f'<p class="note">{html.escape(note)}</p></section>'
    )


def _bars(
    rows: list[dict[str, Any]], label: str, value: str, title: str, order: list[str]
) -> alt.Chart:
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y(f"{label}:N", sort=order, title=None),
        x=alt.X(f"{value}:Q", title=title),
    )
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text(f"{value}:Q", format=","))
    return (base.mark_bar(color="#4c78a8") + text).properties(width=WIDTH)


def _funnel(d: dict[str, list[dict[str, Any]]]) -> str:
    rows = d["funnel"]
    chart = None
    if any(r["reached"] for r in rows):
        chart = _bars(rows, "stage", "reached", "applications", [r["stage"] for r in rows])
    numbers = _table(
        ["stage", "reached", "from previous %", "of applied %"],
        [(r["stage"], r["reached"], r["conversion_pct"], r["of_applied_pct"]) for r in rows],
    )
    return _part(
        "funnel",
        "Funnel",
        chart,
        numbers,
        "Live applications that reached each stage or a later one (from the status history).",
    )


def _pipeline(d: dict[str, list[dict[str, Any]]]) -> str:
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    rows = sorted(d["pipeline"], key=lambda r: (rank.get(r["status"], 99), r["status"] or ""))
    rows = [{**r, "status": r["status"] or "(none)"} for r in rows]
    chart = None
    if rows:
        chart = _bars(rows, "status", "applications", "applications", [r["status"] for r in rows])
    total = sum(r["applications"] for r in rows)
    numbers = _table(
        ["status", "applications", "%"],
        [
            (r["status"], r["applications"], 100.0 * r["applications"] / total if total else None)
            for r in rows
        ]
        + [("total", total, None)],
    )
    return _part(
        "pipeline", "Pipeline by stage", chart, numbers, "Live applications by current status."
    )


def _time_to_hire(d: dict[str, list[dict[str, Any]]]) -> str:
    values = [r["days_to_hire"] for r in d["days_to_hire"]]
    chart = None
    if values:
        chart = (
            alt.Chart(alt.Data(values=[{"days": v} for v in values]))
            .mark_bar(color="#54a24b")
            .encode(
                x=alt.X("days:Q", bin=alt.Bin(maxbins=30), title="days from application to hire"),
                y=alt.Y("count():Q", title="hires"),
            )
            .properties(width=WIDTH, height=220)
        )
    s = d["time_to_hire"][0] if d["time_to_hire"] else {}
    numbers = _table(
        ["", "days"],
        [
            ("hires", s.get("hires", 0)),
            ("average", s.get("avg_days")),
            ("median", float(statistics.median(values)) if values else None),
            ("fastest", s.get("min_days")),
            ("slowest", s.get("max_days")),
        ],
    )
    return _part(
        "time-to-hire",
        "Time to hire",
        chart,
        numbers,
        "Days from application to the first HIRED status, live hires.",
    )


def _time_in_stage(d: dict[str, list[dict[str, Any]]]) -> str:
    rows = [r for r in d["time_in_stage"] if r["avg_days"] is not None]
    chart = None
    if rows:
        chart = _bars(rows, "stage", "avg_days", "average days", [r["stage"] for r in rows])
    numbers = _table(
        ["stage", "stays ended", "still there", "avg days", "min", "max"],
        [
            (
                r["stage"],
                r["completed_stays"],
                r["current_stays"],
                r["avg_days"],
                r["min_days"],
                r["max_days"],
            )
            for r in d["time_in_stage"]
        ],
    )
    return _part(
        "time-in-stage",
        "Time in each stage",
        chart,
        numbers,
        "Average days live applications spent in a status before moving on.",
    )


def _sources(d: dict[str, list[dict[str, Any]]]) -> str:
    rows = d["hires_by_month"]
    chart = None
    if rows:
        # Months without a hire get an empty bar: the axis is a calendar, not a list.
        months = _months(rows[0]["hired_month"], rows[-1]["hired_month"])
        have = {r["hired_month"] for r in rows}
        filler = [{"hired_month": m, "source": rows[0]["source"], "hires": 0} for m in months]
        chart = (
            alt.Chart(alt.Data(values=rows + [f for f in filler if f["hired_month"] not in have]))
            .mark_bar()
            .encode(
                x=alt.X("hired_month:O", title="month of hire", sort=months),
                y=alt.Y("sum(hires):Q", title="hires"),
                color=alt.Color("source:N", title="source"),
            )
            .properties(width=WIDTH, height=240)
        )
    numbers = _table(
        ["source", "hires", "hire %", "avg days to hire", "onboarded"],
        [
            (
                r["source"],
                r["hires"],
                r["hire_pct"],
                r["avg_days_to_hire"],
                r["onboarding_successful"],
            )
            for r in d["sources"]
        ],
    )
    return _part(
        "sources",
        "Hires by source over time",
        chart,
        numbers,
        "The source is read with an application's details (by default for OFFERED and HIRED "
        "applications): hire % counts only applications whose source is known.",
    )


def _months(first: str, last: str) -> list[str]:
    """'YYYY-MM' labels from first to last, both included."""
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _offers(d: dict[str, list[dict[str, Any]]]) -> str:
    o = d["offers"][0] if d["offers"] else {}
    rows = [{"outcome": label, "offers": o.get(key, 0)} for key, label in OFFER_OUTCOMES]
    chart = None
    if o.get("offers"):
        chart = _bars(rows, "outcome", "offers", "offers", [r["outcome"] for r in rows])
    numbers = _table(
        ["", ""],
        [
            ("offers", o.get("offers", 0)),
            *((label, o.get(key, 0)) for key, label in OFFER_OUTCOMES),
            ("acceptance %", o.get("acceptance_pct")),
        ],
    )
    return _part(
        "offers",
        "Offer acceptance",
        chart,
        numbers,
        "Acceptance = accepted / (accepted + not accepted), live offers.",
    )


def render(data: dict[str, list[dict[str, Any]]], tenant: str, now: datetime) -> str:
    """The whole page. ``data`` as dashboard_data returns it; ``now`` is naive UTC."""
    as_of = data["as_of"][0]["as_of"] if data["as_of"] else None
    seen = f"mirror as of {as_of:%Y-%m-%d %H:%M} UTC" if as_of else "no pass has run yet"
    parts = [_funnel, _pipeline, _time_to_hire, _time_in_stage, _sources, _offers]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Recruiting report: {html.escape(tenant)}</title><style>{CSS}</style></head>"
        f"<body><header><h1>Recruiting report</h1><p>tenant {html.escape(tenant)} · {seen} · "
        f"written {now:%Y-%m-%d %H:%M} UTC by syncd</p></header>\n"
        + "\n".join(p(data) for p in parts)
        + "\n</body></html>\n"
    )


def write_report(conn: Connection, tenant: str, output: str | Path) -> tuple[Path, float]:
    """Write the dashboard of ``tenant`` to ``output``; returns the path and the seconds taken.
    Raises OSError when the file cannot be written."""
    from syncd.mirror.store import utcnow

    t0 = time.perf_counter()
    page = render(dashboard_data(conn, tenant), tenant, utcnow())
    path = Path(output)
    path.write_text(page, encoding="utf-8")
    return path, time.perf_counter() - t0
