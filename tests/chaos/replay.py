"""The chaos replay's driver: donors give through the app's pages and straight in Stripe,
refunds and disputes follow, and afterwards the app's ledger and every donor's Sight+ answer
are compared with Stripe's own objects and with the oracle."""

from __future__ import annotations

import json
import random
import re
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import unescape

import stripe
from sqlalchemy import select
from werkzeug.serving import make_server

from accounts.models import User
from membership.models import Donor, LedgerEntry, Subscription
from membership.context import Settings
from membership.status import sight_plus_statuses
from sight.config import DEV_STRIPE_PUBLISHABLE_KEY
from sight.extensions import db
from tests.chaos.oracle import AnnualGiftSeen, PaymentSeen, expected_at, instants_worth_checking
from tests.helpers import csrf_token_from, submit_form

CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}
ONE_OFF_CENTS = [500, 800, 1000, 1500, 2000, 2600, 3000, 5000, 10000]
# (preset, other amount in dollars) as the donate form takes them; $10 a year is below the threshold.
ANNUAL_CHOICES = [("2600", ""), ("5000", ""), ("other", "10")]


def serve(app) -> tuple[object, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def object_id(value) -> str | None:
    """Stripe gives a related object as its id, or expanded."""
    return value if value is None or isinstance(value, str) else value.id


def when(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)


@dataclass
class Donation:
    customer: str
    charge_id: str


@dataclass
class Replay:
    app: object
    stripe_client: stripe.StripeClient
    localstripe_url: str
    chaos: object
    seed: int
    random: random.Random = field(init=False)
    customers: dict[str, str] = field(default_factory=dict)  # email -> customer
    payment_methods: dict[str, str] = field(default_factory=dict)  # customer -> card
    paid: list[Donation] = field(default_factory=list)  # every payment, for refunds and disputes
    disputed: dict[str, tuple[int, int]] = field(default_factory=dict)  # charge -> (cents lost, when)
    subscriptions: list[str] = field(default_factory=list)
    payments_made: int = 0

    def __post_init__(self):
        self.random = random.Random(self.seed)

    # --- giving -------------------------------------------------------------------------

    def give_through_the_pages(self, email: str, amount: str, other_amount: str, frequency: str) -> None:
        client = self.app.test_client()
        response = submit_form(
            client,
            "/donate",
            {"amount": amount, "other_amount": other_amount, "frequency": frequency, "name": "Chaos Donor",
             "email": email, "message": "", "currency": "aud"},
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        pay_url = response.headers["Location"]
        page = client.get(pay_url).get_data(as_text=True)
        secret = unescape(re.search(r'data-setup-secret="([^"]*)"', page).group(1))
        setup_intent = re.match(r"^(seti_\w+)_secret_", secret).group(1)
        confirmed = self._post_localstripe(
            f"/v1/setup_intents/{setup_intent}/confirm",
            {"key": DEV_STRIPE_PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": secret,
             "payment_method_data": {"type": "card", "card": CARD, "billing_details": {"name": "Chaos Donor"}}},
        )
        result = client.post(pay_url, data={"csrf_token": csrf_token_from(page), "setup_intent": confirmed["id"]})
        assert result.status_code in (200, 302), result.get_data(as_text=True)[:2000]
        with self.app.app_context():
            donor = db.session.scalar(select(Donor).join(Donor.user).where(User.email == email))
            customer = donor.stripe_customer_id
        self.customers[email] = customer
        self.payments_made += 1
        if frequency == "yearly":
            subscription = self.stripe_client.v1.subscriptions.list({"customer": customer}).data[0]
            self.subscriptions.append(subscription.id)
            invoice = self.stripe_client.v1.invoices.retrieve(subscription.latest_invoice)
            self.paid.append(Donation(customer, object_id(invoice.charge)))
        else:
            self.paid.append(Donation(customer, self._one_off_charge(customer)))

    def give_in_stripe(self, customer: str, cents: int) -> None:
        """A gift Stripe confirms that only its webhook tells the app about."""
        if customer not in self.payment_methods:
            method = self.stripe_client.v1.payment_methods.create({"type": "card", "card": CARD})
            self.stripe_client.v1.payment_methods.attach(method.id, {"customer": customer})
            self.payment_methods[customer] = method.id
        payment = self.stripe_client.v1.payment_intents.create(
            {"amount": cents, "currency": "aud", "customer": customer,
             "payment_method": self.payment_methods[customer], "payment_method_types": ["card"],
             "confirm": True, "metadata": {"kind": "one_off"}}
        )
        assert payment.status == "succeeded"
        self.payments_made += 1
        self.paid.append(Donation(customer, object_id(payment.latest_charge)))

    def refund(self, donation: Donation) -> None:
        charge = self.stripe_client.v1.charges.retrieve(donation.charge_id)
        left = charge.amount - charge.amount_refunded
        if left <= 0 or donation.charge_id in self.disputed:
            return
        cents = left if self.random.random() < 0.5 else self.random.randint(1, left)
        self.stripe_client.v1.refunds.create({"charge": donation.charge_id, "amount": cents})
        # localstripe sends no charge.refunded: send it as Stripe would, the charge as it now is.
        self.chaos.send_signed_event("charge.refunded", self.stripe_client.v1.charges.retrieve(donation.charge_id).to_dict())

    def dispute(self, donation: Donation) -> None:
        """localstripe has no disputes: the closed dispute exists only as Stripe's event."""
        if donation.charge_id in self.disputed:
            return
        charge = self.stripe_client.v1.charges.retrieve(donation.charge_id)
        left = charge.amount - charge.amount_refunded
        if left <= 0:
            return
        lost = self.random.random() < 0.6
        closed_at = self.chaos.send_signed_event(
            "charge.dispute.closed",
            {"id": f"dp_{uuid.uuid4().hex[:14]}", "object": "dispute", "charge": donation.charge_id,
             "amount": left, "currency": "aud", "status": "lost" if lost else "won", "created": int(time.time())},
        )
        self.disputed[donation.charge_id] = (left if lost else 0, closed_at)

    def cancel(self, subscription_id: str) -> None:
        self.stripe_client.v1.subscriptions.cancel(subscription_id)

    def run(self, payments: int, *, first_donor: int = 0) -> None:
        donors = max(8, payments // 5)
        for n in range(first_donor, first_donor + donors):
            yearly = self.random.random() < 0.3
            amount, other = self.random.choice(ANNUAL_CHOICES) if yearly else (self.random.choice(["2600", "5000"]), "")
            self.give_through_the_pages(f"chaos{n}@example.com", amount, other, "yearly" if yearly else "once")
        mine = [self.customers[f"chaos{n}@example.com"] for n in range(first_donor, first_donor + donors)]
        for _ in range(payments - donors):
            self.give_in_stripe(self.random.choice(mine), self.random.choice(ONE_OFF_CENTS))
        recent = [d for d in self.paid if d.customer in mine]
        for donation in self.random.sample(recent, k=max(1, len(recent) * 15 // 100)):
            self.refund(donation)
        for donation in self.random.sample(recent, k=max(1, len(recent) * 6 // 100)):
            self.dispute(donation)
        subscriptions = [s for s in self.subscriptions if self.stripe_client.v1.subscriptions.retrieve(s).customer in mine]
        for subscription_id in self.random.sample(subscriptions, k=len(subscriptions) * 3 // 10):
            self.cancel(subscription_id)

    # --- Stripe's own objects -------------------------------------------------------------

    def _post_localstripe(self, path: str, body: dict) -> dict:
        return self._post_localstripe_static(self.localstripe_url, path, body)

    @staticmethod
    def _post_localstripe_static(localstripe_url: str, path: str, body: dict) -> dict:
        request = urllib.request.Request(localstripe_url + path, data=json.dumps(body).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def _one_off_charge(self, customer: str) -> str:
        """The charge of a donor's first and only gift so far."""
        [charge] = self.stripe_client.v1.charges.list({"customer": customer, "limit": 100}).data
        return charge.id

    def stripe_truth(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """What Stripe says was paid (by ledger key) and each annual gift, for our donors."""
        payments: dict[str, dict] = {}
        subscriptions: dict[str, dict] = {}
        for customer in self.customers.values():
            # localstripe leaves a charge's `invoice` empty: the invoices name their charges.
            invoices = {
                object_id(invoice.charge): invoice
                for invoice in self.stripe_client.v1.invoices.list({"customer": customer, "limit": 100}).data
                if invoice.status == "paid" and invoice.charge
            }
            for charge in self.stripe_client.v1.charges.list({"customer": customer, "limit": 100}).data:
                if charge.status != "succeeded":
                    continue
                taken_back = [
                    (when(refund.created), refund.amount)
                    for refund in self.stripe_client.v1.refunds.list({"charge": charge.id, "limit": 100}).data
                ]
                lost, closed_at = self.disputed.get(charge.id, (0, None))
                if lost:
                    taken_back.append((when(closed_at), lost))
                if charge.id in invoices:
                    invoice = invoices[charge.id]
                    key, paid_at = invoice.id, when(invoice.status_transitions.paid_at)
                else:
                    key, paid_at = object_id(charge.payment_intent), when(charge.created)
                payments[key] = {"customer": customer, "amount": charge.amount, "taken_back": tuple(taken_back), "paid_at": paid_at}
            for subscription in self.stripe_client.v1.subscriptions.list({"customer": customer, "status": "all"}).data:
                subscriptions[subscription.id] = {
                    "customer": customer,
                    "status": subscription.status,
                    "yearly": subscription.plan.amount * (subscription.quantity or 1),
                    "period_end": when(subscription.current_period_end),
                    "started_at": when(subscription.start_date),
                    "ended_at": when(subscription.ended_at),
                }
        return payments, subscriptions

    # --- comparing --------------------------------------------------------------------------

    def divergences(self) -> list[str]:
        """Every way the app's ledger, annual gifts and Sight+ answers differ from Stripe and the oracle."""
        payments, subscriptions = self.stripe_truth()
        found: list[str] = []
        with self.app.app_context():
            entries = {
                e.stripe_object_id: e
                for e in db.session.scalars(select(LedgerEntry).where(LedgerEntry.customer_id.in_(self.customers.values())))
            }
            for key, paid in payments.items():
                entry = entries.pop(key, None)
                if entry is None:
                    found.append(f"{key}: paid in Stripe, missing from the ledger")
                    continue
                ours = (entry.amount_cents, entry.refunded_cents, entry.paid_at,
                        sorted((a.occurred_at, a.amount_cents) for a in entry.adjustments))
                taken_back = min(paid["amount"], sum(cents for _, cents in paid["taken_back"]))
                theirs = (paid["amount"], taken_back, paid["paid_at"], sorted(paid["taken_back"]))
                if ours != theirs:
                    found.append(f"{key}: ledger (amount, refunded, paid_at, refunds and lost disputes) {ours} but Stripe {theirs}")
            found += [f"{key}: in the ledger, not paid in Stripe" for key in entries]
            ours_by_id = {
                s.stripe_subscription_id: s
                for s in db.session.scalars(select(Subscription).where(Subscription.stripe_subscription_id.in_(subscriptions)))
            }
            for sub_id, theirs in subscriptions.items():
                ours = ours_by_id.get(sub_id)
                mine = None if ours is None else (ours.status.value, ours.yearly_amount_cents, ours.current_period_end, ours.started_at, ours.ended_at)
                expected = (theirs["status"], theirs["yearly"], theirs["period_end"], theirs["started_at"], theirs["ended_at"])
                if mine != expected:
                    found.append(f"{sub_id}: annual gift {mine} but Stripe {expected}")
            found += self._status_divergences(payments, subscriptions)
            db.session.remove()
        return found

    def _status_divergences(self, payments: dict, subscriptions: dict) -> list[str]:
        settings = Settings.from_config(self.app.config)
        threshold, grace = settings.threshold_cents, settings.grace_days
        now = datetime.now(timezone.utc)
        found = []
        donors = list(db.session.scalars(select(Donor).where(Donor.stripe_customer_id.in_(self.customers.values()))))
        user_ids = [donor.user_id for donor in donors]
        checks = {}
        for donor in donors:
            seen = [PaymentSeen(p["paid_at"], p["amount"], p["taken_back"]) for p in payments.values() if p["customer"] == donor.stripe_customer_id]
            annual = [
                AnnualGiftSeen(s["status"], s["yearly"], s["period_end"], s["started_at"], s["ended_at"])
                for s in subscriptions.values()
                if s["customer"] == donor.stripe_customer_id
            ]
            for t in instants_worth_checking(seen, annual, now, grace):
                checks.setdefault(t, []).append((donor, expected_at(seen, annual, t, threshold=threshold, grace_days=grace)))
        for t, expectations in checks.items():
            answers = sight_plus_statuses(db.session, user_ids, t, settings=settings)
            for donor, expected in expectations:
                answer = answers[donor.user_id]
                if (answer.is_member, answer.until, answer.cents_needed) != (expected.member, expected.until, expected.cents_needed):
                    found.append(
                        f"{donor.user.email} at {t:%Y-%m-%d %H:%M:%S}: app says {(answer.is_member, answer.until, answer.cents_needed)}, "
                        f"the rule says {(expected.member, expected.until, expected.cents_needed)}"
                    )
        return found
