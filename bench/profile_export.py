"""Where an export spends its time: cProfile over one whole export, in process.

    .venv/bin/python bench/profile_export.py [COUNT] [FORMAT]      (default 50000 csv)

Fills a throwaway SQLite database with COUNT responses to the default survey (as `make bench`
does), then exports them once under cProfile and prints the seconds, the time to the first
chunk, and the functions that took the most time.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from bench.run import SURVEY, make_app, start_localstripe  # noqa: E402
from sight.extensions import db  # noqa: E402
from surveys.export import export_chunks, plan_export  # noqa: E402
from surveys.models import Survey  # noqa: E402
from sight.db import read_session  # noqa: E402
from surveys.results import ResponseFilter  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    fmt = sys.argv[2] if len(sys.argv) > 2 else "csv"
    with tempfile.TemporaryDirectory() as tmp:
        localstripe = start_localstripe(Path(tmp))
        try:
            app = make_app(f"sqlite:///{Path(tmp) / 'profile.sqlite3'}")
        finally:
            localstripe.terminate()
            localstripe.wait(timeout=10)
        with app.app_context():
            data.fill_responses(SURVEY, count)
            profile = cProfile.Profile()
            with read_session(db.engine) as reader:
                began = time.perf_counter()
                profile.enable()
                survey = reader.query(Survey).filter_by(slug=SURVEY).one()
                chunks = export_chunks(reader, plan_export(reader, survey, ResponseFilter()), fmt)
                size = len(next(chunks))
                first = time.perf_counter() - began
                size += sum(len(chunk) for chunk in chunks)
                profile.disable()
                total = time.perf_counter() - began
            db.engine.dispose()
    print(f"{fmt} export of {count} responses: {total:.2f} s, first chunk after {first:.3f} s, {size / 1e6:.1f} MB")
    stats = pstats.Stats(profile).strip_dirs()
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
