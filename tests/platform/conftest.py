"""The production shape on one machine, built from deploy/ and Debian's binaries on free ports.

nginx (TLS, deploy/nginx/sight.conf) in front of two gunicorn app servers
(deploy/systemd/sight-app@.service, deploy/gunicorn.conf.py) configured by
deploy/sight.env.example, on a PostgreSQL database of their own and one Redis for rate limits.
The app servers run with APP_ENV=production. The topology needs PostgreSQL by definition
(several app servers cannot share one SQLite file), so its tests run in the PostgreSQL run of
`make test`; on SQLite they are deselected, and the run says so. The page proofs
(test_pages.py) are the other way round.

Binaries come from Debian's packages; point at others with NGINX, REDIS_SERVER and OPENSSL.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from tests.conftest import free_port, wait_for_port
from tests.helpers import csrf_token_from, write_signing_key
from tests.sight.test_security import RECEIPT_IDENTITY

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
NGINX = os.environ.get("NGINX") or "/usr/sbin/nginx"
REDIS_SERVER = os.environ.get("REDIS_SERVER") or "/usr/bin/redis-server"
OPENSSL = os.environ.get("OPENSSL") or "/usr/bin/openssl"


def pytest_collection_modifyitems(config, items):
    """The topology runs in the PostgreSQL run, the page proofs in the SQLite run: once each."""
    on_postgres = bool(os.environ.get("TEST_DATABASE_URL"))
    marker = "pages" if on_postgres else "topology"
    left_out = [item for item in items if item.get_closest_marker(marker)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
        config._sight_left_out = (len(left_out), marker)


def pytest_terminal_summary(terminalreporter, config):
    count, marker = getattr(config, "_sight_left_out", (0, ""))
    if marker == "topology":
        terminalreporter.write_line(
            f"{count} multi-server topology tests deselected: they need PostgreSQL "
            "(`scripts/with_postgres.sh .venv/bin/python -m pytest tests/platform`, or the second run of `make test`)."
        )
    elif marker == "pages":
        terminalreporter.write_line(
            f"{count} page proof (axe, CSP, screenshots) deselected: it ran in the SQLite run; pages do not depend on the engine."
        )


def substitute(text: str, old: str, new: str) -> str:
    """Replace a line of a deploy file; fail loudly when the file no longer says `old`."""
    assert old in text, f"deploy file no longer contains {old!r}"
    return text.replace(old, new)


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


def unit_exec_start(unit: str, **instance) -> list[str]:
    """The unit's ExecStart, with the release folder of this checkout instead of /srv/sight."""
    text = (DEPLOY / "systemd" / unit).read_text()
    command = re.search(r"^ExecStart=(.+)$", text, re.MULTILINE).group(1)
    command = command.replace("/srv/sight/.venv/bin/", f"{BIN}/")
    return shlex.split(command)


def unit_environment(unit: str, instance: str = "") -> dict[str, str]:
    text = (DEPLOY / "systemd" / unit).read_text()
    pairs = re.findall(r"^Environment=(\w+)=(.*)$", text, re.MULTILINE)
    return {name: value.replace("%i", instance) for name, value in pairs}


@dataclass
class Topology:
    url: str
    ca_file: str
    env: dict[str, str]
    app_ports: list[int]
    database_url: str
    logs: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def client(self, source_address: str | None = None) -> Visitor:
        return Visitor(self, source_address)

    def flask(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "flask"), *args], cwd=ROOT, env={**self.env, "FLASK_APP": "wsgi.py"},
            input=input, capture_output=True, text=True, timeout=120,
        )

    def app_log(self, port: int) -> str:
        return (self.logs / f"app-{port}.log").read_text()


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connect from a given loopback address, as a reader on another machine would."""

    def __init__(self, source_address: str):
        self.source_address = source_address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source_address, 0)
        super().init_poolmanager(*args, **kwargs)


class Visitor:
    """A person's browser, as far as HTTP goes: cookies, CSRF tokens, a Referer on every form."""

    def __init__(self, topology: Topology, source_address: str | None):
        self.base = topology.url
        self.http = requests.Session()
        # Only this topology's certificate, and no proxy or CA bundle from the environment.
        self.http.trust_env = False
        self.http.verify = topology.ca_file
        if source_address:
            self.http.mount("https://", SourceAddressAdapter(source_address))

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base + path, allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, data=None, **kwargs) -> requests.Response:
        headers = {"Referer": self.base + path, **kwargs.pop("headers", {})}
        return self.http.post(self.base + path, data=data, headers=headers, allow_redirects=False, timeout=30, **kwargs)

    def submit(self, path: str, data: dict, *, page: str | None = None, headers: dict | None = None) -> requests.Response:
        """Open the page that holds the form, then post it with its CSRF token."""
        html = self.get(page or path).text
        return self.post(path, {**data, "csrf_token": csrf_token_from(html)}, headers=headers or {})


def served_by(response: requests.Response) -> str:
    """Which app server answered (the test nginx adds the upstream's address)."""
    return response.headers["X-Served-By"]


def _start(command: list[str], log: Path, **kwargs) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **kwargs)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def topology_database_url():
    """A database of its own in the test cluster, created empty and dropped afterwards."""
    base = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"sight_topology_{uuid.uuid4().hex[:8]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def topology(tmp_path_factory, topology_database_url, smtp_server):
    work = tmp_path_factory.mktemp("topology")
    processes: list[subprocess.Popen] = []
    try:
        # A localstripe of its own: `flask stripe reconcile` reads every payment Stripe holds,
        # and the rest of the suite's payments belong to donors of another database.
        stripe_port = free_port()
        processes.append(_start(
            [sys.executable, str(ROOT / "scripts" / "localstripe_server.py"), "--port", str(stripe_port)],
            work / "localstripe.log",
        ))
        wait_for_port(stripe_port)
        localstripe_url = f"http://127.0.0.1:{stripe_port}"
        yield _build_topology(work, processes, topology_database_url, smtp_server[1], localstripe_url)
    finally:
        for process in reversed(processes):
            _stop(process)


def _build_topology(work: Path, processes: list, database_url: str, smtp_port: int, localstripe_url: str) -> Topology:
    redis_port, http_port, https_port = free_port(), free_port(), free_port()
    app_ports = [free_port(), free_port()]
    public_url = f"https://127.0.0.1:{https_port}"

    processes.append(_start(
        [REDIS_SERVER, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        work / "redis.log", cwd=work,
    ))

    # The operator's example settings, with this machine's addresses and test credentials.
    env = read_env_file(DEPLOY / "sight.env.example")
    env.update({
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis_port}/0",
        "PUBLIC_URL": public_url,
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "STRIPE_SECRET_KEY": "sk_test_sight_topology",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_sight_topology",
        "STRIPE_WEBHOOK_SECRET": "whsec_sight_topology",
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_JS_URL": f"{localstripe_url}/js.stripe.com/v3/",
        "IDENTITY_SIGNING_KEY_FILE": write_signing_key(work / "identity-signing-key.pem"),
        **RECEIPT_IDENTITY,
    })
    leftover = [name for name, value in env.items() if "CHANGE-ME" in value]
    assert not leftover, f"sight.env.example has settings the topology does not fill in: {leftover}"
    env = {"PATH": os.environ["PATH"], "HOME": str(work), **env}

    wait_for_port(redis_port)
    topology = Topology(public_url, str(work / "cert.pem"), env, app_ports, database_url, work, processes)
    for step in (("db", "upgrade"), ("seed",)):
        result = topology.flask(*step)
        assert result.returncode == 0, result.stdout + result.stderr

    for port in app_ports:
        unit_env = unit_environment("sight-app@.service", str(port))
        processes.append(_start(
            unit_exec_start("sight-app@.service"), work / f"app-{port}.log", cwd=ROOT, env={**env, **unit_env},
        ))

    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(work / "key.pem"), "-out", str(work / "cert.pem")],
        check=True, capture_output=True,
    )
    site = (DEPLOY / "nginx" / "sight.conf").read_text()
    site = substitute(site, "server 127.0.0.1:8001;\n    server 127.0.0.1:8002;",
                      "\n    ".join(f"server 127.0.0.1:{port};" for port in app_ports))
    site = substitute(site, "listen 80;", f"listen 127.0.0.1:{http_port};")
    site = substitute(site, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    site = substitute(site, "    listen [::]:80;\n", "")
    site = substitute(site, "    listen [::]:443 ssl;\n", "")
    site = substitute(site, "/etc/letsencrypt/live/sight.example.org/fullchain.pem", str(work / "cert.pem"))
    site = substitute(site, "/etc/letsencrypt/live/sight.example.org/privkey.pem", str(work / "key.pem"))
    site = substitute(site, "alias /srv/sight/static/;", f"alias {ROOT / 'static'}/;")
    temp_paths = "\n".join(
        f"    {kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (work / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {work / "nginx.pid"};
error_log {work / "nginx-error.log"};
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {work / "nginx-access.log"};
{temp_paths}
    # Only in the test: which app server answered, so a test can see both were used.
    add_header X-Served-By $upstream_addr always;
{site}
}}
""")
    processes.append(_start(
        [NGINX, "-p", str(work), "-e", str(work / "nginx-error.log"), "-c", str(work / "nginx.conf"),
         "-g", "daemon off;"],
        work / "nginx.log",
    ))

    for port in [https_port, *app_ports]:
        wait_for_port(port, timeout=60)
    for process in processes:
        assert process.poll() is None, f"{process.args[0]} stopped: see {work}"
    return topology
