"""Dependencies you can reproduce: every one pinned with hashes, in the ranges pyproject.toml
declares, and `make install` stops, naming `make lock`, when the two disagree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

from packaging.requirements import Requirement

from tests.platform.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lock_name: str) -> dict[str, tuple[str, int]]:
    """name -> (version, how many hashes) for each package the lock file pins."""
    text = (ROOT / lock_name).read_text()
    found = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if match:
            found[match.group(1).lower().replace("_", "-")] = (match.group(2), block.count("--hash=sha256:"))
    return found


def test_each_dependency_is_pinned_with_hashes_inside_its_declared_range():
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    for lock, requirements in ((runtime, PROJECT["dependencies"]),
                               (dev, PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"])):
        for line in requirements:
            requirement = Requirement(line)
            version, hashes = lock[requirement.name.lower()]
            assert requirement.specifier.contains(version), f"{requirement.name}=={version} outside {requirement.specifier}"
            assert hashes, f"{requirement.name} has no hash"
    # The app in production runs the versions the suite ran.
    for name, (version, _) in runtime.items():
        assert dev[name][0] == version, name
    # Test-only packages stay out of what production installs.
    for test_only in ("openpyxl", "pytest", "playwright", "localstripe"):
        assert test_only not in runtime and test_only in dev


def test_make_install_stops_and_names_make_lock_when_pyproject_changed_since_the_lock(tmp_path):
    for name in ("pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "lock.py", tmp_path / "scripts" / "lock.py")
    check = [sys.executable, str(tmp_path / "scripts" / "lock.py"), "check"]

    assert subprocess.run(check, capture_output=True, text=True).returncode == 0

    # Another branch adds a dependency and the merge does not refresh the lock.
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('dependencies = [\n', 'dependencies = [\n    "authlib>=1.6,<2",\n', 1))
    result = subprocess.run(check, capture_output=True, text=True)
    assert result.returncode == 1
    assert "requirements.lock and requirements-dev.lock do not match pyproject.toml" in result.stderr
    assert "run `make lock`" in result.stderr
    assert "Traceback" not in result.stderr

    # The Makefile runs the check before it installs anything.
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP): ")[1]
    assert recipe.index("scripts/lock.py check") < recipe.index("pip install")
    assert "--require-hashes -r requirements-dev.lock" in recipe
