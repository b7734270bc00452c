"""the cash count at closing a desk day, and the payer on a cash payment (issue 20, 16) (2026-12-03)
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0013'


def upgrade() -> None:
    with op.batch_alter_table('cash_desk_days') as batch:
        batch.add_column(sa.Column('counted_cash_grosze', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('cash_difference_grosze', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('difference_confirmed_by', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('late_close_supervisor', sa.String(length=64), nullable=True))
        batch.create_check_constraint(op.f('ck_cash_desk_days_count_has_difference'), '(counted_cash_grosze IS NULL) = (cash_difference_grosze IS NULL)')
        batch.create_check_constraint(
            op.f('ck_cash_desk_days_difference_confirmed'),
            'cash_difference_grosze IS NULL OR cash_difference_grosze = 0 OR difference_confirmed_by IS NOT NULL',
        )
    with op.batch_alter_table('cash_payments') as batch:
        batch.add_column(sa.Column('payer_name', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('payer_address', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cash_payments') as batch:
        batch.drop_column('payer_address')
        batch.drop_column('payer_name')
    with op.batch_alter_table('cash_desk_days') as batch:
        batch.drop_constraint(op.f('ck_cash_desk_days_difference_confirmed'), type_='check')
        batch.drop_constraint(op.f('ck_cash_desk_days_count_has_difference'), type_='check')
        batch.drop_column('late_close_supervisor')
        batch.drop_column('difference_confirmed_by')
        batch.drop_column('cash_difference_grosze')
        batch.drop_column('counted_cash_grosze')
