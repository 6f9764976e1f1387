"""Where an export spends its time: cProfile over one whole export, in process, beside the
database's own CSV of the same rows.

    .venv/bin/python bench/profile_export.py [COUNT] [FORMAT] [DATABASE]   (default 50000 csv)

Fills a SQLite database with COUNT responses to the default survey (as `make bench` does; in a
throwaway folder, or in DATABASE, which a later run with the same COUNT reuses), then times the
export (without the profiler) against `sqlite3 -csv` of `bench/run.py`'s `flat_query`,
alternating, three rounds each, and prints the medians and their ratio, in seconds of the clock
and in seconds of CPU (steadier on a shared machine); last, it exports once under cProfile and
prints the seconds, the time to the first chunk, and the functions that took the most time.
"""

from __future__ import annotations

import cProfile
import pstats
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from bench.run import SURVEY, flat_query, make_app, run_seconds, start_localstripe  # noqa: E402
from sight.db import read_session  # noqa: E402
from sight.extensions import db  # noqa: E402
from surveys.export import export_chunks, plan_export  # noqa: E402
from surveys.models import Response, Survey  # noqa: E402
from surveys.results import ResponseFilter  # noqa: E402

ROUNDS = 3


def export_once(fmt: str) -> tuple[float, float, int, float]:
    """(seconds, seconds to the first chunk, bytes, CPU seconds) of one whole export."""
    with read_session(db.engine) as reader:
        began, cpu = time.perf_counter(), time.process_time()
        survey = reader.query(Survey).filter_by(slug=SURVEY).one()
        chunks = export_chunks(reader, plan_export(reader, survey, ResponseFilter(), zone=ZoneInfo("Australia/Sydney")), fmt)
        size = len(next(chunks))
        first = time.perf_counter() - began
        size += sum(len(chunk) for chunk in chunks)
        return time.perf_counter() - began, first, size, time.process_time() - cpu


def sqlite3_once(command: list[str]) -> tuple[float, float]:
    """(seconds, CPU seconds) of the sqlite3 shell."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = run_seconds(command)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    fmt = sys.argv[2] if len(sys.argv) > 2 else "csv"
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(tmp) / "profile.sqlite3"
        fresh = not database.exists()
        localstripe = start_localstripe(Path(tmp))
        try:
            app = make_app(f"sqlite:///{database}")
        finally:
            localstripe.terminate()
            localstripe.wait(timeout=10)
        with app.app_context():
            if fresh or db.session.query(Response).count() != count:
                db.session.query(Response).delete()
                db.session.commit()
                data.fill_responses(SURVEY, count)
            query = flat_query(data.survey_and_version(SURVEY)[2])
            sqlite3 = [shutil.which("sqlite3"), "-csv", str(database), query]
            ours, theirs = [], []
            for number in range(ROUNDS):
                sides = ["db", "export"] if number % 2 else ["export", "db"]
                for side in sides:
                    if side == "db":
                        theirs.append(sqlite3_once(sqlite3))
                    else:
                        seconds, _first, _size, cpu = export_once(fmt)
                        ours.append((seconds, cpu))
            profile = cProfile.Profile()
            profile.enable()
            total, first, size, _cpu = export_once(fmt)
            profile.disable()
            db.engine.dispose()
    for n, unit in enumerate(("s", "s of CPU")):
        mine, base = statistics.median(r[n] for r in ours), statistics.median(r[n] for r in theirs)
        print(f"{fmt} export of {count} responses: {mine:.2f} {unit} ({', '.join(f'{r[n]:.2f}' for r in ours)}); "
              f"sqlite3 -csv of the same query: {base:.2f} {unit} ({', '.join(f'{r[n]:.2f}' for r in theirs)}); "
              f"ratio {mine / base:.2f}")
    print(f"under cProfile: {total:.2f} s, first chunk after {first:.3f} s, {size / 1e6:.1f} MB")
    stats = pstats.Stats(profile).strip_dirs()
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
