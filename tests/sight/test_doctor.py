"""`flask doctor` tells an operator what is misconfigured or stuck."""

from __future__ import annotations

from datetime import timedelta

from accounts.development import DEV_STAFF_EMAIL
from membership.models import StripeEvent
from sight.db import utcnow
from sight.extensions import db
from sight.models import JobRun, OutboxMessage
from tests.helpers import make_user


def doctor(app):
    return app.test_cli_runner().invoke(args=["doctor"])


def test_a_healthy_setup_passes_and_says_what_it_checked(app, smtp_server):
    _, smtp_port = smtp_server
    result = doctor(app)
    assert result.exit_code == 0, result.output
    assert f"OK    The mail server at 127.0.0.1:{smtp_port} answers." in result.output
    assert "OK    The database answers and is at the newest migration." in result.output
    assert "OK    No mail has waited more than an hour." in result.output
    assert "OK    Every Stripe webhook event received has been applied." in result.output
    # Nothing has run the scheduled jobs here: said, but not a failure.
    assert "WARN  `flask mail send` has never run" in result.output


def test_each_scheduled_run_is_recorded_for_the_doctor(app):
    assert app.test_cli_runner().invoke(args=["membership", "remind"]).exit_code == 0
    assert "OK    `flask membership remind` last ran 0 min ago." in doctor(app).output


def test_what_is_broken_is_named_and_the_exit_status_says_so(make_app, mailbox):
    app = make_app(MAIL_URL="smtp://127.0.0.1:9", PUBLIC_URL="https://sight.example.org")
    now = utcnow()
    make_user(app, DEV_STAFF_EMAIL)
    with app.app_context():
        db.session.add_all([
            OutboxMessage(to_address="reader@example.com", subject="Your link", body_text="…",
                          created_at=now - timedelta(hours=3), next_attempt_at=now + timedelta(hours=1)),
            JobRun(name="stripe reconcile", started_at=now - timedelta(hours=2), finished_at=now,
                   error="APIConnectionError: Stripe did not answer"),
            JobRun(name="membership remind", started_at=now - timedelta(days=5), finished_at=now - timedelta(days=5)),
            StripeEvent(event_id="evt_broken", type="invoice.paid", body="{}", error="no such customer"),
        ])
        db.session.commit()

    result = doctor(app)
    assert result.exit_code == 1
    for line in (
        "FAIL  The mail server at 127.0.0.1:9 cannot be reached",
        "FAIL  1 message(s) queued for more than an hour (the oldest for 3 h)",
        "FAIL  `flask stripe reconcile` failed when it last ran",
        "APIConnectionError: Stripe did not answer",
        "WARN  `flask membership remind` last ran 5 days ago: is its timer still running?",
        "FAIL  1 Stripe webhook event(s) failed to apply; the newest, evt_broken (invoice.paid)",
        f"FAIL  The development staff account {DEV_STAFF_EMAIL} exists on a site others can reach",
    ):
        assert line in result.output, result.output
