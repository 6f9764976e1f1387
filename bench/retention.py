"""How long staff's donor retention takes, and how many queries it sends, as the ledger grows.

    .venv/bin/python bench/retention.py [DONORS] [GIFTS_EACH] [DATABASE_URL]
        (default 100,000 donors with ten gifts each on average: a million ledger rows; SQLite)

Fills the ledger at a tenth of the size and at the full size (donors giving over four years,
one in ten gifts wholly or partly refunded), then times `membership.retention.retention` by month
(the last 24) and by financial year (the last five): the first look (which asks the Sight+ rule of
every period's end and keeps the settled counts) and the median of BENCH_ROUNDS (default 3) later
looks, with the statements a look sends; then the staff page itself through the test client.

It prints figures; it asserts nothing.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, event, func, insert, select, text  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from bench import data  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sight import create_app  # noqa: E402
from membership.context import Settings  # noqa: E402
from membership.models import Donor, GiftKind, LedgerEntry, SightPlusCount  # noqa: E402
from membership.retention import financial_years, months, retention  # noqa: E402
from sight.db import utcnow  # noqa: E402
from sight.extensions import db  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
BATCH = 20_000


def make_app(database_url: str):
    app = create_app({"ENVIRON": {"APP_ENV": "development"}, "SECRET_KEY": "bench-retention",
                      "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade()
    return app


def fill(donors: int, gifts_each: int, *, seed: int = 3) -> int:
    """`donors` more donors, each with 1 to 2 × `gifts_each` − 1 gifts over the last four years."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    first_user = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    first_donor = (db.session.scalar(select(func.max(Donor.id))) or 0) + 1
    first_entry = (db.session.scalar(select(func.max(LedgerEntry.id))) or 0) + 1
    made = 0
    for first in range(0, donors, BATCH // gifts_each):
        numbers = range(first, min(first + BATCH // gifts_each, donors))
        db.session.execute(insert(User), [
            dict(id=first_user + n, email=f"retention{first_user + n}@example.com", name="", role=Role.reader)
            for n in numbers
        ])
        db.session.execute(insert(Donor), [dict(id=first_donor + n, user_id=first_user + n) for n in numbers])
        entries = []
        for n in numbers:
            for _ in range(rng.randint(1, 2 * gifts_each - 1)):
                cents = rng.choice([500, 1000, 2600, 5000, 10000])
                refund = rng.random()
                entries.append(dict(
                    id=first_entry + made, donor_id=first_donor + n, stripe_object_id=f"pi_retention_{first_entry + made}",
                    kind=GiftKind.one_off, amount_cents=cents, currency="aud",
                    refunded_cents=cents if refund < 0.05 else cents // 2 if refund < 0.1 else 0,
                    paid_at=now - timedelta(days=rng.uniform(0, 1460)),
                ))
                made += 1
        db.session.execute(insert(LedgerEntry), entries)
        db.session.commit()
    return made


def measure(app, cookie: str, settings: Settings) -> list[str]:
    statements = []
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def count(*_args):
        statements.append(1)

    lines = []
    for name, periods in (
        ("by month (24)", lambda now: months(now, app.config["DISPLAY_TIMEZONE"], 24)),
        ("by financial year (5)", lambda now: financial_years(now, app.config["DISPLAY_TIMEZONE"], 7, 5)),
    ):
        took = []
        with app.app_context():
            # The first look asks the rule of every period's end; it keeps the settled ones.
            db.session.execute(delete(SightPlusCount))
            db.session.commit()
        for _ in range(ROUNDS + 1):
            with app.app_context():
                statements.clear()
                started = time.perf_counter()
                now = utcnow()
                retention(db.session, periods(now), settings, now)
                db.session.commit()
                took.append(time.perf_counter() - started)
                db.session.remove()
        first, later = took[0], took[1:]
        lines.append(f"  retention {name:22} first look {first:7.3f} s; later looks {statistics.median(later):7.3f} s "
                     f"({min(later):.3f}–{max(later):.3f}, n={ROUNDS}), {len(statements)} statements")
    client = app.test_client(use_cookies=False)
    took = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        reply = client.get("/staff/members/retention", headers={"Cookie": cookie})
        took.append(time.perf_counter() - started)
        if reply.status_code != 200:
            raise SystemExit(f"the retention page answered {reply.status_code}")
    lines.append(f"  the staff page, by month      {statistics.median(took):7.3f} s  ({min(took):.3f}–{max(took):.3f}, n={ROUNDS})")
    event.remove(engine, "before_cursor_execute", count)
    return lines


def main() -> None:
    donors = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    gifts_each = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with tempfile.TemporaryDirectory() as tmp:
        url = sys.argv[3] if len(sys.argv) > 3 else f"sqlite:///{Path(tmp) / 'retention.sqlite3'}"
        app = make_app(url)
        with app.app_context():
            cookie = data.staff_cookie(app)
            settings = Settings.from_config(app.config)
        total_donors = total_rows = 0
        for size in (donors // 10, donors - donors // 10):
            with app.app_context():
                started = time.perf_counter()
                total_rows += fill(size, gifts_each)
                total_donors += size
                db.session.execute(text("ANALYZE"))
                db.session.commit()
                dialect = db.engine.dialect.name
            print(f"{total_donors:,} donors, {total_rows:,} ledger rows on {dialect} "
                  f"(filled in {time.perf_counter() - started:.0f} s):")
            for line in measure(app, cookie, settings):
                print(line)


if __name__ == "__main__":
    main()
