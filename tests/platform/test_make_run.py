"""`make run` (scripts/run_dev.py) on the ports a newcomer chooses, with localstripe's state of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request

from tests.conftest import free_port, wait_for_port
from tests.platform.conftest import ROOT

RUN_DEV = [sys.executable, str(ROOT / "scripts" / "run_dev.py")]


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
