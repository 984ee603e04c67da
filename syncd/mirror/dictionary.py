"""The mirror's data dictionary: ``docs/reporting.md`` written from the SQLAlchemy metadata
(tables, column types, keys), the views the migrations create (reflected from a scratch SQLite
database migrated to head) and ``dictionary.toml`` (what each table, view and column means).

``python -m syncd.mirror.dictionary [PATH]`` writes it (default ``docs/reporting.md``);
``python -m syncd.mirror.dictionary --check [PATH]`` exits 1 when the file is out of date or a
column is undescribed. ``tests/unit/test_reporting_dictionary.py`` runs the same check.
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Integer,
    String,
    Table,
    inspect,
)

from syncd.mirror import schema

SOURCE = Path(__file__).with_name("dictionary.toml")
DEFAULT_OUTPUT = Path("docs/reporting.md")
VIEW_TYPES = ("text", "integer", "decimal", "datetime")


@dataclass(frozen=True)
class ViewColumn:
    name: str
    type: str  # one of VIEW_TYPES
    about: str


@dataclass(frozen=True)
class View:
    name: str
    about: str
    order: str  # ORDER BY clause `syncd report NAME` uses
    columns: tuple[ViewColumn, ...]


@cache
def descriptions() -> dict[str, Any]:
    """``dictionary.toml`` as parsed (document order kept)."""
    with SOURCE.open("rb") as f:
        return tomllib.load(f)


@cache
def views() -> dict[str, View]:
    """The views the dictionary describes, by name, in its order. Raises ValueError for a column
    whose type is not one of VIEW_TYPES."""
    out = {}
    for name, v in descriptions()["views"].items():
        cols = []
        for col, d in v["columns"].items():
            if d["type"] not in VIEW_TYPES:
                raise ValueError(f"dictionary.toml: views.{name}.{col}: type {d['type']!r}")
            cols.append(ViewColumn(col, d["type"], d["about"]))
        out[name] = View(name, v["about"], v["order"], tuple(cols))
    return out


def report_views() -> list[str]:
    """Names of the reporting views (``report_*``), the ones `syncd report NAME` runs."""
    return [n for n in views() if n.startswith("report_")]


def column_about(table: str, column: str) -> str | None:
    t = descriptions()["tables"].get(table, {})
    about = t.get("columns", {}).get(column) or descriptions()["common"].get(column)
    return about if isinstance(about, str) else None


def _type_name(t: Any) -> str:
    # Portable names: what a reader of either database needs to know.
    if isinstance(t, DateTime):
        return "datetime"
    if isinstance(t, Boolean):
        return "boolean"
    if isinstance(t, Integer):
        return "integer"
    if isinstance(t, JSON):
        return "json"
    if isinstance(t, String) and t.length:
        return f"text({t.length})"
    return "text"


@dataclass(frozen=True)
class Reflected:
    """What the migrations create: tables and views with their column names."""

    tables: dict[str, list[str]]
    views: dict[str, list[str]]


def reflect_migrations() -> Reflected:
    """Migrate a scratch SQLite database to head and list its tables and views."""
    from syncd.mirror.db import make_engine, migrate

    with tempfile.TemporaryDirectory() as d:
        engine = make_engine(f"sqlite:///{Path(d) / 'dictionary.db'}")
        try:
            migrate(engine)
            insp = inspect(engine)
            tables = {
                t: [c["name"] for c in insp.get_columns(t)]
                for t in insp.get_table_names()
                if t != "alembic_version"
            }
            views_ = {v: [c["name"] for c in insp.get_columns(v)] for v in insp.get_view_names()}
        finally:
            engine.dispose()
    return Reflected(tables, views_)


def problems(found: Reflected) -> list[str]:
    """Every column of the schema without a description, and every description of a column or
    view that does not exist (so the dictionary cannot drift)."""
    out = []
    desc = descriptions()
    for name, table in schema.metadata.tables.items():
        if name not in desc["tables"]:
            out.append(f"table {name}: not described in dictionary.toml [tables.{name}]")
            continue
        for c in table.columns:
            if column_about(name, c.name) is None:
                out.append(f"{name}.{c.name}: no description in dictionary.toml")
        extra = set(desc["tables"][name].get("columns", {})) - set(table.columns.keys())
        out += [f"{name}.{c}: described but not a column" for c in sorted(extra)]
    out += [
        f"table {t}: described but not in the schema"
        for t in desc["tables"]
        if t not in schema.metadata.tables
    ]
    for t in sorted(set(found.tables) - set(schema.metadata.tables)):
        out.append(f"table {t}: created by a migration but missing from syncd/mirror/schema.py")
    described = views()
    for name, cols in found.views.items():
        if name not in described:
            out.append(f"view {name}: not described in dictionary.toml [views.{name}]")
            continue
        have = [c.name for c in described[name].columns]
        if have != cols:
            out.append(f"view {name}: columns {cols}, described {have}")
    out += [f"view {v}: described but not created" for v in described if v not in found.views]
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table_section(table: Table) -> list[str]:
    t = descriptions()["tables"].get(table.name, {})
    pk = [c.name for c in table.primary_key.columns]
    lines = [f"### `{table.name}`", "", t.get("about", "(undescribed)"), ""]
    lines.append(f"Key: {', '.join(f'`{c}`' for c in pk)}.")
    for j in t.get("joins", []):
        lines.append(f"Joins: {j}.")
    idx = sorted(
        f"`{i.name}` ({', '.join(c.name for c in i.columns)})" for i in table.indexes if i.name
    )
    if idx:
        lines.append(f"Indexes: {'; '.join(idx)}.")
    lines += ["", "| column | type | null | meaning |", "|---|---|---|---|"]
    for c in table.columns:
        about = column_about(table.name, c.name) or "**undescribed**"
        null = "yes" if c.nullable and not c.primary_key else "no"
        lines.append(f"| `{c.name}` | {_type_name(c.type)} | {null} | {_cell(about)} |")
    return [*lines, ""]


def _view_section(v: View) -> list[str]:
    lines = [f"### `{v.name}`", "", v.about, "", "| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.type} | {_cell(c.about)} |" for c in v.columns]
    return [*lines, ""]


def render() -> str:
    """docs/reporting.md as text."""
    from syncd.mirror.reporting import QUERIES

    desc = descriptions()
    doc = desc["doc"]
    out = [
        "# Reporting on the mirror: data dictionary",
        "",
        "<!-- Written by `python -m syncd.mirror.dictionary` from syncd/mirror/dictionary.toml,",
        "     syncd/mirror/schema.py and the migrations; edit those, not this file. -->",
        "",
        doc["intro"].strip(),
        "",
        "## Connecting Metabase or Superset",
        "",
        doc["connect"].strip(),
        "",
        "## Keys and joins",
        "",
        doc["joins"].strip(),
        "",
        "## Views",
        "",
        doc["views"].strip(),
        "",
    ]
    for v in views().values():
        out += _view_section(v)
    out += ["## Tables", "", doc["tables"].strip(), ""]
    ordered = [schema.metadata.tables[n] for n in desc["tables"] if n in schema.metadata.tables]
    ordered += [t for n, t in schema.metadata.tables.items() if n not in desc["tables"]]
    for table in ordered:
        out += _table_section(table)
    out += ["## Example queries", "", doc["examples"].strip(), ""]
    for ex in desc["examples"]:
        out += [f"{ex['title']}:", "", "```sql", ex["sql"].strip(), "```", ""]
    out += [
        "The named queries of `syncd report` (`:tenant` is `SYNCD_TENANT`):",
        "",
    ]
    for name, sql in QUERIES.items():
        out += [f"`{name}`:", "", "```sql", sql.strip(), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    path = Path(args[0]) if args else DEFAULT_OUTPUT
    found = problems(reflect_migrations())
    for p in found:
        print(f"dictionary: {p}", file=sys.stderr)
    text = render()
    if check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            print(
                f"dictionary: {path} is out of date; run python -m syncd.mirror.dictionary",
                file=sys.stderr,
            )
            return 1
        return 1 if found else 0
    path.write_text(text)
    print(f"dictionary: wrote {path}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
