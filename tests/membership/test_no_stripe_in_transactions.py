"""No Stripe call is made while the app holds a database write transaction: on SQLite that would
hold the write lock (every other writer waits) while the network answers.

The app talks to localstripe through a forwarding proxy that, while it holds each Stripe request,
checks from outside the app whether a write transaction is open: on SQLite by taking the write
lock without waiting, on PostgreSQL by asking for sessions idle in a transaction that wrote."""

from __future__ import annotations

import sqlite3
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import free_port

from .conftest import submit_manage_form



def write_transaction_open(database_url: str) -> bool:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            connection.close()
    import psycopg

    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as connection:
        return connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction' AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
        ).fetchone()[0] > 0


class WatchingProxy:
    """Forwards every request to localstripe, noting the ones made inside a write transaction."""

    def __init__(self, target: str, database_url: str):
        self.calls: list[str] = []
        self.inside_transaction: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                call = f"{self.command} {self.path.split('?')[0]}"
                proxy.calls.append(call)
                if write_transaction_open(database_url):
                    proxy.inside_transaction.append(call)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(target + self.path, data=body, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=30) as reply:
                        status, payload, reply_headers = reply.status, reply.read(), reply.headers
                except urllib.error.HTTPError as error:
                    status, payload, reply_headers = error.code, error.read(), error.headers
                self.send_response(status)
                self.send_header("Content-Type", reply_headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(localstripe_url, database_url):
    watching = WatchingProxy(localstripe_url, database_url)
    yield watching
    watching.close()


@pytest.fixture
def app(make_app, proxy):
    return make_app(STRIPE_API_BASE=proxy.url)


@pytest.mark.parametrize("frequency", ["once", "yearly"])
def test_giving_calls_stripe_with_no_write_transaction_open(client, give, proxy, frequency):
    _, status, result = give("2600", frequency=frequency, email=f"{frequency}@example.com")
    assert status == 200 and result.status_code == 302
    assert client.get(result.headers["Location"]).status_code == 200
    assert len(proxy.calls) >= 4  # customer, SetupIntent, and the charge went through the proxy
    assert proxy.inside_transaction == []


def test_managing_an_annual_gift_and_the_webhook_call_stripe_with_no_write_transaction_open(
    app, client, give, mailbox, proxy, signed_event
):
    import re

    give("2600", frequency="yearly", email="manage@example.com")
    [receipt] = mailbox.to("manage@example.com")
    path = re.search(r"/manage/\S+", receipt.get_body(("plain",)).get_content()).group(0)
    assert submit_manage_form(client, f"{path}/amount", {"new_amount": "50"}, page_url=path).status_code == 302
    from membership.models import Subscription
    from sight.extensions import db
    from sqlalchemy import select

    with app.app_context():
        subscription_id = db.session.scalar(select(Subscription.stripe_subscription_id).order_by(Subscription.id))
    body, headers = signed_event("customer.subscription.updated", {"id": subscription_id})
    assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200
    assert any("/v1/subscriptions" in call for call in proxy.calls)
    assert proxy.inside_transaction == []


def test_closing_an_account_calls_stripe_with_no_write_transaction_open(app, client, give, mailbox, proxy):
    import re

    from accounts.models import User
    from membership.models import Donor, Subscription
    from sight.extensions import db
    from sqlalchemy import select
    from tests.helpers import close_my_account, sign_in_as

    give("2600", frequency="yearly", email="closing@example.com")
    [receipt] = mailbox.to("closing@example.com")
    path = re.search(r"/manage/\S+", receipt.get_body(("plain",)).get_content()).group(0)
    # A new amount from the next renewal: a scheduled successor that closing must cancel too.
    assert submit_manage_form(client, f"{path}/amount", {"new_amount": "50"}, page_url=path).status_code == 302
    with app.app_context():
        sign_in_as(client, db.session.scalar(select(User).where(User.email == "closing@example.com")))
        customer = db.session.scalar(select(Donor.stripe_customer_id))
        [current, successor] = db.session.scalars(select(Subscription.stripe_subscription_id).order_by(Subscription.id))
    proxy.calls.clear()

    close_my_account(client)

    assert f"POST /v1/subscriptions/{current}" in proxy.calls  # stops renewing at the end of the year
    assert f"DELETE /v1/subscriptions/{successor}" in proxy.calls  # never starts
    assert f"POST /v1/customers/{customer}" in proxy.calls  # name and email removed
    assert proxy.inside_transaction == []
