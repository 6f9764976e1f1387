import os
import pty
import subprocess
import sys
import time
from pathlib import Path
from select import select as wait_readable

from sqlalchemy import func, select

from accounts.cli import DEV_STAFF_EMAIL, DEV_STAFF_PASSWORD, DEV_STAFF_TOTP_SECRET
from accounts.models import Role, User
from tests.accounts.conftest import give_code, page_text, sign_in

ROOT = Path(__file__).resolve().parents[2]


def test_users_create_reads_the_password_from_stdin(app, user_by_email):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "Editor@Example.com", "--role", "staff", "--name", "Eddie"],
        input="a long editor passphrase\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created editor@example.com (staff)." in result.output
    user = user_by_email("editor@example.com")
    assert user.role is Role.staff and user.name == "Eddie"
    assert sign_in(app.test_client(), "editor@example.com", "a long editor passphrase").headers["Location"] == "/sign-in/totp/setup"


def test_users_create_applies_the_password_rules_and_refuses_a_taken_email(app, make_user, user_by_email):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "new@example.com"], input="short\n")
    assert result.exit_code != 0
    assert "Use at least 12 characters." in result.output
    result = runner.invoke(args=["users", "create", "new@example.com"], input="password1234\n")
    assert "too common" in result.output
    assert user_by_email("new@example.com") is None

    make_user("taken@example.com")
    result = runner.invoke(args=["users", "create", "TAKEN@example.com", "--role", "admin"], input="a long admin passphrase\n")
    assert result.exit_code != 0
    assert "An account already uses this email." in result.output
    assert user_by_email("taken@example.com").role is Role.reader

    result = runner.invoke(args=["users", "create", "x@example.com", "--role", "owner"], input="a long admin passphrase\n")
    assert result.exit_code != 0 and "owner" in result.output


def test_users_create_prompts_twice_on_a_terminal(app, database_url, user_by_email):
    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "APP_ENV": "test",
        "SECRET_KEY": "terminal-test-secret",
        "DATABASE_URL": database_url,
        "PASSWORD_HASHING": "fast",
    }
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("flask")), "users", "create", "tty@example.com", "--role", "admin"],
        stdin=secondary, stdout=secondary, stderr=secondary, cwd=ROOT, env=env,
    )
    os.close(secondary)
    output = b""

    def wait_for(text: bytes) -> None:
        nonlocal output
        deadline = time.monotonic() + 30
        while text not in output and time.monotonic() < deadline:
            if wait_readable([primary], [], [], 0.5)[0]:
                output += os.read(primary, 1024)
        assert text in output, output

    try:
        wait_for(b"Password:")
        os.write(primary, b"a terminal passphrase\n")
        wait_for(b"Repeat for confirmation:")
        os.write(primary, b"a terminal passphrase\n")
        wait_for(b"Created tty@example.com (admin).")
    finally:
        process.wait(timeout=30)
        os.close(primary)
    assert process.returncode == 0
    assert b"a terminal passphrase" not in output  # not echoed
    assert user_by_email("tty@example.com").role is Role.admin


def test_totp_code_is_refused_outside_development(app, make_user):
    make_user("admin@example.com", role=Role.admin, totp=True)
    result = app.test_cli_runner().invoke(args=["users", "totp-code", "admin@example.com"])
    assert result.exit_code != 0
    assert "only works when APP_ENV=development" in result.output


def test_seed_creates_the_development_admin_once_and_its_code_signs_in(make_app, user_by_email, read):
    app = make_app(APP_ENV="development")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    second = runner.invoke(args=["seed"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    for result in (first, second):
        assert DEV_STAFF_EMAIL in result.output
        assert DEV_STAFF_PASSWORD in result.output
        assert f".venv/bin/flask users totp-code {DEV_STAFF_EMAIL}" in result.output
    user = user_by_email(DEV_STAFF_EMAIL)
    assert user.role is Role.admin and user.totp_secret == DEV_STAFF_TOTP_SECRET
    assert read(lambda s: s.scalar(select(func.count()).select_from(User))) == 1

    code = runner.invoke(args=["users", "totp-code", DEV_STAFF_EMAIL]).output.strip()
    assert code.isdigit() and len(code) == 6
    client = app.test_client()
    assert sign_in(client, DEV_STAFF_EMAIL, DEV_STAFF_PASSWORD).headers["Location"] == "/sign-in/totp"
    assert give_code(client, DEV_STAFF_TOTP_SECRET, code=code).status_code == 302
    assert client.get("/staff/").status_code == 200


def test_seed_refuses_the_development_account_in_production(make_app, user_by_email):
    app = make_app(APP_ENV="production")
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0
    assert "Not creating the development account" in result.output
    assert DEV_STAFF_PASSWORD not in result.output
    assert user_by_email(DEV_STAFF_EMAIL) is None


def test_the_development_account_cannot_sign_in_where_others_can_reach_the_site(make_app, app):
    runner = make_app(APP_ENV="development").test_cli_runner()
    assert runner.invoke(args=["seed"]).exit_code == 0
    on_this_computer = app.test_client()
    sign_in(on_this_computer, DEV_STAFF_EMAIL, DEV_STAFF_PASSWORD)
    give_code(on_this_computer, DEV_STAFF_TOTP_SECRET)
    assert on_this_computer.get("/staff/").status_code == 200

    # The same database served at a public address: the published password opens nothing,
    # and the session started before no longer counts.
    app.config["PUBLIC_URL"] = "https://sight.example.org"
    elsewhere = app.test_client()
    assert sign_in(elsewhere, DEV_STAFF_EMAIL, DEV_STAFF_PASSWORD).headers["Location"] == "/sign-in"
    assert "cannot sign in on a site that others can reach" in page_text(elsewhere.get("/sign-in"))
    assert on_this_computer.get("/staff/").status_code == 302
