"""Reporting views (``report_*``): one row per application, the pipeline, the funnel, time in
stage and to hire, offer acceptance, sources, open jobs and positions.

Plain SQL that both databases accept; only date arithmetic (days between two timestamps, the
current time, a month label) is spelled per dialect, here, so the views have the same columns and
values on SQLite and PostgreSQL. Aggregates count the tenant as it is now (live rows);
``report_applications`` also shows deleted applications, without personal data (their candidate's
name is already NULL in ``candidates``). docs/reporting.md describes every column.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-29 12:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The API's application statuses in pipeline order (SmartRecruiters: LEAD, NEW, IN_REVIEW,
# INTERVIEW, OFFERED, HIRED, then the ways out). stage_order 1..5 is the funnel.
STATUSES = (
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
FUNNEL = ("NEW", "IN_REVIEW", "INTERVIEW", "OFFERED", "HIRED")
# Job statuses of a requisition still being worked on (not a draft, not filled or cancelled).
OPEN_JOB_STATUSES = ("SOURCING", "INTERVIEW", "OFFER", "ON_HOLD")
OPEN_OFFER_STATUSES = ("CREATED", "PENDING_APPROVAL", "APPROVED", "PENDING_ACCEPTANCE")


class Dialect:
    """The few expressions SQLite and PostgreSQL spell differently. Timestamps are naive UTC."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def days(self, start: str, end: str) -> str:
        if self.pg:
            return f"(CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS NUMERIC) / 86400)"
        return f"(julianday({end}) - julianday({start}))"

    def age(self, start: str) -> str:
        """Days from ``start`` to now."""
        if self.pg:
            return self.days(start, "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')")
        return f"(julianday('now') - julianday({start}))"

    def month(self, ts: str) -> str:
        """'YYYY-MM' text."""
        if self.pg:
            return f"to_char({ts}, 'YYYY-MM')"
        return f"strftime('%Y-%m', {ts})"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _order(col: str, values: tuple[str, ...], start: int) -> str:
    whens = " ".join(f"WHEN '{v}' THEN {i}" for i, v in enumerate(values, start))
    return f"CASE {col} {whens} END"


def _location(j: str) -> str:
    return (
        f"CASE WHEN {j}.city IS NULL THEN {j}.country_code WHEN {j}.country_code IS NULL "
        f"THEN {j}.city ELSE {j}.city || ', ' || {j}.country_code END"
    )


def _count(cond: str) -> str:
    return f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)"


def _pct(part: str, whole: str) -> str:
    return f"ROUND(100.0 * {part} / NULLIF({whole}, 0), 1)"


def _funnel(group: list[str]) -> str:
    """Applications that reached each funnel stage or a later one, grouped by ``group``: counted
    per furthest stage first (a few rows per group), then summed per stage."""
    stages = " UNION ALL ".join(
        f"SELECT {i} AS stage_order, '{s}' AS stage" for i, s in enumerate(FUNNEL, 1)
    )
    cols = ", ".join(f"f.{g}" for g in group)

    def upto(cond: str) -> str:
        # CAST: PostgreSQL sums bigint counts as numeric.
        return f"CAST(SUM(CASE WHEN {cond} THEN f.applications ELSE 0 END) AS BIGINT)"

    reached = upto("f.furthest >= s.stage_order")
    previous = upto("f.furthest >= s.stage_order - 1")
    first = upto("f.furthest >= 1")
    return f"""
SELECT {cols}, s.stage_order, s.stage, {reached} AS reached,
       CASE WHEN s.stage_order = 1 THEN NULL ELSE {_pct(reached, previous)} END
         AS conversion_pct,
       {_pct(reached, first)} AS of_applied_pct
FROM (SELECT {", ".join(group)}, furthest_stage_order AS furthest, COUNT(*) AS applications
      FROM report_applications
      WHERE deleted_on IS NULL
      GROUP BY {", ".join(group)}, furthest_stage_order) f
CROSS JOIN ({stages}) s
GROUP BY {cols}, s.stage_order, s.stage"""


def views(dialect: str) -> dict[str, str]:
    """View name -> SELECT, in creation order (later views read earlier ones)."""
    d = Dialect(dialect)
    funnel_rank = _order("{col}", FUNNEL, 1)
    history_rank = funnel_rank.format(col="status")
    current_rank = funnel_rank.format(col="a.status")
    hired = "r.status = 'HIRED' AND r.hired_on IS NOT NULL"
    return {
        "report_applications": f"""
SELECT a.tenant, a.candidate_id, a.job_id, a.application_id,
       CASE WHEN c.first_name IS NULL AND c.last_name IS NULL THEN NULL
            ELSE TRIM(COALESCE(c.first_name, '') || ' ' || COALESCE(c.last_name, '')) END
         AS candidate_name,
       j.title AS job_title, j.ref_number AS job_ref_number, j.department,
       {_location("j")} AS job_location,
       a.status, a.sub_status, {_order("a.status", STATUSES, 0)} AS stage_order,
       CASE WHEN h.furthest >= COALESCE({current_rank}, 0) THEN h.furthest
            ELSE {current_rank} END AS furthest_stage_order,
       a.source, a.source_type_id,
       COALESCE(a.created_on, h.first_on) AS applied_on,
       CASE WHEN h.last_on IS NULL THEN a.updated_on
            WHEN a.updated_on IS NOT NULL AND a.updated_on > h.last_on THEN a.updated_on
            ELSE h.last_on END AS last_changed_on,
       h.hired_on, a.starts_on, a.onboarding_status,
       a.deleted_at AS deleted_on
FROM applications a
LEFT JOIN candidates c ON c.tenant = a.tenant AND c.id = a.candidate_id
LEFT JOIN jobs j ON j.tenant = a.tenant AND j.id = a.job_id
LEFT JOIN (SELECT tenant, candidate_id, job_id, MIN(changed_on) AS first_on,
                  MAX(changed_on) AS last_on,
                  MIN(CASE WHEN status = 'HIRED' THEN changed_on END) AS hired_on,
                  MAX({history_rank}) AS furthest
           FROM application_status_history
           GROUP BY tenant, candidate_id, job_id) h
  ON h.tenant = a.tenant AND h.candidate_id = a.candidate_id AND h.job_id = a.job_id""",
        "report_pipeline": f"""
SELECT a.tenant, a.job_id, j.title AS job_title, a.status,
       {_order("a.status", STATUSES, 0)} AS stage_order, COUNT(*) AS applications
FROM applications a
LEFT JOIN jobs j ON j.tenant = a.tenant AND j.id = a.job_id
WHERE a.deleted_at IS NULL
GROUP BY a.tenant, a.job_id, j.title, a.status""",
        "report_funnel": _funnel(["tenant"]),
        "report_funnel_by_job": _funnel(["tenant", "job_id", "job_title"]),
        "report_stage_stays": f"""
SELECT tenant, candidate_id, job_id, status AS stage,
       {_order("status", STATUSES, 0)} AS stage_order,
       entered_on, left_on, {d.days("entered_on", "left_on")} AS days_in_stage
FROM (SELECT tenant, candidate_id, job_id, status, changed_on AS entered_on,
             LEAD(changed_on) OVER (PARTITION BY tenant, candidate_id, job_id
                                    ORDER BY changed_on, ordinal) AS left_on
      FROM (SELECT h.tenant, h.candidate_id, h.job_id, h.status, h.changed_on, h.ordinal,
                   LAG(h.status) OVER (PARTITION BY h.tenant, h.candidate_id, h.job_id
                                       ORDER BY h.changed_on, h.ordinal) AS previous_status
            FROM application_status_history h
            JOIN applications a
              ON a.tenant = h.tenant AND a.candidate_id = h.candidate_id AND a.job_id = h.job_id
            WHERE h.deleted_at IS NULL AND a.deleted_at IS NULL) e
      WHERE previous_status IS NULL OR previous_status <> status) s""",
        "report_time_in_stage": """
SELECT tenant, stage, stage_order, COUNT(days_in_stage) AS completed_stays,
       COUNT(*) - COUNT(days_in_stage) AS current_stays,
       ROUND(AVG(days_in_stage), 1) AS avg_days, ROUND(MIN(days_in_stage), 1) AS min_days,
       ROUND(MAX(days_in_stage), 1) AS max_days
FROM report_stage_stays
GROUP BY tenant, stage, stage_order""",
        "report_hires": f"""
SELECT r.tenant, r.candidate_id, r.job_id, r.application_id, r.job_title, r.department,
       r.source, r.applied_on, r.hired_on, {d.days("r.applied_on", "r.hired_on")} AS days_to_hire,
       {d.month("r.hired_on")} AS hired_month, r.starts_on, r.onboarding_status
FROM report_applications r
WHERE r.deleted_on IS NULL AND {hired}""",
        "report_time_to_hire": """
SELECT tenant, COUNT(*) AS hires, ROUND(AVG(days_to_hire), 1) AS avg_days,
       ROUND(MIN(days_to_hire), 1) AS min_days, ROUND(MAX(days_to_hire), 1) AS max_days
FROM report_hires
GROUP BY tenant""",
        "report_offer_acceptance": f"""
SELECT tenant, COUNT(*) AS offers,
       {_count("status IN " + _in(OPEN_OFFER_STATUSES))} AS open_offers,
       {_count("status = 'ACCEPTED'")} AS accepted,
       {_count("status = 'NOT_ACCEPTED'")} AS not_accepted,
       {_count("status = 'ABANDONED'")} AS abandoned,
       {_count("status = 'NOT_APPROVED'")} AS not_approved,
       {_count("status IN ('ACCEPTED', 'NOT_ACCEPTED')")} AS decided,
       {_pct(_count("status = 'ACCEPTED'"), _count("status IN ('ACCEPTED', 'NOT_ACCEPTED')"))}
         AS acceptance_pct
FROM offers
WHERE deleted_at IS NULL
GROUP BY tenant""",
        "report_sources": f"""
SELECT r.tenant, COALESCE(r.source, '(unknown)') AS source, COUNT(*) AS applications,
       {_count("r.furthest_stage_order >= 3")} AS reached_interview,
       {_count(hired)} AS hires,
       {_pct(_count(hired), "COUNT(*)")} AS hire_pct,
       ROUND(AVG(CASE WHEN {hired} THEN {d.days("r.applied_on", "r.hired_on")} END), 1)
         AS avg_days_to_hire,
       {_count("r.onboarding_status = 'ONBOARDING_SUCCESSFUL'")} AS onboarding_successful,
       {_count("r.onboarding_status = 'ONBOARDING_FAILED'")} AS onboarding_failed
FROM report_applications r
WHERE r.deleted_on IS NULL
GROUP BY r.tenant, COALESCE(r.source, '(unknown)')""",
        "report_open_jobs": f"""
SELECT j.tenant, j.id AS job_id, j.title AS job_title, j.ref_number AS job_ref_number,
       j.department, {_location("j")} AS job_location, j.status, j.posting_status,
       j.created_on, {d.age("j.created_on")} AS age_days,
       COALESCE(p.open_positions, 0) AS open_positions, p.oldest_open_since
FROM jobs j
LEFT JOIN (SELECT tenant, job_id, COUNT(*) AS open_positions,
                  MIN(COALESCE(position_open_date, created_on)) AS oldest_open_since
           FROM positions
           WHERE deleted_at IS NULL AND status = 'OPEN'
           GROUP BY tenant, job_id) p
  ON p.tenant = j.tenant AND p.job_id = j.id
WHERE j.deleted_at IS NULL AND j.status IN {_in(OPEN_JOB_STATUSES)}""",
        "report_open_positions": f"""
SELECT p.tenant, p.id, p.position_id, p.job_id, j.title AS job_title, j.department,
       j.status AS job_status, p.type, COALESCE(p.position_open_date, p.created_on) AS opened_on,
       p.target_start_date, {d.age("COALESCE(p.position_open_date, p.created_on)")} AS age_days
FROM positions p
JOIN jobs j ON j.tenant = p.tenant AND j.id = p.job_id
WHERE p.deleted_at IS NULL AND j.deleted_at IS NULL AND p.status = 'OPEN'""",
    }


def upgrade() -> None:
    for name, select in views(op.get_bind().dialect.name).items():
        op.execute(f"CREATE VIEW {name} AS {select}")


def downgrade() -> None:
    for name in reversed(list(views(op.get_bind().dialect.name))):
        op.execute(f"DROP VIEW {name}")
