"""Giving: start a gift, charge it once the browser has confirmed the card, manage annual gifts.

The browser confirms a SetupIntent with the Card Element (Stripe.js or localstripe's stand-in),
so card details never reach us; then the server charges the confirmed card once (a
PaymentIntent) or starts a yearly subscription with it. Both record through the same
idempotent path as the webhook.

One charge per gift: a request first claims the donation with a conditional UPDATE and commits;
only the request that claimed it calls Stripe, with idempotency keys derived from the donation;
what Stripe answered is written in a second transaction. No Stripe call is made while a database
transaction is open (on SQLite that would hold the write lock while the network answers), so
the functions that call Stripe take plain values (`GiftInHand`) and no session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from membership.context import MembershipContext
from membership.donors import find_or_create_donor
from membership.ledger import apply_invoice, apply_payment_intent, sync_subscription
from membership.receipts import queue_change_confirmation, queue_new_link
from membership.models import (
    Donation,
    DonationStatus,
    Donor,
    GiftKind,
    LedgerEntry,
    Subscription,
    SubscriptionStatus,
)
from membership.stripe_api import (
    CardDeclined,
    InvoiceResult,
    PaymentResult,
    StripeGateway,
    SubscriptionResult,
)


class CardNotConfirmed(Exception):
    """The SetupIntent has not succeeded: the browser did not (or could not) confirm the card."""


# How long a request may hold a donation it claimed before another may take it over (a request
# that died half-way). Taking over is safe: every Stripe create carries the same idempotency key.
CLAIM_TIMEOUT = timedelta(minutes=2)


@dataclass(frozen=True)
class GiftInHand:
    """A donation as plain values, so that Stripe can be called with no transaction open."""

    donation_id: int
    donor_id: int
    user_id: int
    kind: GiftKind
    amount_cents: int
    currency: str
    customer_id: str | None
    setup_intent_id: str | None
    payment_intent_id: str | None
    subscription_id: str | None

    @classmethod
    def of(cls, donation: Donation) -> GiftInHand:
        donor = donation.donor
        return cls(
            donation_id=donation.id,
            donor_id=donor.id,
            user_id=donor.user_id,
            kind=donation.kind,
            amount_cents=donation.amount_cents,
            currency=donation.currency,
            customer_id=donor.stripe_customer_id,
            setup_intent_id=donation.setup_intent_id,
            payment_intent_id=donation.payment_intent_id,
            subscription_id=donation.stripe_subscription_id,
        )

    @property
    def metadata(self) -> dict:
        return {"donation_id": str(self.donation_id), "user_id": str(self.user_id), "kind": self.kind.value}


# --- starting a gift: write it, then open a SetupIntent, then note it ----------------


def begin_donation(
    session: Session,
    *,
    email: str,
    name: str,
    kind: GiftKind,
    amount_cents: int,
    message: str | None,
    ctx: MembershipContext,
    now: datetime,
    source: str | None = None,
) -> GiftInHand:
    """Write the gift the donor asked for (and their account, if new); Stripe comes after the commit."""
    donor = find_or_create_donor(session, email=email, name=name, now=now)
    donation = Donation(
        donor_id=donor.id,
        kind=kind,
        amount_cents=amount_cents,
        currency=ctx.settings.currency,
        donor_name=name,
        message=message or None,
        source=source,
        created_at=now,
    )
    session.add(donation)
    session.flush()
    return GiftInHand.of(donation)


def open_card_setup(gateway: StripeGateway, gift: GiftInHand) -> tuple[str, str]:
    """Stripe only: the donor's Customer (made once per donor) and a SetupIntent for this gift.
    Returns (customer id, SetupIntent id)."""
    customer = gift.customer_id or gateway.create_customer(
        user_id=gift.user_id, idempotency_key=f"sight-donor-{gift.donor_id}-customer"
    )
    setup = gateway.create_setup_intent(
        customer=customer,
        metadata={"donation_id": str(gift.donation_id), "kind": gift.kind.value},
        idempotency_key=f"sight-donation-{gift.donation_id}-setup",
    )
    return customer, setup.id


def note_card_setup(session: Session, gift: GiftInHand, customer_id: str, setup_intent_id: str) -> None:
    session.execute(
        update(Donor)
        .where(Donor.id == gift.donor_id, Donor.stripe_customer_id.is_(None))
        .values(stripe_customer_id=customer_id)
    )
    session.execute(
        update(Donation).where(Donation.id == gift.donation_id).values(setup_intent_id=setup_intent_id)
    )


# --- charging a gift: claim it, call Stripe, record what Stripe said -----------------


def claim_donation(session: Session, donation_id: int, now: datetime) -> GiftInHand | None:
    """Take the donation for this request only: one conditional UPDATE, so that of any number of
    concurrent submits exactly one goes on to Stripe. None when another request has it (or it is
    done, or waits for the bank)."""
    claimed = session.execute(
        update(Donation)
        .where(
            Donation.id == donation_id,
            or_(
                Donation.status == DonationStatus.awaiting_card,
                and_(Donation.status == DonationStatus.charging, Donation.claimed_at < now - CLAIM_TIMEOUT),
            ),
        )
        .values(status=DonationStatus.charging, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    donation = session.get(Donation, donation_id, populate_existing=True)
    return GiftInHand.of(donation)


@dataclass(frozen=True)
class ChargeOutcome:
    """What Stripe said about charging a gift; exactly one of the groups below is set."""

    payment: PaymentResult | None = None
    invoice: InvoiceResult | None = None
    subscription: SubscriptionResult | None = None
    # The bank wants the donor to authenticate (3-D Secure) in the browser first.
    action_client_secret: str | None = None
    # Declined or failed authentication: the message for the donor, and a fresh SetupIntent.
    declined: str | None = None
    new_setup_intent_id: str | None = None
    not_confirmed: bool = False

    @property
    def paid(self) -> bool:
        if self.invoice is not None:
            return self.invoice.status == "paid"
        return self.payment is not None and self.payment.status == "succeeded"


def charge_gift(gateway: StripeGateway, gift: GiftInHand) -> ChargeOutcome:
    """Stripe only (no transaction open): charge the card the browser confirmed, once or yearly.
    Every create carries an idempotency key derived from the donation and its SetupIntent."""
    setup = gateway.retrieve_setup_intent(gift.setup_intent_id)
    if setup.status != "succeeded" or not setup.payment_method:
        return ChargeOutcome(not_confirmed=True)
    try:
        if gift.kind is GiftKind.one_off:
            payment = gateway.charge_card(
                customer=gift.customer_id,
                payment_method=setup.payment_method,
                amount_cents=gift.amount_cents,
                currency=gift.currency,
                metadata=gift.metadata,
                idempotency_key=f"sight-donation-{gift.donation_id}-charge-{setup.id}",
            )
            if payment.status == "requires_action":
                return ChargeOutcome(payment=payment, action_client_secret=payment.client_secret)
            if payment.status != "succeeded":
                raise CardDeclined(payment.error_message or "Your card was declined.")
            return ChargeOutcome(payment=payment)

        gateway.set_default_card(customer=gift.customer_id, payment_method=setup.payment_method)
        plan_id = gateway.ensure_plan(gift.amount_cents, gift.currency)
        subscription = gateway.create_subscription(
            customer=gift.customer_id,
            plan_id=plan_id,
            metadata=gift.metadata,
            idempotency_key=f"sight-donation-{gift.donation_id}-subscription-{setup.id}",
        )
        outcome = _subscription_outcome(gateway, subscription)
        if outcome.declined is not None:
            raise CardDeclined(outcome.declined)
        return outcome
    except CardDeclined as declined:
        return _declined(gateway, gift, str(declined))


def _subscription_outcome(gateway: StripeGateway, subscription: SubscriptionResult) -> ChargeOutcome:
    invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
    if invoice.status == "paid":
        return ChargeOutcome(invoice=invoice, subscription=subscription)
    payment = gateway.retrieve_payment_intent(invoice.payment_intent_id) if invoice.payment_intent_id else None
    if payment is not None and payment.status == "requires_action":
        return ChargeOutcome(payment=payment, subscription=subscription, action_client_secret=payment.client_secret)
    if payment is not None and payment.status == "processing":
        return ChargeOutcome(payment=payment, subscription=subscription)
    # Nothing was paid: do not leave an unpaid annual gift behind in Stripe.
    if subscription.status not in ("canceled", "incomplete_expired"):
        gateway.cancel_subscription_now(subscription.id)
    return ChargeOutcome(declined=_payment_failed(payment))


def _declined(gateway: StripeGateway, gift: GiftInHand, message: str) -> ChargeOutcome:
    """Real Stripe will not confirm a used SetupIntent again: the next try gets a fresh one."""
    setup = gateway.create_setup_intent(
        customer=gift.customer_id,
        metadata={"donation_id": str(gift.donation_id), "kind": gift.kind.value},
        idempotency_key=f"sight-donation-{gift.donation_id}-setup-after-{gift.setup_intent_id}",
    )
    return ChargeOutcome(declined=message, new_setup_intent_id=setup.id)


def check_authentication(gateway: StripeGateway, gift: GiftInHand) -> ChargeOutcome:
    """Stripe only: how the bank's check of a gift that waits for it ended, if it has."""
    if gift.kind is GiftKind.one_off:
        payment = gateway.retrieve_payment_intent(gift.payment_intent_id)
        if payment.status in ("succeeded", "processing"):
            return ChargeOutcome(payment=payment)
        if payment.status == "requires_action":
            return ChargeOutcome(payment=payment, action_client_secret=payment.client_secret)
        return _declined(gateway, gift, _authentication_failed(payment))
    outcome = _subscription_outcome(gateway, gateway.retrieve_subscription(gift.subscription_id))
    if outcome.declined is not None:
        return _declined(gateway, gift, outcome.declined)
    return outcome


AUTHENTICATION_FAILED = (
    "Your bank did not confirm this payment, so nothing was charged. Please try again (your bank "
    "will ask you to confirm it), or use another card."
)


def _payment_failed(payment: PaymentResult | None) -> str:
    if payment is not None and payment.error_code == "payment_intent_authentication_failure":
        return AUTHENTICATION_FAILED
    return (payment.error_message if payment else None) or "Your card was declined."


def _authentication_failed(payment: PaymentResult) -> str:
    """Our own words for a failed 3-D Secure check (Stripe's speak of a "PaymentMethod"); a card
    declined after the check passed keeps the bank's reason."""
    if payment.error_code == "payment_intent_authentication_failure" or not payment.error_message:
        return AUTHENTICATION_FAILED
    return payment.error_message


def record_charge(
    session: Session, ctx: MembershipContext, gift: GiftInHand, outcome: ChargeOutcome, now: datetime
) -> LedgerEntry | None:
    """Write down what Stripe said about a claimed gift, and let go of the claim."""
    donation = session.get(Donation, gift.donation_id, populate_existing=True)
    if outcome.paid:
        if outcome.invoice is not None:
            return apply_invoice(session, outcome.invoice, outcome.subscription, ctx, now)
        return apply_payment_intent(session, outcome.payment, ctx, now)
    if donation.status is DonationStatus.completed:
        return None
    if outcome.payment is not None:  # waiting for the bank (or for a payment still processing)
        donation.status = DonationStatus.authenticating
        if outcome.subscription is not None:
            donation.stripe_subscription_id = outcome.subscription.id
        else:
            donation.payment_intent_id = outcome.payment.id
        return None
    donation.status = DonationStatus.awaiting_card
    donation.claimed_at = None
    if outcome.new_setup_intent_id:
        donation.setup_intent_id = outcome.new_setup_intent_id
        donation.payment_intent_id = None
        donation.stripe_subscription_id = None
    return None


def release_claim(session: Session, gift: GiftInHand, back_to: DonationStatus = DonationStatus.awaiting_card) -> None:
    """Stripe did not answer: let the donor (or the next request) try again."""
    session.execute(
        update(Donation)
        .where(Donation.id == gift.donation_id, Donation.status == DonationStatus.charging)
        .values(status=back_to, claimed_at=None)
        .execution_options(synchronize_session=False)
    )


def claim_authenticating(session: Session, donation_id: int, now: datetime) -> GiftInHand | None:
    """Like `claim_donation`, for a gift that waits for the bank: one request looks at how it ended."""
    claimed = session.execute(
        update(Donation)
        .where(Donation.id == donation_id, Donation.status == DonationStatus.authenticating)
        .values(status=DonationStatus.charging, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    return GiftInHand.of(session.get(Donation, donation_id, populate_existing=True))


def fetch_confirmation(gateway: StripeGateway, gift: GiftInHand) -> ChargeOutcome | None:
    """Stripe only: for the thank-you page, what Stripe says about a gift the webhook may not have
    recorded yet (None when nothing was charged yet)."""
    if gift.payment_intent_id:
        return ChargeOutcome(payment=gateway.retrieve_payment_intent(gift.payment_intent_id))
    if gift.subscription_id:
        subscription = gateway.retrieve_subscription(gift.subscription_id)
        if subscription.latest_invoice_id:
            return ChargeOutcome(invoice=gateway.retrieve_invoice(subscription.latest_invoice_id), subscription=subscription)
    return None


def record_confirmation(
    session: Session, ctx: MembershipContext, outcome: ChargeOutcome, now: datetime
) -> LedgerEntry | None:
    if not outcome.paid:
        return None
    if outcome.invoice is not None:
        return apply_invoice(session, outcome.invoice, outcome.subscription, ctx, now)
    return apply_payment_intent(session, outcome.payment, ctx, now)


# --- managing an annual gift ----------------------------------------------------------


def current_annual_gift(session: Session, donor: Donor) -> Subscription | None:
    """The annual gift being paid now (the newest one Stripe still renews or retries)."""
    return session.scalar(
        select(Subscription)
        .where(
            Subscription.donor_id == donor.id,
            Subscription.status.in_([SubscriptionStatus.active, SubscriptionStatus.past_due]),
        )
        .order_by(Subscription.current_period_end.desc(), Subscription.id.desc())
        .limit(1)
    )


def scheduled_successors(session: Session, subscription: Subscription) -> list[Subscription]:
    """The annual gifts scheduled to take over from `subscription` (a new amount from its renewal).
    There is at most one since manage actions are claimed; older races may have left more."""
    return list(
        session.scalars(
            select(Subscription)
            .where(
                Subscription.replaces_stripe_id == subscription.stripe_subscription_id,
                Subscription.status.not_in([SubscriptionStatus.canceled, SubscriptionStatus.incomplete_expired]),
            )
            .order_by(Subscription.id)
        )
    )


def scheduled_successor(session: Session, subscription: Subscription) -> Subscription | None:
    successors = scheduled_successors(session, subscription)
    return successors[0] if successors else None


class ManageRefused(Exception):
    """An action the annual gift's state does not allow; the message is for the donor."""


class GiftJustChanged(Exception):
    """The gift changed (or is being changed by another request) since the form was shown."""


RENEWING, CANCELLED, NO_GIFT = "renewing", "cancelled", "none"
ACTIONS = {RENEWING: {"cancel", "amount", "card"}, CANCELLED: {"resume"}, NO_GIFT: set()}
REFUSALS = {
    CANCELLED: "Your annual gift is cancelled, so it can't be changed. To keep giving, resume it first.",
    NO_GIFT: "You have no annual gift to change.",
}


def annual_state(annual: Subscription | None) -> str:
    """"renewing" (it will renew, perhaps at a new amount), "cancelled" (it ends at the end of the
    year paid for) or "none"."""
    if annual is None:
        return NO_GIFT
    if annual.cancel_at_period_end and not annual.pending_amount_cents:
        return CANCELLED
    return RENEWING


@dataclass(frozen=True)
class AnnualInHand:
    """An annual gift as plain values, so that Stripe can be called with no transaction open."""

    gift_id: int
    stripe_id: str
    donor_id: int
    user_id: int
    customer_id: str
    currency: str
    period_end: datetime
    # The version this request claimed (or, for a page that only shows a form, the one it shows).
    version: int
    successor_stripe_ids: tuple[str, ...]

    def key(self, action: str, part: str = "") -> str:
        """The idempotency key of one Stripe call of one action: from the gift, the action and the
        version claimed, never from what the donor typed or the clock, so a retried call is the
        same call and two different claims are never confused."""
        return f"sight-gift-{self.gift_id}-v{self.version}-{action}" + (f"-{part}" if part else "")

    @classmethod
    def of(cls, session: Session, annual: Subscription) -> AnnualInHand:
        donor = annual.donor
        return cls(
            gift_id=annual.id,
            stripe_id=annual.stripe_subscription_id,
            donor_id=donor.id,
            user_id=donor.user_id,
            customer_id=donor.stripe_customer_id,
            currency=annual.currency,
            period_end=annual.current_period_end,
            version=annual.version,
            successor_stripe_ids=tuple(s.stripe_subscription_id for s in scheduled_successors(session, annual)),
        )


def annual_for_action(session: Session, donor: Donor, action: str) -> AnnualInHand:
    """The donor's current annual gift, if its state allows `action`; ManageRefused otherwise.
    Reads only: a page that shows a form uses it; the form's submit claims the gift."""
    annual = current_annual_gift(session, donor)
    state = annual_state(annual)
    if action not in ACTIONS[state]:
        raise ManageRefused(REFUSALS.get(state, "That change isn't possible any more."))
    return AnnualInHand.of(session, annual)


def claim_annual(
    session: Session, donor: Donor, action: str, *, gift_id: int | None, version: int | None, now: datetime
) -> AnnualInHand:
    """Take the donor's current annual gift for this request only, as the form showed it: one
    conditional UPDATE raises its version, so that of any number of concurrent (or stale) submits
    exactly one goes on to Stripe. GiftJustChanged for the others; ManageRefused when the gift's
    state does not allow the action. The caller commits before calling Stripe."""
    annual = current_annual_gift(session, donor)
    if annual is None:
        raise ManageRefused(REFUSALS[NO_GIFT])
    shown_as_it_is = annual.id == gift_id and annual.version == version
    if not shown_as_it_is and gift_id is not None:
        raise GiftJustChanged()
    if action not in ACTIONS[annual_state(annual)]:
        raise ManageRefused(REFUSALS.get(annual_state(annual), "That change isn't possible any more."))
    if not shown_as_it_is:  # a form that did not come from the page
        raise GiftJustChanged()
    claimed = session.execute(
        update(Subscription)
        .where(
            Subscription.id == gift_id,
            Subscription.version == version,
            or_(Subscription.claimed_at.is_(None), Subscription.claimed_at < now - CLAIM_TIMEOUT),
        )
        .values(version=version + 1, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise GiftJustChanged()
    return AnnualInHand.of(session, session.get(Subscription, gift_id, populate_existing=True))


def changed_since_shown(session: Session, donor_id: int, gift_id: int | None, version: int | None, now: datetime) -> bool:
    """Whether a form showing version `version` of this donor's gift is behind a change made in
    the last moments (cancelling also retires the link, so the other tabs of that moment are told
    the gift just changed rather than that their link is dead)."""
    if gift_id is None or version is None:
        return False
    return session.scalar(
        select(exists().where(
            Subscription.id == gift_id,
            Subscription.donor_id == donor_id,
            Subscription.version > version,
            Subscription.updated_at > now - CLAIM_TIMEOUT,
        ))
    )


def release_annual(session: Session, annual: AnnualInHand) -> None:
    """Stripe did not answer: let go of the gift (its version stays raised, so the form is shown again)."""
    session.execute(
        update(Subscription)
        .where(Subscription.id == annual.gift_id, Subscription.version == annual.version)
        .values(claimed_at=None)
        .execution_options(synchronize_session=False)
    )


def _live_successors_in_stripe(gateway: StripeGateway, annual: AnnualInHand) -> list[str]:
    """Every subscription Stripe holds that replaces this gift and still would charge, recorded
    here or not (a request that died after Stripe answered leaves one we never wrote down)."""
    found = {
        remote.id
        for remote in gateway.customer_subscriptions(annual.customer_id)
        if remote.metadata.get("replaces") == annual.stripe_id and remote.status not in ("canceled", "incomplete_expired")
    }
    return sorted(found | set(annual.successor_stripe_ids))


def stripe_cancel(gateway: StripeGateway, annual: AnnualInHand) -> list[SubscriptionResult]:
    """Stripe only: stop renewing (the year paid for still counts); every scheduled new amount goes too."""
    results = [
        gateway.cancel_subscription_now(successor, idempotency_key=annual.key("cancel", successor))
        for successor in _live_successors_in_stripe(gateway, annual)
    ]
    results.append(gateway.set_cancel_at_period_end(annual.stripe_id, True, idempotency_key=annual.key("cancel")))
    return results


def stripe_resume(gateway: StripeGateway, annual: AnnualInHand) -> list[SubscriptionResult]:
    return [gateway.set_cancel_at_period_end(annual.stripe_id, False, idempotency_key=annual.key("resume"))]


def stripe_change_amount(gateway: StripeGateway, annual: AnnualInHand, amount_cents: int) -> list[SubscriptionResult]:
    """Stripe only: from the next renewal on, give `amount_cents` a year; nothing is charged now.

    The current gift stops renewing and a new one, billed from the renewal date, takes over:
    both Stripe and localstripe support that without prorating a donation. A new amount asked
    for again moves the scheduled gift to it (and any second one an older race left goes).
    """
    plan_id = gateway.ensure_plan(amount_cents, annual.currency)
    successors = _live_successors_in_stripe(gateway, annual)
    if successors:
        keep, *extra = successors
        results = [gateway.change_subscription_plan(keep, plan_id, idempotency_key=annual.key("amount", keep))]
        results += [
            gateway.cancel_subscription_now(other, idempotency_key=annual.key("amount-cancel", other)) for other in extra
        ]
    else:
        results = [
            gateway.create_subscription(
                customer=annual.customer_id,
                plan_id=plan_id,
                metadata={
                    "user_id": str(annual.user_id),
                    "kind": GiftKind.recurring.value,
                    "replaces": annual.stripe_id,
                },
                idempotency_key=annual.key("amount", "successor"),
                starts_at=annual.period_end,
            )
        ]
    results.append(gateway.set_cancel_at_period_end(annual.stripe_id, True, idempotency_key=annual.key("amount")))
    return results


def record_annual_change(
    session: Session,
    ctx: MembershipContext,
    annual: AnnualInHand,
    change: str,
    results: list[SubscriptionResult],
    now: datetime,
    *,
    amount_cents: int | None = None,
) -> Subscription:
    """Write down what Stripe said after a change, and confirm it to the donor by email.
    Cancelling also revokes every manage link sent so far."""
    for result in results:
        sync_subscription(session, result, now)
    subscription = session.get(Subscription, annual.gift_id)
    subscription.claimed_at = None
    donor = subscription.donor
    if change == "cancel":
        subscription.pending_amount_cents = None
        donor.manage_version += 1
    elif change == "amount":
        subscription.pending_amount_cents = amount_cents
    session.flush()
    queue_change_confirmation(session, ctx, subscription, change, now)
    return subscription


def new_manage_link(session: Session, ctx: MembershipContext, donor: Donor, now: datetime) -> None:
    """Revoke every manage link sent so far and email the donor a new one."""
    donor.manage_version += 1
    session.flush()
    queue_new_link(session, ctx, donor, now)


def start_card_update(gateway: StripeGateway, annual: AnnualInHand) -> str:
    """Stripe only: a SetupIntent for a new card; returns its client secret for the Card Element.
    The page shown again for the same version of the gift gets the same SetupIntent."""
    setup = gateway.create_setup_intent(
        customer=annual.customer_id,
        metadata={"kind": "card_update", "user_id": str(annual.user_id)},
        idempotency_key=annual.key("card", "setup"),
    )
    return setup.client_secret


def finish_card_update(gateway: StripeGateway, annual: AnnualInHand, setup_intent_id: str) -> None:
    """Stripe only: make the card the browser just confirmed the one renewals are charged to."""
    if not setup_intent_id.startswith("seti_") or len(setup_intent_id) > 255:
        raise CardNotConfirmed("not a SetupIntent")
    setup = gateway.retrieve_setup_intent(setup_intent_id)
    if setup.status != "succeeded" or setup.customer != annual.customer_id or not setup.payment_method:
        raise CardNotConfirmed(setup.status)
    gateway.set_default_card(customer=annual.customer_id, payment_method=setup.payment_method)
