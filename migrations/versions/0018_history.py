"""history: refunds and lost disputes as rows with their times; annual gifts' start and end

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 22:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ledger_adjustment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('refund', 'dispute_lost', name='adjustment_kind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('stripe_object_id', sa.String(length=255), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_ledger_adjustment_amount_positive')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entry.id'], name=op.f('fk_ledger_adjustment_entry_id_ledger_entry'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_adjustment')),
    sa.UniqueConstraint('stripe_object_id', name=op.f('uq_ledger_adjustment_stripe_object_id'))
    )
    with op.batch_alter_table('ledger_adjustment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_adjustment_entry_id'), ['entry_id'], unique=False)

    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))

    # What was refunded before refunds had times is dated from the gift itself, as the status
    # history read it until now; Stripe's times come with the next event or reconcile.
    op.execute(
        "INSERT INTO ledger_adjustment (entry_id, kind, amount_cents, occurred_at, recorded_at) "
        "SELECT id, 'refund', refunded_cents - dispute_lost_cents, paid_at, created_at FROM ledger_entry "
        "WHERE refunded_cents - dispute_lost_cents > 0"
    )
    op.execute(
        "INSERT INTO ledger_adjustment (entry_id, kind, amount_cents, occurred_at, recorded_at) "
        "SELECT id, 'dispute_lost', dispute_lost_cents, paid_at, created_at FROM ledger_entry "
        "WHERE dispute_lost_cents > 0"
    )
    op.execute("UPDATE subscription SET started_at = created_at")


def downgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_column('ended_at')
        batch_op.drop_column('started_at')

    with op.batch_alter_table('ledger_adjustment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_adjustment_entry_id'))

    op.drop_table('ledger_adjustment')
