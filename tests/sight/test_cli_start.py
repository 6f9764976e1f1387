"""A `flask` command loads only what it needs: `flask --help` and each job the timers run start
without Alembic (only `flask db` and `flask doctor` load it) and without the libraries that a
single page or command uses (the Stripe SDK, Pillow, the QR code and email address libraries).
bench/cli_start.py measures how long they take to start."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SYSTEMD = ROOT / "deploy" / "systemd"

# Top-level packages that a start of the CLI must not import.
LOADED_BY_ONE_COMMAND = {
    "alembic": "`flask db` (migrations) and `flask doctor`",
    "flask_migrate": "`flask db` (migrations)",
    "stripe": "the Stripe calls of payments and `flask stripe reconcile`",
    "PIL": "a chart's PNG for slides",
    "segno": "the second-factor setup page",
    "email_validator": "a survey's email questions",
}

# Runs `flask ARGS…` in this process, then says what it printed and which modules it imported.
RUN_FLASK = """
import contextlib, io, json, sys
from flask.cli import main
sys.argv = ["flask", *sys.argv[1:]]
code = 0
with contextlib.redirect_stdout(io.StringIO()) as shown:
    try:
        main()
    except SystemExit as exit:
        code = exit.code or 0
print(json.dumps({"code": code, "shown": shown.getvalue(), "modules": sorted(sys.modules)}))
"""


def timer_jobs() -> list[list[str]]:
    """The `flask …` arguments of each service a timer starts, as deploy/systemd has them."""
    jobs = []
    for timer in sorted(SYSTEMD.glob("*.timer")):
        command = re.search(r"^ExecStart=(.*)$", timer.with_suffix(".service").read_text(), re.MULTILINE).group(1)
        words = shlex.split(command)
        assert Path(words[0]).name == "flask", f"{timer.name} starts {words[0]}"
        jobs.append(words[1:])
    return jobs


def run_flask(tmp_path: Path, *args: str) -> dict:
    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",  # as the systemd units set it
        "APP_ENV": "development",
        "SECRET_KEY": "a-key-for-the-cli-start-test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sight.sqlite3'}",
    }
    process = subprocess.run([sys.executable, "-c", RUN_FLASK, *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.splitlines()[-1])


def loaded_by_one_command(modules: list[str]) -> dict[str, str]:
    return {top: needed_by for top, needed_by in LOADED_BY_ONE_COMMAND.items()
            if any(module == top or module.startswith(f"{top}.") for module in modules)}


def test_the_timers_run_jobs():
    jobs = [shlex.join(job) for job in timer_jobs()]
    assert "mail send" in jobs
    assert "db backup /var/lib/sight-backups/ --keep 14" in jobs


@pytest.mark.parametrize("job", [[], *timer_jobs()], ids=lambda job: shlex.join(["flask", *job[:2], "--help"]))
def test_a_command_starts_without_what_only_another_needs(tmp_path, job):
    """`flask --help`, and each timer job's `--help` (its start: the app built, the command found)."""
    command = [*job[:2], "--help"]
    ran = run_flask(tmp_path, *command)
    assert ran["code"] == 0
    assert f"Usage: flask {' '.join(command[:-1])}".rstrip() in ran["shown"]
    assert loaded_by_one_command(ran["modules"]) == {}


def test_flask_db_still_offers_the_migrations_beside_backup_and_restore(tmp_path):
    ran = run_flask(tmp_path, "db", "--help")
    commands = set(re.findall(r"^  ([a-z-]+) ", ran["shown"], re.MULTILINE))
    assert {"upgrade", "downgrade", "current", "migrate", "backup", "restore"} <= commands
    assert "alembic" in loaded_by_one_command(ran["modules"])


def test_flask_db_upgrade_migrates_a_new_database_to_the_newest_migration(tmp_path):
    ran = run_flask(tmp_path, "db", "upgrade")
    assert ran["code"] == 0
    newest = max(path.name.split("_")[0] for path in (ROOT / "migrations" / "versions").glob("0*.py"))
    with closing(sqlite3.connect(tmp_path / "sight.sqlite3")) as database:
        assert database.execute("SELECT version_num FROM alembic_version").fetchall() == [(newest,)]
