"""The scheduled jobs (cron or systemd timers) and when each last ran, for `flask doctor`.

Each job's command is wrapped where the app is built, so that every run is recorded in
`job_run` whichever package the command belongs to.
"""

from __future__ import annotations

import functools
from datetime import timedelta

import click
from flask import Flask
from flask.cli import with_appcontext

from sight.db import utcnow
from sight.extensions import db
from sight.models import JobRun

# Command → how long it may go without running before `flask doctor` says so (its timer runs
# it well within that: deploy/systemd/sight-*.timer).
SCHEDULED_JOBS = {
    "mail send": timedelta(minutes=30),
    "membership remind": timedelta(days=2),
    "stripe reconcile": timedelta(days=2),
    "membership purge": timedelta(days=2),
    "surveys purge": timedelta(days=2),
}


def _find_command(app: Flask, name: str) -> click.Command | None:
    command: click.Command | None = app.cli
    for part in name.split():
        command = getattr(command, "commands", {}).get(part)
        if command is None:
            return None
    return command


def _save_run(name: str, started_at, finished_at, error: str | None) -> None:
    # In the job's own session, between its transactions: a second connection would wait on
    # the job's SQLite write lock. Whatever the job left unfinished is rolled back first.
    db.session.rollback()
    db.session.merge(JobRun(name=name, started_at=started_at, finished_at=finished_at, error=error))
    db.session.commit()


def _recorded(name: str, callback):
    @functools.wraps(callback)
    @with_appcontext
    def run(*args, **kwargs):
        started_at = utcnow()
        _save_run(name, started_at, None, None)
        try:
            result = callback(*args, **kwargs)
        except Exception as error:
            _save_run(name, started_at, utcnow(), f"{type(error).__name__}: {error}"[:2000])
            raise
        _save_run(name, started_at, utcnow(), None)
        return result

    run.sight_job = name
    return run


def record_scheduled_runs(app: Flask) -> None:
    """Wrap each scheduled job's command that this app has (once: commands are shared)."""
    for name in SCHEDULED_JOBS:
        command = _find_command(app, name)
        if command is not None and not hasattr(command.callback, "sight_job"):
            command.callback = _recorded(name, command.callback)


def scheduled_jobs(app: Flask) -> dict[str, timedelta]:
    """The scheduled jobs this app has, with how long each may go without running."""
    return {name: every for name, every in SCHEDULED_JOBS.items() if _find_command(app, name) is not None}
