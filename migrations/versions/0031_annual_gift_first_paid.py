"""an annual gift counts from its first paid invoice: subscriptions note when that was

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-08 00:10:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_paid_at', sa.DateTime(timezone=True), nullable=True))
    # From the ledger: the first paid invoice recorded for each subscription.
    op.execute(
        "UPDATE subscription SET first_paid_at = ("
        " SELECT min(ledger_entry.paid_at) FROM ledger_entry"
        " WHERE ledger_entry.subscription_id = subscription.stripe_subscription_id)"
    )
    # Member counts kept for past instants were made by the old rule: forgotten, and made again when asked.
    op.execute("DELETE FROM sight_plus_count")


def downgrade():
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_column('first_paid_at')
