"""How long the staff insight pages take to count, for a small and a large survey: a cross-tab
(a choice question by Sight+), Sight+ beside other readers (every choice and rating question at
once) and one whole response with its neighbours, each as the scan of the responses and, for the
cross-tab and Sight+ side by side, as read from the tallies (refreshed first). The scans read every
selected response, so their time grows with the survey; the tallies and one response do not.

    .venv/bin/python bench/insight.py [SMALL LARGE]      (default 10000 100000)

Builds a throwaway SQLite database with the responses of bench/export_memory.py, runs each read
five times, and prints the median and range of each, and the large run's median as a ratio of the
small run's. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from flask_migrate import upgrade
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.export_memory import fill  # noqa: E402
from sight import create_app  # noqa: E402
from sight.extensions import db  # noqa: E402
from surveys import insight, tallies  # noqa: E402
from surveys.models import Response, Survey  # noqa: E402
from sight.db import read_session  # noqa: E402
from surveys.results import ResponseFilter  # noqa: E402

ROUNDS = 5


def timed(app, read) -> list[float]:
    seconds = []
    for _ in range(ROUNDS):
        with app.app_context(), read_session(db.engine) as reader:
            survey = reader.scalar(select(Survey).where(Survey.slug == "bench"))
            began = time.perf_counter()
            read(reader, survey)
            seconds.append(time.perf_counter() - began)
    return seconds


def middle_response(reader, survey) -> None:
    middle = reader.scalar(select(func.max(Response.id))) // 2
    insight.response_detail(reader, survey, middle, ResponseFilter())


ZONE_NAME = "Australia/Sydney"
ZONE = ZoneInfo(ZONE_NAME)
READS = {
    "cross-tab": lambda reader, survey: insight.survey_crosstab(reader, survey, ResponseFilter(), "single", "sight_plus"),
    "cross-tab, tallies": lambda reader, survey: tallies.tallied_crosstab(
        reader, survey, ResponseFilter(), "single", "sight_plus", ZONE, ZONE_NAME
    ),
    "Sight+ side by side": lambda reader, survey: insight.side_by_side(reader, survey, ResponseFilter()),
    "side by side, tallies": lambda reader, survey: tallies.tallied_side_by_side(reader, survey, ResponseFilter(), ZONE, ZONE_NAME),
    "one response": middle_response,
}


def measure(count: int, folder: Path) -> dict[str, list[float]]:
    app = create_app(
        {
            "ENVIRON": {"APP_ENV": "test"},
            "SECRET_KEY": "bench-only",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / f'insight-{count}.sqlite3'}",
        }
    )
    with app.app_context():
        upgrade()
    fill(app, count)
    with app.app_context():
        tallies.refresh_every_survey(db.session, ZONE_NAME)
        db.session.commit()
    figures = {name: timed(app, read) for name, read in READS.items()}
    with app.app_context():
        db.engine.dispose()
    return figures


def main() -> None:
    small, large = (int(a) for a in sys.argv[1:3]) if len(sys.argv) >= 3 else (10_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        results = {count: measure(count, Path(tmp)) for count in (small, large)}
    print(f"{'read':<20} {'responses':>9} {'median s':>9} {'range s':>15} {'vs ' + str(small):>12}")
    for name in READS:
        base = statistics.median(results[small][name])
        for count in (small, large):
            runs = results[count][name]
            spread = f"{min(runs):.3f}–{max(runs):.3f}"
            print(f"{name:<20} {count:>9} {statistics.median(runs):>9.3f} {spread:>15} {statistics.median(runs) / base:>11.1f}x")


if __name__ == "__main__":
    main()
