"""survey tallies count where readers came from (utm_source and the referring article)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 01:40:00.000000

"""
from collections import Counter
from datetime import timezone
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

# As surveys.tallies and surveys.results had them when this was written.
SOURCE, ARTICLE, ORIGIN_LENGTH, BATCH = '#source', '#article', 300, 10_000

response = sa.table(
    'survey_response',
    sa.column('survey_id', sa.Integer),
    sa.column('version_id', sa.Integer),
    sa.column('submitted_at', sa.DateTime(timezone=True)),
    sa.column('sight_plus', sa.Boolean),
    sa.column('utm_source', sa.String),
    sa.column('referrer_url', sa.Text),
    sa.column('tallied', sa.Boolean),
)
version = sa.table('survey_version', sa.column('id', sa.Integer), sa.column('number', sa.Integer))
month_tally = sa.table('survey_month_tally', sa.column('survey_id', sa.Integer), sa.column('zone', sa.String))
COLUMNS = ('survey_id', 'zone', 'version_number', 'sight_plus', 'field', 'value', 'count')
day_tally = sa.table('survey_tally', sa.column('day', sa.Date), *(sa.column(name) for name in COLUMNS))
month_rows = sa.table('survey_month_tally', sa.column('month', sa.Date), *(sa.column(name) for name in COLUMNS))


def _key(value):
    return (value or '')[:ORIGIN_LENGTH]


def upgrade():
    """Count the origins of the responses already tallied, in their survey's zone, so that no
    response needs counting again (a survey counted in two zones is counted afresh anyway)."""
    bind = op.get_bind()
    zones: dict[int, set[str]] = {}
    for survey_id, zone in bind.execute(sa.select(month_tally.c.survey_id, month_tally.c.zone).distinct()):
        zones.setdefault(survey_id, set()).add(zone)
    for survey_id, names in zones.items():
        if len(names) != 1:
            continue
        zone_name = names.pop()
        zone = ZoneInfo(zone_name)
        days: Counter = Counter()
        counted = bind.execute(
            sa.select(version.c.number, response.c.submitted_at, response.c.sight_plus, response.c.utm_source, response.c.referrer_url)
            .join(version, version.c.id == response.c.version_id)
            .where(response.c.survey_id == survey_id, response.c.tallied == sa.true(), response.c.submitted_at.is_not(None))
            .execution_options(yield_per=BATCH)
        )
        for number, submitted_at, plus, source, article in counted:
            when = submitted_at.replace(tzinfo=timezone.utc) if submitted_at.tzinfo is None else submitted_at
            plus_key = '' if plus is None else ('yes' if plus else 'no')
            day = when.astimezone(zone).date()
            days[number, day, plus_key, SOURCE, _key(source)] += 1
            days[number, day, plus_key, ARTICLE, _key(article)] += 1
        months: Counter = Counter()
        for (number, day, plus_key, field, value), n in days.items():
            months[number, day.replace(day=1), plus_key, field, value] += n
        for table, period, counts in ((day_tally, 'day', days), (month_rows, 'month', months)):
            rows = [
                {'survey_id': survey_id, 'zone': zone_name, 'version_number': number, period: when, 'sight_plus': plus_key,
                 'field': field, 'value': value, 'count': n}
                for (number, when, plus_key, field, value), n in counts.items()
            ]
            for first in range(0, len(rows), BATCH):
                bind.execute(table.insert(), rows[first:first + BATCH])


def downgrade():
    for table in ('survey_tally', 'survey_month_tally'):
        op.execute(f"DELETE FROM {table} WHERE field IN ('{SOURCE}', '{ARTICLE}')")
