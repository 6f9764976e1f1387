"""How long a `flask` command takes to start: `flask --help` and the `--help` of each job the
timers run (deploy/systemd/*.timer), as a ratio to `python -c pass` measured in the same run.

    .venv/bin/python bench/cli_start.py [RUNS]

Each round runs `python -c pass` and then each command once, in turn, so that a machine whose
speed drifts slows both sides of a ratio alike. The figure is CPU time (user + system, the
kernel's accounting of the finished process), which other work on a shared machine disturbs
far less than wall time; wall time and peak memory are printed beside it. `--help` stops right
after the command is found, so what is measured is the start: the app built, the command
looked up, nothing sent or read.

Bytecode is cached as an installed wheel's is (pip compiles it): PYTHONDONTWRITEBYTECODE is
dropped for the children and one warm-up run of each command writes __pycache__.

It prints figures; it asserts nothing.
"""

from __future__ import annotations

import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SYSTEMD = ROOT / "deploy" / "systemd"
# Jobs started by hand or by a service rather than a timer, which the issue names as well.
OTHER_JOBS = (["surveys", "tally"], ["mail", "worker"])


@dataclass
class Runs:
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    # CPU seconds of the `python -c pass` run just before each run.
    baseline_cpu: list[float] = field(default_factory=list)


def timer_jobs() -> list[list[str]]:
    """The `flask …` arguments of each service that a timer starts."""
    jobs = []
    for timer in sorted(SYSTEMD.glob("*.timer")):
        service = timer.with_suffix(".service").read_text()
        command = re.search(r"^ExecStart=(.*)$", service, re.MULTILINE).group(1)
        words = shlex.split(command)
        if Path(words[0]).name == "flask":
            jobs.append(words[1:])
    return jobs


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """CPU seconds, wall seconds and peak resident MiB of one run of command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode()
    process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed ({process.returncode}):\n{errors}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["FLASK_APP"] = "wsgi.py"  # as the systemd units set it
    flask = str(VENV_BIN / "flask")
    baseline = [sys.executable, "-c", "pass"]
    commands = {"flask --help": [flask, "--help"]}
    for job in [*timer_jobs(), *OTHER_JOBS]:
        command = job[:2]  # the command itself, without its arguments (`db backup`, not its folder)
        commands[f"flask {shlex.join(command)} --help"] = [flask, *command, "--help"]

    for command in [baseline, *commands.values()]:
        run_once(command, env)  # warm-up: bytecode written, files in the page cache
    base = Runs()
    measured = {name: Runs() for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            before, base_wall, base_peak = run_once(baseline, env)
            base.cpu.append(before)
            base.wall.append(base_wall)
            base.peak_mib.append(base_peak)
            cpu, wall, peak = run_once(command, env)
            runs = measured[name]
            runs.cpu.append(cpu)
            runs.wall.append(wall)
            runs.peak_mib.append(peak)
            runs.baseline_cpu.append(before)

    print(f"{rounds} rounds; `python -c pass`: CPU {statistics.median(base.cpu) * 1000:.0f} ms, "
          f"wall {statistics.median(base.wall) * 1000:.0f} ms, peak {max(base.peak_mib):.1f} MiB")
    print("CPU ratio: the command's CPU time / that of the `python -c pass` just before it; median (min–max).")
    print("CPU s, wall s: medians; peak MiB: the largest.")
    print(f"{'command':34} {'CPU ratio':>19} {'CPU s':>7} {'wall s':>7} {'peak MiB':>9}")
    for name, runs in measured.items():
        ratios = [cpu / before for cpu, before in zip(runs.cpu, runs.baseline_cpu, strict=True)]
        print(f"{name:34} {statistics.median(ratios):5.1f}× ({min(ratios):4.1f}–{max(ratios):4.1f}) "
              f"{statistics.median(runs.cpu):7.3f} {statistics.median(runs.wall):7.3f} {max(runs.peak_mib):9.1f}")


if __name__ == "__main__":
    main()
