"""Alembic environment: runs on the connection ``syncd migrate`` hands it (or on the URL from
alembic.ini / ``SYNCD_DATABASE_URL`` when run through the ``alembic`` command)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from syncd.mirror.db import make_engine
from syncd.mirror.schema import metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("SYNCD_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    engine = make_engine(url or "sqlite:///syncd.db")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `syncd migrate`")
run_online()
