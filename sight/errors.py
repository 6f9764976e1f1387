"""Friendly error pages that say what happened and nothing about our internals."""

from __future__ import annotations

from flask import Flask, current_app, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from sight.extensions import db

MESSAGES = {
    400: ("That request didn't make sense", "Something in what was sent was missing or malformed. Please go back and try again."),
    403: ("You can't open this page", "Your account doesn't have access to this page."),
    404: ("Page not found", "We couldn't find that page. It may have moved, or the address may be mistyped."),
    405: ("That doesn't work here", "This page can't be used that way."),
    413: ("That was too large", "What you sent was larger than we accept. Please send something smaller."),
    429: ("Too many attempts", "Please wait a little while before trying again."),
    500: ("Something went wrong on our side", "We've been told about it. Please try again in a few minutes."),
}


# How long a client is asked to wait while the database does not answer (a restart takes seconds).
DATABASE_RETRY_AFTER_SECONDS = 10


def database_unavailable():
    """503 with Retry-After and a page that needs no database (not even to know who is signed in)."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass  # the connection is gone; the pool replaces it (pre-ping) on the next request
    # Rendered without the context processors: the one that offers current_user would ask the database.
    page = current_app.jinja_env.get_template("sight/unavailable.html")
    body = page.render(retry_after=DATABASE_RETRY_AFTER_SECONDS)
    return body, 503, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}


def _lost_database(error: Exception) -> bool:
    """A database that cannot be reached or dropped the connection: not a bug, a moment to wait."""
    if isinstance(error, (OperationalError, InterfaceError, DisconnectionError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def render_error(code: int, title: str | None = None, message: str | None = None):
    default_title, default_message = MESSAGES.get(code, MESSAGES[500])
    return (
        render_template(
            "sight/error.html",
            code=code,
            title=title or default_title,
            message=message or default_message,
        ),
        code,
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(
            400,
            "This form has expired",
            "For your security, forms expire after a while. Please go back, reload the page and send it again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code in MESSAGES:
            return render_error(error.code)
        return error

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if _lost_database(error):
            app.logger.error("The database is unavailable: %s", type(error).__name__)
            return database_unavailable()
        db.session.rollback()
        app.logger.exception("Unhandled error")
        return render_error(InternalServerError.code)
