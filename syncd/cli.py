"""The ``syncd`` command. It only wires: each subcommand hands its work to its owner."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from syncd.cli_api import api as api_command
from syncd.cli_errors import FiniteRange, SyncdGroup, WholeRange, exit_codes_help
from syncd.cli_hris_sandbox import hris_sandbox as hris_sandbox_command
from syncd.cli_inspect import quarantine_cmd, report_cmd, status_cmd
from syncd.cli_push import changes_cmd, deliveries_cmd, push_cmd, sinks_cmd
from syncd.cli_refresh import refresh_cmd
from syncd.cli_run import run_cmd, webhooks_cmd
from syncd.cli_sync import backfill_cmd, migrate_cmd, sync_cmd

if TYPE_CHECKING:  # pydantic is imported by the commands that read settings, not by --help
    from syncd.config import Settings


def settings_or_exit(*, all_tenants: bool = False, **overrides: Any) -> Settings:
    """The settings; a ConfigError ends in the error boundary (one line per bad setting, exit 2).
    With ``[tenants]`` configured, those of the one tenant ``SYNCD_TENANT`` names (one-shot
    commands act on one tenant); ``all_tenants`` (``syncd run``) keeps them all."""
    from syncd.config import load_settings

    settings = load_settings(**overrides)
    return settings if all_tenants else settings.select_tenant()


def _early_logging() -> None:
    """Logs on stderr from the first line, at the configured level and format when those two
    settings are valid (a bad one is reported by the settings' own check)."""
    from syncd.logging import configure_logging

    level = os.environ.get("SYNCD_LOG_LEVEL", "info").lower()
    fmt = os.environ.get("SYNCD_LOG_FORMAT", "auto").lower()
    configure_logging(
        level if level in ("debug", "info", "warning", "error") else "info",
        fmt if fmt in ("auto", "json", "console") else "auto",
    )


@click.group(cls=SyncdGroup, epilog=exit_codes_help())
@click.version_option(package_name="syncd")
def main() -> None:
    """syncd keeps a SmartRecruiters tenant and your HRIS in step."""
    _early_logging()


@main.group()
def sandbox() -> None:
    """A SmartRecruiters-compatible sandbox tenant for development, tests and demos."""


def _parse_faults(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from syncd.sandbox.faults import FaultPlan, FaultSpecError

    try:
        FaultPlan.parse(value)
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8011, show_default=True, type=WholeRange(0, 65535))
@click.option("--seed", default=7, show_default=True, type=int, help="Same seed, same tenant.")
@click.option("--jobs", default=50, show_default=True, type=WholeRange(0, 100_000))
@click.option("--candidates", default=2000, show_default=True, type=WholeRange(0, 2_000_000))
@click.option(
    "--token",
    "tokens",
    multiple=True,
    default=("sandbox-token",),
    show_default=True,
    help="An accepted X-SmartToken API key (repeatable).",
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    default=("sandbox-client:sandbox-secret",),
    show_default=True,
    help="An OAuth2 client as ID:SECRET (repeatable).",
)
@click.option(
    "--token-ttl",
    default=3600,
    show_default=True,
    type=WholeRange(1, 10 * 366 * 86400),  # ten years: more overflows the clock
    help="Lifetime of issued OAuth bearers, in seconds.",
)
@click.option(
    "--no-limits", is_flag=True, help="Turn off rate and concurrency limits (benchmarks)."
)
@click.option(
    "--faults",
    default="",
    callback=_parse_faults,
    help="e.g. '429=0.05,500=0.02,timeout=0.01,reset=0.01,truncate=0.01,latency=50ms'.",
)
@click.option(
    "--fault-timeout",
    default=30.0,
    show_default=True,
    type=FiniteRange(0, 86400),
    help="How long a 'timeout' fault holds the answer back, in seconds.",
)
@click.option(
    "--activity",
    default=0.0,
    show_default=True,
    type=FiniteRange(0, 1000),
    help="Background changes per second (new candidates, moves, offers, hires, deletions).",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def sandbox_serve(
    host: str,
    port: int,
    seed: int,
    jobs: int,
    candidates: int,
    tokens: tuple[str, ...],
    clients: tuple[str, ...],
    token_ttl: int,
    no_limits: bool,
    faults: str,
    fault_timeout: float,
    activity: float,
    log_level: str,
) -> None:
    """Serve a generated tenant over HTTP."""
    import time

    import uvicorn

    from syncd.cli_listen import listen_socket
    from syncd.sandbox.limits import LimitConfig
    from syncd.sandbox.runner import sandbox_serving_line
    from syncd.sandbox.server import SandboxOptions, create_app

    pairs = []
    for c in clients:
        cid, sep, secret = c.partition(":")
        if not sep or not cid or not secret:
            raise click.BadParameter(f"'{c}': expected ID:SECRET", param_hint="--client")
        pairs.append((cid, secret))
    options = SandboxOptions(
        seed=seed,
        jobs=jobs,
        candidates=candidates,
        api_keys=list(tokens),
        oauth_clients=pairs,
        token_ttl=token_ttl,
        limits=LimitConfig(enabled=not no_limits),
        faults=faults,
        fault_timeout_seconds=fault_timeout,
        activity_rate=activity,
    )
    started = time.perf_counter()
    app = create_app(options)
    # Bound here, not by uvicorn, so that the line names the port the system gave for --port 0.
    sock = listen_socket(host, port)
    bound = sock.getsockname()[1]
    seconds = time.perf_counter() - started
    click.echo(sandbox_serving_line(seed, jobs, candidates, seconds, host, bound), err=True)
    config = uvicorn.Config(app, log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


@main.command()
@click.option(
    "--run-seconds",
    default=60.0,
    show_default=True,
    type=FiniteRange(0, 30 * 86400),
    help="How long `syncd run` works at the end (0: skip that part).",
)
def demo(run_seconds: float) -> None:
    """Run the main job on embedded defaults: the sandbox tenant and a SQLite mirror, then the
    daemon with hires reaching a local HRIS stand-in."""
    from syncd.demo import run_demo

    sys.exit(run_demo(run_seconds=run_seconds))


main.add_command(api_command)

main.add_command(migrate_cmd)
main.add_command(backfill_cmd)
main.add_command(sync_cmd)
main.add_command(status_cmd)
main.add_command(quarantine_cmd)
main.add_command(report_cmd)
main.add_command(hris_sandbox_command)
main.add_command(refresh_cmd)
main.add_command(changes_cmd)
main.add_command(sinks_cmd)
main.add_command(push_cmd)
main.add_command(deliveries_cmd)
main.add_command(run_cmd)
main.add_command(webhooks_cmd)

if __name__ == "__main__":
    main()
