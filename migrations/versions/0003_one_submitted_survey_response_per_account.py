"""one submitted survey response per account

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:38:47.019592

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.create_index(
            'uq_survey_response_one_per_account',
            ['survey_id', 'user_id'],
            unique=True,
            postgresql_where=sa.text('submitted_at IS NOT NULL'),
            sqlite_where=sa.text('submitted_at IS NOT NULL'),
        )


def downgrade():
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_index('uq_survey_response_one_per_account')
