"""Pages: giving, thanks, Sight+, benefits, the member area, managing an annual gift, the webhook.

Every URL is in `membership.blueprint`; these functions are the views it names.
"""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from membership.benefits import published_benefits
from membership.context import MembershipContext, context_for
from membership.donors import NotYetRecorded, donor_for_user
from membership.giving import (
    CardNotConfirmed,
    ChargeOutcome,
    changed_since_shown,
    GiftInHand,
    GiftJustChanged,
    RENEWING,
    ManageRefused,
    annual_for_action,
    annual_state,
    begin_donation,
    charge_gift,
    check_authentication,
    claim_annual,
    claim_authenticating,
    claim_donation,
    current_annual_gift,
    fetch_confirmation,
    finish_card_update,
    new_manage_link,
    note_card_setup,
    open_card_setup,
    record_annual_change,
    record_charge,
    record_confirmation,
    release_annual,
    release_claim,
    scheduled_successor,
    start_card_update,
    stripe_cancel,
    stripe_change_amount,
    stripe_resume,
)
from membership.forms import (
    OTHER,
    CancelForm,
    ChangeAmountForm,
    ConfirmCardForm,
    DonateForm,
    ManageCardForm,
    NewLinkForm,
    ResumeForm,
    dollars,
)
from membership.models import Donation, DonationStatus, Donor, GiftKind, LedgerEntry
from membership.outlook import outlook_of
from membership.statements import statement_years
from membership.status import sight_plus_ended_at, sight_plus_status_of
from membership.stripe_api import BadSignature, Refused, StripeProblem
from membership.webhook import MAX_ID, apply_stored_event, event_problem, note_failure, read_stripe, store_event
from sight.captcha import verify_captcha
from sight.db import utcnow
from sight.errors import render_error
from sight.extensions import db

log = logging.getLogger("sight.membership")

STRIPE_UNAVAILABLE = "We couldn't reach our payment provider just now. Nothing was charged; please try again in a minute."


def context() -> MembershipContext:
    return context_for(current_app)


def status_of(user_id: int):
    return sight_plus_status_of(db.session, user_id, utcnow(), settings=context().settings)


def standing_of(user_id: int, annual) -> dict:
    """What a donor's own pages say of their Sight+: the status, the renewal date of an annual gift
    that will renew, and when it ended for an ex-member."""
    status = status_of(user_id)
    renewing = annual is not None and annual_state(annual) == RENEWING
    return {
        "status": status,
        "renews_at": annual.current_period_end if renewing else None,
        "ended_at": None if status.is_member else sight_plus_ended_at(
            db.session, user_id, utcnow(), settings=context().settings
        ),
    }


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


def _donate_captcha() -> bool:
    return bool(current_app.config.get("DONATE_CAPTCHA") and current_app.config.get("CAPTCHA_PROVIDER"))


def _captcha_passed() -> bool:
    config = current_app.config
    token = request.form.get(config["CAPTCHA_FIELD"], "")[:4096]
    return verify_captcha(config["CAPTCHA_VERIFY_URL"], config["CAPTCHA_SECRET_KEY"], token, request.remote_addr)


def donate():
    form = DonateForm(settings=context().settings)
    captcha_error = None
    if request.method == "GET":
        form.currency.data = context().settings.currency
        if current_user.is_authenticated:
            form.email.data = form.email.data or current_user.email
            form.name.data = form.name.data or current_user.name
        preset = request.args.get("amount", "")
        if preset in {choice.value for choice in form.amount.choices if choice.value != OTHER}:
            form.amount.data = preset
        elif preset.isdigit() and context().settings.min_cents <= int(preset) <= context().settings.max_cents:
            # Any other amount in cents (a lapse reminder's shortfall) fills in "Another amount".
            form.amount.data, form.other_amount.data = OTHER, dollars(int(preset))
        form.source.data = request.args.get("source", "")[:80]
        if request.args.get("frequency") in ("once", "yearly"):
            form.frequency.data = request.args["frequency"]
    if form.validate_on_submit() and _donate_captcha() and not _captcha_passed():
        captcha_error = "Please complete the check that you're a person, then press the button again."
    elif form.validate_on_submit():
        ctx, now = context(), utcnow()
        gift = begin_donation(
            db.session,
            email=form.email.data,
            name=form.name.data.strip(),
            kind=GiftKind.recurring if form.frequency.data == "yearly" else GiftKind.one_off,
            amount_cents=form.cents,
            message=(form.message.data or "").strip(),
            ctx=ctx,
            now=now,
            source=form.source.data or None,
        )
        db.session.commit()
        try:
            customer_id, setup_intent_id = open_card_setup(ctx.gateway, gift)
        except StripeProblem:
            log.exception("Starting a donation failed at Stripe")
            flash(STRIPE_UNAVAILABLE, "error")
        else:
            note_card_setup(db.session, gift, customer_id, setup_intent_id)
            db.session.commit()
            return redirect(url_for("membership.pay", token=ctx.links.donation_token(gift.donation_id)))
    return (
        render_template(
            "membership/donate.html", form=form, settings=context().settings,
            captcha=_donate_captcha(), captcha_error=captcha_error,
        ),
        400 if captcha_error else 200,
    )


def _render_pay(
    donation_id: int,
    token: str,
    *,
    card_error: str | None = None,
    payment_secret: str | None = None,
    processing: bool = False,
):
    """The pay page: the card form (a SetupIntent's secret), the bank's check (a PaymentIntent's
    secret), or "we are on it" while another request charges the gift."""
    client_secret = None
    if payment_secret is None and not processing:
        setup_intent_id = db.session.get(Donation, donation_id).setup_intent_id
        db.session.commit()  # no transaction stays open while Stripe answers
        client_secret = context().gateway.retrieve_setup_intent(setup_intent_id).client_secret
    return render_template(
        "membership/pay.html",
        donation=db.session.get(Donation, donation_id),
        token=token,
        form=ConfirmCardForm(),
        client_secret=client_secret,
        payment_secret=payment_secret,
        processing=processing,
        card_error=card_error,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
    )


def _after_charge(donation_id: int, token: str, outcome: ChargeOutcome):
    if outcome.paid:
        return redirect(url_for("membership.thanks", token=token))
    if outcome.action_client_secret:
        return _render_pay(donation_id, token, payment_secret=outcome.action_client_secret)
    if outcome.not_confirmed:
        return _render_pay(donation_id, token, card_error="Please enter your card details, then press the button.")
    if outcome.declined:
        return _render_pay(donation_id, token, card_error=outcome.declined)
    return _render_pay(donation_id, token, processing=True)


def _charge(donation_id: int, token: str):
    """Claim the gift (one request wins), charge it with no transaction open, record the answer."""
    ctx, now = context(), utcnow()
    gift = claim_donation(db.session, donation_id, now)
    db.session.commit()
    if gift is None:
        # Another request is charging it (a double click, a second tab): show how that goes.
        return redirect(url_for("membership.pay", token=token))
    try:
        outcome = charge_gift(ctx.gateway, gift)
    except StripeProblem:
        release_claim(db.session, gift)
        db.session.commit()
        raise
    record_charge(db.session, ctx, gift, outcome, now)
    db.session.commit()
    return _after_charge(donation_id, token, outcome)


def _bank_check(donation_id: int, token: str):
    """A gift waiting for the bank's 3-D Secure check: ask Stripe how it ended."""
    ctx, now = context(), utcnow()
    gift = claim_authenticating(db.session, donation_id, now)
    db.session.commit()
    if gift is None:
        return _render_pay(donation_id, token, processing=True)
    try:
        outcome = check_authentication(ctx.gateway, gift)
    except StripeProblem:
        release_claim(db.session, gift, back_to=DonationStatus.authenticating)
        db.session.commit()
        raise
    record_charge(db.session, ctx, gift, outcome, now)
    db.session.commit()
    return _after_charge(donation_id, token, outcome)


def pay(token: str):
    donation = _donation_from(token)
    if donation is None:
        return _bad_link()
    donation_id, status = donation.id, donation.status
    db.session.commit()
    if status is DonationStatus.completed:
        return redirect(url_for("membership.thanks", token=token))
    try:
        if request.method == "POST" and ConfirmCardForm().validate_on_submit():
            return _charge(donation_id, token)
        if status is DonationStatus.authenticating:
            return _bank_check(donation_id, token)
        if status is DonationStatus.charging:
            return _render_pay(donation_id, token, processing=True)
        return _render_pay(donation_id, token)
    except StripeProblem:
        return _stripe_unavailable(f"Completing donation {donation_id}")


def thanks(token: str):
    donation = _donation_from(token)
    if donation is None:
        return _bad_link()
    ctx, gift, done = context(), GiftInHand.of(donation), donation.status is DonationStatus.completed
    db.session.commit()
    if not done:
        try:
            outcome = fetch_confirmation(ctx.gateway, gift)
            if outcome is not None:
                record_confirmation(db.session, ctx, outcome, utcnow())
                db.session.commit()
        except (StripeProblem, NotYetRecorded):
            # The webhook records it as soon as Stripe confirms; the page says it is on its way.
            db.session.rollback()
    donation = db.session.get(Donation, gift.donation_id)
    return render_template(
        "membership/thanks.html",
        donation=donation,
        status=status_of(gift.user_id),
        settings=ctx.settings,
    )


# --- the member area ------------------------------------------------------------------


def account():
    donor = donor_for_user(db.session, current_user.id)
    entries = sorted(donor.entries, key=lambda e: e.paid_at, reverse=True) if donor else []
    annual = current_annual_gift(db.session, donor) if donor else None
    return render_template(
        "membership/account.html",
        **standing_of(current_user.id, annual),
        outlook=outlook_of(db.session, current_user.id, utcnow(), context().settings),
        statements=statement_years(db.session, current_user.id, current_app.config["DISPLAY_TIMEZONE"],
                                   current_app.config["FINANCIAL_YEAR_START_MONTH"]),
        entries=entries,
        annual=annual,
        manage_url=url_for("membership.manage", token=context().links.manage_token(donor.id, donor.manage_version)) if donor else None,
        settings=context().settings,
    )


def receipt(entry_id: int):
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None or entry.donor.user_id != current_user.id:
        abort(404)
    return render_template("membership/receipt.html", entry=entry, donor_user=entry.donor.user)


# --- managing an annual gift with a signed link ---------------------------------------


def _donor_from(token: str) -> Donor | None:
    """The donor a manage link belongs to, while that link is the newest and the account is open."""
    loaded = context().links.load_manage(token)
    if loaded is None:
        return None
    donor_id, version = loaded
    donor = db.session.get(Donor, donor_id)
    if donor is None or donor.manage_version != version or donor.user.closed_at is not None:
        return None
    return donor


def _stale_link_just_used(token: str, form) -> bool:
    """A form from a link that a change of a moment ago retired (the other tabs of a cancel)."""
    loaded = context().links.load_manage(token)
    donor = db.session.get(Donor, loaded[0]) if loaded else None
    if donor is None or donor.user.closed_at is not None:
        return False
    return changed_since_shown(db.session, donor.id, form.gift_id, form.gift_version, utcnow())


def _dead_link():
    return render_error(
        404,
        "That link doesn't work any more",
        "Links to manage an annual gift stop working when the gift is cancelled, when a new link is "
        "sent, and when the account is closed. The newest link is in your most recent email from us.",
    )


def _render_manage(donor: Donor, token: str, forms: dict | None = None, status_code=200, refusal: str | None = None):
    annual = current_annual_gift(db.session, donor)
    successor = scheduled_successor(db.session, annual) if annual else None
    forms = forms or {}

    def form(action: str, make):
        # A form sent back with its errors keeps what was posted; the others show the gift as it is now.
        return forms.get(action) or (make().shown(annual) if annual else make())

    return (
        render_template(
            "membership/manage.html",
            donor=donor,
            token=token,
            annual=annual,
            state=annual_state(annual),
            successor=successor,
            **standing_of(donor.user_id, annual),
            refusal=refusal,
            cancel_form=form("cancel", CancelForm),
            resume_form=form("resume", ResumeForm),
            amount_form=form("amount", lambda: ChangeAmountForm(settings=context().settings)),
            new_link_form=NewLinkForm(),
            settings=context().settings,
        ),
        status_code,
    )


def _just_changed(token: str):
    db.session.rollback()
    return render_template("membership/just_changed.html", token=token), 409


def manage(token: str):
    donor = _donor_from(token)
    if donor is None:
        return _dead_link()
    return _render_manage(donor, token)


def _claim(token: str, donor: Donor, action: str, form):
    """Claim the gift exactly as the form showed it; commit the claim before Stripe is called."""
    annual = claim_annual(db.session, donor, action, gift_id=form.gift_id, version=form.gift_version, now=utcnow())
    db.session.commit()
    return annual


def _manage_change(token: str, action: str, form, stripe_change, done: str, **record):
    """Check the link and the form; claim the gift (one request of any number wins); call Stripe
    with no transaction open; write what Stripe said, let go of the gift and confirm by email."""
    donor = _donor_from(token)
    if donor is None:
        return _just_changed(token) if _stale_link_just_used(token, form) else _dead_link()
    if not form.validate_on_submit():
        return _render_manage(donor, token, forms={action: form}, status_code=400)
    try:
        annual = _claim(token, donor, action, form)
    except ManageRefused as refused:
        db.session.rollback()
        return _render_manage(donor, token, status_code=409, refusal=str(refused))
    except GiftJustChanged:
        return _just_changed(token)
    ctx, now = context(), utcnow()
    try:
        results = stripe_change(ctx.gateway, annual)
    except StripeProblem:
        db.session.rollback()
        release_annual(db.session, annual)
        db.session.commit()
        return _stripe_unavailable(f"Managing the annual gift of donor {annual.donor_id}")
    # Values the form gave once it validated (e.g. the new amount) are read now.
    values = {name: value() for name, value in record.items()}
    subscription = record_annual_change(db.session, ctx, annual, action, results, now, **values)
    db.session.commit()
    flash(done, "success")
    donor = subscription.donor
    return redirect(url_for("membership.manage", token=ctx.links.manage_token(donor.id, donor.manage_version)))


def manage_cancel(token: str):
    return _manage_change(
        token, "cancel", CancelForm(), stripe_cancel,
        "Your annual gift will not renew. Thank you for your support this year. We've emailed you a link to resume it.",
    )


def manage_resume(token: str):
    return _manage_change(token, "resume", ResumeForm(), stripe_resume, "Your annual gift will renew. Thank you!")


def manage_amount(token: str):
    form = ChangeAmountForm(settings=context().settings)

    def change(gateway, annual):
        return stripe_change_amount(gateway, annual, form.cents)

    return _manage_change(
        token, "amount", form, change, "Your new amount will be charged from your next renewal.",
        amount_cents=lambda: form.cents,
    )


def manage_new_link(token: str):
    donor = _donor_from(token)
    if donor is None:
        return _dead_link()
    if not NewLinkForm().validate_on_submit():
        return _render_manage(donor, token, status_code=400)
    new_manage_link(db.session, context(), donor, utcnow())
    db.session.commit()
    return render_template("membership/new_link_sent.html")


def _save_card(token: str, donor: Donor, form: ManageCardForm):
    """The submit of the card page: claim the gift, make the confirmed card the default, confirm by email."""
    ctx = context()
    try:
        annual = _claim(token, donor, "card", form)
    except ManageRefused as refused:
        db.session.rollback()
        return _render_manage(donor, token, status_code=409, refusal=str(refused))
    except GiftJustChanged:
        return _just_changed(token)
    try:
        finish_card_update(ctx.gateway, annual, request.form.get("setup_intent", ""))
    except (CardNotConfirmed, StripeProblem) as problem:
        release_annual(db.session, annual)
        db.session.commit()
        if isinstance(problem, StripeProblem):
            return _stripe_unavailable(f"Updating the card of donor {annual.donor_id}")
        flash("Your card was not saved. Please try again.", "error")
        return redirect(url_for("membership.manage_card", token=token))
    record_annual_change(db.session, ctx, annual, "card", [], utcnow())
    db.session.commit()
    flash("Your new card will be used from your next renewal.", "success")
    return redirect(url_for("membership.manage", token=token))


def manage_card(token: str):
    donor = _donor_from(token)
    form = ManageCardForm()
    if donor is None:
        stale = request.method == "POST" and _stale_link_just_used(token, form)
        return _just_changed(token) if stale else _dead_link()
    if form.validate_on_submit():
        return _save_card(token, donor, form)
    try:
        annual = annual_for_action(db.session, donor, "card")
    except ManageRefused as refused:
        return _render_manage(donor, token, status_code=409, refusal=str(refused))
    form.gift.data, form.version.data = annual.gift_id, annual.version
    db.session.commit()
    try:
        client_secret = start_card_update(context().gateway, annual)
    except StripeProblem:
        return _stripe_unavailable(f"Updating the card of donor {annual.donor_id}")
    return render_template(
        "membership/card.html",
        token=token,
        form=form,
        client_secret=client_secret,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
    )


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
        if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID or "\x00" in event_id:
            raise BadSignature("not an event id")
        if not isinstance(event.get("data", {}).get("object"), dict):
            raise BadSignature("not an event")
    except (BadSignature, KeyError, AttributeError, TypeError):
        return {"error": "invalid signature or body"}, 400
    live_key = current_app.config["STRIPE_SECRET_KEY"].startswith(("sk_live_", "rk_live_"))
    if bool(event.get("livemode")) != live_key:
        return {"status": "ignored", "reason": "livemode does not match our key"}, 200

    now, ctx = utcnow(), context()
    processed = store_event(db.session, event, body.decode("utf-8", "replace"), now).processed_at is not None
    db.session.commit()
    problem = event_problem(event)
    if problem:
        note_failure(db.session, event_id, problem)
        db.session.commit()
        return {"error": problem}, 400
    if processed:
        return {"status": "duplicate"}, 200
    try:
        # Stripe is read before the transaction that applies the event begins.
        facts = read_stripe(ctx.gateway, event["type"], event["data"]["object"])
        outcome = apply_stored_event(db.session, ctx, event_id, facts, now)
        db.session.commit()
    except NotYetRecorded as exc:
        db.session.rollback()
        note_failure(db.session, event_id, f"not yet recorded: {exc}")
        db.session.commit()
        return {"status": "retry", "reason": str(exc)}, 409
    except Refused as exc:
        # The event names something Stripe will not give us: a retry cannot succeed.
        db.session.rollback()
        note_failure(db.session, event_id, f"Stripe refused to read it: {exc}")
        db.session.commit()
        return {"error": "Stripe refused to read what the event names"}, 400
    except Exception as exc:
        db.session.rollback()
        log.exception("Applying Stripe event %s failed", event_id)
        note_failure(db.session, event_id, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        return {"status": "error"}, 500
    return {"status": outcome}, 200
