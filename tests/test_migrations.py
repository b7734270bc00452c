"""The migrations build exactly the tables the models describe, on both backends."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from hub.tables import metadata


def test_migrated_schema_matches_the_models(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_the_totals_check_refuses_an_upgrade_onto_a_ledger_already_below_zero(db):
    """Migration 0015 adds `ck_ledger_accounts_totals_not_negative`: on a ledger with a total
    already below zero the upgrade stops, naming the constraint, and the database stays as it
    was (0014, the row untouched); once the total is mended, it goes through."""
    from alembic import command
    from sqlalchemy import text

    from hub.db.migrate import alembic_config, current_revision, upgrade

    head = current_revision(db)
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0014")
    try:
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO ledger_accounts (code, kind, debits_must_not_exceed_credits, debits_pending,"
                    " debits_posted, credits_pending, credits_posted, created_at)"
                    " VALUES ('below', 'OTHER', false, -5, 0, 0, 0, CURRENT_TIMESTAMP)"
                )
            )
        with pytest.raises(IntegrityError, match="ck_ledger_accounts_totals_not_negative"):
            upgrade(db)
        assert current_revision(db) == "0014"
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT debits_pending FROM ledger_accounts")).scalars().all() == [-5]
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM ledger_accounts WHERE code = 'below'"))
        upgrade(db)  # the shared database back at the head, for the tests after this one
    assert current_revision(db) == head
