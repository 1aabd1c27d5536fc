"""Alembic environment: the engine comes from the app (config.attributes) or from settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import dealchat.models  # noqa: F401 - registers every table on Base.metadata
from dealchat.db.base import Base
from dealchat.db.session import make_engine
from dealchat.settings import Settings


def _engine() -> Engine:
    given = context.config.attributes.get("engine")
    if given is not None:
        return given  # type: ignore[no-any-return]
    return make_engine(Settings().db_url)


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
