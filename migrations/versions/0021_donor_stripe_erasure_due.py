"""membership: a closed account's Stripe side still to stop and scrub

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 23:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_erasure_due_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.drop_column('stripe_erasure_due_at')
