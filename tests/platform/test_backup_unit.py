"""The nightly backup unit (deploy/systemd/sight-backup.service) against the production shape:
its command dumps the topology's PostgreSQL into a dated file that only its owner reads."""

from __future__ import annotations

import subprocess

import pytest

from tests.platform.conftest import ROOT, unit_environment, unit_exec_start

BACKUP_FOLDER = "/var/lib/sight-backups/"


@pytest.mark.topology
def test_the_backup_units_command_dumps_the_database_into_a_dated_file(topology, tmp_path):
    unit = "sight-backup.service"
    command = unit_exec_start(unit)
    assert BACKUP_FOLDER in command and "--keep" in command
    command = [str(tmp_path) + "/" if part == BACKUP_FOLDER else part for part in command]
    result = subprocess.run(command, cwd=ROOT, env={**topology.env, **unit_environment(unit)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (dump,) = tmp_path.glob("sight-*.pgdump")
    assert f"Backed up the database to {dump}" in result.stdout
    # pg_dump's custom format, which `flask db restore` hands to pg_restore.
    assert dump.read_bytes().startswith(b"PGDMP")
    assert (dump.stat().st_mode & 0o777) == 0o600
