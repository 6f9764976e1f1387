"""Pages: giving, thanks, Sight+, benefits, the member area, managing an annual gift, the webhook.

Every URL is in `membership.blueprint`; these functions are the views it names.
"""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from membership.benefits import published_benefits
from membership.context import MembershipContext, context_for
from membership.donors import NotYetRecorded, donor_for_user, find_or_create_donor
from membership.giving import (
    CardNotConfirmed,
    cancel_annual_gift,
    change_annual_amount,
    complete_donation,
    confirm_from_stripe,
    current_annual_gift,
    finish_card_update,
    retry_with_new_card,
    scheduled_successor,
    start_card_update,
    start_donation,
)
from membership.forms import OTHER, CancelForm, ChangeAmountForm, ConfirmCardForm, DonateForm
from membership.models import Donation, Donor, GiftKind, LedgerEntry
from membership.status import sight_plus_status_of
from membership.stripe_api import BadSignature, CardDeclined, StripeProblem
from membership.webhook import apply_stored_event, note_failure, store_event
from sight.db import utcnow
from sight.errors import render_error
from sight.extensions import db

log = logging.getLogger("sight.membership")

STRIPE_UNAVAILABLE = "We couldn't reach our payment provider just now. Nothing was charged; please try again in a minute."


def context() -> MembershipContext:
    return context_for(current_app)


def status_of(user_id: int):
    return sight_plus_status_of(db.session, user_id, utcnow(), settings=context().settings)


def _bad_link():
    return render_error(
        404, "That link isn't valid", "The link may be incomplete or too old. Please start again from the donate page."
    )


def _stripe_unavailable(what: str):
    db.session.rollback()
    log.exception("%s failed at Stripe", what)
    return render_error(503, "Our payment provider isn't answering", STRIPE_UNAVAILABLE)


def _donation_from(token: str) -> Donation | None:
    donation_id = context().links.load_donation(token)
    return db.session.get(Donation, donation_id) if donation_id is not None else None


# --- Sight+ and benefits --------------------------------------------------------------


def _render_with_benefits(template: str):
    items = published_benefits(db.session)
    status = status_of(current_user.id) if current_user.is_authenticated else None
    return render_template(
        template,
        benefits=items,
        status=status,
        is_member=bool(status and status.is_member),
        settings=context().settings,
    )


def sight_plus():
    return _render_with_benefits("membership/sight_plus.html")


def benefits():
    return _render_with_benefits("membership/benefits.html")


# --- giving ---------------------------------------------------------------------------


def donate():
    form = DonateForm(settings=context().settings)
    if request.method == "GET":
        form.currency.data = context().settings.currency
        if current_user.is_authenticated:
            form.email.data = form.email.data or current_user.email
            form.name.data = form.name.data or current_user.name
        preset = request.args.get("amount", "")
        if preset in {choice.value for choice in form.amount.choices if choice.value != OTHER}:
            form.amount.data = preset
        if request.args.get("frequency") in ("once", "yearly"):
            form.frequency.data = request.args["frequency"]
    if form.validate_on_submit():
        now = utcnow()
        try:
            donor = find_or_create_donor(db.session, email=form.email.data, name=form.name.data.strip(), now=now)
            donation = start_donation(
                db.session,
                donor=donor,
                kind=GiftKind.recurring if form.frequency.data == "yearly" else GiftKind.one_off,
                amount_cents=form.cents,
                message=(form.message.data or "").strip(),
                ctx=context(),
                now=now,
            )
        except StripeProblem:
            db.session.rollback()
            log.exception("Starting a donation failed at Stripe")
            flash(STRIPE_UNAVAILABLE, "error")
        else:
            db.session.commit()
            return redirect(url_for("membership.pay", token=context().links.donation_token(donation.id)))
    return render_template("membership/donate.html", form=form, settings=context().settings)


def _render_pay(donation: Donation, token: str, card_error: str | None = None, payment_secret: str | None = None):
    client_secret = None
    if payment_secret is None:
        client_secret = context().gateway.retrieve_setup_intent(donation.setup_intent_id).client_secret
    return render_template(
        "membership/pay.html",
        donation=donation,
        token=token,
        form=ConfirmCardForm(),
        client_secret=client_secret,
        payment_secret=payment_secret,
        card_error=card_error,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
    )


def pay(token: str):
    donation = _donation_from(token)
    if donation is None:
        return _bad_link()
    if donation.status.value == "completed":
        return redirect(url_for("membership.thanks", token=token))
    form = ConfirmCardForm()
    try:
        if not form.validate_on_submit():
            return _render_pay(donation, token)
        try:
            outcome = complete_donation(db.session, context(), donation, utcnow())
        except CardDeclined as declined:
            db.session.rollback()
            retry_with_new_card(db.session, context().gateway, donation)
            db.session.commit()
            return _render_pay(donation, token, card_error=str(declined))
        except CardNotConfirmed:
            db.session.rollback()
            return _render_pay(donation, token, card_error="Please enter your card details, then press the button.")
        db.session.commit()
        if outcome.action_client_secret:
            return _render_pay(donation, token, payment_secret=outcome.action_client_secret)
        return redirect(url_for("membership.thanks", token=token))
    except StripeProblem:
        return _stripe_unavailable(f"Completing donation {donation.id}")


def thanks(token: str):
    donation = _donation_from(token)
    if donation is None:
        return _bad_link()
    try:
        confirm_from_stripe(db.session, context(), donation, utcnow())
        db.session.commit()
    except (StripeProblem, NotYetRecorded):
        # The webhook records it as soon as Stripe confirms; the page says it is on its way.
        db.session.rollback()
    return render_template(
        "membership/thanks.html",
        donation=donation,
        status=status_of(donation.donor.user_id),
        settings=context().settings,
    )


# --- the member area ------------------------------------------------------------------


@login_required
def account():
    donor = donor_for_user(db.session, current_user.id)
    entries = sorted(donor.entries, key=lambda e: e.paid_at, reverse=True) if donor else []
    annual = current_annual_gift(db.session, donor) if donor else None
    return render_template(
        "membership/account.html",
        status=status_of(current_user.id),
        entries=entries,
        annual=annual,
        manage_url=url_for("membership.manage", token=context().links.manage_token(donor.id)) if donor else None,
        settings=context().settings,
    )


@login_required
def receipt(entry_id: int):
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None or entry.donor.user_id != current_user.id:
        abort(404)
    return render_template("membership/receipt.html", entry=entry, donor_user=entry.donor.user)


# --- managing an annual gift with a signed link ---------------------------------------


def _donor_from(token: str) -> Donor | None:
    donor_id = context().links.load_manage(token)
    donor = db.session.get(Donor, donor_id) if donor_id is not None else None
    # A closed account's links die with it.
    return donor if donor is not None and donor.user.closed_at is None else None


def _render_manage(donor: Donor, token: str, cancel_form=None, amount_form=None, status_code=200):
    annual = current_annual_gift(db.session, donor)
    successor = scheduled_successor(db.session, annual) if annual else None
    return (
        render_template(
            "membership/manage.html",
            donor=donor,
            token=token,
            annual=annual,
            successor=successor,
            status=status_of(donor.user_id),
            cancel_form=cancel_form or CancelForm(),
            amount_form=amount_form or ChangeAmountForm(settings=context().settings),
            settings=context().settings,
        ),
        status_code,
    )


def manage(token: str):
    donor = _donor_from(token)
    if donor is None:
        return _bad_link()
    return _render_manage(donor, token)


def _manage_action(token: str, action):
    donor = _donor_from(token)
    if donor is None:
        return _bad_link()
    annual = current_annual_gift(db.session, donor)
    if annual is None:
        flash("You have no annual gift to change.", "info")
        return redirect(url_for("membership.manage", token=token))
    try:
        return action(donor, annual)
    except StripeProblem:
        return _stripe_unavailable(f"Managing the annual gift of donor {donor.id}")


def manage_cancel(token: str):
    def action(donor, annual):
        form = CancelForm()
        if not form.validate_on_submit():
            return _render_manage(donor, token, cancel_form=form, status_code=400)
        cancel_annual_gift(db.session, context().gateway, annual, utcnow())
        db.session.commit()
        flash("Your annual gift will not renew. Thank you for your support this year.", "success")
        return redirect(url_for("membership.manage", token=token))

    return _manage_action(token, action)


def manage_amount(token: str):
    def action(donor, annual):
        form = ChangeAmountForm(settings=context().settings)
        if not form.validate_on_submit():
            return _render_manage(donor, token, amount_form=form, status_code=400)
        change_annual_amount(db.session, context().gateway, annual, form.cents, utcnow())
        db.session.commit()
        flash("Your new amount will be charged from your next renewal.", "success")
        return redirect(url_for("membership.manage", token=token))

    return _manage_action(token, action)


def manage_card(token: str):
    def action(donor, annual):
        form = ConfirmCardForm()
        if form.validate_on_submit():
            try:
                finish_card_update(context().gateway, donor, request.form.get("setup_intent", ""))
            except CardNotConfirmed:
                flash("Your card was not saved. Please try again.", "error")
            else:
                flash("Your new card will be used from your next renewal.", "success")
                return redirect(url_for("membership.manage", token=token))
        client_secret = start_card_update(db.session, context().gateway, donor, utcnow())
        return render_template(
            "membership/card.html",
            token=token,
            form=form,
            client_secret=client_secret,
            publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
            stripe_js_url=current_app.config["STRIPE_JS_URL"],
        )

    return _manage_action(token, action)


# --- the Stripe webhook ---------------------------------------------------------------


def stripe_webhook():
    body = request.get_data()
    try:
        event = context().gateway.verify_event(
            body,
            request.headers.get("Stripe-Signature"),
            current_app.config["STRIPE_WEBHOOK_SECRET"],
            current_app.config.get("STRIPE_WEBHOOK_TOLERANCE", 300),
        )
        event_id = event["id"]
        if not isinstance(event_id, str) or not isinstance(event.get("data", {}).get("object"), dict):
            raise BadSignature("not an event")
    except (BadSignature, KeyError, AttributeError):
        return {"error": "invalid signature or body"}, 400
    live_key = current_app.config["STRIPE_SECRET_KEY"].startswith(("sk_live_", "rk_live_"))
    if bool(event.get("livemode")) != live_key:
        return {"status": "ignored", "reason": "livemode does not match our key"}, 200

    now = utcnow()
    store_event(db.session, event, body.decode("utf-8", "replace"), now)
    db.session.commit()
    try:
        outcome = apply_stored_event(db.session, context(), event_id, now)
        db.session.commit()
    except NotYetRecorded as exc:
        db.session.rollback()
        note_failure(db.session, event_id, f"not yet recorded: {exc}")
        db.session.commit()
        return {"status": "retry", "reason": str(exc)}, 409
    except Exception as exc:
        db.session.rollback()
        log.exception("Applying Stripe event %s failed", event_id)
        note_failure(db.session, event_id, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        return {"status": "error"}, 500
    return {"status": outcome}, 200
