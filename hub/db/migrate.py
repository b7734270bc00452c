"""`hub init`: create or migrate the database with Alembic, from the first table on."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from hub.db.database import Database, unavailable

log = logging.getLogger("hub.db")

# hub/migrations, beside hub/db: its Alembic env imports every domain's tables (hub.tables)
MIGRATIONS = Path(__file__).parents[1] / "migrations"


def alembic_config(connection: Connection | None) -> AlembicConfig:
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


def schema_problem(db: Database) -> str | None:
    """Why this hub must not serve the database as it is, in a line that says what to do, or
    None: never initialised, or at an older migration than this version's last (`hub init`
    is the upgrade step). A migration this version does not know is a later version's, in
    the middle of an upgrade: served, with a warning, as migrations only add (docs/deployment.md).
    None too while the database cannot be reached: `/readyz` says so until it answers."""
    try:
        current = current_revision(db)
    except DBAPIError as error:
        if unavailable(error):
            return None
        raise
    scripts = ScriptDirectory.from_config(alembic_config(None))
    head = scripts.get_current_head()
    shown = db.engine.url.render_as_string(hide_password=True)
    if current == head:
        return None
    if current is None:
        return f"the database {shown} has no tables of this hub (never initialised): run `hub init`"
    if current in {script.revision for script in scripts.walk_revisions()}:
        return f"the database {shown} is at migration {current}, this version needs {head}: run `hub init`"
    log.warning(
        "the database %s is at migration %s, which this version (at %s) does not know: a later version's, "
        "served as migrations only add",
        shown,
        current,
        head,
    )
    return None
