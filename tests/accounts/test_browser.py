"""A reader's whole account journey in Chromium, with the reset link taken from the real SMTP server."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.accounts.conftest import LINK, PASSWORD

EMAIL = "browser.reader@example.com"
FIRST = "first browser passphrase"
SECOND = "second browser passphrase"


def sign_in(page, base: str, password: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/account")


def sign_out(page, base: str) -> None:
    page.goto(f"{base}/account/settings")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/")
    expect(page.get_by_text("You've signed out.")).to_be_visible()


@pytest.mark.browser
def test_register_sign_out_sign_in_and_reset_the_password(page, live_server, mailbox):
    base = live_server
    page.goto(f"{base}/register")
    page.get_by_label("Your name").fill("Browser Reader")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill("too short")
    page.get_by_label("Type the password again").fill("too short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Use at least 12 characters.").first).to_be_visible()
    assert page.get_by_label("Your name").input_value() == "Browser Reader"

    page.get_by_label("Password", exact=True).fill(FIRST)
    page.get_by_label("Type the password again").fill(FIRST)
    page.get_by_role("button", name="Create account").click()
    # /account is the member area (another package); being sent there means signed in.
    page.wait_for_url(f"{base}/account")
    page.goto(f"{base}/account/settings")
    expect(page.get_by_text(EMAIL)).to_be_visible()

    sign_out(page, base)
    sign_in(page, base, FIRST)
    sign_out(page, base)

    page.goto(f"{base}/sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    message = mailbox.wait_for(EMAIL)
    [link] = LINK.findall(message.get_body(("plain",)).get_content())
    assert link.startswith(f"{base}/password/reset/")
    page.goto(link)
    page.get_by_label("New password").fill(SECOND)
    page.get_by_label("Type the password again").fill(SECOND)
    page.get_by_role("button", name="Save the new password").click()
    page.wait_for_url(f"{base}/sign-in")
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()

    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(FIRST)
    page.get_by_role("button", name="Sign in").click()
    # The error sits beside the password field and is what a screen reader announces for it.
    expect(page.locator("#password-error").get_by_text(re.compile("don't match an account"))).to_be_visible()
    assert page.get_by_label("Password", exact=True).get_attribute("aria-describedby") == "password-error"

    sign_in(page, base, SECOND)
    page.goto(link)
    expect(page.get_by_role("heading", name="This link has already been used.")).to_be_visible()


@pytest.mark.browser
def test_a_new_staff_member_sets_up_their_authenticator_and_reaches_the_staff_area(page, live_server, make_user):
    make_user("editor@example.com", role=Role.staff)
    base = live_server
    page.goto(f"{base}/staff/")
    page.wait_for_url(re.compile(r"/sign-in\?next="))
    page.get_by_label("Email address").fill("editor@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/sign-in/totp/setup")

    qr = page.get_by_role("img", name="QR code that adds Sight to an authenticator app")
    assert qr.evaluate("image => image.complete && image.naturalWidth > 0")
    key = page.locator(".secret code").first.inner_text().replace(" ", "")
    page.get_by_label("Six-digit code from your authenticator app").fill(pyotp.TOTP(key).now())
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/staff/")
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
