"""notification settings and notifications (issue 9) (2026-11-25)
"""

from alembic import op
import sqlalchemy as sa
import hub.db.base


revision = '0007'
down_revision = '0006'

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('notification_settings',
    sa.Column('company_nip', sa.String(length=10), nullable=False),
    sa.Column('low_balance_grosze', sa.BigInteger(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('webhook_url', sa.String(length=500), nullable=True),
    sa.Column('webhook_secret', sa.String(length=200), nullable=True),
    sa.Column('low_balance_episode', sa.Integer(), nullable=False),
    sa.Column('low_since', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_nip'], ['companies.nip'], name=op.f('fk_notification_settings_company_nip_companies')),
    sa.PrimaryKeyConstraint('company_nip', name=op.f('pk_notification_settings'))
    )
    op.create_table('notifications',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('company_nip', sa.String(length=10), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('email_outbox_id', BigId, nullable=True),
    sa.Column('webhook_outbox_id', BigId, nullable=True),
    sa.ForeignKeyConstraint(['company_nip'], ['companies.nip'], name=op.f('fk_notifications_company_nip_companies')),
    sa.ForeignKeyConstraint(['email_outbox_id'], ['outbox_records.id'], name=op.f('fk_notifications_email_outbox_id_outbox_records')),
    sa.ForeignKeyConstraint(['webhook_outbox_id'], ['outbox_records.id'], name=op.f('fk_notifications_webhook_outbox_id_outbox_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('key', name=op.f('uq_notifications_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_company_nip'), ['company_nip'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_company_nip'))

    op.drop_table('notifications')
    op.drop_table('notification_settings')
