"""``syncd/mirror/schema.py`` (what the code queries) and the Alembic migrations (what databases
get) describe the same tables, on SQLite and PostgreSQL: Alembic's autogenerate comparison of
the migrated database with the metadata finds no difference (DESIGN "Alembic")."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from syncd.mirror import schema as s
from syncd.mirror.db import MIGRATIONS, current_revision, head_revision, migrate


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


def test_webhook_inbox_migration_down_and_up(db: Engine) -> None:
    """0007 (the webhook inbox) goes down to 0006 without its table and comes back to the
    schema the code queries."""
    head = head_revision(db)
    assert current_revision(db) == head and "webhook_inbox" in inspect(db).get_table_names()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    assert current_revision(db) == "0006"
    assert "webhook_inbox" not in inspect(db).get_table_names()
    assert migrate(db) == ("0006", head)
    test_schema_and_migrations_agree(db)
