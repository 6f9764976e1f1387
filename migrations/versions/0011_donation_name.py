"""membership: a donation keeps the name given with it

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 22:55:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('donor_name', sa.String(length=200), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('donation', schema=None) as batch_op:
        batch_op.drop_column('donor_name')
