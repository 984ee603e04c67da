"""Tables on stdout that fit the width or fold, never cut: a terminal's width, else ``COLUMNS``,
else 80 (a pipe, a CI log). A table wider than that prints as one block per row."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import click

_KEEP = "\xa0"  # a space textwrap does not break at


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    right: Sequence[str] = (),
) -> None:
    """``title``, then the rows as a table when it fits; else each row as its first value
    followed by ``column: value`` pairs wrapped at the width (empty values left out)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    text = [["" if v is None else str(v) for v in r] for r in rows]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for c in columns:
        table.add_column(c, justify="right" if c in right else "left", no_wrap=True)
    for r in text:
        table.add_row(*r)
    click.echo(title)
    natural = console.measure(table, options=console.options.update_width(100_000)).maximum
    if natural <= console.width:
        console.print(table)
        return
    width = max(40, console.width)
    for r in text:
        click.echo(r[0] if r else "")
        # A pair breaks across lines only when it is longer than a line by itself.
        pairs = [
            f"{c}: {v}".replace(" ", _KEEP)
            for c, v in zip(columns[1:], r[1:], strict=True)
            if v != ""
        ]
        folded = textwrap.fill(
            "   ".join(pairs),
            width=width,
            initial_indent="  ",
            subsequent_indent="  ",
            break_on_hyphens=False,
        )
        click.echo(folded.replace(_KEEP, " "))
