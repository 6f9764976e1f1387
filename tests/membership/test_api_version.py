"""One Stripe API version, pinned in one place: every request says it, every stored event keeps the
version it was made with, and `flask doctor` and the staff reconcile page fail loudly while events
of another version arrive (their fields may be where our readers do not look)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import select

from membership.models import StripeEvent
from membership.stripe_api import STRIPE_API_VERSION, StripeGateway
from sight.extensions import db
from tests.conftest import free_port
from tests.helpers import sign_in_as

ROOT = Path(__file__).resolve().parents[2]


def test_the_pinned_version_is_one_localstripe_serves(localstripe_url, stripe_client):
    # localstripe writes the version it speaks into every event it makes.
    stripe_client.v1.customers.create({"email": "version@example.com"})
    [event] = stripe_client.v1.events.list({"limit": 1}).data
    assert event.api_version == STRIPE_API_VERSION


def test_every_request_to_stripe_says_the_pinned_version():
    seen: list[str | None] = []

    class Stripe(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.headers.get("Stripe-Version"))
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({"id": "cus_pinned", "object": "customer"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Stripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gateway = StripeGateway("sk_test_pinned", f"http://127.0.0.1:{server.server_address[1]}")
        assert gateway.create_customer(user_id=1, idempotency_key="k") == "cus_pinned"
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [STRIPE_API_VERSION]


def test_no_module_but_the_stripe_module_sets_stripe_globals():
    setting = re.compile(r"\bstripe\.(api_version|api_key|api_base|default_http_client|max_network_retries)\s*=")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("accounts", "membership", "sight", "surveys", "identity", "wsgi.py")
        for path in ((ROOT / folder).rglob("*.py") if (ROOT / folder).is_dir() else [ROOT / folder])
        if path.exists() and setting.search(path.read_text())
    ]
    assert offenders == []


def deliver(client, signed_event, api_version: str, event_id: str):
    body, headers = signed_event("some.event.we_ignore", {"id": "obj_1", "object": "thing"}, event_id=event_id)
    event = json.loads(body)
    event["api_version"] = api_version
    import stripe

    from sight.config import DEV_STRIPE_WEBHOOK_SECRET

    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, DEV_STRIPE_WEBHOOK_SECRET, event["created"])
    return client.post("/stripe/webhook", data=payload, headers={**headers, "Stripe-Signature": header})


def test_events_keep_their_version_and_another_version_fails_loudly(app, client, signed_event, staff_user):
    assert deliver(client, signed_event, STRIPE_API_VERSION, "evt_same").status_code == 200
    doctor = app.test_cli_runner().invoke(args=["doctor"])
    assert f"OK    Every Stripe event received in the last 3 days is of API version {STRIPE_API_VERSION}" in doctor.output

    assert deliver(client, signed_event, "2025-03-31.basil", "evt_other").status_code == 200
    with app.app_context():
        versions = dict(db.session.execute(select(StripeEvent.event_id, StripeEvent.api_version)).all())
    assert versions == {"evt_same": STRIPE_API_VERSION, "evt_other": "2025-03-31.basil"}

    doctor = app.test_cli_runner().invoke(args=["doctor"])
    assert doctor.exit_code == 1
    assert (f"FAIL  1 Stripe event(s) in the last 3 days are of API version 2025-03-31.basil, not "
            f"{STRIPE_API_VERSION} that this app reads (the newest evt_other)") in doctor.output

    sign_in_as(client, staff_user)
    page = client.get("/staff/members/reconcile?since=2999-01-01").get_data(as_text=True)
    alert = re.search(r'<p[^>]*id="api-version-alert"[^>]*role="alert"[^>]*>(.*?)</p>', page, re.S)
    assert alert and "2025-03-31.basil" in alert.group(1) and STRIPE_API_VERSION in alert.group(1)
