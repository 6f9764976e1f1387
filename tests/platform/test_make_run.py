"""`make run` (scripts/run_dev.py) on the ports a newcomer chooses, with localstripe's state of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request

from tests.conftest import free_port, wait_for_port
from tests.platform.conftest import BIN, ROOT

RUN_DEV = [sys.executable, str(ROOT / "scripts" / "run_dev.py")]
RUN_SETTINGS = ROOT / "instance" / "run.env"


def run_env(tmp_path, **settings) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        "LOCALSTRIPE_STATE": str(tmp_path / "localstripe.pickle"),
        "PASSWORD_HASHING": "fast",
        **settings,
    }


def test_a_busy_port_is_named_with_another_to_try(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            RUN_DEV, env=run_env(tmp_path, PORT=str(port), STRIPE_PORT=str(free_port())),
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode != 0
    assert f"Port {port} (PORT) is already in use" in result.stderr
    assert f"make run PORT={port + 1}" in result.stderr


def test_make_run_serves_on_the_chosen_ports_lists_every_test_card_and_keeps_localstripe_state_apart(tmp_path):
    app_port, stripe_port = free_port(), free_port()
    log = tmp_path / "run.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            RUN_DEV, env=run_env(tmp_path, PORT=str(app_port), STRIPE_PORT=str(stripe_port)),
            stdout=output, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    try:
        wait_for_port(app_port, timeout=90)
        with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/", timeout=30) as response:
            policy = response.headers["Content-Security-Policy"]
        # Pages may load Stripe.js from this localstripe, not from the one on the default port.
        assert f"script-src 'self' http://127.0.0.1:{stripe_port}" in policy
        customer = urllib.request.Request(
            f"http://127.0.0.1:{stripe_port}/v1/customers", data=b"email=state%40example.com",
            headers={"Authorization": "Bearer sk_test_sight_development"},
        )
        urllib.request.urlopen(customer, timeout=30).close()
        assert b"state@example.com" in (tmp_path / "localstripe.pickle").read_bytes()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    printed = log.read_text()
    assert f"http://127.0.0.1:{app_port}/" in printed and f"http://127.0.0.1:{stripe_port}/" in printed
    for card in ("4242 4242 4242 4242", "4000 0000 0000 0341", "4000 0000 0000 0002",
                 "4000 0025 0000 3155", "4000 0082 6000 3178"):
        assert card in printed
    assert "3-D Secure" in printed
    assert "Stopped the app and localstripe." in printed


def flask_in_a_second_shell_env(**settings: str) -> dict:
    """Another terminal of the clone: none of make run's settings in its environment."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "STRIPE_API_BASE", "STRIPE_JS_URL", "PUBLIC_URL", "PORT", "STRIPE_PORT")}
    return {**env, "FLASK_APP": "wsgi.py", **settings}


def flask_in_a_second_shell(*args: str, **settings: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=flask_in_a_second_shell_env(**settings),
                          capture_output=True, text=True, timeout=120)


def test_flask_in_a_second_shell_uses_make_runs_localstripe_and_database_and_a_second_make_run_refuses(tmp_path):
    app_port, stripe_port = free_port(), free_port()
    log = tmp_path / "run.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            RUN_DEV, env=run_env(tmp_path, PORT=str(app_port), STRIPE_PORT=str(stripe_port)),
            stdout=output, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    try:
        wait_for_port(app_port, timeout=90)
        settings = RUN_SETTINGS.read_text()
        assert f"STRIPE_API_BASE=http://127.0.0.1:{stripe_port}\n" in settings
        assert f"PUBLIC_URL=http://127.0.0.1:{app_port}\n" in settings

        # The settings every `flask` command of this clone builds its app with.
        seen = subprocess.run(
            [sys.executable, "-c", "from sight import create_app; c = create_app().config; "
             "print(c['STRIPE_API_BASE'], c['SQLALCHEMY_DATABASE_URI'])"],
            cwd=ROOT, env=flask_in_a_second_shell_env(), capture_output=True, text=True, timeout=60,
        )
        assert seen.stdout.split() == [f"http://127.0.0.1:{stripe_port}", f"sqlite:///{tmp_path / 'dev.sqlite3'}"]
        reconciled = flask_in_a_second_shell("stripe", "reconcile", "--dry-run")
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
        assert "The ledger matches Stripe." in reconciled.stdout

        # A second `make run` on other ports would share the first one's database and localstripe state.
        second = subprocess.run(
            RUN_DEV, env=run_env(tmp_path, PORT=str(free_port()), STRIPE_PORT=str(free_port())),
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )
        assert second.returncode != 0
        assert "Another `make run` is running in this clone" in second.stderr
        assert f"http://127.0.0.1:{app_port}" in second.stderr
        assert "Traceback" not in second.stderr
        assert process.poll() is None, "the first make run must keep running"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not RUN_SETTINGS.exists(), "make run leaves its settings behind after it stopped"
    assert "in another shell of this clone" in log.read_text()


def test_a_stripe_that_cannot_be_reached_is_one_line_and_exit_status_1(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert flask_in_a_second_shell("db", "upgrade", DATABASE_URL=database).returncode == 0
    nobody = f"http://127.0.0.1:{free_port()}"
    result = flask_in_a_second_shell("stripe", "reconcile", "--dry-run", DATABASE_URL=database, STRIPE_API_BASE=nobody)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: Stripe cannot be reached at {nobody} (Connection refused). In development: is `make run` "
        "running (it starts localstripe)? Otherwise check STRIPE_API_BASE."
    ]
