"""lapse reminders: one per person and lapse date, and who asked for none

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 00:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'lapse_reminder',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('lapse_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('shortfall_cents', sa.Integer(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_lapse_reminder_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lapse_reminder')),
        sa.UniqueConstraint('user_id', 'lapse_at', name='uq_lapse_reminder_once_per_lapse'),
    )
    op.create_table(
        'lapse_reminder_opt_out',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_lapse_reminder_opt_out_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_lapse_reminder_opt_out')),
    )


def downgrade():
    op.drop_table('lapse_reminder_opt_out')
    op.drop_table('lapse_reminder')
