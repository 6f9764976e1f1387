"""`make run`: migrate, seed, then localstripe on :8420 and the app on :5000 until Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from sight.config import DEV_STRIPE_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCALSTRIPE_PORT = 8420
APP_PORT = 5000


def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"Nothing answered on 127.0.0.1:{port} after {timeout:.0f}s")


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def flask(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=ENV, check=True)


ENV = {**os.environ, "FLASK_APP": "wsgi.py", "PYTHONUNBUFFERED": "1"}


def register_webhook() -> None:
    """Have localstripe send its events to the app, signed with the development webhook secret."""
    data = urllib.parse.urlencode({
        "url": f"http://127.0.0.1:{APP_PORT}/stripe/webhook",
        "secret": os.environ.get("STRIPE_WEBHOOK_SECRET") or DEV_STRIPE_WEBHOOK_SECRET,
    }).encode()
    url = f"http://127.0.0.1:{LOCALSTRIPE_PORT}/_config/webhooks/sight"
    urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=10).close()


def main() -> None:
    for port in (LOCALSTRIPE_PORT, APP_PORT):
        if port_in_use(port):
            sys.exit(f"Port {port} is already in use: stop whatever is running there first.")

    flask("db", "upgrade")
    flask("seed")

    processes = [
        subprocess.Popen([str(BIN / "localstripe"), "--port", str(LOCALSTRIPE_PORT)], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_for(LOCALSTRIPE_PORT)
        register_webhook()
        processes.append(subprocess.Popen(
            [str(BIN / "flask"), "run", "--host", "127.0.0.1", "--port", str(APP_PORT), "--debug"],
            cwd=ROOT, env=ENV,
        ))
        processes.append(subprocess.Popen([str(BIN / "flask"), "mail", "worker"], cwd=ROOT, env=ENV))
        wait_for(APP_PORT)
        print(
            "\n  Sight is running:\n"
            f"    app          http://127.0.0.1:{APP_PORT}/\n"
            f"    localstripe  http://127.0.0.1:{LOCALSTRIPE_PORT}/\n"
            "  Development logins and test cards are listed above (from `flask seed`).\n"
            "  Mail is written to this log. Press Ctrl-C to stop.\n",
            flush=True,
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        print("Stopped the app and localstripe.")


if __name__ == "__main__":
    # A plain `kill` stops both servers the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main()
