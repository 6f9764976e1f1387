"""In Chromium: a reader sent by a site signs in (and consents) on the app's real pages and lands
back on the site with a code. The Content-Security-Policy's form-action lets the sign-in and consent
forms end at the site's registered address, and nothing else (the `page` fixture fails the test on
any CSP violation)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.helpers import PASSWORD
from tests.identity.conftest import Attempt

pytestmark = pytest.mark.browser

SITE = "http://127.0.0.1:9"


@pytest.mark.parametrize("first_party", [True, False])
def test_a_reader_signs_in_for_a_site_and_is_sent_back_with_a_code(live_server, page, register_site, make_user, first_party):
    site = register_site(first_party=first_party, redirect_uris=(f"{SITE}/sight-plus/callback",))
    make_user("reader@example.com")
    # The site itself, played by the browser: whatever it is sent, it answers a page.
    page.route(f"{SITE}/**", lambda route: route.fulfill(status=200, content_type="text/html", body="<p>The site</p>"))
    attempt = Attempt(site)

    page.goto(live_server + attempt.url())
    page.wait_for_url(re.compile(r"/sign-in\?next="))
    page.get_by_label("Email address").fill("reader@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if not first_party:
        page.wait_for_url(re.compile(r"/oauth/authorize\?"))
        assert "The Sight website will learn:" in page.locator("main").inner_text()
        page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(re.compile("^" + re.escape(f"{SITE}/sight-plus/callback?")))
    returned = parse_qs(urlsplit(page.url).query)
    assert returned["state"] == [attempt.state] and returned["code"][0]
    assert page.locator("p").inner_text() == "The site"
