"""`hub init`: create or migrate the database with Alembic, from the first table on."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection

from hub.db.database import Database

# hub/migrations, beside hub/db: its Alembic env imports every domain's tables (hub.tables)
MIGRATIONS = Path(__file__).parents[1] / "migrations"


def alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(db: Database) -> None:
    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
