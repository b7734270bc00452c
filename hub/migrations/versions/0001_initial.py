"""ledger, companies, coupons, idempotency, audit (2026-11-25)
"""

from alembic import op
import sqlalchemy as sa
import hub.db.base


revision = '0001'
down_revision = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=120), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_subject'), ['subject'], unique=False)

    op.create_table('companies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('nip', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('virtual_account', sa.String(length=26), nullable=False),
    sa.Column('created_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_companies')),
    sa.UniqueConstraint('nip', name=op.f('uq_companies_nip')),
    sa.UniqueConstraint('virtual_account', name=op.f('uq_companies_virtual_account'))
    )
    op.create_table('idempotency_keys',
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('operation', sa.String(length=40), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('created_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('ledger_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('debits_must_not_exceed_credits', sa.Boolean(), nullable=False),
    sa.Column('debits_pending', sa.BigInteger(), nullable=False),
    sa.Column('debits_posted', sa.BigInteger(), nullable=False),
    sa.Column('credits_pending', sa.BigInteger(), nullable=False),
    sa.Column('credits_posted', sa.BigInteger(), nullable=False),
    sa.Column('created_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted', name=op.f('ck_ledger_accounts_no_overdraft')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('code', name=op.f('uq_ledger_accounts_code'))
    )
    op.create_table('coupon_batches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_type', sa.String(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('amount_grosze', sa.BigInteger(), nullable=False),
    sa.Column('office_code', sa.String(length=4), nullable=True),
    sa.Column('issued_by', sa.String(length=120), nullable=False),
    sa.Column('issued_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_coupon_batches_company_id_companies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_batches'))
    )
    with op.batch_alter_table('coupon_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coupon_batches_company_id'), ['company_id'], unique=False)

    op.create_table('ledger_transfers',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('debit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_grosze', sa.BigInteger(), nullable=False),
    sa.Column('pending_id', sa.String(length=80), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('created_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind IN ('POST', 'VOID')) = (pending_id IS NOT NULL)", name=op.f('ck_ledger_transfers_resolves_a_pending')),
    sa.CheckConstraint("kind IN ('POSTED', 'PENDING', 'POST', 'VOID')", name=op.f('ck_ledger_transfers_kind_known')),
    sa.CheckConstraint('amount_grosze >= 0', name=op.f('ck_ledger_transfers_amount_not_negative')),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name=op.f('ck_ledger_transfers_distinct_accounts')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_transfers_credit_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['debit_account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_transfers_debit_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['pending_id'], ['ledger_transfers.id'], name=op.f('fk_ledger_transfers_pending_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transfers')),
    sa.UniqueConstraint('pending_id', name=op.f('uq_ledger_transfers_pending_id'))
    )
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_transfers_credit', ['credit_account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_ledger_transfers_debit', ['debit_account_id', 'created_at'], unique=False)

    op.create_table('coupons',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('case_type', sa.String(length=32), nullable=False),
    sa.Column('amount_grosze', sa.BigInteger(), nullable=False),
    sa.Column('office_code', sa.String(length=4), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('issued_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('hold_transfer_id', sa.String(length=80), nullable=False),
    sa.Column('holds', sa.Integer(), nullable=False),
    sa.Column('closed_at', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['coupon_batches.id'], name=op.f('fk_coupons_batch_id_coupon_batches')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_coupons_company_id_companies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons'))
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coupons_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_coupons_company_status', ['company_id', 'status'], unique=False)
        batch_op.create_index('ix_coupons_status_expires', ['status', 'expires_at'], unique=False)

    op.create_table('redemptions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('coupon_id', sa.String(length=16), nullable=False),
    sa.Column('office_code', sa.String(length=4), nullable=False),
    sa.Column('case_number', sa.String(length=64), nullable=False),
    sa.Column('case_type', sa.String(length=32), nullable=False),
    sa.Column('captured_grosze', sa.BigInteger(), nullable=False),
    sa.Column('released_grosze', sa.BigInteger(), nullable=False),
    sa.Column('redeemed_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('reversed_at', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reversal_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_redemptions_coupon_id_coupons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions'))
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redemptions_coupon_id'), ['coupon_id'], unique=False)
        batch_op.create_index('ix_redemptions_office_day', ['office_code', 'business_day'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_office_day')
        batch_op.drop_index(batch_op.f('ix_redemptions_coupon_id'))

    op.drop_table('redemptions')
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index('ix_coupons_status_expires')
        batch_op.drop_index('ix_coupons_company_status')
        batch_op.drop_index(batch_op.f('ix_coupons_batch_id'))

    op.drop_table('coupons')
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_transfers_debit')
        batch_op.drop_index('ix_ledger_transfers_credit')

    op.drop_table('ledger_transfers')
    with op.batch_alter_table('coupon_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupon_batches_company_id'))

    op.drop_table('coupon_batches')
    op.drop_table('ledger_accounts')
    op.drop_table('idempotency_keys')
    op.drop_table('companies')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_subject'))
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))

    op.drop_table('audit_events')
