"""The only module that imports `stripe`: everything else sees plain values.

Only calls and parameters that both Stripe and localstripe accept are used, so one code path
runs in production and, unchanged, in development and tests. Where the two shape an object
differently (newer Stripe API versions moved fields), the readers below accept either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import click


PLAN_PRODUCT_NAME = "Sight annual gift"

# The one Stripe API version this app speaks and reads: every request says it, and `flask doctor`
# fails while webhook events of another version arrive. It is the version localstripe serves (its
# events say so), so that development and tests read what production reads. Moving to another
# version is in the README ("Stripe API version").
STRIPE_API_VERSION = "2017-08-15"


class StripeProblem(Exception):
    """Stripe could not be reached or refused the request for a reason that is not the card's."""


class StripeUnreachable(StripeProblem, click.ClickException):
    """Stripe (localstripe, in development) did not answer at all. A ClickException too, so that
    every `flask` command says so in one line and exits with status 1, never a traceback."""

    def __init__(self, api_base: str, detail: str):
        # "[Errno 111] Connection refused" rather than the SDK's paragraph around it.
        reason = re.search(r"\[Errno -?\d+\] ([^\]\)\"']+)", detail)
        super().__init__(
            f"Stripe cannot be reached at {api_base} ({reason.group(1).strip() if reason else 'no answer'}). "
            "In development: is `make run` running (it starts localstripe)? Otherwise check STRIPE_API_BASE."
        )


class CardDeclined(Exception):
    """The card was declined; the message is Stripe's and is safe to show the donor."""


class Refused(StripeProblem):
    """Stripe refused the request itself (a 4xx that is not the card's): trying again will not help."""


class NotFound(Refused):
    pass


class BadSignature(Exception):
    """A webhook body whose signature, timestamp or JSON does not check out."""


def _time(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(int(epoch), UTC)


def _id(value) -> str | None:
    """An expandable field: localstripe sends the object, Stripe the id."""
    if value is None or isinstance(value, str):
        return value
    return value["id"]


def _get(obj, key, default=None):
    try:
        value = obj[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


@dataclass(frozen=True)
class SetupResult:
    id: str
    status: str
    client_secret: str
    customer: str | None
    payment_method: str | None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentResult:
    id: str
    status: str
    amount_cents: int
    currency: str
    customer: str | None
    client_secret: str | None
    charge_id: str | None
    invoice_id: str | None
    paid_at: datetime | None
    metadata: dict = field(default_factory=dict)
    error_message: str | None = None
    error_code: str | None = None


@dataclass(frozen=True)
class InvoiceResult:
    id: str
    status: str
    amount_paid_cents: int
    amount_due_cents: int
    currency: str
    customer: str | None
    subscription_id: str | None
    payment_intent_id: str | None
    charge_id: str | None
    paid_at: datetime | None
    period_end: datetime | None


@dataclass(frozen=True)
class SubscriptionResult:
    id: str
    status: str
    customer: str
    yearly_amount_cents: int
    currency: str
    current_period_end: datetime
    cancel_at_period_end: bool
    latest_invoice_id: str | None
    metadata: dict = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def ended_early(self) -> bool:
        """Cancelled before the end of the year paid for (not simply run to its end)."""
        return (
            self.status == "canceled"
            and self.ended_at is not None
            and self.ended_at < self.current_period_end - timedelta(hours=1)
        )


@dataclass(frozen=True)
class ChargeResult:
    id: str
    amount_cents: int
    amount_refunded_cents: int
    currency: str
    customer: str | None
    payment_intent_id: str | None
    invoice_id: str | None
    status: str = "succeeded"
    created: datetime | None = None
    disputed: bool = False
    payment_method: str | None = None


@dataclass(frozen=True)
class RefundResult:
    id: str
    amount_cents: int
    status: str
    created: datetime
    charge_id: str | None = None


@dataclass(frozen=True)
class DisputeResult:
    id: str
    charge_id: str
    amount_cents: int
    status: str
    created: datetime
    # The last day to answer an open dispute with evidence (Stripe's `evidence_details.due_by`).
    respond_by: datetime | None = None


def _setup(obj) -> SetupResult:
    return SetupResult(
        id=obj["id"],
        status=obj["status"],
        client_secret=obj["client_secret"],
        customer=_id(_get(obj, "customer")),
        payment_method=_id(_get(obj, "payment_method")),
        metadata=dict(_get(obj, "metadata", {})),
    )


def _payment(obj) -> PaymentResult:
    charge = _get(obj, "latest_charge")
    error = _get(obj, "last_payment_error")
    status = obj["status"]
    paid_at = None
    if status == "succeeded":
        # The charge's time when it came expanded; otherwise the intent's.
        paid_at = _time(_get(charge, "created")) or _time(obj["created"])
    return PaymentResult(
        id=obj["id"],
        status=status,
        amount_cents=int(obj["amount"]),
        currency=obj["currency"],
        customer=_id(_get(obj, "customer")),
        client_secret=_get(obj, "client_secret"),
        charge_id=_id(charge),
        invoice_id=_id(_get(obj, "invoice")),
        paid_at=paid_at,
        metadata=dict(_get(obj, "metadata", {})),
        error_message=_get(error, "message"),
        error_code=_get(error, "code"),
    )


def _invoice(obj) -> InvoiceResult:
    subscription = _get(obj, "subscription") or _get(
        _get(_get(obj, "parent"), "subscription_details"), "subscription"
    )
    transitions = _get(obj, "status_transitions", {})
    return InvoiceResult(
        id=obj["id"],
        status=obj["status"],
        amount_paid_cents=int(_get(obj, "amount_paid", 0)),
        amount_due_cents=int(_get(obj, "amount_due", 0)),
        currency=obj["currency"],
        customer=_id(_get(obj, "customer")),
        subscription_id=_id(subscription),
        payment_intent_id=_id(_get(obj, "payment_intent")),
        charge_id=_id(_get(obj, "charge")),
        paid_at=_time(_get(transitions, "paid_at")) if obj["status"] == "paid" else None,
        period_end=_time(_get(obj, "period_end")),
    )


def _subscription(obj) -> SubscriptionResult:
    items = _get(_get(obj, "items"), "data", [])
    item = items[0] if items else {}
    plan = _get(item, "plan") or _get(obj, "plan") or {}
    period_end = _get(obj, "current_period_end") or _get(item, "current_period_end")
    return SubscriptionResult(
        id=obj["id"],
        status=obj["status"],
        customer=_id(obj["customer"]),
        yearly_amount_cents=int(_get(plan, "amount", 0)) * int(_get(item, "quantity", 1)),
        currency=_get(plan, "currency", ""),
        current_period_end=_time(period_end),
        cancel_at_period_end=bool(_get(obj, "cancel_at_period_end", False)),
        latest_invoice_id=_id(_get(obj, "latest_invoice")),
        metadata=dict(_get(obj, "metadata", {})),
        started_at=_time(_get(obj, "start_date")),
        ended_at=_time(_get(obj, "ended_at")),
    )


def _charge(obj) -> ChargeResult:
    return ChargeResult(
        id=obj["id"],
        amount_cents=int(obj["amount"]),
        amount_refunded_cents=int(_get(obj, "amount_refunded", 0)),
        currency=obj["currency"],
        customer=_id(_get(obj, "customer")),
        payment_intent_id=_id(_get(obj, "payment_intent")),
        invoice_id=_id(_get(obj, "invoice")),
        status=_get(obj, "status", "succeeded"),
        created=_time(_get(obj, "created")),
        disputed=bool(_get(obj, "disputed", False)),
        payment_method=_id(_get(obj, "payment_method")),
    )


def _refund(obj) -> RefundResult:
    return RefundResult(id=obj["id"], amount_cents=int(obj["amount"]), status=_get(obj, "status", "succeeded"),
                        created=_time(obj["created"]), charge_id=_id(_get(obj, "charge")))


def dispute_from(obj, closed_at: datetime | None = None) -> DisputeResult:
    """A dispute object (from the API, or a charge.dispute.closed event's payload)."""
    return DisputeResult(
        id=obj["id"],
        charge_id=_id(obj["charge"]),
        amount_cents=int(obj["amount"]),
        status=obj["status"],
        created=closed_at or _time(obj["created"]),
        respond_by=_time(_get(_get(obj, "evidence_details") or {}, "due_by")),
    )


def plan_id_for(amount_cents: int, currency: str) -> str:
    """One plan per yearly amount, reused by every donor who gives it."""
    return f"sight-annual-{currency}-{amount_cents}"


class StripeGateway:
    def __init__(self, secret_key: str, api_base: str):
        # Imported on first use: the SDK (with its HTTP clients) is a fifth of an app's memory,
        # and processes that never call Stripe (an export, a mail run) need not carry it.
        import stripe

        self.api_base = api_base
        self.client = stripe.StripeClient(
            secret_key, base_addresses={"api": api_base}, max_network_retries=2, stripe_version=STRIPE_API_VERSION
        )
        self.v1 = self.client.v1

    def _call(self, method, *args, **kwargs):
        import stripe

        try:
            result = method(*args, **kwargs)
        except stripe.CardError as exc:
            raise CardDeclined(exc.user_message or "Your card was declined.") from exc
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise NotFound(str(exc)) from exc
            if exc.http_status and 400 <= exc.http_status < 500 and exc.http_status != 429:
                raise Refused(str(exc)) from exc
            raise StripeProblem(str(exc)) from exc
        except stripe.APIConnectionError as exc:
            raise StripeUnreachable(self.api_base, str(exc)) from exc
        except stripe.StripeError as exc:
            raise StripeProblem(str(exc)) from exc
        # Plain dicts from here on: nothing outside this module sees a StripeObject.
        return result.to_dict()

    @staticmethod
    def _key(key: str | None) -> dict:
        return {"idempotency_key": key} if key else {}

    # --- customers and cards -----------------------------------------------------------

    def create_customer(self, *, user_id: int, idempotency_key: str) -> str:
        """A Customer that names no one: Stripe copies a Customer's name and email into every
        invoice it finalises (and never lets them change), and we send our own receipts."""
        customer = self._call(
            self.v1.customers.create, {"metadata": {"user_id": str(user_id)}}, self._key(idempotency_key)
        )
        return customer["id"]

    def scrub_customer(self, customer: str) -> None:
        """Remove the person from a Customer whose account closed; its payments stay for the accounts."""
        self._call(self.v1.customers.update, customer, {"name": "", "email": "", "phone": "", "description": ""})

    def forget_cards(self, customer: str, setup_intent_ids: Iterable[str] = ()) -> None:
        """Empty the billing details (name, email, phone) of every card of the Customer, then detach
        it: a detached card keeps its billing details, and no call can reach it afterwards. Stripe
        attaches each card confirmed for the Customer and lists them; localstripe attaches none.
        So the cards are also found where both name them: the Customer's default for invoices,
        each of its charges, and each SetupIntent of `setup_intent_ids` (a card never charged)."""
        listed = self._list(self.v1.payment_methods.list, {"customer": customer, "type": "card"})
        cards = {card["id"] for card in listed}
        settings = _get(self._call(self.v1.customers.retrieve, customer), "invoice_settings", {})
        cards.add(_id(_get(settings, "default_payment_method")))
        cards.update(_id(_get(charge, "payment_method")) for charge in self._list(self.v1.charges.list, {"customer": customer}))
        for setup_intent_id in setup_intent_ids:
            with suppress(NotFound):
                cards.add(self.retrieve_setup_intent(setup_intent_id).payment_method)
        # Stripe updates and detaches attached cards only: it refuses both for a card this (or an
        # earlier, interrupted) pass has already emptied and detached.
        for card in sorted(cards - {None}):
            with suppress(Refused):
                self._call(self.v1.payment_methods.update, card, {"billing_details": {"name": "", "email": "", "phone": ""}})
                self._call(self.v1.payment_methods.detach, card)

    def delete_customer(self, customer: str) -> None:
        """For a Customer that never paid: nothing of it is needed for the accounts."""
        self._call(self.v1.customers.delete, customer)

    def create_setup_intent(self, *, customer: str, metadata: dict, idempotency_key: str) -> SetupResult:
        return _setup(
            self._call(
                self.v1.setup_intents.create,
                {
                    "customer": customer,
                    "payment_method_types": ["card"],
                    "usage": "off_session",
                    "metadata": metadata,
                },
                self._key(idempotency_key),
            )
        )

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupResult:
        return _setup(self._call(self.v1.setup_intents.retrieve, setup_intent_id))

    def set_default_card(self, *, customer: str, payment_method: str) -> None:
        self._call(
            self.v1.customers.update,
            customer,
            {"invoice_settings": {"default_payment_method": payment_method}},
        )

    # --- one-off gifts -----------------------------------------------------------------

    def charge_card(
        self,
        *,
        customer: str,
        payment_method: str,
        amount_cents: int,
        currency: str,
        metadata: dict,
        idempotency_key: str,
    ) -> PaymentResult:
        """Create and confirm a PaymentIntent with a card the donor has just confirmed in Stripe.js."""
        return _payment(
            self._call(
                self.v1.payment_intents.create,
                {
                    "amount": amount_cents,
                    "currency": currency,
                    "customer": customer,
                    "payment_method": payment_method,
                    "payment_method_types": ["card"],
                    "confirm": True,
                    "metadata": metadata,
                    "expand": ["latest_charge"],
                },
                self._key(idempotency_key),
            )
        )

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentResult:
        return _payment(
            self._call(
                self.v1.payment_intents.retrieve, payment_intent_id, {"expand": ["latest_charge"]}
            )
        )

    # --- annual gifts ------------------------------------------------------------------

    def ensure_plan(self, amount_cents: int, currency: str) -> str:
        plan_id = plan_id_for(amount_cents, currency)
        try:
            self._call(self.v1.plans.retrieve, plan_id)
            return plan_id
        except NotFound:
            pass
        try:
            self._call(
                self.v1.plans.create,
                {
                    "id": plan_id,
                    "amount": amount_cents,
                    "currency": currency,
                    "interval": "year",
                    "product": {"name": PLAN_PRODUCT_NAME},
                },
            )
        except StripeProblem:
            # Another request created it first; anything else fails on this retrieve.
            self._call(self.v1.plans.retrieve, plan_id)
        return plan_id

    def create_subscription(
        self,
        *,
        customer: str,
        plan_id: str,
        metadata: dict,
        idempotency_key: str,
        starts_at: datetime | None = None,
    ) -> SubscriptionResult:
        params = {"customer": customer, "items": [{"plan": plan_id}], "metadata": metadata}
        if starts_at is not None:
            # Nothing is charged until then: used to change the amount from the next renewal.
            params["trial_end"] = int(starts_at.timestamp())
        return _subscription(
            self._call(self.v1.subscriptions.create, params, self._key(idempotency_key))
        )

    def retrieve_subscription(self, subscription_id: str) -> SubscriptionResult:
        return _subscription(self._call(self.v1.subscriptions.retrieve, subscription_id))

    def live_subscriptions(self) -> Iterator[SubscriptionResult]:
        """Every subscription Stripe still renews, retries or has scheduled (not cancelled)."""
        params: dict = {"limit": 100}
        page = self._call(self.v1.subscriptions.list, params)
        while True:
            yield from map(_subscription, page["data"])
            if not page["has_more"] or not page["data"]:
                return
            page = self._call(self.v1.subscriptions.list, {**params, "starting_after": page["data"][-1]["id"]})

    def customer_subscriptions(self, customer: str) -> list[SubscriptionResult]:
        page = self._call(self.v1.subscriptions.list, {"customer": customer, "limit": 100})
        return [_subscription(obj) for obj in page["data"]]

    def change_subscription_plan(self, subscription_id: str, plan_id: str, *, idempotency_key: str) -> SubscriptionResult:
        current = self._call(self.v1.subscriptions.retrieve, subscription_id)
        item_id = current["items"]["data"][0]["id"]
        return _subscription(
            self._call(
                self.v1.subscriptions.update,
                subscription_id,
                {"items": [{"id": item_id, "plan": plan_id}]},
                self._key(idempotency_key),
            )
        )

    def set_cancel_at_period_end(
        self, subscription_id: str, cancel: bool, *, idempotency_key: str | None = None
    ) -> SubscriptionResult:
        return _subscription(
            self._call(
                self.v1.subscriptions.update,
                subscription_id,
                {"cancel_at_period_end": cancel},
                self._key(idempotency_key),
            )
        )

    def cancel_subscription_now(self, subscription_id: str, *, idempotency_key: str | None = None) -> SubscriptionResult:
        return _subscription(self._call(self.v1.subscriptions.cancel, subscription_id, {}, self._key(idempotency_key)))

    def retrieve_invoice(self, invoice_id: str) -> InvoiceResult:
        return _invoice(self._call(self.v1.invoices.retrieve, invoice_id))

    def retrieve_charge(self, charge_id: str) -> ChargeResult:
        return _charge(self._call(self.v1.charges.retrieve, charge_id))

    def refunds_of_charge(self, charge_id: str) -> list[RefundResult]:
        return [_refund(r) for r in self._list(self.v1.refunds.list, {"charge": charge_id})]

    def disputes_of_charge(self, charge_id: str) -> list[DisputeResult]:
        return [dispute_from(d) for d in self._list(self.v1.disputes.list, {"charge": charge_id})]

    # --- reconciliation ----------------------------------------------------------------

    def _list(self, method, params: dict) -> Iterator[dict]:
        params = {"limit": 100, **params}
        page = self._call(method, params)
        while True:
            yield from page["data"]
            if not page["has_more"] or not page["data"]:
                return
            page = self._call(method, {**params, "starting_after": page["data"][-1]["id"]})

    def charges_since(self, since: datetime | None) -> Iterator[ChargeResult]:
        """Every charge from `since`: the payments themselves, which Stripe keeps for good."""
        # "gt" a second before rather than "gte": localstripe filters charges by "gt" only.
        params = {"created": {"gt": int(since.timestamp()) - 1}} if since is not None else {}
        return (_charge(c) for c in self._list(self.v1.charges.list, params))

    def refunds_since(self, since: datetime | None) -> list[RefundResult]:
        """Every refund made from `since`, whatever charge it takes back."""
        params = {"created": {"gte": int(since.timestamp())}} if since is not None else {}
        return [_refund(r) for r in self._list(self.v1.refunds.list, params)]

    def disputes_since(self, since: datetime | None) -> list[DisputeResult]:
        """Every dispute opened from `since`."""
        params = {"created": {"gte": int(since.timestamp())}} if since is not None else {}
        return [dispute_from(d) for d in self._list(self.v1.disputes.list, params)]

    def charges_of_customer(self, customer: str, since: datetime) -> Iterator[ChargeResult]:
        """The Customer's charges from `since` (both Stripe and localstripe filter charges by customer)."""
        params = {"customer": customer, "created": {"gt": int(since.timestamp()) - 1}}
        return (_charge(c) for c in self._list(self.v1.charges.list, params))

    def events_since(self, since: datetime | None) -> Iterator[dict]:
        params = {"created": {"gte": int(since.timestamp())}} if since is not None else {}
        return self._list(self.v1.events.list, params)

    def verify_event(self, payload: bytes, signature: str | None, secret: str, tolerance: int) -> dict:
        import stripe

        try:
            event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=tolerance)
        except (ValueError, TypeError, AttributeError, stripe.SignatureVerificationError) as exc:
            raise BadSignature(str(exc)) from exc
        return event.to_dict()
