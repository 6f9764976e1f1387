"""How long the staff results page, a one-word search of the comments and the dashboard's survey
panel take, in process (the test client, signed in as staff), on a survey of COUNT responses.

    .venv/bin/python bench/results.py COUNT [DATABASE_FILE | DATABASE_URL]

Builds a SQLite database with COUNT finished responses to the default survey over two years
(bench/data.py), or fills DATABASE_FILE or DATABASE_URL (e.g. PostgreSQL's, from
scripts/with_postgres.sh) up to COUNT and keeps it, then times the first
count of every response into the tallies (`flask surveys tally`: what an upgrade costs), and
each page ROUNDS times after it. With PROFILE=1 it prints a cProfile of one results page, one
search and one dashboard panel. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import cProfile
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from sight import create_app  # noqa: E402
from sight.extensions import db  # noqa: E402
from surveys.models import Response, Survey  # noqa: E402
from surveys.staff_views import survey_panel  # noqa: E402
from surveys.tallies import refresh_every_survey  # noqa: E402

ROUNDS = 5
SURVEY = "reader-survey"


def make_app(database: str):
    url = database if "://" in database else f"sqlite:///{database}"
    app = create_app({"ENVIRON": {"APP_ENV": "test"}, "SECRET_KEY": "bench-only", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
    # One line per request would bury the figures.
    logging.getLogger("sight.request").setLevel(logging.WARNING)
    return app


def fill(app, count: int) -> None:
    with app.app_context():
        if db.session.scalar(select(Survey.id).where(Survey.slug == SURVEY)) is None:
            app.test_cli_runner().invoke(args=["seed"], catch_exceptions=False)
        have = db.session.scalar(select(func.count(Response.id)).where(Response.submitted_at.is_not(None)))
        if have < count:
            began = time.perf_counter()
            data.fill_responses(SURVEY, count - have)
            print(f"filled {count - have:,} responses in {time.perf_counter() - began:.0f} s", flush=True)


def staff_client(app):
    with app.app_context():
        cookie = data.staff_cookie(app)
    client = app.test_client()
    name, value = cookie.split("=", 1)
    client.set_cookie(name, value)
    return client


def timed(read) -> list[float]:
    seconds = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        read()
        seconds.append(time.perf_counter() - began)
    return seconds


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(sys.argv[2] if len(sys.argv) > 2 else str(Path(tmp) / "results.sqlite3"))
        fill(app, count)
        with app.app_context():
            began, cpu = time.perf_counter(), time.process_time()
            refresh_every_survey(db.session, app.config["DISPLAY_TIMEZONE"])
            db.session.commit()
            print(
                f"first count into the tallies: {time.perf_counter() - began:.1f} s "
                f"({time.process_time() - cpu:.1f} s of this process's CPU)",
                flush=True,
            )
        client = staff_client(app)

        def page(url: str):
            def get():
                got = client.get(url)
                assert got.status_code == 200, (url, got.status_code)

            return get

        def panel():
            with app.test_request_context():
                survey_panel(db.session, datetime.now(timezone.utc))
                db.session.commit()

        reads = {
            "results page": page(f"/staff/surveys/{SURVEY}"),
            "results, Sight+ only": page(f"/staff/surveys/{SURVEY}?sight_plus=yes"),
            f"search '{data.SEARCH_WORD}'": page(f"/staff/surveys/{SURVEY}/answers/comment?q={data.SEARCH_WORD}"),
            f"search '{data.SEARCH_WORD}', page 5": page(f"/staff/surveys/{SURVEY}/answers/comment?q={data.SEARCH_WORD}&page=5"),
            "dashboard survey panel": panel,
        }
        if os.environ.get("PROFILE"):
            for name, read in reads.items():
                profile = cProfile.Profile()
                profile.runcall(read)
                print(f"--- {name}")
                pstats.Stats(profile).sort_stats("cumulative").print_stats(r"surveys/|sight/db|Cursor|templating", 20)
        print(f"{'read':<28} {'responses':>10} {'median s':>9} {'range s':>15}  (shared machine)")
        for name, read in reads.items():
            runs = timed(read)
            print(f"{name:<28} {count:>10,} {statistics.median(runs):>9.3f} {min(runs):>7.3f}–{max(runs):.3f}", flush=True)
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
