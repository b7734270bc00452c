"""message log and replay cache (2026-11-25)
"""

from alembic import op
import sqlalchemy as sa
import hub.db.base


revision = '0002'
down_revision = '0001'


def upgrade() -> None:
    op.create_table('message_log',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('service', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.String(length=80), nullable=False),
    sa.Column('log_id', sa.String(length=36), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_message_log'))
    )
    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_log_log_id'), ['log_id'], unique=False)

    op.create_table('message_log_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_log_head'))
    )
    op.create_table('seen_signatures',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('expires_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_seen_signatures'))
    )
    with op.batch_alter_table('seen_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_signatures_expires_at'), ['expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('seen_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_signatures_expires_at'))

    op.drop_table('seen_signatures')
    op.drop_table('message_log_head')
    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_log_log_id'))

    op.drop_table('message_log')
