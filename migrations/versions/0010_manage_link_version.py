"""membership: manage links carry a version that cancelling and "send me a new link" raise

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:35:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manage_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.drop_column('manage_version')
