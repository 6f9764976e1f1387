"""The shell of the service: the app factory and what every area of the product shares."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from sight.resources import MIGRATIONS, STATIC, TEMPLATES


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application: configure, then register each step in order."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
    )
    configure(app, test_config)
    trust_proxies(app)
    register_input_guards(app)
    register_extensions(app)
    register_shell(app)
    register_blueprints(app)
    record_scheduled_runs(app)
    return app


def configure(app: Flask, test_config: dict | None) -> None:
    from sight.config import load_config
    from sight.logs import configure_logging

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    environ = None
    if test_config is not None and "ENVIRON" in test_config:
        environ = test_config.pop("ENVIRON")
    if environ is None:
        read_make_run_settings(Path(app.instance_path))
    app.config.from_mapping(load_config(app.instance_path, environ))
    if test_config:
        app.config.from_mapping(test_config)
    # One JSON line per record on stderr; development reads its mail (sign-in links, receipts) there.
    configure_logging(app)
    if app.config["APP_ENV"] == "production" and app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        # Fine for one process; gunicorn's configuration refuses it with several workers.
        logging.getLogger("sight").warning(
            "RATELIMIT_STORAGE_URI=memory:// counts rate limits in this process only: "
            "with more than one worker or app server, set RATELIMIT_STORAGE_URI=redis://…"
        )


# While `make run` runs, it writes where its app, localstripe and database are here
# (scripts/run_dev.py), and removes the file when it stops.
MAKE_RUN_SETTINGS = "run.env"


def read_make_run_settings(instance_path: Path) -> None:
    """A `flask` command in another shell of the clone talks to the localstripe and database of
    the `make run` that is running there. Settings in the environment still win; production
    never reads the file."""
    from dotenv import load_dotenv

    settings = instance_path / MAKE_RUN_SETTINGS
    if settings.is_file() and os.environ.get("APP_ENV", "development") == "development":
        load_dotenv(settings, override=False)


def record_scheduled_runs(app: Flask) -> None:
    """Every run of a scheduled job (cron, timers) is recorded, for `flask doctor`."""
    from sight import jobs

    jobs.record_scheduled_runs(app)


def trust_proxies(app: Flask) -> None:
    """Behind a reverse proxy, take the reader's address from it, so that rate limits count
    readers and not the proxy; only as many hops as are configured are believed."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_input_guards(app: Flask) -> None:
    from sight import hostile_input

    hostile_input.init_app(app)


def register_extensions(app: Flask) -> None:
    from sight.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)


def register_shell(app: Flask) -> None:
    from sight import cli, doctor, errors, mail, requestlog, security, templating, views

    requestlog.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    mail.init_app(app)
    cli.init_app(app)
    doctor.init_app(app)
    app.register_blueprint(views.bp)


def register_blueprints(app: Flask) -> None:
    import accounts
    import identity
    import membership
    import surveys

    accounts.init_app(app)
    membership.init_app(app)
    surveys.init_app(app)
    identity.init_app(app)
