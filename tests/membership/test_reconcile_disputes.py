"""Disputes found by reconcile from the charges themselves, with no webhook about them.

The cardholder's bank is played by the test localstripe's test-only `/_test/disputes` routes;
the app reads the disputes through Stripe's own `GET /v1/disputes?charge=…`.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from membership import sight_plus_at
from membership.context import context_for
from membership.models import AdjustmentKind, Donor, LedgerAdjustment, LedgerEntry
from membership.reconcile import reconcile as reconcile_with_stripe
from sight.config import DEV_STRIPE_SECRET_KEY
from sight.db import utcnow
from sight.extensions import db


def bank(localstripe_url: str, path: str, form: dict) -> dict:
    """What the cardholder's bank does to a charge, as the test localstripe lets a test say it."""
    request = urllib.request.Request(
        f"{localstripe_url}/_test/disputes{path}",
        data=json.dumps(form).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {DEV_STRIPE_SECRET_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@dataclass(frozen=True)
class Gift:
    user_id: int
    payment_intent_id: str
    charge_id: str
    since: datetime  # just before it was given


def gift_and_its_charge(app, give, stripe_client, email: str) -> Gift:
    """A one-off gift of $26 made through the app's pages, with no webhook about it or after it.

    The test localstripe serves the whole session, so each reconcile here looks only from this
    gift on (Stripe's times are whole seconds: a second apart is unmistakably apart).
    """
    time.sleep(1.1)
    since = utcnow()
    give("2600", email=email)
    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry))
        gift = Gift(db.session.get(Donor, entry.donor_id).user_id, entry.payment_intent_id, entry.charge_id, since)
    assert stripe_client.v1.charges.retrieve(gift.charge_id).payment_intent == gift.payment_intent_id
    time.sleep(1.1)  # so that the dispute is unmistakably after the gift
    return gift


def reconcile(app, gift: Gift, *, dry_run: bool = False) -> str:
    """The reconcile `flask stripe reconcile` runs, from this test's gift on: its report's lines."""
    with app.app_context():
        report = reconcile_with_stripe(
            db.session, context_for(app), since=gift.since, now=utcnow(), dry_run=dry_run
        )
    assert not report.failures, report.lines
    return "\n".join([*report.lines, report.summary(), *report.month_lines()])


def time_closed(stripe_client, gift: Gift, dispute_id: str) -> datetime:
    """When Stripe's `charge.dispute.closed` event (delivered to no one here) says it closed."""
    events = stripe_client.v1.events.list({"type": "charge.dispute.closed", "created": {"gte": int(gift.since.timestamp())}})
    [closed] = [e for e in events.data if e.data.object.id == dispute_id]
    return datetime.fromtimestamp(closed.created, UTC)


def adjustments(app) -> list[tuple[AdjustmentKind, str, int, datetime]]:
    with app.app_context():
        return [
            (a.kind, a.stripe_object_id, a.amount_cents, a.occurred_at)
            for a in db.session.scalars(select(LedgerAdjustment))
        ]


def net_and_sight_plus(app, gift: Gift) -> tuple[int, bool]:
    """The gift's net today, and whether its donor is Sight+ today."""
    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry))
        return entry.amount_cents - entry.refunded_cents, sight_plus_at(gift.user_id, utcnow())


def sight_plus_then(app, gift: Gift, t: datetime) -> bool:
    with app.app_context():
        return sight_plus_at(gift.user_id, t)


def test_the_test_stripe_keeps_disputes_as_stripe_shows_them(app, give, stripe_client, localstripe_url):
    gift = gift_and_its_charge(app, give, stripe_client, "shapes@example.com")
    assert stripe_client.v1.charges.retrieve(gift.charge_id).disputed is False

    opened = bank(localstripe_url, "", {"charge": gift.charge_id, "reason": "fraudulent"})
    listed = stripe_client.v1.disputes.list({"charge": gift.charge_id, "limit": 1})
    assert [d.id for d in listed.data] == [opened["id"]] and listed.has_more is False
    dispute = stripe_client.v1.disputes.retrieve(opened["id"])
    assert dispute.id.startswith("dp_") and dispute.object == "dispute"
    assert (dispute.amount, dispute.currency) == (2600, "aud")
    assert (dispute.charge, dispute.payment_intent) == (gift.charge_id, gift.payment_intent_id)
    assert (dispute.status, dispute.reason) == ("needs_response", "fraudulent")
    assert stripe_client.v1.charges.retrieve(gift.charge_id).disputed is True
    # Stripe's pagination, a page at a time, newest first, as the app's lists walk it.
    page, seen = stripe_client.v1.disputes.list({"limit": 1}), []
    while True:
        seen += [d.id for d in page.data]
        if not page.has_more:
            break
        page = stripe_client.v1.disputes.list({"limit": 1, "starting_after": page.data[-1].id})
    assert seen[0] == opened["id"] and len(seen) == len(set(seen))
    # The verdict changes the dispute, never the charge's refunds: Stripe counts a lost dispute apart.
    bank(localstripe_url, f"/{opened['id']}/close", {"status": "lost"})
    assert stripe_client.v1.disputes.retrieve(opened["id"]).status == "lost"
    assert stripe_client.v1.charges.retrieve(gift.charge_id).amount_refunded == 0


def test_a_lost_dispute_no_webhook_told_of_is_recorded_by_reconcile_once(app, give, stripe_client, localstripe_url):
    gift = gift_and_its_charge(app, give, stripe_client, "lost@example.com")
    assert net_and_sight_plus(app, gift) == (2600, True)

    dispute = bank(localstripe_url, "", {"charge": gift.charge_id})
    # An open dispute decides nothing yet: staff read of it, and what it needs, with the ledger unchanged.
    respond_by = datetime.fromtimestamp(stripe_client.v1.disputes.retrieve(dispute["id"]).evidence_details.due_by, UTC)
    opened = reconcile(app, gift)
    assert (f"dispute {dispute['id']} of $26 on charge {gift.charge_id} is open "
            f"(needs a response by {respond_by.day} {respond_by:%B %Y})") in opened
    assert "lost@example.com" in opened and "Recorded" not in opened
    assert adjustments(app) == []
    time.sleep(1.1)  # the verdict comes later than the dispute
    bank(localstripe_url, f"/{dispute['id']}/close", {"status": "lost"})
    lost_at = time_closed(stripe_client, gift, dispute["id"])

    dry = reconcile(app, gift, dry_run=True)
    assert f"Would record a lost dispute of $26 on {gift.payment_intent_id}" in dry
    assert "1 difference(s) would be repaired, 0 failure(s)." in dry
    assert adjustments(app) == []
    assert net_and_sight_plus(app, gift) == (2600, True)

    real = reconcile(app, gift)
    assert f"Recorded a lost dispute of $26 on {gift.payment_intent_id}" in real
    assert "1 difference(s) repaired, 0 failure(s)." in real
    # Lost when Stripe said so, as a webhook would have dated it (the dispute's `created` is its opening).
    assert lost_at > datetime.fromtimestamp(dispute["created"], UTC)
    assert adjustments(app) == [(AdjustmentKind.dispute_lost, dispute["id"], 2600, lost_at)]
    assert net_and_sight_plus(app, gift) == (0, False)
    # History stays true: until the loss the donor was Sight+, while the dispute was open too.
    assert sight_plus_then(app, gift, lost_at - timedelta(seconds=1))

    again = reconcile(app, gift)
    assert "dispute" not in again and "repaired" not in again
    assert adjustments(app) == [(AdjustmentKind.dispute_lost, dispute["id"], 2600, lost_at)]
    assert net_and_sight_plus(app, gift) == (0, False)


def test_a_won_dispute_changes_nothing(app, give, stripe_client, localstripe_url):
    gift = gift_and_its_charge(app, give, stripe_client, "won@example.com")
    dispute = bank(localstripe_url, "", {"charge": gift.charge_id})
    bank(localstripe_url, f"/{dispute['id']}/close", {"status": "won"})

    output = reconcile(app, gift)
    assert "dispute" not in output and "repaired" not in output
    assert adjustments(app) == []
    assert net_and_sight_plus(app, gift) == (2600, True)


def test_a_partial_refund_then_a_lost_dispute_are_both_found_on_the_charge(app, give, stripe_client, localstripe_url):
    gift = gift_and_its_charge(app, give, stripe_client, "both@example.com")
    refund = stripe_client.v1.refunds.create({"charge": gift.charge_id, "amount": 1000})
    dispute = bank(localstripe_url, "", {"charge": gift.charge_id})
    assert dispute["amount"] == 1600  # what is left of the charge
    bank(localstripe_url, f"/{dispute['id']}/close", {"status": "lost"})

    output = reconcile(app, gift)
    assert f"Recorded $10 refunded on {gift.payment_intent_id}" in output
    assert f"Recorded a lost dispute of $16 on {gift.payment_intent_id}" in output
    assert set(adjustments(app)) == {
        (AdjustmentKind.refund, refund.id, 1000, datetime.fromtimestamp(refund.created, UTC)),
        (AdjustmentKind.dispute_lost, dispute["id"], 1600, time_closed(stripe_client, gift, dispute["id"])),
    }
    assert net_and_sight_plus(app, gift) == (0, False)
    assert "dispute" not in reconcile(app, gift)


def test_a_lost_dispute_the_webhook_brought_is_dated_alike_and_reconcile_leaves_it(
    app, give, stripe_client, localstripe_url, live_server, localstripe_webhook
):
    gift = gift_and_its_charge(app, give, stripe_client, "told@example.com")
    localstripe_webhook(live_server)
    dispute = bank(localstripe_url, "", {"charge": gift.charge_id})
    time.sleep(1.1)  # the verdict comes later than the dispute
    bank(localstripe_url, f"/{dispute['id']}/close", {"status": "lost"})
    lost_at = time_closed(stripe_client, gift, dispute["id"])
    expected = [(AdjustmentKind.dispute_lost, dispute["id"], 2600, lost_at)]

    deadline = time.monotonic() + 10
    while adjustments(app) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert adjustments(app) == expected

    output = reconcile(app, gift)
    assert "dispute" not in output and "repaired" not in output
    assert adjustments(app) == expected
    assert net_and_sight_plus(app, gift) == (0, False)
