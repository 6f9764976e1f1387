"""Spam rules: CSRF with a long lifetime (and an expired page that keeps the answers), the
honeypot, the minimum fill time, the per-address rate limit, and the optional CAPTCHA."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.helpers import csrf_token_from
from tests.surveys.conftest import backdate_responses, responses
from tests.surveys.test_taking import GOOD_PAGE_1, GOOD_PAGE_2


def test_survey_pages_accept_a_token_four_hours_old(app):
    assert app.config["SURVEY_CSRF_TIME_LIMIT"] == 4 * 3600


def test_an_expired_page_is_shown_again_with_every_answer_kept(make_app, make_survey, reader_for):
    app = make_app(SURVEY_CSRF_TIME_LIMIT=1)
    client = app.test_client()
    slug = make_survey()
    reader = reader_for(slug, client)
    reader.start()
    token = csrf_token_from(client.get(f"/surveys/{slug}/page/1").get_data(as_text=True))
    time.sleep(2.1)
    reply = reader.send(1, GOOD_PAGE_1, token=token)
    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert "This page was open for a long time" in html and "send the page again" in html
    assert 'value="blue" checked' in html and 'value="dog" checked' in html and 'value="Rex"' in html
    assert responses(app)[0].answers == {}
    # The page carries a fresh token: sending it again works.
    again = client.post(f"/surveys/{slug}/page/1", data={"csrf_token": csrf_token_from(html), **GOOD_PAGE_1})
    assert again.status_code == 302
    assert responses(app)[0].answers["dog_name"] == "Rex"


def test_a_missing_token_stores_nothing(app, client, make_survey, reader_for):
    slug = make_survey()
    reader_for(slug).start()
    reply = client.post(f"/surveys/{slug}/page/1", data=GOOD_PAGE_1)
    assert reply.status_code == 400 and "Your answers are still here" in reply.get_data(as_text=True)
    assert responses(app)[0].answers == {}
    assert client.post(f"/surveys/{slug}/start", data={}).status_code == 302
    assert len(responses(app)) == 1


def test_the_honeypot_refuses_and_says_what_to_do(app, client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reply = reader.send(1, {**GOOD_PAGE_1, "contact-website": "http://spam.example"})
    assert reply.status_code == 400
    assert "Please empty it and send the page again" in reply.get_data(as_text=True)
    assert responses(app)[0].answers == {}

    bot = app.test_client()
    token = csrf_token_from(bot.get(f"/surveys/{slug}").get_data(as_text=True))
    assert bot.post(f"/surveys/{slug}/start", data={"csrf_token": token, "contact-website": "x"}).status_code == 400
    assert len(responses(app)) == 1


def test_a_submission_faster_than_the_minimum_is_refused_until_later(app, make_survey, reader_for):
    slug = make_survey(settings={"min_seconds": 30})
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    reply = reader.send(2, GOOD_PAGE_2, action="submit")
    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert "quicker than we expected" in html and 'value="me@example.com"' in html
    assert responses(app)[0].submitted_at is None
    backdate_responses(app, 31)
    assert reader.send(2, GOOD_PAGE_2, action="submit").status_code == 302
    assert responses(app)[0].submitted_at is not None


def test_starting_is_rate_limited_per_address_and_browser(make_app, make_survey, reader_for):
    app = make_app(SURVEY_START_RATE_LIMIT="2 per hour")
    slug = make_survey()
    browser = app.test_client()
    token = csrf_token_from(browser.get(f"/surveys/{slug}").get_data(as_text=True))
    replies = [browser.post(f"/surveys/{slug}/start", data={"csrf_token": token}).status_code for _ in range(3)]
    assert replies == [302, 302, 429]
    # Other readers behind the same office or carrier address are not locked out.
    assert [reader_for(slug, app.test_client()).start().status_code for _ in range(3)] == [302, 302, 302]


def test_an_address_has_a_ceiling_even_for_new_browsers(make_app, make_survey, reader_for):
    app = make_app(SURVEY_START_ADDRESS_RATE_LIMIT="2 per hour")
    slug = make_survey()
    assert [reader_for(slug, app.test_client()).start().status_code for _ in range(3)] == [302, 302, 429]
    assert len(responses(app)) == 2


def test_page_posts_are_rate_limited_per_address(make_app, make_survey, reader_for):
    app = make_app(SURVEY_PAGE_RATE_LIMIT="1 per hour")
    slug = make_survey()
    reader = reader_for(slug, app.test_client())
    reader.start()
    assert reader.send(1, GOOD_PAGE_1).status_code == 302
    assert reader.send(2, GOOD_PAGE_2, action="submit").status_code == 429
    assert responses(app)[0].submitted_at is None


class VerifyServer:
    """A stand-in CAPTCHA provider on 127.0.0.1: accepts the token "good-token"."""

    def __init__(self):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                outer.requests.append(body)
                reply = json.dumps({"success": body.get("response") == ["good-token"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/siteverify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def captcha_app(make_app):
    with VerifyServer() as provider:
        app = make_app(
            ENVIRON={
                "APP_ENV": "test",
                "SECRET_KEY": TEST_SECRET_KEY,
                "CAPTCHA_PROVIDER": "turnstile",
                "CAPTCHA_SITE_KEY": "site-key-1",
                "CAPTCHA_SECRET_KEY": "secret-key-1",
                "CAPTCHA_VERIFY_URL": provider.url,
            }
        )
        app.provider = provider
        yield app


def test_the_captcha_is_verified_on_the_server(captcha_app, make_survey, reader_for):
    app = captcha_app
    client = app.test_client()
    slug = make_survey(settings={"captcha": True})
    reader = reader_for(slug, client)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    page = client.get(f"/surveys/{slug}/page/2")
    html = page.get_data(as_text=True)
    assert '<div class="cf-turnstile" data-sitekey="site-key-1"></div>' in html
    assert '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" async defer></script>' in html
    assert "https://challenges.cloudflare.com" in page.headers["Content-Security-Policy"]

    refused = reader.send(2, {**GOOD_PAGE_2, "cf-turnstile-response": "bad-token"}, action="submit")
    assert refused.status_code == 400
    assert "complete the check that you&#39;re a person" in refused.get_data(as_text=True)
    assert responses(app)[0].submitted_at is None
    assert reader.send(2, GOOD_PAGE_2, action="submit").status_code == 400  # no token at all

    assert reader.send(2, {**GOOD_PAGE_2, "cf-turnstile-response": "good-token"}, action="submit").status_code == 302
    assert responses(app)[0].submitted_at is not None
    assert app.provider.requests[-1]["secret"] == ["secret-key-1"]


def test_an_unreachable_captcha_provider_refuses_rather_than_fails(make_app, make_survey, reader_for):
    app = make_app(ENVIRON={"APP_ENV": "test", "CAPTCHA_PROVIDER": "hcaptcha", "CAPTCHA_VERIFY_URL": "http://127.0.0.1:9/"})
    slug = make_survey(settings={"captcha": True})
    reader = reader_for(slug, app.test_client())
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    assert reader.send(2, {**GOOD_PAGE_2, "h-captcha-response": "x"}, action="submit").status_code == 400
    assert responses(app)[0].submitted_at is None


def test_without_a_provider_there_is_no_captcha_and_no_extra_origin(app, client, make_survey, reader_for):
    slug = make_survey(settings={"captcha": True})
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    page = client.get(f"/surveys/{slug}/page/2")
    assert "cf-turnstile" not in page.get_data(as_text=True)
    assert "cloudflare" not in page.headers["Content-Security-Policy"]
    assert reader.send(2, GOOD_PAGE_2, action="submit").status_code == 302


def test_a_fast_reader_who_answers_only_the_required_questions_is_accepted(app, reader_survey, reader_for):
    """Answering the two required questions of the default survey takes a real reader 10-15 s;
    the minimum scales with what was answered, so they are not refused as a robot."""
    reader = reader_for("reader-survey")
    reader.start()
    reader.send(1, {"read_frequency": "daily"})
    reader.send(2, {})
    backdate_responses(app, 8)
    assert reader.send(3, {"recommend": "8"}, action="submit").status_code == 302
    assert responses(app)[0].submitted_at is not None


def test_too_fast_says_how_long_to_wait(app, reader_survey, reader_for):
    reader = reader_for("reader-survey")
    reader.start()
    reader.send(1, {"read_frequency": "daily", "found_via": "search", "sections": ["news"], "devices": ["phone"]})
    reader.send(2, {"age_band": "35_49", "state": "vic"})
    reply = reader.send(3, {"recommend": "8", "comment": "Good.", "more_of[local]": "more"}, action="submit")
    assert reply.status_code == 400
    waits = [int(n) for n in re.findall(r"send them again in (\d+) seconds", reply.get_data(as_text=True))]
    # Nine answers: a robot's instant submission waits, but never longer than the survey's 20 s.
    assert len(waits) == 1 and 15 <= waits[0] <= 20
    backdate_responses(app, waits[0])
    assert reader.send(3, {"recommend": "8", "comment": "Good.", "more_of[local]": "more"}, action="submit").status_code == 302


def test_a_busy_address_is_asked_for_the_captcha_instead_of_refused(captcha_app, make_survey, reader_for):
    app = captcha_app
    app.config["SURVEY_START_CAPTCHA_AFTER"] = "1 per hour"
    slug = make_survey()
    assert reader_for(slug, app.test_client()).start().status_code == 302
    second = app.test_client()
    intro = second.get(f"/surveys/{slug}")
    assert '<div class="cf-turnstile" data-sitekey="site-key-1"></div>' in intro.get_data(as_text=True)
    token = csrf_token_from(intro.get_data(as_text=True))
    refused = second.post(f"/surveys/{slug}/start", data={"csrf_token": token})
    assert refused.status_code == 400
    assert "complete the check that you&#39;re a person" in refused.get_data(as_text=True)
    assert len(responses(app)) == 1
    started = second.post(f"/surveys/{slug}/start", data={"csrf_token": token, "cf-turnstile-response": "good-token"})
    assert started.status_code == 302 and len(responses(app)) == 2


def test_without_a_captcha_a_busy_address_still_starts(make_app, make_survey, reader_for):
    app = make_app(SURVEY_START_CAPTCHA_AFTER="1 per hour")
    slug = make_survey()
    assert [reader_for(slug, app.test_client()).start().status_code for _ in range(3)] == [302, 302, 302]
