"""Long jobs under a real pseudo-terminal: a progress bar with the count and an ETA; under cron
(no terminal) or with --quiet, only the summary line.

Each job is the real `flask` command in its own process, on the tests' database, as an
operator (a terminal) or a timer (pipes) runs it.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from sight.db import utcnow
from sight.extensions import db
from sight.mail import queue_mail
from surveys.definition import load_definition
from surveys.models import Response, Survey
from surveys.operations import DEFAULT_SURVEY_FILE, import_definition
from tests.conftest import free_port, running_localstripe

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
ETA = re.compile(r"\d\d:\d\d:\d\d")
# click's bar: the label, the bar between brackets, then done/total.
BAR = re.compile(r"(?P<label>[A-Z][A-Za-z ]*?)\s+\[[#-]+\]\s+(?P<done>\d+)/(?P<total>\d+)")
ANSI_AND_RETURNS = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def job_environment(app_config, **overrides) -> dict:
    return {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_URL": app_config["MAIL_URL"],
        "SECRET_KEY": app_config["SECRET_KEY"],
        "STRIPE_API_BASE": app_config["STRIPE_API_BASE"],
        "FLASK_APP": "wsgi.py",
        "COLUMNS": "120",
        **overrides,
    }


def run_on_a_terminal(args: list[str], env: dict) -> tuple[int, str]:
    """Run `flask args` with stdin, stdout and stderr on a new pseudo-terminal; what it drew."""
    controller, terminal = os.openpty()
    process = subprocess.Popen([FLASK, *args], cwd=ROOT, env=env, stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    output = b""
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError as error:  # EIO: the job closed the terminal's last end
            if error.errno != errno.EIO:
                raise
            break
        if not data:
            break
        output += data
    os.close(controller)
    return process.wait(timeout=60), output.decode()


def run_under_cron(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def bars(drawn: str) -> list[dict]:
    """Every state of every bar drawn, in order."""
    return [match.groupdict() for match in BAR.finditer(ANSI_AND_RETURNS.sub("\n", drawn))]


class SlowSmtp:
    """A real SMTP server taking half a second per message, so that the job lasts long enough
    (over a second) for click to estimate the time left."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.5)
        return "250 Message accepted for delivery"


@pytest.fixture
def slow_smtp_url():
    port = free_port()
    controller = Controller(SlowSmtp(), hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}"
    controller.stop()


def queue_messages(app, count: int) -> None:
    with app.app_context():
        for n in range(count):
            queue_mail(db.session, to=f"reader{n}@example.com", subject="Hello", body=f"Message {n}",
                       html=f"<p>Message {n}</p>")
        db.session.commit()


def test_on_a_terminal_mail_send_draws_a_bar_with_the_count_and_an_eta(app, app_config, slow_smtp_url):
    queue_messages(app, 5)
    status, drawn = run_on_a_terminal(["mail", "send"], job_environment(app_config, MAIL_URL=slow_smtp_url))
    assert status == 0, drawn
    states = bars(drawn)
    assert states and all(s["label"].strip() == "Sending mail" and s["total"] == "5" for s in states), drawn
    assert [s["done"] for s in states][0] == "0" and states[-1]["done"] == "5"
    # The ETA shows once a second has gone by, while messages are still to send.
    assert ETA.search(drawn), drawn
    assert drawn.rstrip().endswith("Sent 5 of 5 due message(s).")


def test_under_cron_mail_send_prints_only_its_summary_line(app, app_config, mailbox):
    queue_messages(app, 3)
    result = run_under_cron(["mail", "send"], job_environment(app_config))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Sent 3 of 3 due message(s).\n"
    assert result.stderr == ""
    assert len(mailbox.received) == 3


def test_quiet_on_a_terminal_prints_only_the_summary_line(app, app_config, mailbox):
    queue_messages(app, 2)
    status, drawn = run_on_a_terminal(["mail", "send", "--quiet"], job_environment(app_config))
    assert status == 0, drawn
    assert drawn.replace("\r\n", "\n") == "Sent 2 of 2 due message(s).\n"


@pytest.fixture
def reader_survey(app) -> str:
    with app.app_context():
        import_definition(db.session, load_definition(DEFAULT_SURVEY_FILE.read_text()), None, utcnow())
        db.session.commit()
    return "reader-survey"


def add_finished_responses(app, slug: str, count: int) -> None:
    with app.app_context():
        survey = db.session.scalars(select(Survey).where(Survey.slug == slug)).one()
        when = datetime(2026, 11, 2, tzinfo=UTC)
        for n in range(count):
            db.session.add(Response(
                survey_id=survey.id, version_id=survey.current_version.id, resume_token=f"progress-{n}",
                answers={}, started_at=when, submitted_at=when + timedelta(minutes=n),
            ))
        db.session.commit()


# Each long job (the CLIs and deploy/systemd's timers), the bar it draws (with how many pieces,
# where the test knows), and its summary line.
JOBS = [
    (["surveys", "tally"], "Counting responses", 7, r"reader-survey: \d responses counted\."),
    (["surveys", "export", "reader-survey", "--format", "csv", "-o", "{tmp}/out.csv"], "Exporting responses", 7,
     r"Wrote 7 responses to .*out\.csv"),
    (["surveys", "purge"], "Surveys", 1, r"Survey reader-survey: free text removed from 0 responses"),
    (["membership", "purge"], "Unpaid gift starts", 1, r"Purged 0 unpaid gift start\(s\)\."),
    (["membership", "remind"], "Renewal reminders", 0, r"Sent 0 renewal reminder\(s\)\."),
    (["membership", "lapse-reminders"], "Lapse reminders", 0,
     r"Sent 0 lapse reminder\(s\) and 0 \"your Sight\+ has ended\" mail\(s\)\."),
    (["membership", "statements", "send", "--year", "2026"], "Giving statements", 0,
     r"Sent 0 giving statement\(s\) for 2025–26\."),
    (["membership", "settle"], "Unsettled gifts", 0, r"Settled 0 donation\(s\) left half-done"),
    (["stripe", "reconcile", "--since", "2026-12-01"], "Checking Stripe", None,
     r"The ledger matches Stripe\.|difference\(s\) repaired"),
    (["mail", "send"], "Sending mail", 0, r"Sent 0 of 0 due message\(s\)\."),
]


@pytest.mark.parametrize(("args", "label", "total", "summary"), JOBS, ids=[" ".join(j[0][:2]) for j in JOBS])
def test_every_long_job_draws_its_bar_on_a_terminal_and_only_its_summary_under_cron(
    app, app_config, reader_survey, tmp_path, args, label, total, summary
):
    add_finished_responses(app, reader_survey, 7)
    args = [a.format(tmp=tmp_path) for a in args]
    # Reconcile reads all of Stripe: a localstripe of its own, not the one other tests left full.
    with running_localstripe() as stripe_url:
        env = job_environment(app_config, STRIPE_API_BASE=stripe_url)
        if args[:2] == ["surveys", "export"]:
            assert run_under_cron(["surveys", "tally"], env).returncode == 0  # its bar is the tally test's
        status, drawn = run_on_a_terminal(args, env)
        result = run_under_cron(args, env)
    assert status == 0, drawn
    states = bars(drawn)
    assert states, drawn
    assert {s["label"].strip() for s in states} == {label}, drawn
    assert states[-1]["done"] == states[-1]["total"], drawn
    if total is not None:
        assert states[-1]["total"] == str(total), drawn
    assert re.search(summary, drawn), drawn

    assert result.returncode == 0, result.stdout + result.stderr
    # stderr may carry the app's log lines (Stripe's requests), never a bar.
    assert not BAR.search(result.stdout + result.stderr) and label not in result.stdout + result.stderr
    assert re.search(summary, result.stdout.splitlines()[0]), result.stdout
