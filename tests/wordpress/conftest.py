"""A real WordPress for the plugin's end-to-end test: Debian's `wordpress` (a copy of
/usr/share/wordpress with a wp-config.php of its own), MariaDB, PHP-FPM and nginx, each started on
free ports in a temporary folder, and stopped after the test.

The test is marked `wordpress`. It runs in the SQLite run (the plugin does not depend on the app's
database engine), when Debian's packages are installed (`scripts/wordpress_packages.sh`, which
`make test` runs); without them it is deselected with a line saying what is missing, so a machine
without WordPress cannot fail the suite for that.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORDPRESS = Path("/usr/share/wordpress")
MARIADBD = "/usr/sbin/mariadbd"
MARIADB_INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
MARIADB = shutil.which("mariadb") or "/usr/bin/mariadb"
PHP_FPM = os.environ.get("PHP_FPM") or "/usr/sbin/php-fpm8.2"
PHP = os.environ.get("PHP") or shutil.which("php") or "/usr/bin/php"
NGINX = os.environ.get("NGINX") or "/usr/sbin/nginx"
NEEDS = {
    "Debian's wordpress": WORDPRESS / "wp-login.php",
    "mariadb-server": Path(MARIADBD),
    "php-fpm": Path(PHP_FPM),
    "php-mysql": Path("/usr/lib/php/20220829/mysqli.so"),
    "php-cli": Path(PHP),
    "nginx": Path(NGINX),
}


def missing_programs() -> list[str]:
    return [name for name, path in NEEDS.items() if not path.exists()]


def pytest_collection_modifyitems(config, items):
    wordpress_tests = [item for item in items if item.get_closest_marker("wordpress")]
    if not wordpress_tests:
        return
    reason = None
    if os.environ.get("TEST_DATABASE_URL"):
        reason = "it ran in the SQLite run; the plugin does not depend on the app's database engine"
    elif missing := missing_programs():
        reason = f"{', '.join(missing)} not installed (scripts/wordpress_packages.sh installs them as root)"
    if reason:
        config.hook.pytest_deselected(items=wordpress_tests)
        items[:] = [item for item in items if item not in wordpress_tests]
        config._sight_wordpress_left_out = (len(wordpress_tests), reason)


def pytest_terminal_summary(terminalreporter, config):
    count, reason = getattr(config, "_sight_wordpress_left_out", (0, ""))
    if count:
        terminalreporter.write_line(f"{count} WordPress end-to-end test deselected: {reason}.")


@dataclass
class WordPress:
    url: str
    article_url: str
    work: Path

    def sql(self, query: str) -> list[list[str]]:
        """Rows of a query on the site's own database (MariaDB), as text."""
        result = subprocess.run([MARIADB, "--no-defaults", f"--socket={self.work / 'mariadb.sock'}", "-uroot",
                                 "--batch", "--skip-column-names", "wordpress", "-e", query],
                                check=True, capture_output=True, text=True, timeout=60)
        return [line.split("\t") for line in result.stdout.splitlines()]


def _start(command: list[str], log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _logs(work: Path) -> str:
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in sorted(work.glob("*.log")))


@pytest.fixture
def wordpress_site(tmp_path, live_server):
    """`wordpress_site(client_id, secret)`: a WordPress site with the plugin, talking to this app."""
    processes: list[subprocess.Popen] = []
    work = tmp_path / "wordpress"
    work.mkdir()

    def build(client_id: str, client_secret: str, wordpress_port: int) -> WordPress:
        database_port, fpm_port = free_port(), free_port()
        home = f"http://127.0.0.1:{wordpress_port}"
        password = secrets.token_urlsafe(16)

        subprocess.run([MARIADB_INSTALL_DB, "--no-defaults", f"--datadir={work / 'db'}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=180)
        processes.append(_start([MARIADBD, "--no-defaults", f"--datadir={work / 'db'}", f"--port={database_port}",
                                 "--bind-address=127.0.0.1", f"--socket={work / 'mariadb.sock'}", "--user=root",
                                 f"--pid-file={work / 'mariadb.pid'}", "--skip-log-bin"], work / "mariadb.log"))
        wait_for_port(database_port, timeout=60)
        subprocess.run([MARIADB, "--no-defaults", f"--socket={work / 'mariadb.sock'}", "-uroot", "-e",
                        f"CREATE DATABASE wordpress; CREATE USER 'wordpress'@'127.0.0.1' IDENTIFIED BY '{password}';"
                        "GRANT ALL ON wordpress.* TO 'wordpress'@'127.0.0.1';"], check=True, capture_output=True, timeout=60)

        site = work / "site"
        shutil.copytree(WORDPRESS, site, symlinks=False)
        shutil.copytree(ROOT / "integrations" / "wordpress" / "sight-plus-sign-in", site / "wp-content" / "plugins" / "sight-plus-sign-in")
        shutil.copytree(HERE / "theme", site / "wp-content" / "themes" / "sight-test")
        # On 127.0.0.1 with a port, WordPress's canonical redirect sends an article to itself.
        (site / "wp-content" / "mu-plugins").mkdir()
        (site / "wp-content" / "mu-plugins" / "no-canonical-redirect.php").write_text(
            "<?php remove_action( 'template_redirect', 'redirect_canonical' );\n")
        salts = "\n".join(f"define('{name}', '{secrets.token_hex(32)}');" for name in (
            "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT", "NONCE_SALT"))
        (site / "wp-config.php").write_text(f"""<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'wordpress');
define('DB_PASSWORD', '{password}');
define('DB_HOST', '127.0.0.1:{database_port}');
define('WP_HOME', '{home}');
define('WP_SITEURL', '{home}');
define('WP_CONTENT_DIR', __DIR__ . '/wp-content');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);
{salts}
$table_prefix = 'wp_';
if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');
require_once ABSPATH . 'wp-settings.php';
""")
        setup = subprocess.run([PHP, str(HERE / "setup_site.php"), str(site / "wp-load.php"), json.dumps({
            "home": home, "admin_password": password, "issuer": live_server,
            "client_id": client_id, "client_secret": client_secret})], capture_output=True, text=True, timeout=120)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        article_url = setup.stdout.strip().splitlines()[-1]

        (work / "php-fpm.conf").write_text(f"""[global]
pid = {work / 'php-fpm.pid'}
error_log = {work / 'php-fpm.log'}
daemonize = no
[site]
listen = 127.0.0.1:{fpm_port}
user = root
group = root
pm = static
pm.max_children = 4
catch_workers_output = yes
""")
        processes.append(_start([PHP_FPM, "--nodaemonize", "--allow-to-run-as-root", "--fpm-config",
                                 str(work / "php-fpm.conf")], work / "php-fpm-out.log"))
        temp_paths = "\n".join(f"    {kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (work / "nginx.conf").write_text(f"""worker_processes 1;
user root;
pid {work / 'nginx.pid'};
error_log {work / 'nginx-error.log'};
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
{temp_paths}
    server {{
        listen 127.0.0.1:{wordpress_port};
        root {site};
        index index.php;
        location / {{ try_files $uri $uri/ /index.php?$args; }}
        location ~ \\.php$ {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass 127.0.0.1:{fpm_port};
        }}
    }}
}}
""")
        processes.append(_start([NGINX, "-c", str(work / "nginx.conf"), "-g", "daemon off;"], work / "nginx-out.log"))
        wait_for_port(fpm_port, timeout=30)
        wait_for_port(wordpress_port, timeout=30)
        return WordPress(home, article_url, work)

    try:
        yield build
    except BaseException:
        raise
    finally:
        for process in reversed(processes):
            _stop(process)
        if os.environ.get("SIGHT_WORDPRESS_LOGS"):
            print(_logs(work))
