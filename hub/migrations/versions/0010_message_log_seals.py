"""message log seals and restore recovery (issue 19) (2026-12-03)
"""

from alembic import op
import sqlalchemy as sa
import hub.db.base


revision = '0010'
down_revision = '0008'

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
GENESIS = '0' * 64


def upgrade() -> None:
    op.create_table('message_log_seals',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('sealed_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('prev_seal', sa.String(length=64), nullable=False),
    sa.Column('signer', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=20), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('timestamp', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_message_log_seals'))
    )
    op.create_table('message_log_recoveries',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('detected_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('db_seq', sa.BigInteger(), nullable=False),
    sa.Column('archive_seq', sa.BigInteger(), nullable=False),
    sa.Column('resolved_at', hub.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_log_recoveries'))
    )
    with op.batch_alter_table('message_log_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_seq', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('sealed_at_s', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('seal_digest', sa.String(length=64), server_default=sa.text(f"'{GENESIS}'"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('message_log_head', schema=None) as batch_op:
        batch_op.drop_column('seal_digest')
        batch_op.drop_column('sealed_at_s')
        batch_op.drop_column('sealed_seq')
    op.drop_table('message_log_recoveries')
    op.drop_table('message_log_seals')
