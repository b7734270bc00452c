"""bank statements and their entries (issue 5) (2026-11-25)
"""

from alembic import op
import sqlalchemy as sa
import hub.db.base


revision = '0004'
down_revision = '0003'


def upgrade() -> None:
    op.create_table('bank_statements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account', sa.String(length=34), nullable=False),
    sa.Column('statement_id', sa.String(length=35), nullable=False),
    sa.Column('electronic_sequence', sa.String(length=20), nullable=False),
    sa.Column('version', sa.String(length=8), nullable=False),
    sa.Column('message_id', sa.String(length=35), nullable=False),
    sa.Column('created_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('opening_balance_grosze', sa.BigInteger(), nullable=True),
    sa.Column('closing_balance_grosze', sa.BigInteger(), nullable=True),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('imported_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_statements')),
    sa.UniqueConstraint('account', 'statement_id', 'electronic_sequence', name=op.f('uq_bank_statements_account'))
    )
    op.create_table('bank_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('statement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account', sa.String(length=34), nullable=False),
    sa.Column('entry_key', sa.String(length=100), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('reversal', sa.Boolean(), nullable=False),
    sa.Column('amount_grosze', sa.BigInteger(), nullable=False),
    sa.Column('booking_date', sa.Date(), nullable=True),
    sa.Column('value_date', sa.Date(), nullable=True),
    sa.Column('account_servicer_ref', sa.String(length=35), nullable=True),
    sa.Column('entry_ref', sa.String(length=35), nullable=True),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=True),
    sa.Column('creditor_account', sa.String(length=34), nullable=True),
    sa.Column('debtor_name', sa.String(length=140), nullable=True),
    sa.Column('debtor_account', sa.String(length=34), nullable=True),
    sa.Column('remittance', sa.Text(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('ledger_transfer_id', sa.String(length=80), nullable=True),
    sa.Column('assign_transfer_id', sa.String(length=80), nullable=True),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("direction IN ('CRDT', 'DBIT')", name=op.f('ck_bank_entries_direction_known')),
    sa.CheckConstraint('amount_grosze > 0', name=op.f('ck_bank_entries_amount_positive')),
    sa.ForeignKeyConstraint(['assign_transfer_id'], ['ledger_transfers.id'], name=op.f('fk_bank_entries_assign_transfer_id_ledger_transfers')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_bank_entries_company_id_companies')),
    sa.ForeignKeyConstraint(['ledger_transfer_id'], ['ledger_transfers.id'], name=op.f('fk_bank_entries_ledger_transfer_id_ledger_transfers')),
    sa.ForeignKeyConstraint(['reverses_id'], ['bank_entries.id'], name=op.f('fk_bank_entries_reverses_id_bank_entries')),
    sa.ForeignKeyConstraint(['statement_id'], ['bank_statements.id'], name=op.f('fk_bank_entries_statement_id_bank_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_entries')),
    sa.UniqueConstraint('account', 'entry_key', name=op.f('uq_bank_entries_account')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_bank_entries_reverses_id'))
    )
    with op.batch_alter_table('bank_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_entries_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bank_entries_end_to_end_id'), ['end_to_end_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bank_entries_statement_id'), ['statement_id'], unique=False)
        batch_op.create_index('ix_bank_entries_status', ['status', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bank_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_bank_entries_status')
        batch_op.drop_index(batch_op.f('ix_bank_entries_statement_id'))
        batch_op.drop_index(batch_op.f('ix_bank_entries_end_to_end_id'))
        batch_op.drop_index(batch_op.f('ix_bank_entries_company_id'))

    op.drop_table('bank_entries')
    op.drop_table('bank_statements')
