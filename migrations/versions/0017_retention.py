"""each survey says how long free text and unfinished responses are kept

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_retention_months', sa.Integer(), server_default='24', nullable=False))
        batch_op.add_column(sa.Column('unfinished_retention_days', sa.Integer(), server_default='30', nullable=False))
        batch_op.create_check_constraint(op.f('ck_survey_text_retention_positive'), 'text_retention_months > 0')
        batch_op.create_check_constraint(op.f('ck_survey_unfinished_retention_positive'), 'unfinished_retention_days > 0')


def downgrade():
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_survey_unfinished_retention_positive'), type_='check')
        batch_op.drop_constraint(op.f('ck_survey_text_retention_positive'), type_='check')
        batch_op.drop_column('unfinished_retention_days')
        batch_op.drop_column('text_retention_months')
