"""An exporting process carries only what an export needs: the Stripe SDK and its HTTP clients
(a fifth of the app's memory) load when Stripe is first called, not when the app is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_app_leaves_the_stripe_sdk_unloaded_until_stripe_is_called(database_url):
    script = (
        "import sys, wsgi\n"
        "print(sorted(m for m in ('stripe', 'aiohttp') if m in sys.modules))\n"
        "from membership.context import context_for\n"
        "context_for(wsgi.app)\n"
        "print(sorted(m for m in ('stripe',) if m in sys.modules))\n"
    )
    environment = {**os.environ, "APP_ENV": "development", "DATABASE_URL": database_url, "SECRET_KEY": "test"}
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, check=True)
    assert run.stdout.split("\n")[:2] == ["[]", "['stripe']"]
