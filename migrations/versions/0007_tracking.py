"""survey responses keep utm_term and utm_content

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 22:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.add_column(sa.Column('utm_term', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('utm_content', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_column('utm_content')
        batch_op.drop_column('utm_term')
