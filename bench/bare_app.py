"""The baselines the app is measured against: a bare Flask app doing the least a request can do.

    POST /write   one INSERT of the posted body, in its own transaction, on a pooled connection
    GET  /ping    nothing at all

Served by gunicorn exactly like the app (`BENCH_BARE_DATABASE_URL` names the database), so that
a ratio between the two is the price of everything the app does beyond one write.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone

from flask import Flask, request
from sqlalchemy import create_engine, event, text

BARE_TABLE = "bench_bare_write"


def bare_table_sql(dialect: str) -> str:
    key = "SERIAL PRIMARY KEY" if dialect == "postgresql" else "INTEGER PRIMARY KEY"
    return f"CREATE TABLE IF NOT EXISTS {BARE_TABLE} (id {key}, body TEXT, created_at TIMESTAMP)"


def bare_engine(url: str):
    """An engine set up as the app's own: on SQLite, WAL and a busy timeout."""
    engine = create_engine(url, pool_size=8, max_overflow=0)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    return engine


def create_bare_app(url: str) -> Flask:
    engine = bare_engine(url)
    statement = text(f"INSERT INTO {BARE_TABLE} (body, created_at) VALUES (:body, :now)")
    app = Flask(__name__)

    @app.post("/write")
    def write():
        with engine.begin() as connection:
            connection.execute(statement, {"body": request.get_data(as_text=True), "now": datetime.now(timezone.utc)})
        return "", 204

    @app.get("/ping")
    def ping():
        return "ok"

    return app


if os.environ.get("BENCH_BARE_DATABASE_URL"):
    app = create_bare_app(os.environ["BENCH_BARE_DATABASE_URL"])
