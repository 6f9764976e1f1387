"""`flask doctor`: what an operator should fix, checked against the running configuration.

Each check returns findings: ("ok" | "warn" | "fail", one sentence). The shell checks keys,
mail, rate limits, the database, scheduled jobs and queued mail; each area of the product adds
its own with `register_doctor_check` (e.g. Stripe webhooks that fail, the development account).
A "fail" makes the command exit with status 1, so that a deploy script can stop on it.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

import click
from flask import Flask, current_app
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sight.config import DEV_ORG_LEGAL_NAME, receipt_identity_problems
from sight.db import utcnow
from sight.extensions import db, limiter
from sight.jobs import scheduled_jobs
from sight.models import JobRun, OutboxMessage

OK, WARN, FAIL = "ok", "warn", "fail"
QUEUED_TOO_LONG = timedelta(hours=1)


@dataclass(frozen=True)
class Finding:
    level: str
    text: str


Check = Callable[[Session, dict, datetime], list[Finding]]


def register_doctor_check(app: Flask, check: Check) -> None:
    app.extensions.setdefault("sight_doctor_checks", []).append(check)


def check_keys(session: Session, config: dict, now: datetime) -> list[Finding]:
    production = config["APP_ENV"] == "production"
    findings = []
    if not production:
        findings.append(Finding(WARN, f"APP_ENV is {config['APP_ENV']}: set APP_ENV=production on a public site."))
    secret, publishable = config["STRIPE_SECRET_KEY"], config["STRIPE_PUBLISHABLE_KEY"]
    if secret.startswith("sk_live_") != publishable.startswith("pk_live_"):
        findings.append(Finding(FAIL, "STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY are not both live or both test keys."))
    elif production and not secret.startswith(("sk_live_", "rk_live_")):
        findings.append(Finding(WARN, "Stripe test keys in production: no real money will be taken."))
    else:
        findings.append(Finding(OK, "Stripe keys are a matching pair."))
    return findings


def check_receipts(session: Session, config: dict, now: datetime) -> list[Finding]:
    """Production refuses to start with placeholder receipts; this says it again for a config
    changed after start, and tells a development site that its receipts are not real."""
    production = config["APP_ENV"] == "production"
    problems = receipt_identity_problems(config, production)
    if problems:
        return [Finding(FAIL, problem) for problem in problems]
    if config["ORG_LEGAL_NAME"] == DEV_ORG_LEGAL_NAME:
        return [Finding(WARN, "Receipts print the development placeholders: set ORG_LEGAL_NAME, ORG_ABN "
                              "and RECEIPT_TAX_STATEMENT before real gifts are taken.")]
    return [Finding(OK, f"Receipts name {config['ORG_LEGAL_NAME']}, ABN {config['ORG_ABN']}.")]


def check_mail(session: Session, config: dict, now: datetime) -> list[Finding]:
    url = config.get("MAIL_URL")
    if not url:
        return [Finding(FAIL if config["APP_ENV"] == "production" else WARN,
                        "MAIL_URL is not set: mail, sign-in links included, is written to the log.")]
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or (465 if parts.scheme == 'smtps' else 25)}"
    try:
        smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with smtp_class(parts.hostname, parts.port or (465 if parts.scheme == "smtps" else 25), timeout=10) as smtp:
            smtp.ehlo()
            if parts.scheme != "smtps" and smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
    except (OSError, smtplib.SMTPException) as error:
        return [Finding(FAIL, f"The mail server at {where} cannot be reached or refused us: {error}")]
    return [Finding(OK, f"The mail server at {where} answers.")]


def check_rate_limits(session: Session, config: dict, now: datetime) -> list[Finding]:
    uri = config["RATELIMIT_STORAGE_URI"]
    if uri.startswith("memory://"):
        level = WARN if config["APP_ENV"] == "production" else OK
        return [Finding(level, "Rate limits are counted in memory, per worker process: fine for one "
                               "process, not for several (RATELIMIT_STORAGE_URI=redis://…).")]
    if not limiter.storage.check():
        return [Finding(FAIL, f"The rate-limit store ({urlsplit(uri).scheme}://{urlsplit(uri).hostname}) does not answer.")]
    return [Finding(OK, f"The rate-limit store ({urlsplit(uri).scheme}://{urlsplit(uri).hostname}) answers.")]


def check_database(session: Session, config: dict, now: datetime) -> list[Finding]:
    # Alembic loads here, in `flask doctor` only (a third of the app's import time).
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    try:
        connection = session.connection()
        connection.execute(text("SELECT 1"))
        current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        return [Finding(FAIL, f"The database does not answer: {type(error).__name__}")]
    heads = ScriptDirectory(current_app.extensions["migrate"].directory).get_heads()
    if current not in heads:
        return [Finding(FAIL, f"The database is at migration {current}, the code at {', '.join(heads)}: run `flask db upgrade`.")]
    return [Finding(OK, "The database answers and is at the newest migration.")]


def check_scheduled_jobs(session: Session, config: dict, now: datetime) -> list[Finding]:
    runs = {run.name: run for run in session.scalars(select(JobRun))}
    findings = []
    for name, every in scheduled_jobs(current_app).items():
        run = runs.get(name)
        if run is None:
            findings.append(Finding(WARN, f"`flask {name}` has never run: is its timer (or cron line) installed?"))
        elif run.error:
            findings.append(Finding(FAIL, f"`flask {name}` failed when it last ran ({run.started_at:%Y-%m-%d %H:%M} UTC): {run.error}"))
        elif now - run.started_at > every:
            findings.append(Finding(WARN, f"`flask {name}` last ran {_ago(now - run.started_at)} ago: is its timer still running?"))
        else:
            findings.append(Finding(OK, f"`flask {name}` last ran {_ago(now - run.started_at)} ago."))
    return findings


def check_queued_mail(session: Session, config: dict, now: datetime) -> list[Finding]:
    count, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.created_at < now - QUEUED_TOO_LONG
        )
    ).one()
    if count:
        return [Finding(FAIL, f"{count} message(s) queued for more than an hour (the oldest for {_ago(now - oldest)}): "
                              "is the mail worker running, and does the mail server accept them?")]
    return [Finding(OK, "No mail has waited more than an hour.")]


CONFIGURATION_CHECKS = (check_keys, check_receipts, check_mail, check_rate_limits)
DATA_CHECKS = (check_scheduled_jobs, check_queued_mail)


def run_checks(app: Flask, session: Session, now: datetime) -> list[Finding]:
    findings = []
    for check in CONFIGURATION_CHECKS:
        findings.extend(check(session, app.config, now))
    database = check_database(session, app.config, now)
    session.rollback()
    findings.extend(database)
    if any(finding.level == FAIL for finding in database):
        return [*findings, Finding(WARN, "The checks that read the database wait until it is fixed.")]
    for check in (*DATA_CHECKS, *app.extensions.get("sight_doctor_checks", [])):
        findings.extend(check(session, app.config, now))
        session.rollback()
    return findings


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def init_app(app: Flask) -> None:
    @app.cli.command("doctor")
    def doctor_command():
        """Say what is misconfigured or stuck (exit status 1 when something must be fixed)."""
        logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
        findings = run_checks(current_app._get_current_object(), db.session, utcnow())
        for finding in findings:
            click.echo(f"{finding.level.upper():4}  {finding.text}")
        if any(finding.level == FAIL for finding in findings):
            raise SystemExit(1)
