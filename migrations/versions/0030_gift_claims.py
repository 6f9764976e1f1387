"""manage actions and staff grants claim their gift (or member) with a version

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 23:50:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grants_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('donor', schema=None) as batch_op:
        batch_op.drop_column('grants_version')
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('version')
