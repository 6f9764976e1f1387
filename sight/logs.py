"""Logs: one JSON object per line on stderr, with time, level and logger, from the app and from
the server that runs it (`flask run` in development, gunicorn in production).

Each request is logged once, by sight.requestlog. The development server's own access line is
dropped: it repeats the request with its full path and query string, secret link tokens included.
Tests leave the handlers to pytest, which reads the records themselves.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask
from pythonjsonlogger.json import JsonFormatter


def json_formatter() -> JsonFormatter:
    """{"level": "INFO", "logger": "sight.request", "message": "request", …, "time": "2026-12-07T23:47:10.123+00:00"}"""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


class WithoutServerAccessLines(logging.Filter):
    """Drops werkzeug's access line ('127.0.0.1 - - [date] "GET /manage/<token> HTTP/1.1" 200 -');
    its other lines (the address it listens on, the debugger PIN, errors) stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.rstrip().endswith('"%s" %s %s'))


def configure_logging(app: Flask) -> None:
    """Send every log record to stderr as one JSON line; once per process."""
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, WithoutServerAccessLines) for f in werkzeug.filters):
        werkzeug.addFilter(WithoutServerAccessLines())
    logging.getLogger("sight").setLevel(logging.INFO)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # The SDK logs each request and retry at INFO: a Stripe that does not answer is said once,
    # by membership.stripe_api.StripeUnreachable.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    if app.testing:
        return
    root = logging.getLogger()
    if not any(getattr(handler, "sight_json_lines", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(json_formatter())
        handler.sight_json_lines = True
        root.addHandler(handler)
    root.setLevel(logging.INFO)
