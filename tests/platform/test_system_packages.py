"""`make test` on a machine where it is not root: it names what is missing and how to point at it,
instead of failing inside apt-get."""

from __future__ import annotations

import os
import subprocess

from tests.platform.conftest import ROOT

SCRIPT = ROOT / "scripts" / "system_packages.sh"


def run_as_a_user(**settings) -> subprocess.CompletedProcess:
    """The script as an ordinary user (`nobody` when the suite runs as root), read from stdin so
    that the user needs no access to the checkout."""
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    with SCRIPT.open("rb") as script:
        return subprocess.run(
            [*as_user, "env", *(f"{name}={value}" for name, value in settings.items()), "bash", "-s"],
            stdin=script,
            capture_output=True,
            text=True,
            timeout=30,
        )


def test_a_missing_program_is_named_with_its_package_and_the_variable_that_points_elsewhere():
    result = run_as_a_user(NGINX="/nonexistent/nginx", REDIS_SERVER="/nonexistent/redis-server")
    assert result.returncode == 1
    assert "make test needs these programs, which are not installed:" in result.stderr
    assert "/nonexistent/nginx  (the multi-server topology): Debian package 'nginx', or NGINX=/path/to/it" in result.stderr
    assert "Debian package 'redis-server', or REDIS_SERVER=/path/to/it" in result.stderr
    assert "apt-get install nginx redis-server" in result.stderr
    assert "chromium" not in result.stderr  # what is there is not asked for


def test_nothing_is_said_when_every_program_is_there():
    result = run_as_a_user()
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
