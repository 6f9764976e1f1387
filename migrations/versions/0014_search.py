"""search free-text answers by words: one row per word of a finished response's answer

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 22:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'survey_answer_word',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('response_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=300), nullable=False),
        sa.Column('word', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['response_id'], ['survey_response.id'], name=op.f('fk_survey_answer_word_response_id_survey_response'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], name=op.f('fk_survey_answer_word_survey_id_survey'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_answer_word')),
    )
    with op.batch_alter_table('survey_answer_word', schema=None) as batch_op:
        batch_op.create_index('ix_survey_answer_word_lookup', ['survey_id', 'field', 'word', 'response_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_answer_word_response_id'), ['response_id'], unique=False)


def downgrade():
    with op.batch_alter_table('survey_answer_word', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_answer_word_response_id'))
        batch_op.drop_index('ix_survey_answer_word_lookup')
    op.drop_table('survey_answer_word')
