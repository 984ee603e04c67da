"""``syncd changes``, ``syncd sinks``, ``syncd push`` and ``syncd deliveries``: the push side from
the command line. Exit codes: 0 done, 1 failed, 2 bad configuration or arguments."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from syncd.cli_inspect import _mirror, _table


@click.command("changes")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option("--since", default=0, type=click.IntRange(0), help="Events after this sequence.")
@click.option("--follow", is_flag=True, help="Keep printing new events (Ctrl-C stops).")
@click.option("--limit", default=100, type=click.IntRange(1), show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line.")
def changes_cmd(
    types: tuple[str, ...], since: int, follow: bool, limit: int, as_json: bool
) -> None:
    """Read the outbox as events (docs/push.md, "Event schema")."""
    from syncd.mirror import outbox

    cursor = since
    with _mirror() as (conn, tenant):
        while True:
            events, last = outbox.read(conn, tenant, after=cursor, limit=limit, types=types)
            conn.rollback()  # a fresh snapshot on the next read
            for e in events:
                if as_json:
                    click.echo(json.dumps(e, separators=(",", ":")))
                else:
                    subject = e["subject"]
                    moved = ", ".join(
                        f"{k}: {v['old']} -> {v['new']}" for k, v in e["changes"].items()
                    )
                    click.echo(
                        f"{e['sequence']:>8}  {e['occurred_at']}  {e['type']:<28} "
                        f"{subject['key']}  {moved}"
                    )
            if not follow:
                return
            if last == cursor:
                time.sleep(1.0)  # polling the outbox: nothing new committed yet
            cursor = last


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


_ = (_table, sys)
