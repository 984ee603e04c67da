"""``syncd hris-sandbox serve``: a local BambooHR or Personio for development, tests and demos.

Exit codes: 2 for bad arguments (one line naming the option), 1 when the address cannot be
bound; stopped by SIGTERM or SIGINT it exits by that signal (uvicorn's way) within 3 s, also
while a fault holds a request."""

from __future__ import annotations

import sys

import click

from syncd.cli_errors import FiniteRange, WholeRange

VENDORS = ("bamboohr", "personio")


def _parse_rates(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from syncd.hris_sandbox.faults import FaultSpecError, parse_rates

    try:
        parse_rates(value)
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.group("hris-sandbox")
def hris_sandbox() -> None:
    """Local HRIS servers (BambooHR, Personio) that speak each vendor's documented API."""


@hris_sandbox.command("serve")
@click.option("--vendor", required=True, type=click.Choice(VENDORS), help="Which HRIS to serve.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=WholeRange(0, 65535),
    help="0 picks a free port. Default: 8021 (bamboohr), 8022 (personio).",
)
@click.option("--seed", default=7, show_default=True, type=int, help="Same seed, same company.")
@click.option(
    "--employees",
    default=20,
    show_default=True,
    type=WholeRange(0, 100_000),
    help="People the company already employs.",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    help="BambooHR: an accepted API key (repeatable). Default: sandbox-key.",
)
@click.option("--client-id", help="Personio: the accepted client id. Default: sandbox-client.")
@click.option(
    "--client-secret", help="Personio: the accepted client secret. Default: sandbox-secret."
)
@click.option(
    "--company-domain",
    default="sandbox",
    show_default=True,
    help="BambooHR: the company domain of /api/gateway.php/{companyDomain}/v1/… paths.",
)
@click.option(
    "--token-ttl",
    default=86400,
    show_default=True,
    type=WholeRange(1, 10 * 366 * 86400),  # ten years: more overflows the clock
    help="Personio: lifetime of issued bearers, seconds.",
)
@click.option("--no-limits", is_flag=True, help="Turn the vendor's rate limits off (benchmarks).")
@click.option(
    "--faults",
    default="",
    callback=_parse_rates,
    help="Seeded fault rates for every operation, e.g. '503=0.05,429=0.05,lost=0.02'.",
)
@click.option(
    "--fault-timeout",
    default=30.0,
    show_default=True,
    type=FiniteRange(0, 86400),
    help="How long 'timeout' and 'slow' faults hold a request, seconds.",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def serve(
    vendor: str,
    host: str,
    port: int | None,
    seed: int,
    employees: int,
    api_keys: tuple[str, ...],
    client_id: str | None,
    client_secret: str | None,
    company_domain: str,
    token_ttl: int,
    no_limits: bool,
    faults: str,
    fault_timeout: float,
    log_level: str,
) -> None:
    """Serve a seeded company over HTTP; prints the URL it listens on (stdout)."""
    import uvicorn

    from syncd.cli_listen import listen_socket
    from syncd.hris_sandbox.server import HrisOptions, create_app, vendor_named

    if vendor == "bamboohr" and (client_id or client_secret):
        raise click.BadParameter(
            "is for --vendor personio", param_hint="--client-id/--client-secret"
        )
    if vendor == "personio" and api_keys:
        raise click.BadParameter("is for --vendor bamboohr", param_hint="--api-key")
    if bool(client_id) != bool(client_secret):
        raise click.BadParameter("give both or neither", param_hint="--client-id/--client-secret")
    if any(not k.strip() for k in api_keys):
        raise click.BadParameter("must not be empty", param_hint="--api-key")
    options = HrisOptions(
        vendor=vendor,
        seed=seed,
        employees=employees,
        company_domain=company_domain,
        limits=not no_limits,
        token_ttl=token_ttl,
        fault_timeout_seconds=fault_timeout,
        fault_rates=faults,
    )
    if api_keys:
        options.api_keys = list(api_keys)
    if client_id and client_secret:
        options.clients = [(client_id, client_secret)]
    sock = listen_socket(host, vendor_named(vendor).default_port if port is None else port)
    real_port = sock.getsockname()[1]
    app = create_app(options)
    url = f"http://{f'[{host}]' if ':' in host else host}:{real_port}"
    creds = (
        f"client id {options.clients[0][0]}"
        if vendor == "personio"
        else f"{len(options.api_keys)} API key(s)"
    )
    click.echo(
        f"hris-sandbox: {vendor}, seed={seed}, {employees} employees, {creds}; serving {url}",
        err=True,
    )
    click.echo(url)
    sys.stdout.flush()
    # A request held by a 'timeout' or 'slow' fault must not keep a stopping sandbox alive.
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=3
    )
    uvicorn.Server(config).run(sockets=[sock])
