"""bank statements as banks write them (issue 15): companies without a virtual account (2026-12-03)

Under an escrow account kept as a foreign IBAN there are no virtual accounts (they are Polish
NRBs under the escrow's bank code): companies are matched by the NIP in the transfer title
only, and `companies.virtual_account` may be empty. Statement balances need no new column:
`bank_statements.opening_balance_grosze` / `closing_balance_grosze` exist since 0004 and are
now always filled, as every imported statement's balances are checked.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'


def upgrade() -> None:
    with op.batch_alter_table('companies') as batch:
        batch.alter_column('virtual_account', existing_type=sa.String(length=26), nullable=True)


def downgrade() -> None:
    # Refused while a company has no virtual account: there is no number to give it back.
    with op.batch_alter_table('companies') as batch:
        batch.alter_column('virtual_account', existing_type=sa.String(length=26), nullable=False)
