"""membership: an annual gift names the one it replaces

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 04:40:14.439358

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replaces_stripe_id', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_subscription_replaces_stripe_id'), ['replaces_stripe_id'], unique=False)


def downgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_replaces_stripe_id'))
        batch_op.drop_column('replaces_stripe_id')
