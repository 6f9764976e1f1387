"""survey tallies summed per month beside the days, and indexes to read a range of days

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 01:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'survey_month_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('zone', sa.String(length=64), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('version_number', sa.Integer(), nullable=False),
        sa.Column('sight_plus', sa.String(length=3), nullable=False),
        sa.Column('field', sa.String(length=300), nullable=False),
        sa.Column('value', sa.String(length=300), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], name=op.f('fk_survey_month_tally_survey_id_survey'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_month_tally')),
        sa.UniqueConstraint('survey_id', 'zone', 'month', 'version_number', 'sight_plus', 'field', 'value', name='uq_survey_month_tally_key'),
    )
    # The months are the sums of the days already counted: no response needs counting again.
    first_of_month = "date(day, 'start of month')" if op.get_bind().dialect.name == 'sqlite' else "date_trunc('month', day)::date"
    op.execute(
        "INSERT INTO survey_month_tally (survey_id, zone, month, version_number, sight_plus, field, value, count) "
        f"SELECT survey_id, zone, {first_of_month}, version_number, sight_plus, field, value, SUM(count) "
        f"FROM survey_tally GROUP BY survey_id, zone, {first_of_month}, version_number, sight_plus, field, value"
    )
    with op.batch_alter_table('survey_tally', schema=None) as batch_op:
        batch_op.create_index('ix_survey_tally_day', ['survey_id', 'zone', 'day'], unique=False)
        batch_op.create_index('ix_survey_tally_field_day', ['survey_id', 'zone', 'field', 'day'], unique=False)


def downgrade():
    with op.batch_alter_table('survey_tally', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_tally_field_day')
        batch_op.drop_index('ix_survey_tally_day')
    op.drop_table('survey_month_tally')
