"""`make bench`: every speed figure of the service, as a ratio to a baseline measured in the same run.

    scripts/with_postgres.sh .venv/bin/python bench/run.py      (what `make bench` runs)

It builds its own databases (a SQLite file, and the PostgreSQL named by TEST_DATABASE_URL when
set), fills them, starts the app and a bare Flask app with gunicorn (`-w 2 --threads 4`) on free
ports of 127.0.0.1, loads them from separate processes (wrk) for a bounded time, alternates the
sides over several rounds, and prints the median and range of each figure. Sizes come from the
environment (see SIZES); bench/README.md has the full-size command and the latest figures.

It prints figures; it asserts nothing.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench import data  # noqa: E402
from bench.bare_app import bare_table_sql  # noqa: E402
from sight import create_app  # noqa: E402
from sight.extensions import db  # noqa: E402


def _size(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


SIZES = {
    "BENCH_RESPONSES": _size("BENCH_RESPONSES", 100_000),  # finished responses: CSV/JSON export, results, search
    "BENCH_XLSX_RESPONSES": _size("BENCH_XLSX_RESPONSES", 10_000),  # XLSX against CSV of the same rows
    "BENCH_DONORS": _size("BENCH_DONORS", 100_000),  # members list and dashboard
    "BENCH_ROUNDS": _size("BENCH_ROUNDS", 5),  # alternating rounds of every figure
    "BENCH_SECONDS": _size("BENCH_SECONDS", 5),  # length of one load round (wrk -d)
    "BENCH_CONNECTIONS": _size("BENCH_CONNECTIONS", 32),
    "BENCH_POOL": _size("BENCH_POOL", 8_000),  # last pages ready to send in one load round
    "BENCH_WEBHOOK_POOL": _size("BENCH_WEBHOOK_POOL", 200),  # new payments ready for one webhook round
    "BENCH_FIGURE_SECONDS": _size("BENCH_FIGURE_SECONDS", 120),  # a slow page stops after this, after 1 round
}
# Which parts to run: any of submissions, webhooks, exports (CSV, JSON Lines, XLSX, memory) and
# pages (tallying, results, search, members list, dashboard).
PARTS = set(os.environ.get("BENCH_ONLY", "submissions webhooks exports pages").split())
SECRET_KEY = "bench-only-secret-key"
WRK_THREADS = 2
SURVEY = "reader-survey"


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def app_environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,

        # One address sends everything here: the per-address limits would measure the limiter.
        "SURVEY_PAGE_RATE_LIMIT": "100000000 per hour",
        "SURVEY_START_RATE_LIMIT": "100000000 per hour",
    }


class Server:
    """gunicorn -w 2 --threads 4 on a free port, as the issue measures; stopped by `stop`."""

    def __init__(self, name: str, target: str, env: dict[str, str], logs: Path, extra: list[str] = ()):
        self.name = name
        self.port = free_port()
        self.log = open(logs / f"{name}.log", "wb")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-w", "2", "--threads", "4", "--timeout", "900",
             "-b", f"127.0.0.1:{self.port}", *extra, target],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)

    def warm_up(self, path: str) -> None:
        """A few requests first, so that both workers have imported, connected and filled caches."""
        for _ in range(8):
            fetch(self.port, path, "")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@dataclass
class Load:
    requests_per_second: float
    p99_ms: float
    requests: int
    bad: int


def _milliseconds(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:  # wrk prints "-nan" when no request finished
        return float("nan")
    return float(match.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[match.group(2)]


FORM = ("Cookie", "application/x-www-form-urlencoded")
WEBHOOK = ("Stripe-Signature", "application/json")


def wrk_post(url: str, lines_file: Path, kind: tuple[str, str] = FORM) -> Load:
    """POST the prepared lines for BENCH_SECONDS from wrk, a separate process."""
    header, content_type = kind
    out = subprocess.run(
        ["wrk", "-t", str(WRK_THREADS), "-c", str(SIZES["BENCH_CONNECTIONS"]), "-d", f"{SIZES['BENCH_SECONDS']}s",
         "--timeout", "30s", "--latency", "-s", str(ROOT / "bench" / "post_lines.lua"), url],
        env={**os.environ, "BENCH_LINES": str(lines_file), "BENCH_THREADS": str(WRK_THREADS),
             "BENCH_HEADER": header, "BENCH_CONTENT_TYPE": content_type},
        capture_output=True, text=True, check=True,
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad or "Socket errors" in out:
        print("    " + out.replace("\n", "\n    "), flush=True)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Load(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p99_ms=_milliseconds(re.search(r"99%\s+(\S+)", out).group(1)),
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
        bad=(int(bad.group(1)) if bad else 0) + (sum(int(n) for n in errors.groups()) if errors else 0),
    )


@dataclass
class Fetch:
    status: int
    first_byte: float
    total: float
    size: int


def fetch(port: int, path: str, cookie: str) -> Fetch:
    """GET one page or export over HTTP, reading every byte, timing the first and the last."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    began = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie})
    reply = connection.getresponse()
    first = reply.read(1)
    first_byte = time.perf_counter() - began
    size = len(first)
    while chunk := reply.read(1 << 16):
        size += len(chunk)
    total = time.perf_counter() - began
    connection.close()
    if reply.status != 200:
        raise RuntimeError(f"GET {path} answered {reply.status}")
    return Fetch(reply.status, first_byte, total, size)


def run_seconds(command: list[str], env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=env)
    return time.perf_counter() - began


def peak_rss_mib(command: list[str], env: dict[str, str]) -> float:
    """The peak resident memory of a whole process, from its own high-water mark (VmHWM), read
    until it ends. (wait4's ru_maxrss would also count the copy of this big process that the
    child was before it exec'd.)"""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status = Path(f"/proc/{process.pid}/status")
    peak_kib = 0
    while process.poll() is None:
        try:
            match = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
        except OSError:  # ended between the two checks
            break
        if match:
            peak_kib = max(peak_kib, int(match.group(1)))
        time.sleep(0.02)
    if process.wait() != 0:
        raise RuntimeError(f"{command} failed")
    return peak_kib / 1024


# --- figures ------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    unit: str  # what one value is: a ratio, seconds, MiB
    goal: str
    values: list[float] = field(default_factory=list)
    note: str = ""

    def line(self) -> str:
        if not self.values:
            return f"{self.name:<62} {'—':>8}   {'':<20} goal {self.goal}  {self.note}"
        mid = statistics.median(self.values)
        spread = f"({min(self.values):.3g}–{max(self.values):.3g}, n={len(self.values)})"
        return f"{self.name:<62} {mid:>8.3g} {self.unit:<3} {spread:<24} goal {self.goal}  {self.note}"


def report(figures: list[Figure]) -> None:
    print()
    print(f"{'figure':<62} {'median':>8}     {'(range, rounds)':<24} goal")
    for figure in figures:
        print(figure.line())
    sys.stdout.flush()


def rounds_within_budget(measure, rounds: int) -> None:
    """Run `measure(round)` `rounds` times, or fewer (at least once) past BENCH_FIGURE_SECONDS."""
    began = time.monotonic()
    for number in range(rounds):
        measure(number)
        if time.monotonic() - began > SIZES["BENCH_FIGURE_SECONDS"]:
            break


# --- the run --------------------------------------------------------------------------------


def start_localstripe(logs: Path) -> subprocess.Popen:
    """localstripe, which the webhook asks about each payment; the app finds it in the environment."""
    port = free_port()
    process = subprocess.Popen([str(VENV_BIN / "localstripe"), "--port", str(port), "--from-scratch"],
                               stdout=open(logs / "localstripe.log", "wb"), stderr=subprocess.STDOUT)
    wait_for_port(port)
    os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{port}"
    return process


def make_app(database_url: str):
    app = create_app({"ENVIRON": {"APP_ENV": "test"}, "SECRET_KEY": SECRET_KEY, "SQLALCHEMY_DATABASE_URI": database_url,
                      "STRIPE_API_BASE": os.environ["STRIPE_API_BASE"]})
    with app.app_context():
        upgrade()
        db.session.execute(text(bare_table_sql(db.engine.dialect.name)))
        db.session.commit()
    subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "seed"], cwd=ROOT, env=app_environment(database_url),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return app


def submissions(databases: dict[str, str], apps: dict, folder: Path, logs: Path) -> list[Figure]:
    """Last-page POSTs of the default survey against one-INSERT POSTs, per database."""
    figures = {}
    servers = {}
    for name, url in databases.items():
        env = app_environment(url)
        servers[name] = (
            Server(f"app-{name}", "wsgi:app", env, logs),
            Server(f"bare-{name}", "bare_app:app", {**env, "BENCH_BARE_DATABASE_URL": url}, logs, ["--pythonpath", "bench"]),
        )
        servers[name][0].warm_up(f"/surveys/{SURVEY}")
        servers[name][1].warm_up("/ping")
        figures[name] = (
            Figure(f"submission / bare INSERT, requests per second ({name})", "×", "≥ 0.8"),
            Figure(f"submission p99 / bare INSERT p99 ({name})", "×", "≤ 1.5"),
        )
    absolute = []
    try:
        for number in range(SIZES["BENCH_ROUNDS"]):
            for name, (app_server, bare_server) in servers.items():
                app = apps[name]
                with app.app_context():
                    lines = data.prepare_last_pages(app, SURVEY, SIZES["BENCH_POOL"], seed=1000 + number)
                    before = data.finished_count(SURVEY)
                lines_file = folder / f"lines-{name}-{number}.txt"
                lines_file.write_text("\n".join(lines) + "\n")
                sides = [("bare", bare_server, "/write"), ("app", app_server, f"/surveys/{SURVEY}/page/3")]
                if number % 2:
                    sides.reverse()
                loads = {side: wrk_post(server.url(path), lines_file) for side, server, path in sides}
                with app.app_context():
                    finished = data.finished_count(SURVEY) - before
                throughput, p99 = figures[name]
                record_round(f"{name} submissions round {number}", loads, finished, throughput, p99)
    finally:
        for pair in servers.values():
            for server in pair:
                server.stop()
    return [figure for pair in figures.values() for figure in pair]


def record_round(title: str, loads: dict[str, Load], written: int, throughput: Figure, p99: Figure | None) -> None:
    """Add one round's ratios, noting a round whose app side ran out of prepared requests
    (repeats are cheap refusals, not the work measured) or met errors."""
    app, bare = loads["app"], loads["bare"]
    if written < app.requests * 0.99 or app.bad or bare.bad:
        throughput.note += f" [{title}: {app.requests} POSTs wrote {written}; {app.bad} app, {bare.bad} bare errors]"
    throughput.values.append(app.requests_per_second / bare.requests_per_second)
    if p99 is not None:
        p99.values.append(app.p99_ms / bare.p99_ms)
    print(f"  {title}: app {app.requests_per_second:.0f}/s p99 {app.p99_ms:.0f} ms; "
          f"bare {bare.requests_per_second:.0f}/s p99 {bare.p99_ms:.0f} ms", flush=True)


def webhooks(databases: dict[str, str], apps: dict, folder: Path, logs: Path) -> list[Figure]:
    """Signed `payment_intent.succeeded` deliveries, each a new payment, against one-INSERT POSTs."""
    figures = []
    for name, url in databases.items():
        env = app_environment(url)
        app_server = Server(f"webhook-app-{name}", "wsgi:app", env, logs)
        bare_server = Server(f"webhook-bare-{name}", "bare_app:app", {**env, "BENCH_BARE_DATABASE_URL": url}, logs,
                             ["--pythonpath", "bench"])
        app_server.warm_up(f"/surveys/{SURVEY}")
        bare_server.warm_up("/ping")
        figure = Figure(f"webhook deliveries per second / bare INSERT ({name})", "×", "report")
        app = apps[name]
        try:
            for number in range(SIZES["BENCH_ROUNDS"]):
                with app.app_context():
                    payments = data.paid_payment_intents(app, os.environ["STRIPE_API_BASE"], SIZES["BENCH_WEBHOOK_POOL"])
                    before = data.ledger_count()
                lines_file = folder / f"webhooks-{name}-{number}.txt"
                lines_file.write_text("\n".join(data.signed_deliveries(app.config["STRIPE_WEBHOOK_SECRET"], payments)) + "\n")
                sides = [("bare", bare_server, "/write"), ("app", app_server, "/stripe/webhook")]
                if number % 2:
                    sides.reverse()
                loads = {side: wrk_post(server.url(path), lines_file, WEBHOOK) for side, server, path in sides}
                with app.app_context():
                    written = data.ledger_count() - before
                record_round(f"{name} webhooks round {number}", loads, written, figure, None)
        finally:
            app_server.stop()
            bare_server.stop()
        figures.append(figure)
    return figures


def flat_query(definition: dict) -> str:
    """The database's own CSV of the same rows: the export's columns picked out of the JSON."""
    columns = ["r.id", "v.number", "r.submitted_at",
               "CAST((julianday(r.submitted_at) - julianday(r.started_at)) * 86400 AS INTEGER)", "r.sight_plus"]
    for page in definition["pages"]:
        for question in page["questions"]:
            qid = question["id"]
            if question["type"] == "matrix":
                columns += [f"json_extract(r.answers, '$.{qid}.{row['value']}')" for row in question["rows"]]
            else:
                columns.append(f"json_extract(r.answers, '$.{qid}')")
            if question.get("other"):
                columns.append(f"json_extract(r.answers, '$.{qid}_other')")
    return (f"SELECT {', '.join(columns)} FROM survey_response r JOIN survey_version v ON v.id = r.version_id "
            f"JOIN survey s ON s.id = r.survey_id WHERE s.slug = '{SURVEY}' AND r.submitted_at IS NOT NULL ORDER BY r.id")


def staff_server(sqlite_url: str, app, logs: Path) -> tuple[Server, str]:
    """The app on the SQLite database, warmed up, and a signed-in staff member's cookie."""
    with app.app_context():
        cookie = data.staff_cookie(app)
    server = Server("app-pages", "wsgi:app", app_environment(sqlite_url), logs)
    for _warm_up in range(4):  # both workers import, connect and fill their caches first
        for fmt in ("csv", "json", "xlsx"):
            fetch(server.port, f"/staff/surveys/bench-empty/export.{fmt}", cookie)
        fetch(server.port, "/staff/surveys/bench-empty", cookie)
    return server, cookie


def exports(sqlite_url: str, app, folder: Path, logs: Path) -> list[Figure]:
    """CSV and JSON Lines against the database's own CSV, XLSX against CSV, and exporting memory."""
    database = sqlite_url.removeprefix("sqlite:///")
    with app.app_context():
        definition = data.survey_and_version(SURVEY)[2]
    query = flat_query(definition)
    sqlite3 = shutil.which("sqlite3")
    subprocess.run([sqlite3, database, f"DROP TABLE IF EXISTS bench_flat; CREATE TABLE bench_flat AS {query}"], check=True)
    server, cookie = staff_server(sqlite_url, app, logs)
    rounds = SIZES["BENCH_ROUNDS"]
    n, nx = SIZES["BENCH_RESPONSES"], SIZES["BENCH_XLSX_RESPONSES"]
    csv_ratio = Figure(f"CSV export of {n:,} / sqlite3 -csv of the same query", "×", "≤ 2")
    flat_ratio = Figure(f"CSV export of {n:,} / sqlite3 -csv of a flat table", "×", "report")
    jsonl_ratio = Figure(f"JSON Lines export of {n:,} / sqlite3 -csv of the same query", "×", "≤ 2")
    first_byte = Figure(f"first byte of the CSV export over HTTP, seconds", "s", "< 0.3")
    xlsx_ratio = Figure(f"XLSX export of {nx:,} / CSV export of the same {nx:,}", "×", "≤ 3")
    xlsx_first = Figure(f"first byte of the XLSX export, seconds", "s", "< 1")
    exported = {}

    def export_round(number: int) -> None:
        sides = ["db", "flat", "csv", "json"]
        if number % 2:
            sides.reverse()
        took = {}
        for side in sides:
            if side == "db":
                took[side] = run_seconds([sqlite3, "-csv", database, query])
            elif side == "flat":
                took[side] = run_seconds([sqlite3, "-csv", database, "SELECT * FROM bench_flat"])
            else:
                got = fetch(server.port, f"/staff/surveys/{SURVEY}/export.{side}", cookie)
                took[side] = got.total
                exported[side] = got.size
                if side == "csv":
                    first_byte.values.append(got.first_byte)
        csv_ratio.values.append(took["csv"] / took["db"])
        flat_ratio.values.append(took["csv"] / took["flat"])
        jsonl_ratio.values.append(took["json"] / took["db"])
        print(f"  exports round {number}: " + ", ".join(f"{k} {v:.2f} s" for k, v in took.items()), flush=True)

    def xlsx(number: int) -> None:
        sides = ["xlsx", "csv"] if number % 2 else ["csv", "xlsx"]
        got = {side: fetch(server.port, f"/staff/surveys/bench-xlsx/export.{side}", cookie) for side in sides}
        xlsx_ratio.values.append(got["xlsx"].total / got["csv"].total)
        xlsx_first.values.append(got["xlsx"].first_byte)
        print(f"  xlsx round {number}: xlsx {got['xlsx'].total:.2f} s, csv {got['csv'].total:.2f} s", flush=True)

    try:
        rounds_within_budget(export_round, rounds)
        rounds_within_budget(xlsx, rounds)
    finally:
        server.stop()

    memory = []
    env = app_environment(sqlite_url)
    idle = peak_rss_mib([str(VENV_BIN / "python"), "-c", "import wsgi"], env)
    for fmt in ("csv", "xlsx"):
        slug = SURVEY if fmt == "csv" else "bench-xlsx"
        peak = peak_rss_mib([str(VENV_BIN / "flask"), "--app", "wsgi", "surveys", "export", slug, "--format", fmt,
                             "-o", str(folder / f"export.{fmt}")], env)
        memory.append(Figure(f"peak memory exporting {fmt.upper()} ({slug}), MiB", "MiB", "< 95.4 (100 MB), flat", [peak],
                             f"(the app imported and idle: {idle:.0f} MiB)"))
    print(f"  export sizes: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in exported.items()), flush=True)
    return [csv_ratio, flat_ratio, jsonl_ratio, first_byte, xlsx_ratio, xlsx_first, *memory]


def pages(sqlite_url: str, app, logs: Path) -> list[Figure]:
    """The staff pages that read many rows: results, search, members list, dashboard.

    The responses are counted into the tallies first, as `flask surveys tally` (its timer, or an
    upgrade's first look) does in production; how long that takes is a figure of its own."""
    n, donors = SIZES["BENCH_RESPONSES"], SIZES["BENCH_DONORS"]
    tally = Figure(f"flask surveys tally of {n:,} new responses (once, after an upgrade), seconds", "s", "report")
    tally.values.append(run_seconds([str(VENV_BIN / "flask"), "--app", "wsgi", "surveys", "tally"],
                                    env=app_environment(sqlite_url)))
    results = Figure(f"staff results page at {n:,}, seconds", "s", "< 1 at 1M")
    results_ratio = Figure(f"staff results page at {n:,} / the same page with no responses", "×", "")
    dashboard = Figure(f"staff dashboard at {n:,} responses and {donors:,} donors, seconds", "s", "< 1")
    members = Figure(f"members list at {donors:,} donors, seconds", "s", "< 0.5")
    search = Figure(f"free-text search for one word at {n:,}, seconds", "s", "< 0.3 at 1M")
    server, cookie = staff_server(sqlite_url, app, logs)

    def page(figure: Figure, path: str, baseline: Figure | None = None, empty_path: str = ""):
        def measure(number: int) -> None:
            took = fetch(server.port, path, cookie).total
            figure.values.append(took)
            if baseline is not None:
                baseline.values.append(took / fetch(server.port, empty_path, cookie).total)
            print(f"  {path} round {number}: {took:.2f} s", flush=True)

        return measure

    rounds = SIZES["BENCH_ROUNDS"]
    try:
        rounds_within_budget(page(results, f"/staff/surveys/{SURVEY}", results_ratio, "/staff/surveys/bench-empty"), rounds)
        rounds_within_budget(page(search, f"/staff/surveys/{SURVEY}/answers/comment?q={data.SEARCH_WORD}"), rounds)
        rounds_within_budget(page(members, "/staff/members"), rounds)
        rounds_within_budget(page(dashboard, "/staff/"), rounds)
    finally:
        server.stop()
    return [tally, results, results_ratio, dashboard, members, search]


def main() -> None:
    print("sizes: " + ", ".join(f"{k}={v}" for k, v in SIZES.items()), flush=True)
    with tempfile.TemporaryDirectory(prefix="sight-bench-") as tmp:
        folder = Path(tmp)
        logs = folder / "logs"
        logs.mkdir()
        databases = {"sqlite": f"sqlite:///{folder / 'bench.sqlite3'}"}
        if os.environ.get("TEST_DATABASE_URL"):
            databases["postgresql"] = os.environ["TEST_DATABASE_URL"]
        else:
            print("TEST_DATABASE_URL is not set: PostgreSQL figures are left out (make bench sets it).")
        localstripe = start_localstripe(logs)
        try:
            run_all(databases, folder, logs)
        finally:
            localstripe.terminate()
            localstripe.wait(timeout=10)


def run_all(databases: dict[str, str], folder: Path, logs: Path) -> None:
    apps = {name: make_app(url) for name, url in databases.items()}
    began = time.monotonic()
    with apps["sqlite"].app_context():
        data.copy_survey(SURVEY, "bench-xlsx")
        data.copy_survey(SURVEY, "bench-empty")
        data.staff_cookie(apps["sqlite"])
        if PARTS & {"exports", "pages"}:
            data.fill_responses(SURVEY, SIZES["BENCH_RESPONSES"])
        if "exports" in PARTS:
            data.fill_responses("bench-xlsx", SIZES["BENCH_XLSX_RESPONSES"], seed=3)
        if "pages" in PARTS:
            data.fill_donors(SIZES["BENCH_DONORS"])
    print(f"filled SQLite in {time.monotonic() - began:.0f} s", flush=True)
    figures = []
    if "submissions" in PARTS:
        figures += submissions(databases, apps, folder, logs)
        report(figures)
    if "webhooks" in PARTS:
        figures += webhooks(databases, apps, folder, logs)
        report(figures)
    if "exports" in PARTS:
        figures += exports(databases["sqlite"], apps["sqlite"], folder, logs)
        report(figures)
    if "pages" in PARTS:
        figures += pages(databases["sqlite"], apps["sqlite"], logs)
    report(figures)
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
