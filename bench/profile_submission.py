"""Where a last-page submission spends its time: cProfile over POSTs sent through the test client.

    .venv/bin/python bench/profile_submission.py [COUNT] [DATABASE_URL]     (default 300, SQLite)

Prepares COUNT half-finished responses exactly as `make bench` does, sends each one's last page
once, and prints the functions that took the most time (own time, then cumulative).
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from bench.run import SURVEY, make_app, start_localstripe  # noqa: E402
from sight.extensions import db  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as tmp:
        url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{Path(tmp) / 'profile.sqlite3'}"
        logs = Path(tmp)
        localstripe = start_localstripe(logs)
        try:
            app = make_app(url)
            app.config["SURVEY_PAGE_RATE_LIMIT"] = "100000000 per hour"
            with app.app_context():
                lines = data.prepare_last_pages(app, SURVEY, count, seed=1)
            client = app.test_client(use_cookies=False)
            requests = []
            for line in lines:
                cookie, body = line.split("\t")
                requests.append((cookie, body))
            path = f"/surveys/{SURVEY}/page/3"
            profile = cProfile.Profile()
            profile.enable()
            for cookie, body in requests:
                reply = client.post(
                    path, data=body, content_type="application/x-www-form-urlencoded", headers={"Cookie": cookie}
                )
                assert reply.status_code == 302 and "thanks" in reply.location, (reply.status_code, reply.location)
            profile.disable()
            with app.app_context():
                db.engine.dispose()
        finally:
            localstripe.terminate()
            localstripe.wait(timeout=10)
    stats = pstats.Stats(profile).strip_dirs()
    print(f"{count} submissions")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("cumulative").print_stats(r"(views|operations|answers|limits|_extension|storage|csrf|session|forms|membership|tallies)\.py", 30)


if __name__ == "__main__":
    main()
