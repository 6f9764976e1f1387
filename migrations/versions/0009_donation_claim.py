"""membership: a donation is claimed by one request before its card is charged

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 22:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OLD = "status IN ('awaiting_card', 'completed')"
NEW = "status IN ('awaiting_card', 'charging', 'authenticating', 'completed')"


def upgrade():
    with op.batch_alter_table('donation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f('ck_donation_donation_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_donation_donation_status'), NEW)


def downgrade():
    op.execute("UPDATE donation SET status = 'awaiting_card' WHERE status IN ('charging', 'authenticating')")
    with op.batch_alter_table('donation', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_donation_donation_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_donation_donation_status'), OLD)
        batch_op.drop_column('claimed_at')
