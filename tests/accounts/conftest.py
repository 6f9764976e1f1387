"""Fixtures for the accounts tests: people to sign in as, and reading what the app wrote."""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

import pyotp
import pytest

from accounts.models import User
from sight.extensions import db
from tests.helpers import PASSWORD, submit_form

LINK = re.compile(r"https?://\S+")


@pytest.fixture
def read(app):
    """Run `fn(session)` in its own short transaction; what it returns stays readable afterwards.

    Tests must not keep a transaction open while the app handles a request: SQLite writers
    take the database lock when they begin.
    """

    def run(fn):
        with app.app_context():
            result = fn(db.session)
            db.session.expunge_all()
            return result

    return run


@pytest.fixture
def user_by_email(read):
    def get(email: str) -> User | None:
        return read(lambda s: s.scalar(db.select(User).where(User.email == email)))

    return get


def sign_in(client, email: str, password: str = PASSWORD, *, next_url: str | None = None):
    url = "/sign-in" + (f"?next={quote(next_url)}" if next_url else "")
    return submit_form(client, url, {"email": email, "password": password})


def give_code(client, secret: str, url: str = "/sign-in/totp", code: str | None = None):
    return submit_form(client, url, {"code": code or pyotp.TOTP(secret).now()})


def sign_in_staff(client, user: User, password: str = PASSWORD):
    """Password, then the second factor, through the real forms."""
    response = sign_in(client, user.email, password)
    assert response.headers["Location"] == "/sign-in/totp"
    return give_code(client, user.totp_secret)


def links_in(message) -> list[str]:
    """The paths of the links in an email (the host is PUBLIC_URL's)."""
    return [urlsplit(url).path for url in LINK.findall(message.get_body(("plain",)).get_content())]


def last_link(mailbox, address: str) -> str:
    messages = mailbox.to(address)
    assert messages, f"no mail to {address}"
    return links_in(messages[-1])[0]


def page_text(response) -> str:
    """The page as a person reads it (entities such as &#39; turned back into characters)."""
    return html.unescape(response.get_data(as_text=True))
