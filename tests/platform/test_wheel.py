"""The wheel an operator installs runs on its own: templates, static files, migrations and data
files ship inside it, and the app finds them through its package, not through a checkout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_for_port
from tests.platform.conftest import ROOT

DISTRIBUTION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
# Each repository folder and where the wheel keeps it.
SHIPPED = {
    "sight": "sight", "accounts": "accounts", "membership": "membership", "surveys": "surveys",
    "templates": "sight/templates", "static": "sight/static", "migrations": "sight/migrations",
}


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """`python -m build`: the sdist, and the wheel built from it (as an operator or CI would)."""
    out = tmp_path_factory.mktemp("dist")
    result = run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)])
    (wheel,) = out.glob("*.whl")
    return wheel, result.stdout + result.stderr


def repository_files() -> list[str]:
    """Every file of the app in the repository, as the wheel should name it."""
    expected = []
    for folder, inside in SHIPPED.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                expected.append(f"{inside}/{path.relative_to(ROOT / folder).as_posix()}")
    return expected


def test_the_wheel_carries_every_module_template_static_file_migration_and_data_file(built):
    wheel, build_log = built
    assert wheel.name.startswith(DISTRIBUTION.replace("-", "_") + "-")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in repository_files() if name not in names]
    assert not missing, f"not in the wheel: {missing}"
    for data_file in ("surveys/data/reader-survey.yaml", "accounts/data/common-passwords.txt.gz",
                      "sight/templates/sight/error.html", "sight/migrations/env.py", "sight/static/site.css"):
        assert data_file in names
    # A folder left out of pyproject.toml's package list is shipped today only with a warning.
    assert "absent from the `packages` configuration" not in build_log


def test_the_wheel_installed_in_a_new_venv_outside_the_checkout_migrates_seeds_and_serves(built, tmp_path):
    wheel, _ = built
    venv, empty = tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # The deploy steps: the locked dependencies, every hash checked, then the app itself.
    run([*pip, "--require-hashes", "-r", str(ROOT / "requirements.lock")], cwd=empty)
    run([*pip, "--no-deps", str(wheel)], cwd=empty)

    env = {"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path), "PASSWORD_HASHING": "fast",
           "LANG": "C.UTF-8"}
    located = run([str(venv / "bin" / "python"), "-c", "import sight.resources as r; print(r.TEMPLATES)"],
                  cwd=empty, env=env).stdout.strip()
    assert Path(located).is_relative_to(venv), located

    flask = [str(venv / "bin" / "flask"), "--app", "sight:create_app"]
    run([*flask, "db", "upgrade"], cwd=empty, env=env)
    seeded = run([*flask, "seed"], cwd=empty, env=env)
    assert "reader-survey" in seeded.stdout
    assert not any(empty.iterdir()), "the app wrote into its working directory"

    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "sight:create_app()"],
            cwd=empty, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout=60)
        for path, text in (("/", "Sight"), ("/donate", "Sight+"), ("/surveys/reader-survey", "survey"),
                           ("/static/site.css", "")):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
                assert response.status == 200, path
                assert text in response.read().decode(), path
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert "Traceback" not in log.read_text()
