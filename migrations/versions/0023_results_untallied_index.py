"""the index of untallied responses names tallied and submitted_at too, so that SQLite uses it

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 01:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def _create(columns):
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.create_index(
            'ix_survey_response_untallied',
            columns,
            unique=False,
            postgresql_where=sa.text('submitted_at IS NOT NULL AND tallied = false'),
            sqlite_where=sa.text('submitted_at IS NOT NULL AND tallied = 0'),
        )


def _drop():
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_response_untallied')


def upgrade():
    _drop()
    _create(['survey_id', 'tallied', 'submitted_at'])


def downgrade():
    _drop()
    _create(['survey_id'])
