"""deploy/gunicorn.conf.py refuses rate limits that each worker would count on its own."""

from __future__ import annotations

import logging
import subprocess

from tests.conftest import free_port
from tests.platform.conftest import ROOT, unit_environment, unit_exec_start
from tests.sight.test_security import PRODUCTION_SECRETS


def start_app_server(**settings: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "development", **unit_environment("sight-app@.service", str(free_port())), **settings}
    return subprocess.run(unit_exec_start("sight-app@.service"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_several_workers_with_memory_rate_limits_refuse_to_start_and_say_why():
    result = start_app_server(WEB_CONCURRENCY="2", RATELIMIT_STORAGE_URI="memory://")
    assert result.returncode != 0
    assert "RATELIMIT_STORAGE_URI=memory:// counts rate limits inside each worker process" in result.stderr
    assert "redis://" in result.stderr


def test_production_with_memory_rate_limits_warns_at_start(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="sight"):
        make_app(ENVIRON={"APP_ENV": "production", **PRODUCTION_SECRETS})
    assert "RATELIMIT_STORAGE_URI=memory:// counts rate limits in this process only" in caplog.text
