"""settlements, the outbox and FK journals (issue 5) (2026-11-25)
"""

from alembic import op
import sqlalchemy as sa
import hub.db.base


revision = '0005'
down_revision = '0004'


def upgrade() -> None:
    op.create_table('outbox_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=36), nullable=True),
    sa.Column('claimed_until', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('created_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('PENDING', 'SENT', 'FAILED', 'REJECTED')", name=op.f('ck_outbox_records_status_known')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_outbox_records_attempts_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_records')),
    sa.UniqueConstraint('kind', 'key', name='uq_outbox_records_kind_key')
    )
    with op.batch_alter_table('outbox_records', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_records_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('settlements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('office_code', sa.String(length=4), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('amount_grosze', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=True),
    sa.Column('creditor_account', sa.String(length=34), nullable=False),
    sa.Column('outbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('bank_reference', sa.String(length=64), nullable=True),
    sa.Column('reject_reason', sa.String(length=500), nullable=True),
    sa.Column('bank_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('booked_at', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('rejected_at', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('PENDING', 'SENT', 'BOOKED', 'REJECTED', 'RETURNED', 'CARRIED')", name=op.f('ck_settlements_status_known')),
    sa.CheckConstraint("(status = 'CARRIED') = (amount_grosze <= 0)", name=op.f('ck_settlements_sent_only_when_positive')),
    sa.CheckConstraint("(status = 'CARRIED') = (end_to_end_id IS NULL)", name=op.f('ck_settlements_end_to_end_id_when_sent')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox_records.id'], name=op.f('fk_settlements_outbox_id_outbox_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlements')),
    sa.UniqueConstraint('end_to_end_id', name=op.f('uq_settlements_end_to_end_id')),
    sa.UniqueConstraint('office_code', 'business_day', name='uq_settlements_office_day')
    )
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.create_index('ix_settlements_status', ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_index('ix_settlements_status')

    op.drop_table('settlements')
    with op.batch_alter_table('outbox_records', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_records_due')

    op.drop_table('outbox_records')
