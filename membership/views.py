"""Pages: giving, thanks, Sight+, benefits, the member area, managing an annual gift, the webhook."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from membership.donations import (
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
from membership.forms import (
    OTHER,
    BenefitForm,
    CancelForm,
    ChangeAmountForm,
    ConfirmCardForm,
    DonateForm,
)
from membership.links import Links
from membership.models import Benefit, Donation, Donor, GiftKind, LedgerEntry
from membership.operations import (
    BENEFIT_FIELDS,
    NotYetRecorded,
    Settings,
    donor_for_user,
    find_or_create_donor,
    save_benefit,
)
from membership.status import status_for_user
from membership.stripe_api import BadSignature, CardDeclined, StripeGateway, StripeProblem
from membership.webhooks import apply_stored_event, note_failure, store_event
from accounts.roles import staff_required
from sight.db import utcnow
from sight.errors import render_error
from sight.extensions import csrf, db

bp = Blueprint("membership", __name__)
log = logging.getLogger("sight.membership")

STRIPE_UNAVAILABLE = "We couldn't reach our payment provider just now. Nothing was charged; please try again in a minute."


def gateway() -> StripeGateway:
    app = current_app._get_current_object()
    if "sight_stripe" not in app.extensions:
        app.extensions["sight_stripe"] = StripeGateway(
            app.config["STRIPE_SECRET_KEY"], app.config["STRIPE_API_BASE"]
        )
    return app.extensions["sight_stripe"]


def settings() -> Settings:
    return Settings.from_config(current_app.config)


def links() -> Links:
    return Links(current_app.config["SECRET_KEY"], current_app.config["PUBLIC_URL"])


def status_of(user_id: int):
    s = settings()
    return status_for_user(
        db.session, user_id, utcnow(), threshold_cents=s.threshold_cents, grace_days=s.grace_days
    )


def _bad_link():
    return render_error(
        404, "That link isn't valid", "The link may be incomplete or too old. Please start again from the donate page."
    )


def _stripe_unavailable(what: str):
    db.session.rollback()
    log.exception("%s failed at Stripe", what)
    return render_error(503, "Our payment provider isn't answering", STRIPE_UNAVAILABLE)


def _donation_from(token: str) -> Donation | None:
    donation_id = links().load_donation(token)
    return db.session.get(Donation, donation_id) if donation_id is not None else None


# --- Sight+ and benefits --------------------------------------------------------------


def _render_with_benefits(template: str):
    items = db.session.scalars(
        select(Benefit).where(Benefit.published.is_(True)).order_by(Benefit.position, Benefit.id)
    ).all()
    status = status_of(current_user.id) if current_user.is_authenticated else None
    return render_template(
        template,
        benefits=items,
        status=status,
        is_member=bool(status and status.is_member),
        settings=settings(),
    )


@bp.get("/sight-plus")
def sight_plus():
    return _render_with_benefits("membership/sight_plus.html")


@bp.get("/sight-plus/benefits")
def benefits():
    return _render_with_benefits("membership/benefits.html")


# --- giving ---------------------------------------------------------------------------


@bp.route("/donate", methods=["GET", "POST"])
def donate():
    form = DonateForm(settings=settings())
    if request.method == "GET":
        form.currency.data = settings().currency
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
                gateway(),
                donor=donor,
                kind=GiftKind.recurring if form.frequency.data == "yearly" else GiftKind.one_off,
                amount_cents=form.cents,
                message=(form.message.data or "").strip(),
                settings=settings(),
                now=now,
            )
        except StripeProblem:
            db.session.rollback()
            log.exception("Starting a donation failed at Stripe")
            flash(STRIPE_UNAVAILABLE, "error")
        else:
            db.session.commit()
            return redirect(url_for("membership.pay", token=links().donation_token(donation.id)))
    return render_template("membership/donate.html", form=form, settings=settings())


def _render_pay(donation: Donation, token: str, card_error: str | None = None, payment_secret: str | None = None):
    client_secret = None
    if payment_secret is None:
        client_secret = gateway().retrieve_setup_intent(donation.setup_intent_id).client_secret
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


@bp.route("/donate/pay/<token>", methods=["GET", "POST"])
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
            outcome = complete_donation(db.session, gateway(), donation, settings(), links(), utcnow())
        except CardDeclined as declined:
            db.session.rollback()
            retry_with_new_card(db.session, gateway(), donation)
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


@bp.get("/donate/thanks/<token>")
def thanks(token: str):
    donation = _donation_from(token)
    if donation is None:
        return _bad_link()
    try:
        confirm_from_stripe(db.session, gateway(), donation, settings(), links(), utcnow())
        db.session.commit()
    except (StripeProblem, NotYetRecorded):
        # The webhook records it as soon as Stripe confirms; the page says it is on its way.
        db.session.rollback()
    return render_template(
        "membership/thanks.html",
        donation=donation,
        status=status_of(donation.donor.user_id),
        settings=settings(),
    )


# --- the member area ------------------------------------------------------------------


@bp.get("/account")
@login_required
def account():
    donor = donor_for_user(db.session, current_user.id)
    entries = (
        db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.donor_id == donor.id).order_by(LedgerEntry.paid_at.desc())
        ).all()
        if donor
        else []
    )
    annual = current_annual_gift(db.session, donor) if donor else None
    return render_template(
        "membership/account.html",
        status=status_of(current_user.id),
        entries=entries,
        annual=annual,
        manage_url=url_for("membership.manage", token=links().manage_token(donor.id)) if donor else None,
        settings=settings(),
    )


@bp.get("/account/receipts/<int:entry_id>")
@login_required
def receipt(entry_id: int):
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None or entry.donor.user_id != current_user.id:
        abort(404)
    return render_template("membership/receipt.html", entry=entry, donor_user=entry.donor.user)


# --- managing an annual gift with a signed link ---------------------------------------


def _donor_from(token: str) -> Donor | None:
    donor_id = links().load_manage(token)
    return db.session.get(Donor, donor_id) if donor_id is not None else None


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
            amount_form=amount_form or ChangeAmountForm(settings=settings()),
            settings=settings(),
        ),
        status_code,
    )


@bp.get("/manage/<token>")
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


@bp.post("/manage/<token>/cancel")
def manage_cancel(token: str):
    def action(donor, annual):
        form = CancelForm()
        if not form.validate_on_submit():
            return _render_manage(donor, token, cancel_form=form, status_code=400)
        cancel_annual_gift(db.session, gateway(), annual, utcnow())
        db.session.commit()
        flash("Your annual gift will not renew. Thank you for your support this year.", "success")
        return redirect(url_for("membership.manage", token=token))

    return _manage_action(token, action)


@bp.post("/manage/<token>/amount")
def manage_amount(token: str):
    def action(donor, annual):
        form = ChangeAmountForm(settings=settings())
        if not form.validate_on_submit():
            return _render_manage(donor, token, amount_form=form, status_code=400)
        change_annual_amount(db.session, gateway(), annual, form.cents, utcnow())
        db.session.commit()
        flash("Your new amount will be charged from your next renewal.", "success")
        return redirect(url_for("membership.manage", token=token))

    return _manage_action(token, action)


@bp.route("/manage/<token>/card", methods=["GET", "POST"])
def manage_card(token: str):
    def action(donor, annual):
        form = ConfirmCardForm()
        if form.validate_on_submit():
            try:
                finish_card_update(gateway(), donor, request.form.get("setup_intent", ""))
            except CardNotConfirmed:
                flash("Your card was not saved. Please try again.", "error")
            else:
                flash("Your new card will be used from your next renewal.", "success")
                return redirect(url_for("membership.manage", token=token))
        client_secret = start_card_update(db.session, gateway(), donor, utcnow())
        return render_template(
            "membership/card.html",
            token=token,
            form=form,
            client_secret=client_secret,
            publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
            stripe_js_url=current_app.config["STRIPE_JS_URL"],
        )

    return _manage_action(token, action)


# --- staff: benefits ------------------------------------------------------------------


@bp.get("/staff/benefits")
@staff_required
def staff_benefits():
    items = db.session.scalars(select(Benefit).order_by(Benefit.position, Benefit.id)).all()
    return render_template("membership/staff_benefits.html", benefits=items)


@bp.route("/staff/benefits/new", methods=["GET", "POST"], defaults={"benefit_id": None})
@bp.route("/staff/benefits/<int:benefit_id>", methods=["GET", "POST"])
@staff_required
def staff_benefit(benefit_id: int | None):
    benefit = db.session.get(Benefit, benefit_id) if benefit_id is not None else None
    if benefit_id is not None and benefit is None:
        abort(404)
    form = BenefitForm(obj=benefit)
    if form.validate_on_submit():
        values = {name: form[name].data for name in BENEFIT_FIELDS}
        benefit = save_benefit(db.session, benefit, values=values, actor=current_user, now=utcnow())
        db.session.commit()
        flash(f"Saved “{benefit.title}”.", "success")
        return redirect(url_for("membership.staff_benefits"))
    return render_template("membership/staff_benefit.html", form=form, benefit=benefit)


# --- the Stripe webhook ---------------------------------------------------------------


@bp.post("/stripe/webhook")
@csrf.exempt
def stripe_webhook():
    body = request.get_data()
    try:
        event = gateway().verify_event(
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
        outcome = apply_stored_event(db.session, gateway(), event_id, settings(), links(), now)
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
