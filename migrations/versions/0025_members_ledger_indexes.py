"""the ledger's indexes cover who is Sight+ through gifts, and a month's gifts net of refunds

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 01:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entry_donor_paid_at_amount', ['donor_id', 'paid_at', 'amount_cents'], unique=False)
        batch_op.drop_index('ix_ledger_entry_donor_paid_at')
        batch_op.create_index('ix_ledger_entry_paid_at_amounts', ['paid_at', 'amount_cents', 'refunded_cents'], unique=False)


def downgrade():
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entry_donor_paid_at', ['donor_id', 'paid_at'], unique=False)
        batch_op.drop_index('ix_ledger_entry_donor_paid_at_amount')
        batch_op.drop_index('ix_ledger_entry_paid_at_amounts')
