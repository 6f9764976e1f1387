"""CLI (`flask membership remind|settle|purge`, `flask stripe reconcile`), the seeder, and the dashboard panel's wiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.personal_data import erasure_steps
from membership.context import Settings, context_for
from membership.lapse import send_lapse_reminders, send_sight_plus_ended_notices
from membership.models import Benefit, Donor, StripeEvent
from membership.personal_data import purge_abandoned_starts
from membership.receipts import send_renewal_reminders
from membership.reconcile import reconcile
from membership.settle import settle_stuck_donations
from membership.staff_queries import dashboard_panel
from membership.statements import financial_year_name, send_statements
from membership.stripe_api import STRIPE_API_VERSION
from membership.webhook import events_of_another_version
from sight.cli import register_seeder
from sight.db import utcnow
from sight.doctor import FAIL, OK, Finding, register_doctor_check
from sight.extensions import db
from sight.jobs import job_progress, quiet_option
from sight.staff import DashboardPanel, register_dashboard_panel

DEFAULT_BENEFITS = (
    (
        "The Sight+ newsletter",
        "A fortnightly letter from the editors: what we're working on, and why.",
        "Look out for it in your inbox every second Friday.",
    ),
    (
        "Members' briefings",
        "An online briefing with our reporters each quarter, with time for your questions.",
        "The next briefing's details are emailed to members a week ahead.",
    ),
    (
        "Your name in our annual report",
        "With your permission, we thank you by name in our annual report.",
        "Reply to your receipt email to tell us how you'd like to be named.",
    ),
)

TEST_CARDS = (
    "Test cards (localstripe; any future expiry, any 3-digit CVC):",
    "  4242 4242 4242 4242  succeeds",
    "  4000 0000 0000 0341  declines when charged (a one-off gift, or the first year of an annual gift)",
    "  4000 0000 0000 0002  declines when saved (shown beside the card)",
    "  4000 0025 0000 3155  asks for 3-D Secure: localstripe shows a page to authorise or fail it",
    "  4000 0082 6000 3178  asks for 3-D Secure, then declines when charged",
)


def seed_membership(session: Session, app: Flask) -> list[str]:
    titles = set(session.scalars(select(Benefit.title)))
    added = 0
    for position, (title, description, members_content) in enumerate(DEFAULT_BENEFITS):
        if title not in titles:
            session.add(
                Benefit(
                    title=title,
                    description=description,
                    members_content=members_content,
                    position=position,
                    published=True,
                )
            )
            added += 1
    session.flush()
    return [f"Sight+ benefits: {added} added, {len(titles)} already there.", *TEST_CARDS]


def membership_panel(config: dict):
    settings, zone = Settings.from_config(config), ZoneInfo(config["DISPLAY_TIMEZONE"])

    def panel(session: Session, now: datetime) -> DashboardPanel:
        return dashboard_panel(session, settings, zone, now)

    return panel


def failing_webhooks_check(session: Session, config: dict, now: datetime) -> list[Finding]:
    """`flask doctor`: Stripe events that were received but could not be applied."""
    failing = select(StripeEvent).where(StripeEvent.error.is_not(None), StripeEvent.processed_at.is_(None))
    count = session.scalar(select(func.count()).select_from(failing.subquery()))
    if not count:
        return [Finding(OK, "Every Stripe webhook event received has been applied.")]
    newest = session.scalars(failing.order_by(StripeEvent.received_at.desc()).limit(1)).one()
    return [Finding(FAIL, f"{count} Stripe webhook event(s) failed to apply; the newest, {newest.event_id} "
                          f"({newest.type}), with: {newest.error[:200]}. Stripe retries them; "
                          "`flask stripe reconcile` repairs the ledger.")]


def api_version_check(session: Session, config: dict, now: datetime) -> list[Finding]:
    """`flask doctor`: webhook events of an API version other than the one the app reads."""
    others = events_of_another_version(session, now)
    if not others:
        return [Finding(OK, f"Every Stripe event received in the last 3 days is of API version {STRIPE_API_VERSION}.")]
    return [Finding(FAIL, other.sentence()) for other in others]


def erasures_due_check(session: Session, config: dict, now: datetime) -> list[Finding]:
    """`flask doctor`: closed accounts whose annual gifts Stripe may still renew, or whose name and
    email it still holds, because Stripe could not be reached when they closed."""
    due = session.scalars(select(Donor.stripe_erasure_due_at).where(Donor.stripe_erasure_due_at.is_not(None))).all()
    if not due:
        return [Finding(OK, "Stripe has stopped the annual gifts and forgotten the details of every closed account.")]
    return [Finding(FAIL, f"{len(due)} closed account(s), the oldest closed {min(due):%Y-%m-%d %H:%M} UTC, may still "
                          "be renewed or named in Stripe; `flask stripe reconcile` finishes them.")]


def init_app(app: Flask) -> None:
    register_seeder(app, seed_membership)
    register_doctor_check(app, failing_webhooks_check)
    register_doctor_check(app, erasures_due_check)
    register_doctor_check(app, api_version_check)
    register_dashboard_panel(app, membership_panel(app.config))

    @app.cli.group("membership")
    def membership_group():
        """Sight+ membership."""

    @membership_group.command("remind")
    @quiet_option
    def remind_command():
        """Email donors whose annual gift renews within 14 days (never twice; safe from cron)."""
        with job_progress() as progress:
            sent = send_renewal_reminders(db.session, context_for(app), utcnow(), progress)
        db.session.commit()
        click.echo(f"Sent {sent} renewal reminder(s).")

    @membership_group.command("lapse-reminders")
    @quiet_option
    def lapse_reminders_command():
        """Email members whose Sight+ rests on one-off gifts LAPSE_REMINDER_DAYS before it lapses,
        and again on the day it has ended (each once per lapse date, even from two runs at once;
        safe from cron)."""
        now = utcnow()
        with job_progress() as progress:
            sent = send_lapse_reminders(
                db.session, context_for(app), now, reminder_days=app.config["LAPSE_REMINDER_DAYS"],
                progress=progress,
            )
            ended = send_sight_plus_ended_notices(db.session, context_for(app), now, progress=progress)
        db.session.commit()
        click.echo(f"Sent {sent} lapse reminder(s) and {ended} \"your Sight+ has ended\" mail(s).")

    @membership_group.group("statements")
    def statements_group():
        """Giving statements, one per donor and financial year."""

    @statements_group.command("send")
    @quiet_option
    @click.option("--year", type=click.IntRange(2, 9998), required=True,
                  help="The financial year, named by the calendar year it ends in (2026: 1 July 2025 to 30 June 2026).")
    @click.option("--per-minute", type=click.IntRange(min=1), default=60, show_default=True,
                  help="At most this many statements a minute.")
    def statements_send_command(year: int, per_minute: int):
        """Email each donor who gave in a financial year their statement, once (run it again after
        a crash: who has theirs is skipped)."""
        start_month = app.config["FINANCIAL_YEAR_START_MONTH"]
        with job_progress() as progress:
            sent = send_statements(
                db.session, context_for(app), year, utcnow, start_month=start_month, per_minute=per_minute,
                progress=progress,
            )
        db.session.commit()
        click.echo(f"Sent {sent} giving statement(s) for {financial_year_name(year, start_month)}.")

    @membership_group.command("purge")
    @quiet_option
    def purge_command():
        """Forget gifts started and never paid after ABANDONED_DONATION_DAYS, and the donors (their
        Stripe Customers, and accounts never used otherwise) left with nothing (safe from cron)."""
        with job_progress() as progress:
            # One pass, one step: the bar says that it runs and when it has finished.
            progress.start(1, "Unpaid gift starts")
            report = purge_abandoned_starts(
                db.session, context_for(app), erasure_steps(app),
                older_than=timedelta(days=app.config["ABANDONED_DONATION_DAYS"]), now=utcnow(),
            )
            progress.advance()
        for line in report.failures:
            click.echo(line)
        click.echo(report.summary())
        if report.failures:
            raise SystemExit(1)

    @membership_group.command("settle")
    @quiet_option
    def settle_command():
        """Settle gifts a request left half-done: ask Stripe, record once, send one receipt (safe from cron)."""
        with job_progress() as progress:
            report = settle_stuck_donations(db.session, context_for(app), utcnow(), progress)
        for line in report.failures:
            click.echo(line)
        click.echo(report.summary())
        if report.failures:
            raise SystemExit(1)

    @app.cli.group("stripe")
    def stripe_group():
        """Stripe."""

    @stripe_group.command("reconcile")
    @quiet_option
    @click.option("--dry-run", is_flag=True, help="Report the differences without changing anything.")
    @click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="Only Stripe events, charges, refunds and disputes from this date or instant (UTC).")
    def reconcile_command(dry_run: bool, since: datetime | None):
        """Re-read Stripe and repair the ledger after missed webhooks (one commit per repair)."""
        with job_progress() as progress:
            report = reconcile(
                db.session,
                context_for(app),
                since=since.replace(tzinfo=UTC) if since else None,
                now=utcnow(),
                dry_run=dry_run,
                progress=progress,
            )
        for line in report.lines:
            click.echo(line)
        click.echo(report.summary())
        if report.months:
            click.echo("Net of refunds per month (UTC), ledger against Stripe:")
            for line in report.month_lines():
                click.echo(f"  {line}")
        if report.needs_staff:
            raise SystemExit(1)
