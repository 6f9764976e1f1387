"""a "your Sight+ has ended" mail, claimed once per person and end

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-08 01:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sight_plus_ended_notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_sight_plus_ended_notice_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sight_plus_ended_notice')),
        sa.UniqueConstraint('user_id', 'ended_at', name='uq_sight_plus_ended_notice_once_per_end'),
    )


def downgrade():
    op.drop_table('sight_plus_ended_notice')
