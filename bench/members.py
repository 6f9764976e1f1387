"""How long the members list and the dashboard's membership panel take with many donors.

    .venv/bin/python bench/members.py [DONORS] [DATABASE_URL]     (default 100,000, SQLite)

Builds the donors as `make bench` does (`bench.data.fill_donors`), then fetches `/staff/members`
as a signed-in staff member through the test client, for every status filter, on page 1 and on
a late page, and times the dashboard (`/staff/`) and its membership panel alone. Each figure is
the median of BENCH_ROUNDS (default 3) fetches, with the fastest and slowest beside it.

It prints figures; it asserts nothing.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from bench.run import make_app, start_localstripe  # noqa: E402
from membership.context import Settings  # noqa: E402
from membership.staff_queries import StatusFilter, dashboard_panel  # noqa: E402
from sight.db import utcnow  # noqa: E402
from sight.extensions import db  # noqa: E402
from sqlalchemy import text  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))


def timed(measure) -> str:
    took = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        measure()
        took.append(time.perf_counter() - started)
    return f"{statistics.median(took):7.3f} s  ({min(took):.3f}–{max(took):.3f}, n={ROUNDS})"


def main() -> None:
    donors = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{Path(tmp) / 'members.sqlite3'}"
        localstripe = start_localstripe(Path(tmp))
        try:
            app = make_app(url)
            with app.app_context():
                # First: the donors are inserted with their ids, which PostgreSQL's sequence does not see.
                cookie = data.staff_cookie(app)
                started = time.perf_counter()
                data.fill_donors(donors)
                # Statistics, as autovacuum would have gathered them by the time anyone looks.
                db.session.execute(text("ANALYZE"))
                db.session.commit()
                print(f"{donors:,} donors on {db.engine.dialect.name}, built in {time.perf_counter() - started:.0f} s")
                settings = Settings.from_config(app.config)
                zone = ZoneInfo(app.config["DISPLAY_TIMEZONE"])
            client = app.test_client(use_cookies=False)

            def fetch(path: str):
                def get() -> None:
                    reply = client.get(path, headers={"Cookie": cookie})
                    if reply.status_code != 200:  # a timing of an error page would mean nothing
                        raise SystemExit(f"{path} answered {reply.status_code}")

                return get

            def panel() -> None:
                with app.app_context():
                    dashboard_panel(db.session, settings, zone, utcnow())
                    db.session.remove()

            for status in StatusFilter:
                html = client.get(f"/staff/members?status={status.value}", headers={"Cookie": cookie}).get_data(as_text=True)
                counted = re.search(r"page \d+ of (\d+)", html)
                pages = int(counted.group(1)) if counted else 1
                for page in sorted({1, pages}):
                    path = f"/staff/members?status={status.value}&page={page}"
                    print(f"{path:<48} {timed(fetch(path))}", flush=True)
            path = "/staff/members?q=donor4242&status=sight_plus"
            print(f"{path:<48} {timed(fetch(path))}", flush=True)
            print(f"{'the membership panel alone':<48} {timed(panel)}", flush=True)
            print(f"{'/staff/ (no survey responses)':<48} {timed(fetch('/staff/'))}", flush=True)
            with app.app_context():
                db.engine.dispose()
        finally:
            localstripe.terminate()
            localstripe.wait(timeout=10)


if __name__ == "__main__":
    main()
