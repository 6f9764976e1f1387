"""Settings: every one the code reads is documented and in the example; production refuses
placeholder receipts; a bad value stops the app with one readable line, not a traceback."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sight import create_app
from sight.config import ConfigError, abn_is_valid
from tests.platform.conftest import read_env_file
from tests.sight.test_security import PRODUCTION_SECRETS

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).parent / "flask")
SETTING = re.compile(r"^[A-Z][A-Z0-9_]+$")
# The app, and gunicorn's configuration of it; scripts/ (make run's PORT, …) is development tooling.
CODE = [*ROOT.glob("sight/**/*.py"), *ROOT.glob("accounts/**/*.py"), *ROOT.glob("membership/**/*.py"),
        *ROOT.glob("surveys/**/*.py"), ROOT / "wsgi.py", ROOT / "deploy" / "gunicorn.conf.py"]
ENVIRONMENTS = {"env", "environ", "read"}


def _is_environment(node: ast.AST) -> bool:
    """`env`, `environ`, `read` (config's reader of the environment) or `os.environ`."""
    if isinstance(node, ast.Name):
        return node.id in ENVIRONMENTS
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"


def settings_the_code_reads() -> set[str]:
    names = set()
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            key = None
            # env.get("NAME"), read.integer("NAME", …), os.environ.get("NAME"), os.getenv("NAME")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if _is_environment(node.func.value) or (
                    node.func.attr == "getenv" and isinstance(node.func.value, ast.Name) and node.func.value.id == "os"
                ):
                    key = node.args[0]
            # env["NAME"], os.environ["NAME"]
            elif isinstance(node, ast.Subscript) and _is_environment(node.value):
                key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and SETTING.match(key.value):
                names.add(key.value)
    return names


def settings_in_the_readme() -> set[str]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Configuration"):]
    table = table[:table.index("\n## ")]
    names = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            first_column = line.split("|")[1]
            names.update(name for name in re.findall(r"`([^`]+)`", first_column) if SETTING.match(name))
    return names


def settings_in_the_example() -> set[str]:
    text = (ROOT / "deploy" / "sight.env.example").read_text()
    # A line "# NAME=default" shows a setting left at its default.
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_the_readme_the_example_and_the_code_name_the_same_settings():
    code = settings_the_code_reads()
    # The scan finds what it should: a setting read in the loader, one through the reader, gunicorn's.
    assert {"APP_ENV", "DISPLAY_TIMEZONE", "CAPTCHA_SITE_KEY", "LOCALE", "WEB_CONCURRENCY"} <= code
    assert settings_in_the_readme() == code, "README table vs code"
    assert settings_in_the_example() == code, "deploy/sight.env.example vs code"


def production_environ(**changes) -> dict[str, str]:
    """deploy/sight.env.example as an operator fills it in, with `changes`."""
    env = read_env_file(ROOT / "deploy" / "sight.env.example")
    env.update({**PRODUCTION_SECRETS, "DATABASE_URL": "postgresql+psycopg://sight:pw@127.0.0.1:5432/sight"})
    env.update(changes)
    return {name: value for name, value in env.items() if value is not None}


def problems(environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        create_app({"ENVIRON": environ})
    return error.value.problems


def test_the_atos_abn_checksum():
    assert abn_is_valid("51 824 753 556") and abn_is_valid("51824753556")
    for wrong in ("51 824 753 557", "00 000 000 000", "5182475355", "51 824 753 55x", ""):
        assert not abn_is_valid(wrong)


def test_production_refuses_to_start_with_placeholder_receipts_naming_each_setting():
    # The example as shipped: CHANGE-ME on the three.
    example = production_environ(ORG_LEGAL_NAME="CHANGE-ME", ORG_ABN="CHANGE-ME", RECEIPT_TAX_STATEMENT="CHANGE-ME")
    lines = problems(example)
    for name in ("ORG_LEGAL_NAME", "ORG_ABN", "RECEIPT_TAX_STATEMENT"):
        assert [line for line in lines if line.startswith(name)], (name, lines)
    assert len(lines) == 3

    # Left out, each is named; so are the development placeholders and an ABN whose checksum fails.
    missing = production_environ(ORG_LEGAL_NAME=None, ORG_ABN=None, RECEIPT_TAX_STATEMENT=None)
    assert problems(missing) == [
        "ORG_LEGAL_NAME is not set: every receipt prints it, and production needs the real one.",
        "ORG_ABN is not set: every receipt prints it, and production needs the real one.",
        "RECEIPT_TAX_STATEMENT is not set: every receipt prints it, and production needs the real one.",
    ]
    assert problems(production_environ(ORG_LEGAL_NAME="Sight Media Ltd (development placeholder)",
                                       ORG_ABN="51 824 753 557")) == [
        "ORG_LEGAL_NAME=Sight Media Ltd (development placeholder) is a development placeholder: "
        "every receipt prints it; set the real one.",
        "ORG_ABN=51 824 753 557 is not a valid ABN: 11 digits whose ATO checksum holds (look it up on abr.business.gov.au).",
    ]
    # Any other CHANGE-ME left in the example is named too, without repeating a password.
    lines = problems(production_environ(MAIL_URL="smtp://CHANGE-ME:secret-password@smtp.example.org:587"))
    assert lines == ["MAIL_URL still holds the example's CHANGE-ME: fill in the real value."]

    # Filled in, it starts and its receipts carry the real details.
    app = create_app({"ENVIRON": production_environ()})
    assert app.config["ORG_ABN"] == "51 824 753 556"


def run_flask(*args: str, **environ: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "FLASK_APP": "wsgi.py", **environ}
    return subprocess.run([FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_flask_doctor_in_production_fails_naming_each_placeholder_without_a_traceback():
    result = run_flask("doctor", **production_environ(ORG_LEGAL_NAME="CHANGE-ME", ORG_ABN="12 345 678 901"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Sight cannot start: 2 problems with its settings" in result.stderr
    assert "  ORG_LEGAL_NAME=CHANGE-ME is a development placeholder" in result.stderr
    assert "  ORG_ABN=12 345 678 901 is not a valid ABN" in result.stderr


def test_flask_doctor_fails_on_placeholder_receipts_and_warns_in_development(make_app):
    doctor = make_app(APP_ENV="production", ORG_ABN="00 000 000 000").test_cli_runner().invoke(args=["doctor"])
    assert doctor.exit_code == 1
    assert "FAIL  ORG_ABN=00 000 000 000 is a development placeholder" in doctor.output
    assert "FAIL  ORG_LEGAL_NAME=Sight Media Ltd (development placeholder) is a development placeholder" in doctor.output

    doctor = make_app().test_cli_runner().invoke(args=["doctor"])
    assert "WARN  Receipts print the development placeholders" in doctor.output

    doctor = make_app(ORG_LEGAL_NAME="Sight Media Ltd", ORG_ABN="51 824 753 556").test_cli_runner().invoke(args=["doctor"])
    assert "OK    Receipts name Sight Media Ltd, ABN 51 824 753 556." in doctor.output


BAD_SETTINGS = {
    "DISPLAY_TIMEZONE": ("Mars/Olympus", "DISPLAY_TIMEZONE=Mars/Olympus is not a time zone: use a name such as Australia/Sydney or Europe/Berlin."),
    "TRUSTED_PROXIES": ("one", "TRUSTED_PROXIES=one is not a whole number."),
    "MIN_DONATION_CENTS": ("-5", "MIN_DONATION_CENTS=-5 is too small: at least 1."),
    "SURVEY_PAGE_RATE_LIMIT": ("lots", 'SURVEY_PAGE_RATE_LIMIT=lots is not a rate limit such as "20 per hour" or "5/minute".'),
    "PUBLIC_URL": ("sight.example.org", "PUBLIC_URL=sight.example.org is not an address that starts with http:// or https:// and names a host."),
    "SITE_URL": ("https://", "SITE_URL=https:// is not an address that starts with http:// or https:// and names a host."),
    "MAIL_URL": ("imap://user:hunter2@mail.example.org", "MAIL_URL is not an address that starts with smtp:// or smtps:// and names a host."),
    "CURRENCY": ("dollars", "CURRENCY=dollars is not an ISO 4217 currency code such as AUD, NZD or EUR."),
    "LOCALE": ("xx_QQ", "LOCALE=xx_QQ is not a locale: use one such as en_AU, en_GB or de_DE."),
    "DONATE_CAPTCHA": ("maybe", "DONATE_CAPTCHA=maybe is neither on nor off."),
    "APP_ENV": ("prod", "APP_ENV=prod is not one of development, test, production."),
    "RATELIMIT_STORAGE_URI": ("postgres://db", "RATELIMIT_STORAGE_URI is not a rate-limit store such as memory:// or redis://127.0.0.1:6379/0."),
}


def test_every_bad_setting_is_one_readable_line_and_all_are_named_together():
    lines = problems({name: value for name, (value, _) in BAD_SETTINGS.items()})
    assert sorted(lines) == sorted(line for _, line in BAD_SETTINGS.values())
    # A password in a bad address is not repeated.
    assert not [line for line in lines if "hunter2" in line]
    assert problems({"CURRENCY": "jpy"}) == ["CURRENCY=jpy has no cents: Sight counts amounts in hundredths of a currency."]
    assert problems({"MIN_DONATION_CENTS": "5000", "MAX_DONATION_CENTS": "100"}) == [
        "MIN_DONATION_CENTS=5000 is more than MAX_DONATION_CENTS=100."]
    # Good values in another spelling are taken.
    app = create_app({"ENVIRON": {"APP_ENV": "test", "CURRENCY": "EUR", "LOCALE": "de-DE", "DONATE_CAPTCHA": "on"}})
    assert (app.config["CURRENCY"], app.config["LOCALE"], app.config["DONATE_CAPTCHA"]) == ("eur", "de_DE", True)


def test_a_bad_time_zone_stops_flask_commands_and_gunicorn_with_one_line_and_a_failing_status():
    for command in (("doctor",), ("seed",)):
        result = run_flask(*command, DISPLAY_TIMEZONE="Mars/Olympus")
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr and "ZoneInfoNotFoundError" not in result.stderr
        assert result.stderr.strip().splitlines() == [
            "Error: Sight cannot start: 1 problem with its settings (the README's Configuration table says what each one means):",
            "  DISPLAY_TIMEZONE=Mars/Olympus is not a time zone: use a name such as Australia/Sydney or Europe/Berlin.",
        ]

    from tests.platform.test_gunicorn import start_app_server

    result = start_app_server(WEB_CONCURRENCY="1", DISPLAY_TIMEZONE="Mars/Olympus")
    assert result.returncode != 0
    assert "DISPLAY_TIMEZONE=Mars/Olympus is not a time zone" in result.stderr
    assert "Traceback" not in result.stderr
