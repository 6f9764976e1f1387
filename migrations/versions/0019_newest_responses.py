"""a survey's newest responses without a sort

Revision ID: i12_newest_responses
Revises: i11_history
Create Date: 2026-11-30 23:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'i12_newest_responses'
down_revision = 'i11_history'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.create_index('ix_survey_response_survey_newest', ['survey_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_response_survey_newest')
