"""ledger account totals never below zero, as a CHECK (issue 18) (2026-12-05)

The account moves a transaction holds for its commit (hub.ledger.service._HeldMoves) were
read back and checked in Python before the COMMIT, which on PostgreSQL then took a round trip
of its own, with the clearing account's row (which every capture moves) locked throughout.
The server checks them now, with `no_overdraft` and this constraint, and the COMMIT goes with
them (hub.db.database.BeforeCommit). A ledger whose totals are already below zero cannot take
it: the upgrade then fails, naming the constraint (`hub ledger verify` says which account).
"""

from alembic import op

revision = '0015'
down_revision = '0014'

_TOTALS_NOT_NEGATIVE = (
    'debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0'
)


def upgrade() -> None:
    with op.batch_alter_table('ledger_accounts') as batch:
        batch.create_check_constraint(op.f('ck_ledger_accounts_totals_not_negative'), _TOTALS_NOT_NEGATIVE)


def downgrade() -> None:
    with op.batch_alter_table('ledger_accounts') as batch:
        batch.drop_constraint(op.f('ck_ledger_accounts_totals_not_negative'), type_='check')
