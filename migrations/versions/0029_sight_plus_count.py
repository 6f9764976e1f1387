"""how many were Sight+ at settled past instants, for staff's retention page

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 00:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sight_plus_count',
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('members', sa.Integer(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('at', name=op.f('pk_sight_plus_count')),
    )


def downgrade():
    op.drop_table('sight_plus_count')
