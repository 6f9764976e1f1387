"""each survey counts its thank-you page's Sight+ ask: views and clicks, not who

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 22:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'survey_ask_tally',
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('views', sa.Integer(), server_default='0', nullable=False),
        sa.Column('clicks', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], name=op.f('fk_survey_ask_tally_survey_id_survey'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('survey_id', name=op.f('pk_survey_ask_tally')),
    )
    op.execute('INSERT INTO survey_ask_tally (survey_id, views, clicks) SELECT id, 0, 0 FROM survey')


def downgrade():
    op.drop_table('survey_ask_tally')
