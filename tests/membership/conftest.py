"""Membership fixtures: talk to the real localstripe the way Stripe.js does, sign events as Stripe does."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from html import unescape

import pytest
import requests
import stripe

from sight.config import DEV_STRIPE_PUBLISHABLE_KEY, DEV_STRIPE_SECRET_KEY, DEV_STRIPE_WEBHOOK_SECRET
from tests.helpers import csrf_token_from, submit_form

CARD_OK = "4242424242424242"
CARD_DECLINED_WHEN_CHARGED = "4000000000000341"
CARD_DECLINED_WHEN_SAVED = "4000000000000002"


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def data_attribute(html: str, name: str) -> str | None:
    match = re.search(rf'data-{name}="([^"]*)"', html)
    return unescape(match.group(1)) if match else None


def start_gift(live_server: str, frequency: str, email: str) -> tuple[requests.Session, str, str]:
    """Start a $50 gift through the real /donate page over HTTP, as a browser would.
    Returns the donor's HTTP session, the pay page's address and the pay page."""
    http = requests.Session()
    page = http.get(f"{live_server}/donate").text
    started = http.post(
        f"{live_server}/donate",
        data={"amount": "5000", "frequency": frequency, "name": "Dee Double", "email": email,
              "message": "", "currency": "aud", "csrf_token": csrf_token_from(page)},
        allow_redirects=False,
    )
    assert started.status_code == 302, started.text
    pay_url = f"{live_server}{started.headers['Location']}"
    return http, pay_url, http.get(pay_url).text


@pytest.fixture
def stripe_client(localstripe_url) -> stripe.StripeClient:
    """The tests' own view of localstripe, to check what the app created there."""
    return stripe.StripeClient(DEV_STRIPE_SECRET_KEY, base_addresses={"api": localstripe_url})


@pytest.fixture
def confirm_card(localstripe_url):
    """Confirm a SetupIntent with a card number exactly as localstripe's Stripe.js stand-in does."""

    def confirm(client_secret: str, number: str = CARD_OK, billing_details: dict | None = None) -> tuple[int, dict]:
        """`billing_details` as a card saved by an earlier form (or a wallet) would carry them:
        our card form sends none."""
        seti = re.match(r"^(seti_\w+)_secret_", client_secret).group(1)
        return post_json(
            f"{localstripe_url}/v1/setup_intents/{seti}/confirm",
            {
                "key": DEV_STRIPE_PUBLISHABLE_KEY,
                "use_stripe_sdk": True,
                "client_secret": client_secret,
                "payment_method_data": {
                    "type": "card",
                    "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
                    **({"billing_details": billing_details} if billing_details else {}),
                },
            },
        )

    return confirm


@pytest.fixture
def give(client, confirm_card):
    """Give through the app's own pages: the form, the card (as Stripe.js would), the result."""

    def give_(
        amount: str = "2600",
        *,
        frequency: str = "once",
        email: str = "donor@example.com",
        name: str = "Alex Donor",
        card: str = CARD_OK,
        other_amount: str = "",
        billing_details: dict | None = None,
        http=None,
    ):
        http = http or client
        response = submit_form(
            http,
            "/donate",
            {
                "amount": amount,
                "other_amount": other_amount,
                "frequency": frequency,
                "name": name,
                "email": email,
                "message": "Keep it up",
                "currency": "aud",
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        pay_url = response.headers["Location"]
        page = http.get(pay_url).get_data(as_text=True)
        status, body = confirm_card(data_attribute(page, "setup-secret"), card, billing_details)
        result = http.post(
            pay_url,
            data={"csrf_token": csrf_token_from(page), "setup_intent": body.get("id", "")},
        )
        return pay_url, status, result

    return give_


@pytest.fixture
def signed_event():
    """Build a Stripe event and its Stripe-Signature header as Stripe does (HMAC-SHA256)."""

    def build(event_type: str, obj: dict, *, event_id: str | None = None, timestamp: int | None = None,
              secret: str = DEV_STRIPE_WEBHOOK_SECRET, livemode: bool = False) -> tuple[bytes, dict]:
        timestamp = int(time.time()) if timestamp is None else timestamp
        payload = json.dumps(
            {
                "id": event_id or f"evt_{uuid.uuid4().hex[:14]}",
                "object": "event",
                "type": event_type,
                "created": timestamp,
                "livemode": livemode,
                "api_version": "2017-08-15",
                "data": {"object": obj},
            }
        )
        header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
        return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}

    return build


@pytest.fixture
def localstripe_webhook(localstripe_url):
    """Point localstripe's webhook at a live server for one test, and away from it afterwards."""
    name = f"sight-test-{uuid.uuid4().hex[:8]}"

    def register(live_url: str) -> None:
        status, _ = post_json(
            f"{localstripe_url}/_config/webhooks/{name}",
            {"url": f"{live_url}/stripe/webhook", "secret": DEV_STRIPE_WEBHOOK_SECRET},
        )
        assert status == 200

    yield register
    # Port 9 (discard) is closed here: later events go nowhere instead of into another test.
    post_json(f"{localstripe_url}/_config/webhooks/{name}",
              {"url": "http://127.0.0.1:9/", "secret": DEV_STRIPE_WEBHOOK_SECRET})


HIDDEN_INPUT = re.compile(r'<input[^>]*type="hidden"[^>]*>')


def hidden_fields(html: str, action: str) -> dict:
    """The hidden inputs (CSRF token, and the gift and version it shows) of the form that posts to
    a URL ending in `/action`."""
    form = re.search(rf'<form[^>]*action="[^"]*/{action}"[^>]*>(.*?)</form>', html, re.S)
    assert form, f"the page has no form for {action}"
    fields = {}
    for tag in HIDDEN_INPUT.findall(form.group(1)):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value:
            fields[name.group(1)] = unescape(value.group(1))
    return fields


def submit_manage_form(client, url: str, data: dict, *, page_url: str):
    """Post a form of the manage page as a browser does: with the hidden fields the page gave it."""
    page = client.get(page_url).get_data(as_text=True)
    return client.post(url, data={**hidden_fields(page, url.rsplit("/", 1)[1]), **data})
