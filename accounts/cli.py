"""`flask users …` commands and the development seed."""

from __future__ import annotations

import sys

import click
import pyotp
from flask import Flask, current_app
from sqlalchemy.orm import Session

from accounts import operations as ops
from accounts.blueprint import bp
from accounts.development import DEV_STAFF_EMAIL, DEV_STAFF_PASSWORD, DEV_STAFF_TOTP_SECRET
from accounts.models import Role
from accounts.passwords import password_problem
from sight.db import utcnow
from sight.extensions import db


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@bp.cli.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default=Role.reader.value,
    show_default=True,
)
@click.option("--name", default="", help="The person's name.")
def create_user_command(email: str, role: str, name: str):
    """Create an account. The password is prompted for, or read from stdin when piped."""
    password = _read_password()
    problem = password_problem(password)
    if problem:
        raise click.ClickException(f"Password refused: {problem}")
    try:
        user = ops.create_account(
            db.session, email=email, name=name, password=password, role=Role(role), now=utcnow()
        )
    except ops.AccountError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role.value}).")
    if user.is_staff:
        click.echo("They will set up an authenticator app the first time they sign in.")


@bp.cli.command("totp-code")
@click.argument("email")
def totp_code_command(email: str):
    """Print the current second-factor code of an account (development only)."""
    if current_app.config["APP_ENV"] != "development":
        raise click.ClickException("totp-code only works when APP_ENV=development.")
    user = ops.find_user(db.session, email)
    if user is None or user.totp_secret is None:
        raise click.ClickException(f"No account with a second factor for {email}.")
    click.echo(pyotp.TOTP(user.totp_secret).now())


def seed_development_staff(session: Session, app: Flask) -> list[str]:
    """The development admin account `make run` prints (never in production)."""
    if app.config["APP_ENV"] == "production":
        return [f"Not creating the development account {DEV_STAFF_EMAIL}: APP_ENV=production."]
    if ops.find_user(session, DEV_STAFF_EMAIL) is None:
        user = ops.create_account(
            session,
            email=DEV_STAFF_EMAIL,
            name="Development Staff",
            password=DEV_STAFF_PASSWORD,
            role=Role.admin,
            now=utcnow(),
        )
        user.totp_secret = DEV_STAFF_TOTP_SECRET
    return [
        "Development staff login (admin):",
        f"  email     {DEV_STAFF_EMAIL}",
        f"  password  {DEV_STAFF_PASSWORD}",
        f"  code      .venv/bin/flask users totp-code {DEV_STAFF_EMAIL}",
    ]
