"""Models and migrations agree: a migrated database has exactly the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import dealchat.models  # noqa: F401 - every table on Base.metadata
from dealchat.api.deps import Platform
from dealchat.db.base import Base
from dealchat.db.migrate import upgrade


def test_models_and_migrations_agree(platform: Platform) -> None:
    with platform.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrading_twice_changes_nothing(platform: Platform) -> None:
    upgrade(platform.engine)
    with platform.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() is not None
