"""``syncd/mirror/schema.py`` (what the code queries) and the Alembic migrations (what databases
get) describe the same tables, on SQLite and PostgreSQL: Alembic's autogenerate comparison of
the migrated database with the metadata finds no difference (DESIGN "Alembic")."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from syncd.mirror import schema as s


def test_schema_and_migrations_agree(db: Engine) -> None:
    with db.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                # Alembic's own bookkeeping table is not part of the mirror's metadata.
                "include_name": lambda name, kind, parent: name != "alembic_version",
            },
        )
        diff: list[Any] = compare_metadata(ctx, s.metadata)
    assert diff == [], "schema.py and the migrations differ:\n" + "\n".join(map(repr, diff))


def test_the_comparison_sees_a_difference(db: Engine) -> None:
    """The check can fail: metadata with a column the migrations never made is reported."""
    from sqlalchemy import Column, MetaData, Text

    other = MetaData()
    for table in s.metadata.tables.values():
        table.to_metadata(other)
    other.tables["hiring_team"].append_column(Column("nickname", Text))
    with db.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_name": lambda name, kind, parent: name != "alembic_version"}
        )
        diff = compare_metadata(ctx, other)
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "hiring_team", "nickname")]
