"""Staff pages: members, their list and CSV, one member, complimentary grants, receipts, reconcile,
and the benefits. Every URL is in `membership.blueprint`; `/staff/` itself is guarded by accounts."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from accounts.models import User
from membership.benefits import BENEFIT_FIELDS, all_benefits, save_benefit
from membership.forms import BenefitForm
from membership.grants import GrantRefused, MemberJustChanged, grant_complimentary, grants_version, revoke_complimentary
from membership.models import Benefit, ComplimentaryGrant, LedgerEntry
from membership.receipts import resend_receipt
from membership.reconcile import reconcile, record_reconcile
from membership.staff_forms import (
    GrantForm,
    MemberExportForm,
    MemberOnDayForm,
    MemberFilterForm,
    ReconcileFilterForm,
    RepairForm,
    ResendReceiptForm,
    RevokeForm,
)
from membership.staff_queries import (
    ENDINGS,
    REASONS,
    account_with_email,
    finish_members_export,
    iter_members,
    member_csv,
    member_detail,
    members_page,
    record_members_export,
    was_member_on_day,
)
from membership.stripe_api import StripeProblem
from membership.views import STRIPE_UNAVAILABLE, context
from membership.webhook import events_of_another_version
from sight.db import read_session, utcnow
from sight.errors import render_error
from sight.extensions import db

log = logging.getLogger("sight.membership")

# Rows are written to the response in chunks of about this size.
CHUNK_BYTES = 64 * 1024


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def _today():
    return utcnow().astimezone(_zone()).date()


# --- the list and the CSV -------------------------------------------------------------


def staff_members():
    form = MemberFilterForm(request.args)
    if not form.validate():
        return render_template("membership/staff/members.html", form=form, page=None), 400
    result = members_page(
        db.session,
        search=form.search,
        status=form.status_filter,
        settings=context().settings,
        now=utcnow(),
        page=form.page.data or 1,
    )
    if result.page > result.pages:
        abort(404)
    account = account_with_email(db.session, form.search) if form.search and not result.total else None
    return render_template(
        "membership/staff/members.html",
        form=form,
        page=result,
        account=account,
        export_form=MemberExportForm(request.args),
        reasons=REASONS,
    )


def staff_members_export():
    form = MemberExportForm(request.args)
    if not form.validate():
        return render_error(
            400,
            "That export can't be made",
            "The filters were not understood. Go back to the members page and try again.",
        )
    now = utcnow()
    audit_id = record_members_export(
        db.session, filters=form.filters(), actor=current_user, now=now
    ).id
    db.session.commit()
    search, status, bom = form.search, form.status_filter, form.bom.data
    app_settings = context().settings

    def generate():
        count = 0
        with read_session(db.engine) as read:
            headers, rows = member_csv(
                iter_members(read, search=search, status=status, settings=app_settings, now=now),
                app_settings.currency,
            )
            buffer = io.StringIO()
            writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            if bom:
                buffer.write("\ufeff")
            writer.writerow(headers)
            # The header goes at once, so that the download starts before the first batch is read.
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            for row in rows:
                writer.writerow(row)
                count += 1
                if buffer.tell() >= CHUNK_BYTES:
                    yield buffer.getvalue().encode("utf-8")
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue().encode("utf-8")
        finish_members_export(db.session, audit_id, count)
        db.session.commit()

    stamp = now.astimezone(_zone()).strftime("%Y-%m-%d")
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="sight-members-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- one member -----------------------------------------------------------------------


def _member_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _render_member(user: User, grant_form=None, revoke_forms=None, status_code=200):
    detail = member_detail(db.session, user, context().settings, utcnow())
    revoke_forms = revoke_forms or {}
    on_day_form = MemberOnDayForm(request.args)
    member_on_day = None
    if on_day_form.on.data and on_day_form.validate():
        member_on_day = was_member_on_day(db.session, user, on_day_form.on.data, _zone(), context().settings)
    return (
        render_template(
            "membership/staff/member.html",
            detail=detail,
            reasons=REASONS,
            grant_form=grant_form or GrantForm(
                prefix="grant", today=_today(), zone_words=context().settings.formats.zone_words()
            ).showing(grants_version(db.session, user.id)),
            revoke_forms={
                grant_id: revoke_forms.get(grant_id) or RevokeForm(prefix=f"revoke-{grant_id}")
                for grant_id in detail.revocable
            },
            resend_form=ResendReceiptForm(prefix="resend"),
            settings=context().settings,
            endings=ENDINGS,
            on_day_form=on_day_form,
            member_on_day=member_on_day,
        ),
        status_code,
    )


def _member_just_changed(user: User, what: str):
    """The loser of two grants (or revocations) sent at once: told, with nothing done (409)."""
    db.session.rollback()
    return render_template("membership/staff/just_changed.html", what=what, user_id=user.id), 409


def staff_member(user_id: int):
    return _render_member(_member_or_404(user_id))


def staff_member_grant(user_id: int):
    user = _member_or_404(user_id)
    form = GrantForm(prefix="grant", today=_today(), zone_words=context().settings.formats.zone_words())
    if not form.validate_on_submit():
        return _render_member(user, grant_form=form, status_code=400)
    ends_at = datetime.combine(form.ends_on.data, time.min, tzinfo=_zone()).astimezone(UTC)
    try:
        grant_complimentary(
            db.session, user=user, reason=form.reason.data, ends_at=ends_at, actor=current_user, now=utcnow(),
            version=form.shown_version, formats=context().settings.formats,
        )
    except MemberJustChanged as changed:
        return _member_just_changed(user, str(changed))
    except GrantRefused as refused:
        db.session.rollback()
        form.reason.errors.append(str(refused))
        return _render_member(user, grant_form=form, status_code=400)
    db.session.commit()
    flash(f"{user.email} is Sight+ until {context().settings.formats.day(form.ends_on.data)}.", "success")
    return redirect(url_for("membership.staff_member", user_id=user.id))


def staff_member_revoke(user_id: int, grant_id: int):
    user = _member_or_404(user_id)
    grant = db.session.get(ComplimentaryGrant, grant_id)
    if grant is None or grant.user_id != user.id:
        abort(404)
    form = RevokeForm(prefix=f"revoke-{grant_id}")
    if not form.validate_on_submit():
        return _render_member(user, revoke_forms={grant_id: form}, status_code=400)
    try:
        revoke_complimentary(
            db.session, grant=grant, reason=form.reason.data, actor=current_user, now=utcnow(), ctx=context()
        )
    except MemberJustChanged as changed:
        return _member_just_changed(user, str(changed))
    except GrantRefused as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return redirect(url_for("membership.staff_member", user_id=user.id))
    db.session.commit()
    flash("The complimentary membership has ended.", "success")
    return redirect(url_for("membership.staff_member", user_id=user.id))


def staff_member_resend(user_id: int, entry_id: int):
    user = _member_or_404(user_id)
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None or entry.donor.user_id != user.id:
        abort(404)
    form = ResendReceiptForm(prefix="resend")
    if not form.validate_on_submit():
        abort(400)
    to = resend_receipt(
        db.session, entry=entry, ctx=context(), actor=current_user, now=utcnow()
    )
    db.session.commit()
    flash(f"Receipt {entry.id} sent again to {to}.", "success")
    return redirect(url_for("membership.staff_member", user_id=user.id))


# --- reconcile ------------------------------------------------------------------------


def _since(day) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


def staff_reconcile():
    form = ReconcileFilterForm(request.args)
    if not form.validate():
        return render_template(
            "membership/staff/reconcile.html", form=form, report=None, repair_form=None,
            other_versions=events_of_another_version(db.session, utcnow()),
        ), 400
    try:
        report = reconcile(db.session, context(), since=_since(form.since.data), now=utcnow(), dry_run=True)
    except StripeProblem:
        db.session.rollback()
        log.exception("Reconcile report: Stripe did not answer")
        return render_error(503, "Stripe isn't answering", STRIPE_UNAVAILABLE.replace(" Nothing was charged;", ""))
    repair_form = RepairForm(prefix="repair", data={"since": form.since.data})
    return render_template(
        "membership/staff/reconcile.html", form=form, report=report, repair_form=repair_form,
        other_versions=events_of_another_version(db.session, utcnow()),
    )


def staff_reconcile_repair():
    form = RepairForm(prefix="repair")
    if not form.validate_on_submit():
        abort(400)
    since, now = _since(form.since.data), utcnow()
    try:
        report = reconcile(db.session, context(), since=since, now=now, dry_run=False)
    except StripeProblem:
        db.session.rollback()
        log.exception("Reconcile repair: Stripe did not answer")
        return render_error(503, "Stripe isn't answering", "What was repaired before it stopped answering is kept. Please try again in a minute.")
    record_reconcile(db.session, report=report, since=since, actor=current_user, now=now)
    db.session.commit()
    if report.findings:
        shown = "; ".join(report.lines[:5]) + (" …" if len(report.lines) > 5 else "")
        flash(f"{report.summary()} (all are in the audit log): {shown}", "error" if report.needs_staff else "success")
    elif report.months_differ:
        flash(f"Nothing to repair. {report.summary()}", "error")
    else:
        flash("Nothing to repair: the ledger matches Stripe.", "success")
    since_day = form.since.data.isoformat() if form.since.data else None
    return redirect(url_for("membership.staff_reconcile", since=since_day))


# --- staff: benefits ------------------------------------------------------------------


def staff_benefits():
    return render_template("membership/staff/benefits.html", benefits=all_benefits(db.session))


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
    return render_template("membership/staff/benefit.html", form=form, benefit=benefit)
