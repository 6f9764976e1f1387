"""Peak memory of each export format for a small and a large survey, to show that an export
streams: memory should stay flat as responses grow.

    .venv/bin/python bench/export_memory.py [SMALL LARGE]      (default 1000 20000)

Builds a throwaway SQLite database, fills it with responses, runs each export to the end
(discarding the bytes) under tracemalloc, and prints the peak of each run and its ratio against
the small run of the same format. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import random
import secrets
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from flask_migrate import upgrade
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sight import create_app  # noqa: E402
from sight.extensions import db  # noqa: E402
from surveys.export import FORMATS, export_chunks, plan_export  # noqa: E402
from surveys.models import Response, Survey, SurveyVersion  # noqa: E402
from sight.db import read_session  # noqa: E402
from surveys.results import ResponseFilter  # noqa: E402

CHOICES = [{"value": f"o{n}", "label": f"Option {n}"} for n in range(6)]
DEFINITION = {
    "pages": [
        {
            "id": "all",
            "questions": [
                {"id": "single", "type": "single_choice", "label": "Single", "options": CHOICES, "other": True},
                {"id": "multi", "type": "multiple_choice", "label": "Multiple", "options": CHOICES},
                {"id": "pick", "type": "dropdown", "label": "Dropdown", "options": CHOICES},
                {"id": "comment", "type": "long_text", "label": "Comment"},
                {"id": "age", "type": "number", "label": "Age"},
                {"id": "nps", "type": "rating", "label": "Recommend", "scale": {"min": 0, "max": 10}},
                {
                    "id": "grid",
                    "type": "matrix",
                    "label": "Grid",
                    "rows": [{"value": f"r{n}", "label": f"Row {n}"} for n in range(4)],
                    "columns": [{"value": str(n), "label": f"Level {n}"} for n in range(1, 6)],
                },
            ],
        }
    ]
}


def fake_answers(rng: random.Random) -> dict:
    return {
        "single": "other",
        "single_other": f"something else {rng.random()}",
        "multi": sorted(rng.sample([c["value"] for c in CHOICES], 3)),
        "pick": rng.choice(CHOICES)["value"],
        # Distinct text in every response, so nothing can be shared between rows.
        "comment": f"A reader's comment, number {rng.random()}, " + "with some words " * 12,
        "age": rng.randint(18, 90),
        "nps": rng.randint(0, 10),
        "grid": {f"r{n}": str(rng.randint(1, 5)) for n in range(4)},
    }


def fill(app, count: int) -> None:
    rng = random.Random(count)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with app.app_context():
        survey = Survey(slug="bench", title="Bench")
        version = SurveyVersion(survey=survey, number=1, definition=DEFINITION)
        db.session.add_all([survey, version])
        db.session.flush()
        rows = []
        for n in range(count):
            submitted = start + timedelta(minutes=n)
            rows.append(
                dict(
                    survey_id=survey.id,
                    version_id=version.id,
                    resume_token=secrets.token_hex(16),
                    answers=fake_answers(rng),
                    current_page=0,
                    started_at=submitted - timedelta(seconds=rng.randint(40, 400)),
                    submitted_at=submitted,
                )
            )
        db.session.execute(insert(Response), rows)
        db.session.commit()


def peak_of_export(app, fmt: str) -> tuple[int, int, float]:
    """(peak bytes traced, bytes produced, seconds) for one whole export."""
    with app.app_context(), read_session(db.engine) as reader:
        survey = reader.query(Survey).filter_by(slug="bench").one()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        began = time.perf_counter()
        plan = plan_export(reader, survey, ResponseFilter(), "details", "labels", zone=ZoneInfo(app.config["DISPLAY_TIMEZONE"]))
        size = sum(len(chunk) for chunk in export_chunks(reader, plan, fmt))
        elapsed = time.perf_counter() - began
        return tracemalloc.get_traced_memory()[1] - before, size, elapsed


def measure(count: int, folder: Path) -> dict[str, tuple[int, int, float]]:
    app = create_app(
        {
            "ENVIRON": {"APP_ENV": "test"},
            "SECRET_KEY": "bench-only",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / f'bench-{count}.sqlite3'}",
        }
    )
    with app.app_context():
        upgrade()
    fill(app, count)
    figures = {fmt: peak_of_export(app, fmt) for fmt in FORMATS}
    with app.app_context():
        db.engine.dispose()
    return figures


def main() -> None:
    small, large = (int(a) for a in sys.argv[1:3]) if len(sys.argv) >= 3 else (1_000, 20_000)
    tracemalloc.start()
    with tempfile.TemporaryDirectory() as tmp:
        results = {count: measure(count, Path(tmp)) for count in (small, large)}
    print(f"{'format':<6} {'responses':>9} {'file KiB':>10} {'peak KiB':>9} {'seconds':>8} {'peak vs ' + str(small):>14}")
    for fmt in FORMATS:
        base = results[small][fmt][0]
        for count in (small, large):
            peak, size, seconds = results[count][fmt]
            print(f"{fmt:<6} {count:>9} {size / 1024:>10.0f} {peak / 1024:>9.0f} {seconds:>8.1f} {peak / base:>13.2f}x")


if __name__ == "__main__":
    main()
