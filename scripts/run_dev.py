"""`make run`: migrate, seed, then localstripe and the app until Ctrl-C.

The app listens on PORT (default 5000; taken by AirPlay on recent macOS) and localstripe on
STRIPE_PORT (default 8420): `make run PORT=5050 STRIPE_PORT=8421`. localstripe keeps its
state in instance/localstripe.pickle (LOCALSTRIPE_STATE), not in a file shared machine-wide.

While it runs, instance/run.env says where its app, localstripe and database are; every `flask`
command of this clone reads it (sight.read_make_run_settings), so `flask stripe reconcile` in a
second shell talks to this localstripe. One `make run` per clone: a second one would share the
first one's database and localstripe state, so it refuses (instance/run.lock is held meanwhile).
"""

from __future__ import annotations

import fcntl
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


def port_setting(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        sys.exit(f"{name} must be a port number (1-65535), got {raw!r}.")
    return int(raw)


APP_PORT = port_setting("PORT", 5000)
LOCALSTRIPE_PORT = port_setting("STRIPE_PORT", 8420)
LOCALSTRIPE_URL = f"http://127.0.0.1:{LOCALSTRIPE_PORT}"
LOCALSTRIPE_STATE = Path(os.environ.get("LOCALSTRIPE_STATE") or ROOT / "instance" / "localstripe.pickle")
INSTANCE = ROOT / "instance"
RUN_SETTINGS = INSTANCE / "run.env"  # sight.MAKE_RUN_SETTINGS
RUN_LOCK = INSTANCE / "run.lock"


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


ENV = {
    # The app talks to this localstripe, and its emailed links point at this port.
    "STRIPE_API_BASE": LOCALSTRIPE_URL,
    "STRIPE_JS_URL": f"{LOCALSTRIPE_URL}/js.stripe.com/v3/",
    "PUBLIC_URL": f"http://127.0.0.1:{APP_PORT}",
    **os.environ,
    "FLASK_APP": "wsgi.py",
    "PYTHONUNBUFFERED": "1",
}


def hold_the_clone():
    """The lock that makes this the clone's one `make run`, held until the process ends; or stop,
    saying which one is running."""
    INSTANCE.mkdir(parents=True, exist_ok=True)
    lock = RUN_LOCK.open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        running = RUN_SETTINGS.read_text() if RUN_SETTINGS.exists() else ""
        where = [line.partition("=")[2] for line in running.splitlines()
                 if line.startswith(("PUBLIC_URL=", "STRIPE_API_BASE="))]
        sys.exit(
            f"Another `make run` is running in this clone ({', '.join(where) or 'starting'}): a second one would "
            "share its database and localstripe state. Use that one (its `flask` commands work from any shell "
            "here), stop it with Ctrl-C, or run the second from another clone."
        )
    return lock


def write_run_settings() -> None:
    """What a `flask` command in another shell needs to reach this app, localstripe and database."""
    settings = {name: ENV[name] for name in ("PUBLIC_URL", "STRIPE_API_BASE", "STRIPE_JS_URL", "DATABASE_URL")
                if ENV.get(name)}
    partial = RUN_SETTINGS.with_name(RUN_SETTINGS.name + ".partial")
    partial.write_text(
        f"# Written by `make run` (pid {os.getpid()}) and removed when it stops; every `flask` command of\n"
        "# this clone reads it. Settings in the environment win over these.\n"
        + "".join(f"{name}={value}\n" for name, value in settings.items())
    )
    partial.replace(RUN_SETTINGS)


def register_webhook() -> None:
    """Have localstripe send its events to the app, signed with the development webhook secret."""
    data = urllib.parse.urlencode({
        "url": f"http://127.0.0.1:{APP_PORT}/stripe/webhook",
        "secret": os.environ.get("STRIPE_WEBHOOK_SECRET") or DEV_STRIPE_WEBHOOK_SECRET,
    }).encode()
    url = f"{LOCALSTRIPE_URL}/_config/webhooks/sight"
    urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=10).close()


def main() -> None:
    clone_lock = hold_the_clone()
    if APP_PORT == LOCALSTRIPE_PORT:
        sys.exit(f"PORT and STRIPE_PORT are both {APP_PORT}: choose two different ports.")
    for name, port in (("STRIPE_PORT", LOCALSTRIPE_PORT), ("PORT", APP_PORT)):
        if port_in_use(port):
            sys.exit(
                f"Port {port} ({name}) is already in use: stop whatever is running there, "
                f"or choose another, e.g. make run {name}={port + 1}"
            )

    write_run_settings()
    try:
        serve()
    finally:
        RUN_SETTINGS.unlink(missing_ok=True)
        clone_lock.close()


def serve() -> None:
    flask("db", "upgrade")
    flask("seed")

    processes = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "localstripe_server.py"),
             "--port", str(LOCALSTRIPE_PORT), "--state", str(LOCALSTRIPE_STATE)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
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
            f"    localstripe  {LOCALSTRIPE_URL}/  (its state: {LOCALSTRIPE_STATE})\n"
            "  Development logins and test cards are listed above (from `flask seed`).\n"
            "  `.venv/bin/flask …` in another shell of this clone talks to these (instance/run.env).\n"
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
