"""The long and scheduled jobs: their progress, and when each last ran, for `flask doctor`.

Each scheduled job's command is wrapped where the app is built, so that every run is recorded
in `job_run` whichever package the command belongs to.

Every long job reports its progress the same way: the command opens `job_progress()` and
hands the `Progress` to the work, which says how much there is (`start`) and what is done
(`advance`). On a terminal that draws click's progress bar, with the count and an ETA, on
stderr; under cron or a timer (no terminal) or with `--quiet` it draws nothing, and the command's
summary line on stdout is all there is.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    "membership settle": timedelta(minutes=30),
    "membership remind": timedelta(days=2),
    "membership lapse-reminders": timedelta(days=2),
    "stripe reconcile": timedelta(days=2),
    "membership purge": timedelta(days=2),
    "surveys purge": timedelta(days=2),
}


_QUIET = "sight.quiet"


class Progress:
    """What a job says as it goes. This one says nothing: the work's default, and the quiet run's."""

    def start(self, total: int, label: str) -> None:
        """There are `total` pieces of work called `label` (a job may start several in turn)."""

    def advance(self, done: int = 1) -> None:
        """`done` more pieces are finished."""


NO_PROGRESS = Progress()


class _Bar(Progress):
    def __init__(self, stream):
        self._stream = stream
        self._bar = None

    def start(self, total: int, label: str) -> None:
        self.close()
        self._bar = click.progressbar(
            length=total, label=label, show_pos=True, show_eta=True, file=self._stream
        )
        self._bar.__enter__()

    def advance(self, done: int = 1) -> None:
        # A count made before the work can be short (rows arriving meanwhile): the bar grows
        # rather than pass 100%.
        self._bar.length = max(self._bar.length, self._bar.pos + done)
        self._bar.update(done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def quiet_option(command: Callable) -> Callable:
    """`--quiet`: no progress bar even on a terminal (only the summary line)."""

    def remember(ctx: click.Context, _param, value: bool) -> None:
        if value:
            ctx.meta[_QUIET] = True

    return click.option(
        "--quiet", "-q", is_flag=True, expose_value=False, callback=remember,
        help="Print only the summary line (without a terminal, as under cron, there is no bar anyway).",
    )(command)


@contextmanager
def job_progress() -> Iterator[Progress]:
    """A progress bar on a terminal; nothing with --quiet or without a terminal."""
    stream = sys.stderr
    context = click.get_current_context(silent=True)
    if (context is not None and context.meta.get(_QUIET)) or not stream.isatty():
        yield NO_PROGRESS
        return
    bar = _Bar(stream)
    try:
        yield bar
    finally:
        bar.close()


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
