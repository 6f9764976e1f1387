"""Backups you can restore: `flask db backup PATH` and `flask db restore PATH`.

SQLite is copied with its online backup API: one read transaction sees one moment of the
database while the site goes on writing (WAL lets writers carry on beside it), so the copy is
consistent without stopping anything. PostgreSQL is dumped by `pg_dump` (from PATH), which also reads one
snapshot, and restored by `pg_restore`. A backup is written beside its final name and renamed
when whole, readable by its owner only (it holds donors' and readers' data).

A restore replaces the whole database, so it refuses a database that already holds tables
unless told `force`: stop the app servers and jobs first."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL

SQLITE_SUFFIX = ".sqlite3"
POSTGRES_SUFFIX = ".pgdump"
BACKUP_PREFIX = "sight-"


class BackupError(Exception):
    """The backup or restore cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    pruned: list[Path]


def backup_database(url: URL, target: Path, now: datetime, into_folder: bool = False,
                    keep: int | None = None) -> Backup:
    """Copy the database at `url` to `target`: a file, or a folder (an existing one, or
    `into_folder`) to put a dated file in, keeping only the `keep` newest backups there."""
    suffix = SQLITE_SUFFIX if url.get_backend_name() == "sqlite" else POSTGRES_SUFFIX
    folder = target if into_folder or target.is_dir() else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{BACKUP_PREFIX}{now:%Y%m%dT%H%M%SZ}{suffix}"
    elif keep is not None:
        raise BackupError("--keep needs a folder to keep backups in, e.g. flask db backup /var/backups/sight/ --keep 14")
    if target.exists():
        raise BackupError(f"{target} already exists: choose another name, or a folder (a dated name is made there).")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a folder: create it first.")

    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # Readable by the owner only, from the first byte.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        if suffix == SQLITE_SUFFIX:
            _backup_sqlite(_sqlite_file(url), partial)
        else:
            _pg_run(url, "pg_dump", "--format=custom", "--no-owner", f"--file={partial}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)

    pruned = _prune(folder, suffix, keep) if folder is not None and keep else []
    return Backup(target, target.stat().st_size, pruned)


def restore_database(url: URL, source: Path, force: bool) -> int:
    """Replace the database at `url` with the backup at `source`; the number of tables restored."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file.")
    is_sqlite = url.get_backend_name() == "sqlite"
    if is_sqlite:
        backup_tables = _check_sqlite_backup(source)
    tables = _tables_in(url)
    if tables and not force:
        raise BackupError(
            f"The database {_shown(url)} already holds {len(tables)} tables: a restore would replace all of it. "
            "Stop the app servers, the mail worker and the timers, then run again with --force."
        )
    if is_sqlite:
        target = _sqlite_file(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup, \
                    closing(sqlite3.connect(target)) as live:
                live.execute("PRAGMA busy_timeout=10000")
                # Under the live database's write lock: other connections see the old database
                # or the restored one, never a mixture.
                backup.backup(live)
        except sqlite3.Error as error:
            raise BackupError(f"SQLite could not restore {source} into {target}: {error}.") from None
        return len(backup_tables)
    # One transaction: a restore that fails half-way leaves the database as it was.
    options = ["--single-transaction", "--exit-on-error", "--no-owner"]
    if tables:
        options += ["--clean", "--if-exists"]
    _pg_run(url, "pg_restore", *options, str(source))
    return len(_tables_in(url))


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("The database is in memory: there is no file to back up or restore.")
    return Path(url.database)


def _backup_sqlite(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"There is no database at {source}: run `flask db upgrade` first.")
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as live, \
                closing(sqlite3.connect(target)) as copy:
            live.execute("PRAGMA busy_timeout=10000")
            # All pages in one step: one read transaction, so the copy is one moment of the database.
            live.backup(copy)
            # The copy is a file on its own: no WAL beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
            healthy = copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.Error as error:
        raise BackupError(f"SQLite could not copy {source}: {error}.") from None
    if not healthy:
        raise BackupError(f"The copy of {source} failed SQLite's integrity check: the database itself may be damaged.")


def _check_sqlite_backup(source: Path) -> list[str]:
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup:
            if backup.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} fails SQLite's integrity check: it cannot be restored.")
            tables = [row[0] for row in backup.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{source} is not a SQLite backup of Sight ({error}).") from None
    if "alembic_version" not in tables:
        raise BackupError(f"{source} is not a backup of Sight: it has no migration table.")
    return tables


def _tables_in(url: URL) -> list[str]:
    if url.get_backend_name() == "sqlite":
        path = _sqlite_file(url)
        if not path.exists():
            return []
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as live:
            return [row[0] for row in live.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    import psycopg

    with psycopg.connect(_libpq_address(url, with_password=True)) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    return [row[0] for row in rows]


def _libpq_address(url: URL, with_password: bool = False) -> str:
    plain = url.set(drivername="postgresql")
    if not with_password:
        plain = plain.set(password=None)
    return plain.render_as_string(hide_password=False)


def _shown(url: URL) -> str:
    return str(_sqlite_file(url)) if url.get_backend_name() == "sqlite" else _libpq_address(url)


def _pg_program(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not on PATH: install PostgreSQL's client programs of the server's version "
            "(Debian: apt-get install postgresql-client-15), or put the folder that holds them first on PATH, "
            "e.g. PATH=/usr/lib/postgresql/15/bin:$PATH."
        )
    return found


def _pg_run(url: URL, program: str, *args: str) -> None:
    # The password goes in the environment, never on a command line others can read.
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    command = [_pg_program(program), *args, f"--dbname={_libpq_address(url)}"]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{program} failed: {result.stderr.strip() or f'exit status {result.returncode}'}")


def _prune(folder: Path, suffix: str, keep: int) -> list[Path]:
    backups = sorted(folder.glob(f"{BACKUP_PREFIX}*{suffix}"))
    old = backups[:-keep]
    for path in old:
        path.unlink()
    return old
