"""cash desk payments, receipts and closed days (issue 6) (2026-11-25)
"""

from alembic import op
import sqlalchemy as sa
import hub.db.base


revision = '0006'
down_revision = '0005'

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('cash_receipt_counters',
    sa.Column('office_code', sa.String(length=4), nullable=False),
    sa.Column('desk_id', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('office_code', 'desk_id', 'year', name=op.f('pk_cash_receipt_counters'))
    )
    op.create_table('cash_desk_days',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('office_code', sa.String(length=4), nullable=False),
    sa.Column('desk_id', sa.String(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('closed_at', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=120), nullable=True),
    sa.Column('report_id', sa.String(length=64), nullable=True),
    sa.Column('payment_count', sa.Integer(), nullable=True),
    sa.Column('voided_count', sa.Integer(), nullable=True),
    sa.Column('cash_total_grosze', sa.BigInteger(), nullable=True),
    sa.Column('card_total_grosze', sa.BigInteger(), nullable=True),
    sa.Column('handling_fee_total_grosze', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('(closed_at IS NULL) = (report_id IS NULL)', name=op.f('ck_cash_desk_days_closed_has_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cash_desk_days')),
    sa.UniqueConstraint('office_code', 'desk_id', 'day', name='uq_cash_desk_days_desk_day'),
    sa.UniqueConstraint('report_id', name=op.f('uq_cash_desk_days_report_id'))
    )
    op.create_table('cash_payments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('receipt_number', sa.String(length=64), nullable=False),
    sa.Column('office_code', sa.String(length=4), nullable=False),
    sa.Column('desk_id', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('cashier', sa.String(length=64), nullable=False),
    sa.Column('system', sa.String(length=10), nullable=False),
    sa.Column('case_number', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=4), nullable=False),
    sa.Column('card_auth_code', sa.String(length=32), nullable=True),
    sa.Column('items_total_grosze', sa.BigInteger(), nullable=False),
    sa.Column('handling_fee_grosze', sa.BigInteger(), nullable=False),
    sa.Column('total_grosze', sa.BigInteger(), nullable=False),
    sa.Column('paid_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('registered_by', sa.String(length=120), nullable=False),
    sa.Column('voided_at', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.String(length=64), nullable=True),
    sa.Column('void_reason', sa.String(length=500), nullable=True),
    sa.CheckConstraint("method IN ('CASH', 'CARD')", name=op.f('ck_cash_payments_method_known')),
    sa.CheckConstraint("(method = 'CARD') = (card_auth_code IS NOT NULL)", name=op.f('ck_cash_payments_card_has_auth_code')),
    sa.CheckConstraint('total_grosze = items_total_grosze + handling_fee_grosze AND items_total_grosze > 0', name=op.f('ck_cash_payments_total_adds_up')),
    sa.CheckConstraint('(voided_at IS NULL) = (voided_by IS NULL)', name=op.f('ck_cash_payments_void_has_supervisor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cash_payments')),
    sa.UniqueConstraint('receipt_number', name=op.f('uq_cash_payments_receipt_number')),
    sa.UniqueConstraint('office_code', 'desk_id', 'year', 'number', name='uq_cash_payments_desk_year_number')
    )
    with op.batch_alter_table('cash_payments', schema=None) as batch_op:
        batch_op.create_index('ix_cash_payments_case', ['office_code', 'system', 'case_number'], unique=False)
        batch_op.create_index('ix_cash_payments_desk_day', ['office_code', 'desk_id', 'business_day'], unique=False)
        batch_op.create_index('ix_cash_payments_office_day', ['office_code', 'business_day'], unique=False)

    op.create_table('cash_payment_items',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('payment_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('fee_code', sa.String(length=32), nullable=False),
    sa.Column('fee_name', sa.String(length=200), nullable=False),
    sa.Column('amount_grosze', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_grosze > 0', name=op.f('ck_cash_payment_items_amount_positive')),
    sa.ForeignKeyConstraint(['payment_id'], ['cash_payments.id'], name=op.f('fk_cash_payment_items_payment_id_cash_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cash_payment_items'))
    )
    with op.batch_alter_table('cash_payment_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cash_payment_items_payment_id'), ['payment_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cash_payment_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cash_payment_items_payment_id'))
    op.drop_table('cash_payment_items')
    with op.batch_alter_table('cash_payments', schema=None) as batch_op:
        batch_op.drop_index('ix_cash_payments_office_day')
        batch_op.drop_index('ix_cash_payments_desk_day')
        batch_op.drop_index('ix_cash_payments_case')
    op.drop_table('cash_payments')
    op.drop_table('cash_desk_days')
    op.drop_table('cash_receipt_counters')
