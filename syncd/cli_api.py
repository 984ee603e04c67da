"""``syncd api``: talk to the SmartRecruiters API with the configured credential, through the same
client (limits, retries, auth) syncd itself uses.

    syncd api get /candidates --param limit=5
    syncd api put /candidates/ID/jobs/JOB/onboardingStatus --json '{"onboardingStatus": "..."}'
    syncd api check
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

T = TypeVar("T")

# What ``check`` tries: one cheap read per scope a read-only sync needs (SMARTRECRUITERS.md).
CHECKS: list[tuple[str, str, dict[str, Any]]] = [
    ("candidates_read", "/candidates", {"limit": 1}),
    ("jobs_read", "/jobs", {"limit": 1, "sort": "job_id"}),
    ("candidates_offers_read", "/offers", {"limit": 1}),
    ("configuration_read", "/configuration/departments", {}),
    ("audit_events_read", "/audit-api/v201910/audit-events", {"limit": 1}),
    ("webhooks_read", "/webhooks-api/v201907/subscriptions", {"limit": 1}),
]


def _settings() -> Any:
    from syncd.cli import settings_or_exit
    from syncd.cli_errors import USAGE, CommandError

    settings = settings_or_exit()
    if not settings.smartrecruiters.has_credentials:
        raise CommandError(
            settings.missing_credentials(),
            USAGE,
        )
    return settings.smartrecruiters


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work`` with a client. A refused credential or a missing scope ends in the error
    boundary (exit 3); another API error prints the request and its answer (exit 1)."""
    from syncd.ats import (
        AtsError,
        AuthenticationError,
        PermissionDeniedError,
        SmartRecruitersClient,
    )
    from syncd.cli_errors import FAILED, run_until_signal

    settings = _settings()
    SmartRecruitersClient(settings)  # a ConfigurationError (empty key ...) before any call

    async def go() -> T:
        async with SmartRecruitersClient(settings) as sr:
            return await work(sr)

    try:
        return run_until_signal(go())
    except (AuthenticationError, PermissionDeniedError):
        raise
    except AtsError as exc:
        click.echo(f"syncd api: {exc}", err=True)
        sys.exit(FAILED)


def _parse_params(values: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{item}': expected NAME=VALUE", param_hint="--param")
        if key in params:  # repeated names become repeated query parameters
            prev = params[key]
            params[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            params[key] = value
    return params


def _parse_json(raw: str | None) -> Any:
    if raw is None:
        return None
    source = "--json"
    if raw == "-":
        raw, source = sys.stdin.read(), "--json - (stdin)"
    elif raw.startswith("@"):
        path = Path(raw[1:])
        try:
            raw, source = path.read_text(), f"--json @{path}"
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise click.BadParameter(f"{source}: not valid JSON ({exc})") from None


def _emit(body: Any) -> None:
    if body is not None:
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))


@click.group("api")
def api() -> None:
    """Call the SmartRecruiters API with the configured credential and print JSON."""


def _path_arg(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("path")(f)


def _param_opt(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--param",
        "-p",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="A query parameter (repeatable; a repeated NAME repeats the parameter).",
    )(f)


def _json_opt(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json",
        "body",
        metavar="JSON|@FILE|-",
        help="Request body: inline JSON, @file.json, or - for stdin.",
    )(f)


@api.command("get")
@_path_arg
@_param_opt
@click.option(
    "--all",
    "all_pages",
    is_flag=True,
    help="Follow the pages (cursor or offset/limit paging); print all items.",
)
def get(path: str, params: tuple[str, ...], all_pages: bool) -> None:
    """GET PATH, e.g. /candidates --param limit=5."""
    query = _parse_params(params)

    async def work(sr: Any) -> Any:
        if not all_pages:
            return await sr.request("GET", path, params=query)
        return await _all_items(sr, path, query)

    _emit(_run(work))


async def _all_items(sr: Any, path: str, query: dict[str, Any]) -> list[Any]:
    """Every item of a listing: cursor pages while the answers carry ``nextPageId``; a first
    answer with an ``offset``, no ``nextPageId`` and fewer items than ``totalFound`` is
    offset-paged (``/jobs`` without ``sort=job_id``, SmartRecruiters' older listings), and the
    next pages are asked for by ``offset``/``limit``. An endpoint that ignores ``offset`` (the
    answer names another offset than asked) ends with exit 1 rather than repeat its items."""
    from syncd.ats.paging import MAX_PAGE
    from syncd.cli_errors import FAILED, CommandError

    token = "nextPageId" if path.startswith("/audit-api/") else "pageId"
    if path.startswith("/webhooks-api/"):
        token = "page_id"
    items: list[Any] = []
    first = True
    async for page in sr.cursor_pages(path, query, token_param=token):
        items.extend(page.items)
        raw = page.raw
        if not first or page.next_page_id or "offset" not in raw:
            first = False
            continue  # cursor paging (or a single answer)
        start = int(raw.get("offset") or 0) + len(page.items)
        limit = int(raw.get("limit") or query.get("limit") or MAX_PAGE)
        if not page.items or len(page.items) < limit or start >= (page.total or 0):
            break  # the first page was the whole listing
        async for more in sr.offset_pages(path, query, limit=limit, offset=start):
            if int(more.raw.get("offset", more.offset)) != more.offset:
                raise CommandError(
                    f"--all: {path} ignores offset (asked {more.offset}, answered "
                    f"{more.raw.get('offset')}); page it with --param instead",
                    FAILED,
                )
            items.extend(more.items)
        break
    return items


def _writer(method: str) -> Callable[..., None]:
    def command(path: str, params: tuple[str, ...], body: str | None) -> None:
        query = _parse_params(params)
        payload = _parse_json(body)

        async def work(sr: Any) -> Any:
            if payload is None:
                return await sr.request(method, path, params=query)
            return await sr.request(method, path, params=query, json=payload)

        _emit(_run(work))

    command.__doc__ = f"{method} PATH with an optional JSON body."
    command.__name__ = method.lower()
    return command


for _method in ("POST", "PUT", "PATCH", "DELETE"):
    api.command(_method.lower())(_path_arg(_param_opt(_json_opt(_writer(_method)))))


@api.command("check")
def check() -> None:
    """Verify the credential: fetch a token (OAuth) and try one read per scope syncd needs."""
    from syncd.ats import (
        AuthenticationError,
        HttpError,
        NotFoundError,
        PermissionDeniedError,
    )
    from syncd.cli_errors import REFUSED

    async def work(sr: Any) -> int:
        click.echo(f"credential: {sr.auth.kind} at {sr.base_url}")
        missing: list[str] = []
        for scope, path, params in CHECKS:
            try:
                await sr.request("GET", path, params=params)
                click.echo(f"  ok       {scope:<24} GET {path}")
            except AuthenticationError as exc:
                click.echo(f"  refused  {scope:<24} GET {path}", err=True)
                reason = exc.message.split(";")[0]
                click.echo(
                    f"syncd api check: the {sr.auth.kind} was refused ({reason}); "
                    "check that it is valid and active",
                    err=True,
                )
                return REFUSED
            except PermissionDeniedError:
                missing.append(scope)
                click.echo(f"  MISSING  {scope:<24} GET {path} -> 403")
            except NotFoundError:
                click.echo(f"  n/a      {scope:<24} GET {path} -> 404 (not offered here)")
            except HttpError as exc:
                click.echo(f"  error    {scope:<24} GET {path} -> {exc.status}")
        if missing:
            click.echo(
                f"syncd api check: the {sr.auth.kind} lacks the scope(s) {', '.join(missing)}; "
                "grant them to the credential in SmartRecruiters",
                err=True,
            )
            return REFUSED
        click.echo(f"credential OK ({sr.calls} requests)")
        return 0

    sys.exit(_run(work))
