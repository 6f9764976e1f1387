"""survey tallies: counts per question and day, and which responses they include

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 22:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'survey_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('zone', sa.String(length=64), nullable=False),
        sa.Column('version_number', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('sight_plus', sa.String(length=3), nullable=False),
        sa.Column('field', sa.String(length=300), nullable=False),
        sa.Column('value', sa.String(length=300), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], name=op.f('fk_survey_tally_survey_id_survey'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_tally')),
        sa.UniqueConstraint('survey_id', 'zone', 'version_number', 'day', 'sight_plus', 'field', 'value', name='uq_survey_tally_key'),
    )
    # Every response already finished is counted by the first refresh (or `flask surveys tally`).
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tallied', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(
            'ix_survey_response_untallied',
            ['survey_id'],
            unique=False,
            postgresql_where=sa.text('submitted_at IS NOT NULL AND tallied = false'),
            sqlite_where=sa.text('submitted_at IS NOT NULL AND tallied = 0'),
        )


def downgrade():
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_response_untallied')
        batch_op.drop_column('tallied')
    op.drop_table('survey_tally')
