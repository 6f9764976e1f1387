"""The declarative base every model shares: stable constraint names and UTC-aware datetimes."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from sqlalchemy import DateTime, Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase, Session, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always returns them aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# How SQLite transactions work here (PostgreSQL needs none of this):
#
# - Reads take no lock. The driver runs in autocommit mode, so a page's SELECTs each read the
#   latest committed data and no read ever holds the write lock.
# - The first write of a transaction (INSERT, UPDATE, DELETE, a SAVEPOINT, or a SELECT
#   `.with_for_update()`) begins it IMMEDIATE, right there: concurrent writers wait for each
#   other (busy timeout) instead of failing with "database is locked". No read snapshot is open
#   when it begins, so WAL's SQLITE_BUSY_SNAPSHOT (a deferred read that later writes fails at
#   once if another writer committed meanwhile) cannot happen.
#
# How a view chooses: it does nothing. It reads, then writes, then commits once; the write
# transaction begins where the writing starts. A read that decides a write (check, then claim)
# either is a conditional UPDATE or selects `.with_for_update()`, which locks the rows on
# PostgreSQL and begins the write transaction on SQLite. A long read that needs one consistent
# view (an export, reconcile's monthly comparison) uses `read_session`.

READ_SNAPSHOT = "sight_read_snapshot"
_READ_STATEMENTS = ("SELECT", "WITH", "PRAGMA", "EXPLAIN", "BEGIN")


class ReadOnlySessionError(RuntimeError):
    """A `read_session` was asked to write."""


@event.listens_for(Engine, "connect")
def _configure_connection(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        # PostgreSQL: the app's statements are short, and JIT compiling the aggregates of the
        # members list cost more than running them (bench/README.md). Committed, so the pool's
        # reset does not roll the setting back.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()
        return
    # Autocommit in the driver: no BEGIN is sent until the listeners below decide which one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_read_snapshot(conn):
    """A `read_session` reads one snapshot: a deferred BEGIN, which never takes the write lock."""
    if conn.dialect.name == "sqlite" and conn.get_execution_options().get(READ_SNAPSHOT):
        conn.exec_driver_sql("BEGIN")


def _begin_immediate_unless_begun(conn) -> None:
    if conn.get_execution_options().get(READ_SNAPSHOT):
        raise ReadOnlySessionError("a read_session only reads; write in the request's own session")
    dbapi_connection = conn.connection.dbapi_connection
    if not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN IMMEDIATE")


@event.listens_for(Engine, "before_cursor_execute")
def _begin_immediate_at_first_write(conn, cursor, statement, parameters, context, executemany):
    if conn.dialect.name != "sqlite":
        return
    if statement.lstrip().split(None, 1)[0].upper() in _READ_STATEMENTS:
        return
    _begin_immediate_unless_begun(conn)


@event.listens_for(Engine, "before_execute")
def _begin_immediate_for_locking_read(conn, clauseelement, multiparams, params, execution_options):
    # SQLite has no FOR UPDATE; a read that decides a write takes the write lock instead.
    if conn.dialect.name == "sqlite" and getattr(clauseelement, "_for_update_arg", None) is not None:
        _begin_immediate_unless_begun(conn)


def read_session(engine: Engine) -> Session:
    """A session for a long read (exports, reconcile's comparison) that never writes.

    On SQLite it reads one snapshot in a deferred transaction, which takes no lock, so givers
    and readers' submissions go on while it runs; on PostgreSQL one REPEATABLE READ snapshot,
    so that a count and the rows streamed after it agree. Writing through it raises.
    """
    if engine.dialect.name == "sqlite":
        return Session(engine.execution_options(**{READ_SNAPSHOT: True}))
    return Session(engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True))
