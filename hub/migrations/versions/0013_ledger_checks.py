"""the last run of `hub ledger verify`, for /metrics (issue 16) (2026-12-03)
"""

from alembic import op
import sqlalchemy as sa
import hub.db.base


revision = '0013'
down_revision = '0010'


def upgrade() -> None:
    op.create_table('ledger_checks',
    sa.Column('name', sa.String(length=16), nullable=False),
    sa.Column('checked_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('accounts', sa.BigInteger(), nullable=False),
    sa.Column('problem_count', sa.BigInteger(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_ledger_checks'))
    )


def downgrade() -> None:
    op.drop_table('ledger_checks')
