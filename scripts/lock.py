"""The lock files: every dependency pinned, with the hashes pip checks before it installs.

    python3 scripts/lock.py          (`make lock`) writes requirements.lock (what the app needs:
                                     the deploy steps) and requirements-dev.lock (that and the
                                     dev extra: `make install`, CI), from pyproject.toml
    python3 scripts/lock.py check    (`make install`) exits 1, saying so, when pyproject.toml's
                                     dependencies changed since the lock files were made

Each lock starts with a digest of pyproject.toml's dependencies, so a dependency added to
pyproject.toml (by hand or by a merge) and not locked is named before anything is installed.
A refresh keeps every pin that still fits (uv prefers the versions already in the lock);
`make lock UPGRADE=1` moves every package to the newest version its range allows.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
DIGEST_LINE = "# pyproject.toml dependencies sha256: "
# The oldest Python the app supports (requires-python): the lock must install there too.
PYTHON_VERSION = "3.11"


def dependencies_digest() -> str:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    declared = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
    }
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    if not lock.exists():
        return None
    for line in lock.read_text().splitlines():
        if line.startswith(DIGEST_LINE):
            return line.removeprefix(DIGEST_LINE).strip()
    return None


def check() -> int:
    digest = dependencies_digest()
    stale = [lock.name for lock in (RUNTIME_LOCK, DEV_LOCK) if recorded_digest(lock) != digest]
    if stale:
        print(
            f"{' and '.join(stale)} {'does' if len(stale) == 1 else 'do'} not match pyproject.toml's dependencies "
            "(one was added, removed or its range changed): run `make lock`, then commit pyproject.toml "
            "and both lock files together.",
            file=sys.stderr,
        )
        return 1
    return 0


def uv() -> str:
    here = Path(sys.executable).parent / "uv"
    return str(here) if here.exists() else "uv"


def compile_lock(output: Path, *extra_args: str) -> None:
    command = [
        uv(), "pip", "compile", str(PYPROJECT.relative_to(ROOT)), "--generate-hashes", "--universal",
        "--python-version", PYTHON_VERSION, "--quiet", "--no-header", "-o", str(output.relative_to(ROOT)),
        *extra_args,
    ]
    if os.environ.get("UPGRADE"):
        command.append("--upgrade")
    subprocess.run(command, cwd=ROOT, check=True)
    body = output.read_text()
    output.write_text(
        "# Made by `make lock` (scripts/lock.py) from pyproject.toml; do not edit by hand.\n"
        f"{DIGEST_LINE}{dependencies_digest()}\n" + body
    )


def lock() -> int:
    compile_lock(DEV_LOCK, "--extra", "dev")
    # The same versions as the suite runs with, without the test tools.
    compile_lock(RUNTIME_LOCK, "--constraint", str(DEV_LOCK.relative_to(ROOT)))
    print(f"Wrote {RUNTIME_LOCK.name} and {DEV_LOCK.name}: commit them with pyproject.toml.")
    return 0


if __name__ == "__main__":
    sys.exit(check() if sys.argv[1:] == ["check"] else lock())
