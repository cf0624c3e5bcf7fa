"""Alembic environment: runs migrations against the URL tiergate passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from router.log.schema import metadata

config = context.config


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
