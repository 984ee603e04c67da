"""``syncd refresh RESOURCE ID...``: read these records now and write them through the same path
as a pass (docs/mirror.md "Refreshing records by id").

Exit codes: 0 every id was read and written; 4 some ids are absent in SmartRecruiters, or name
a parent the mirror does not have (each reported; the others are written); 1 the API failed
(nothing of the failing read is written); 2 a bad resource, id or setting, or a mirror that is
not migrated; 3 the credential was refused.
"""

from __future__ import annotations

import sys

import click

ABSENT_EXIT = 4


def _fail(message: str, code: int) -> None:
    click.echo(f"syncd refresh: {message}", err=True)
    sys.exit(code)


def _check_arguments(resource: str, ids: tuple[str, ...]) -> None:
    """One line and exit 2 for a resource without a get-by-id or an id of the wrong form."""
    from syncd.sync.catalogue import no_get_reasons, refreshable

    found = refreshable()
    if resource not in found:
        why = no_get_reasons().get(resource)
        if why:
            _fail(f"{resource} cannot be read by id: {why}", 2)
        _fail(f"unknown resource {resource!r}; choose from {', '.join(found)}", 2)
    if not ids:
        _fail(f"name at least one id: syncd refresh {resource} {found[resource][2].id_form}", 2)
    for ident in ids:
        problem = found[resource][2].check_id(ident)
        if problem:
            _fail(problem, 2)


@click.command("refresh")
@click.argument("resource")
@click.argument("ids", nargs=-1)
def refresh_cmd(resource: str, ids: tuple[str, ...]) -> None:
    """Read RESOURCE's records IDS now and write them as a pass would (changes to the outbox,
    children and follow-ups, quarantine). RESOURCE: jobs, candidates, offers (id
    CANDIDATE_ID/JOB_ID/OFFER_ID), applications, application_status_history, interviews
    (CANDIDATE_ID/JOB_ID), job_status_history, positions, hiring_team, job_approvals (JOB_ID),
    offer_approvals (OFFER_ID), candidate_details (CANDIDATE_ID)."""
    _check_arguments(resource, ids)
    import asyncio

    from syncd.ats import AtsError, AuthenticationError, ConfigurationError, PermissionDeniedError
    from syncd.cli import settings_or_exit
    from syncd.logging import configure_logging
    from syncd.mirror.db import SchemaError
    from syncd.mirror.lock import writer_lock
    from syncd.sync.refresh import refresh_records

    settings = settings_or_exit()
    if not settings.smartrecruiters.has_credentials:
        _fail(settings.missing_credentials(), 2)
    configure_logging(settings.log_level, settings.log_format)
    try:
        # A refresh writes rows and outbox records: one writer per mirror, as for a pass.
        with writer_lock(settings.database_url, settings.tenant):
            out = asyncio.run(refresh_records(settings, resource, ids))
    except SchemaError as exc:
        _fail(str(exc), 2)
        return
    except (AuthenticationError, PermissionDeniedError, ConfigurationError) as exc:
        _fail(f"SmartRecruiters refused the credentials or their role: {exc}", 3)
        return
    except AtsError as exc:
        _fail(f"nothing of the failing read was written: {exc}", 1)
        return
    c = out.report.counts
    click.echo(
        f"{resource}: {c.fetched} read, {c.inserted} created, {c.updated} updated, "
        f"{c.unchanged} unchanged, {c.quarantined} quarantined, {c.api_calls} API calls"
    )
    for ident in out.absent:
        done = " (deleted from the mirror per the delete policy)" if ident in out.deleted else ""
        click.echo(f"absent in SmartRecruiters: {ident}{done}")
    for ident in out.not_mirrored:
        click.echo(f"not in the mirror (refresh its parent first): {ident}")
    sys.exit(ABSENT_EXIT if out.absent or out.not_mirrored else 0)
