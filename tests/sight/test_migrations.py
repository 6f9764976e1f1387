"""The migration chain builds the schema from nothing, takes it down again, and matches the models."""

import os
import uuid
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from sight import create_app
from sight.extensions import db

# PostgreSQL joins in when the run has a server (scripts/with_postgres.sh sets TEST_DATABASE_URL).
DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@contextmanager
def fresh_database(kind: str, tmp_path):
    if kind == "sqlite":
        yield "sqlite:///" + str(tmp_path / "migrations.sqlite3")
        return
    # A database of its own on the same server, so the shared test database is left alone.
    server = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"sight_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("kind", DATABASES)
def test_migrations_upgrade_downgrade_upgrade_and_match_the_models(app_config, tmp_path, kind):
    with fresh_database(kind, tmp_path) as url:
        app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            try:
                upgrade()
                assert set(db.metadata.tables) <= set(inspect(db.engine).get_table_names())

                downgrade(revision="base")
                assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

                upgrade()
                migrate = app.extensions["migrate"]
                heads = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory)).get_heads()
                with db.engine.connect() as connection:
                    applied = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
                    context = MigrationContext.configure(connection, opts={"compare_type": True})
                    assert compare_metadata(context, db.metadata) == []
                assert sorted(applied) == sorted(heads)
            finally:
                db.session.remove()
                db.engine.dispose()


def test_one_head_and_revisions_numbered_in_chain_order():
    """A newcomer adds the next number: ids and file names count up along the chain, so the
    "latest" file in a listing is the head, and a second head cannot slip in."""
    scripts = ScriptDirectory(os.path.join(os.path.dirname(__file__), "..", "..", "migrations"))
    heads = scripts.get_heads()
    assert len(heads) == 1, f"more than one head: {heads}"
    chain = list(reversed(list(scripts.walk_revisions())))
    ids = [script.revision for script in chain]
    assert ids == [f"{number:04d}" for number in range(1, len(ids) + 1)]
    for script in chain:
        assert os.path.basename(script.path).startswith(script.revision + "_"), script.path
