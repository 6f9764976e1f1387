"""The home page and the health check."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from sight.errors import DATABASE_RETRY_AFTER_SECONDS
from sight.extensions import db, limiter

bp = Blueprint("sight", __name__)


@bp.get("/")
def home():
    return render_template("sight/home.html")


@bp.get("/healthz")
@limiter.exempt
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError:
        db.session.rollback()
        return (
            {"status": "unavailable", "database": "unreachable"},
            503,
            {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    return {"status": "ok", "database": "ok"}, 200
