"""giving statements: one emailed per person and financial year

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 00:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'statement_sent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('financial_year', sa.Integer(), nullable=False),
        sa.Column('total_cents', sa.Integer(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_statement_sent_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_sent')),
        sa.UniqueConstraint('user_id', 'financial_year', name='uq_statement_sent_once_per_year'),
    )
    with op.batch_alter_table('statement_sent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_sent_financial_year'), ['financial_year'], unique=False)


def downgrade():
    with op.batch_alter_table('statement_sent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statement_sent_financial_year'))
    op.drop_table('statement_sent')
