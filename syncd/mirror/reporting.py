"""Reporting over the mirror: named queries and the ``report_*`` views (migration 0005). Plain SQL
that runs unchanged on SQLite and PostgreSQL (date arithmetic lives in the views, which the
migrations create per dialect). docs/reporting.md shows the same text; tests run every one of them
on both databases.

Rows come back with the same Python values on both databases: datetimes as ``datetime`` (SQLite
returns a view's timestamps as text), PostgreSQL's ``numeric`` as ``float``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from syncd.mirror.dictionary import views

QUERIES: dict[str, str] = {
    "pipeline_by_status": """
SELECT status, COUNT(*) AS applications
FROM applications
WHERE tenant = :tenant AND deleted_at IS NULL
GROUP BY status
ORDER BY applications DESC, status""",
    "time_to_hire": """
SELECT COUNT(*) AS hires, ROUND(AVG(days_to_hire), 1) AS avg_days_to_hire
FROM hires
WHERE tenant = :tenant""",
    "hires_by_source": """
SELECT COALESCE(source, '(unknown)') AS source, COUNT(*) AS hires
FROM hires
WHERE tenant = :tenant
GROUP BY COALESCE(source, '(unknown)')
ORDER BY hires DESC, source""",
    "offer_acceptance_rate": """
SELECT COALESCE(SUM(CASE WHEN status = 'ACCEPTED' THEN 1 ELSE 0 END), 0) AS accepted,
       COALESCE(SUM(CASE WHEN status IN ('ACCEPTED', 'NOT_ACCEPTED') THEN 1 ELSE 0 END), 0)
         AS decided,
       ROUND(100.0 * SUM(CASE WHEN status = 'ACCEPTED' THEN 1 ELSE 0 END)
             / NULLIF(SUM(CASE WHEN status IN ('ACCEPTED', 'NOT_ACCEPTED') THEN 1 ELSE 0 END), 0),
             1) AS acceptance_pct
FROM offers
WHERE tenant = :tenant AND deleted_at IS NULL""",
    "open_positions": """
SELECT j.id, j.title, COUNT(p.id) AS open_positions
FROM jobs j
JOIN positions p ON p.tenant = j.tenant AND p.job_id = j.id
WHERE j.tenant = :tenant AND j.deleted_at IS NULL AND p.deleted_at IS NULL
  AND p.status = 'OPEN'
GROUP BY j.id, j.title
ORDER BY open_positions DESC, j.id""",
    "interviews_per_job": """
SELECT j.id, j.title, COUNT(DISTINCT i.id) AS interviews, COUNT(t.id) AS timeslots
FROM jobs j
JOIN interviews i ON i.tenant = j.tenant AND i.job_id = j.id
LEFT JOIN interview_timeslots t
  ON t.tenant = i.tenant AND t.interview_id = i.id AND t.deleted_at IS NULL
WHERE j.tenant = :tenant AND j.deleted_at IS NULL AND i.deleted_at IS NULL
GROUP BY j.id, j.title
ORDER BY interviews DESC, j.id""",
    "approvals_by_status": """
SELECT subject_type, COALESCE(status, '(unknown)') AS status, COUNT(*) AS approvals
FROM approvals
WHERE tenant = :tenant AND deleted_at IS NULL
GROUP BY subject_type, COALESCE(status, '(unknown)')
ORDER BY subject_type, approvals DESC, status""",
}


def report_names() -> list[str]:
    """What ``syncd report NAME`` accepts: the named queries, then the views."""
    return [*QUERIES, *(v for v in views() if v.startswith("report_"))]


def _plain(value: Any, kind: str | None) -> Any:
    if isinstance(value, Decimal):
        return int(value) if kind == "integer" else float(value)
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def run_report(conn: Connection, name: str, tenant: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of a named query or a ``report_*`` view (all its columns, in the
    dictionary's order) for ``tenant``. Raises KeyError for an unknown name."""
    if name in QUERIES:
        result = conn.execute(text(QUERIES[name]), {"tenant": tenant})
        return list(result.keys()), [tuple(_plain(v, None) for v in r) for r in result]
    view = views()[name]
    cols = [c.name for c in view.columns]
    kinds = [c.type for c in view.columns]
    sql = f"SELECT {', '.join(cols)} FROM {name} WHERE tenant = :tenant ORDER BY {view.order}"
    rows = conn.execute(text(sql), {"tenant": tenant})
    return cols, [tuple(_plain(v, k) for v, k in zip(r, kinds, strict=True)) for r in rows]


def view_rows(conn: Connection, name: str, tenant: str) -> list[dict[str, Any]]:
    """A view's rows for ``tenant`` as dicts (see run_report)."""
    cols, rows = run_report(conn, name, tenant)
    return [dict(zip(cols, r, strict=True)) for r in rows]


def run_query(engine: Engine, name: str, tenant: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return run_report(conn, name, tenant)[1]


# What the dashboard (`syncd report html`) draws: each part from a view, aggregated where the
# chart needs fewer rows than the view has (a 100k-candidate tenant has ~16k hires).
DASHBOARD_SQL = {
    "pipeline": """
SELECT status, MIN(stage_order) AS stage_order, CAST(SUM(applications) AS BIGINT) AS applications
FROM report_pipeline
WHERE tenant = :tenant
GROUP BY status""",
    "days_to_hire": """
SELECT days_to_hire FROM report_hires WHERE tenant = :tenant AND days_to_hire IS NOT NULL""",
    "hires_by_month": """
SELECT hired_month, COALESCE(source, '(unknown)') AS source, COUNT(*) AS hires
FROM report_hires
WHERE tenant = :tenant
GROUP BY hired_month, COALESCE(source, '(unknown)')
ORDER BY hired_month, source""",
    "as_of": """
SELECT MAX(last_pass_ended_at) AS as_of FROM sync_state WHERE tenant = :tenant""",
}


def dashboard_data(conn: Connection, tenant: str) -> dict[str, list[dict[str, Any]]]:
    """Rows for each part of the dashboard: ``funnel``, ``time_to_hire``, ``time_in_stage``,
    ``sources``, ``offers`` (the views of the same names) and ``pipeline``, ``days_to_hire``,
    ``hires_by_month``, ``as_of`` (DASHBOARD_SQL), values as run_report gives them."""
    out = {
        part: view_rows(conn, f"report_{view}", tenant)
        for part, view in (
            ("funnel", "funnel"),
            ("time_to_hire", "time_to_hire"),
            ("time_in_stage", "time_in_stage"),
            ("sources", "sources"),
            ("offers", "offer_acceptance"),
        )
    }
    for part, sql in DASHBOARD_SQL.items():
        result = conn.execute(text(sql), {"tenant": tenant})
        keys = list(result.keys())
        out[part] = [
            {
                k: _plain(v, "datetime" if k == "as_of" else None)
                for k, v in zip(keys, r, strict=True)
            }
            for r in result
        ]
    return out
