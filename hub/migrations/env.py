"""Alembic environment: migrations run on the connection `hub.db.migrate` hands over,
against every domain's tables (hub.tables)."""

from alembic import context

from hub.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
