"""stored Stripe events keep the API version they were rendered in

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-08 00:20:00.000000

"""
import json

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stripe_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_version', sa.String(length=40), nullable=True))
    # Every stored body says its version; read it back in batches.
    connection = op.get_bind()
    events = sa.table('stripe_event', sa.column('id', sa.Integer), sa.column('body', sa.Text),
                      sa.column('api_version', sa.String))
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(events.c.id, events.c.body).where(events.c.id > last_id).order_by(events.c.id).limit(500)
        ).all()
        if not rows:
            break
        for row in rows:
            try:
                version = json.loads(row.body).get('api_version')
            except (ValueError, AttributeError):
                version = None
            if isinstance(version, str):
                connection.execute(
                    sa.update(events).where(events.c.id == row.id).values(api_version=version[:40])
                )
        last_id = rows[-1].id


def downgrade():
    with op.batch_alter_table('stripe_event', schema=None) as batch_op:
        batch_op.drop_column('api_version')
