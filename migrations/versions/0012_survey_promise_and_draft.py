"""survey: the promised minutes, and the builder's draft

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 22:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('promise_minutes', sa.Integer(), server_default='2', nullable=False))
        batch_op.add_column(sa.Column('draft_definition', sa.JSON(), nullable=True))
        batch_op.create_check_constraint('promise_minutes_range', 'promise_minutes BETWEEN 1 AND 120')


def downgrade():
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.drop_constraint('promise_minutes_range', type_='check')
        batch_op.drop_column('draft_definition')
        batch_op.drop_column('promise_minutes')
