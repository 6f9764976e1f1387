"""Every URL of the membership package, in one place: the pages donors and readers see, the
Stripe webhook, and the staff pages (each behind `staff_required`)."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import login_required

from accounts.models import normalize_email
from accounts.roles import staff_required
from membership import staff_views, views, year_views
from sight.extensions import csrf, limiter

bp = Blueprint("membership", __name__)


def _email_key() -> str:
    return "donate-email:" + normalize_email(request.form.get("email", ""))[:320]


def _started(response) -> bool:
    return response.status_code == 302


def limit_starts(view):
    """Every POST counts against the address; only gifts actually started count against an email."""
    by_address = limiter.limit(lambda: current_app.config["DONATE_RATE_LIMIT"], methods=["POST"])
    by_email = limiter.limit(
        lambda: current_app.config["DONATE_EMAIL_RATE_LIMIT"], methods=["POST"], key_func=_email_key,
        deduct_when=_started,
    )
    return by_address(by_email(view))


def _public(rule: str, view, methods=("GET",)) -> None:
    bp.add_url_rule(rule, view_func=view, methods=list(methods))


_guarded: dict = {}


def _staff(rule: str, view, methods=("GET",), **options) -> None:
    # One guarded function per view, so that a view with two URLs keeps one endpoint.
    guarded = _guarded.setdefault(view, staff_required(view))
    bp.add_url_rule(rule, endpoint=view.__name__, view_func=guarded, methods=list(methods), **options)


# Sight+ and its benefits
_public("/sight-plus", views.sight_plus)
_public("/sight-plus/benefits", views.benefits)

# Giving: the form (its starts limited per address and per email), the card, the thank-you page
_public("/donate", limit_starts(views.donate), ("GET", "POST"))
_public("/donate/pay/<token>", views.pay, ("GET", "POST"))
_public("/donate/thanks/<token>", views.thanks)

# A lapse reminder's "no more reminders" link
_public("/sight-plus/reminders/stop/<token>", year_views.stop_reminders, ("GET", "POST"))

# The member area (signed in)
bp.add_url_rule("/account", view_func=login_required(views.account))
bp.add_url_rule("/account/receipts/<int:entry_id>", endpoint="receipt", view_func=login_required(views.receipt))
bp.add_url_rule("/account/statements/<int:year>", endpoint="statement", view_func=login_required(year_views.statement))
bp.add_url_rule(
    "/account/statements/<int:year>.pdf", endpoint="statement_pdf", view_func=login_required(year_views.statement_pdf)
)

# Managing an annual gift with the signed link from a receipt or reminder
_public("/manage/<token>", views.manage)
_public("/manage/<token>/cancel", views.manage_cancel, ("POST",))
_public("/manage/<token>/resume", views.manage_resume, ("POST",))
_public("/manage/<token>/amount", views.manage_amount, ("POST",))
_public("/manage/<token>/new-link", views.manage_new_link, ("POST",))
_public("/manage/<token>/card", views.manage_card, ("GET", "POST"))

# Stripe's webhook: signed by Stripe, so no CSRF token
_public("/stripe/webhook", csrf.exempt(views.stripe_webhook), ("POST",))

# Staff: members, grants, receipts, reconcile, benefits
_staff("/staff/members", staff_views.staff_members)
_staff("/staff/members/export.csv", staff_views.staff_members_export)
_staff("/staff/members/<int:user_id>", staff_views.staff_member)
_staff("/staff/members/<int:user_id>/grant", staff_views.staff_member_grant, ("POST",))
_staff("/staff/members/<int:user_id>/grants/<int:grant_id>/revoke", staff_views.staff_member_revoke, ("POST",))
_staff("/staff/members/<int:user_id>/receipts/<int:entry_id>/resend", staff_views.staff_member_resend, ("POST",))
_staff("/staff/members/reconcile", staff_views.staff_reconcile)
_staff("/staff/members/reconcile", staff_views.staff_reconcile_repair, ("POST",))
_staff("/staff/members/statements", year_views.staff_statements)
_staff("/staff/members/retention", year_views.staff_retention)
_staff("/staff/members/retention.csv", year_views.staff_retention_export)
_staff("/staff/benefits", staff_views.staff_benefits)
_staff("/staff/benefits/new", staff_views.staff_benefit, ("GET", "POST"), defaults={"benefit_id": None})
_staff("/staff/benefits/<int:benefit_id>", staff_views.staff_benefit, ("GET", "POST"))
