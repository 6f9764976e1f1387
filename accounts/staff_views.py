"""The staff shell: the dashboard every package adds panels to, the audit log, and managing staff."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from accounts import operations as ops
from accounts.blueprint import bp
from accounts.forms import InviteForm, RemoveAccessForm, RoleForm
from accounts.models import Role, User
from accounts.roles import admin_required, staff_required
from accounts.views import link_builder
from sight.db import utcnow
from sight.extensions import db
from sight.models import AuditEntry
from sight.staff import DashboardPanel, dashboard_panels

AUDIT_PER_PAGE = 50
ROLE_WORDS = {Role.reader: "a reader, without staff access", Role.staff: "staff", Role.admin: "an admin"}


@bp.get("/staff/")
@staff_required
def staff_dashboard():
    now = utcnow()
    panels, failed = [], 0
    for panel in dashboard_panels(current_app):
        # One package's broken panel must not take the whole dashboard down with it.
        try:
            with db.session.begin_nested():
                panels.append(panel(db.session, now))
        except Exception:
            current_app.logger.exception("Dashboard panel %s failed", getattr(panel, "__qualname__", panel))
            failed += 1
    # A panel may bring its read model up to date (the survey tallies); keep what it counted.
    db.session.commit()
    return render_template("accounts/staff/dashboard.html", panels=panels, failed=failed)


def accounts_panel(session, now) -> DashboardPanel:
    counts = ops.account_counts(session)
    return DashboardPanel(
        title="Accounts",
        figures=[
            ("Readers", f"{counts.readers:,}"),
            ("Staff", f"{counts.staff:,}"),
            ("Admins", f"{counts.admins:,}"),
        ],
    )


@bp.get("/staff/audit")
@admin_required
def audit_log():
    action = request.args.get("action", "").strip()
    page = request.args.get("page", 1, type=int)
    query = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if action:
        query = query.where(AuditEntry.action == action)
    entries = db.paginate(query, page=page, per_page=AUDIT_PER_PAGE, error_out=False)
    actions = db.session.scalars(
        select(AuditEntry.action).distinct().order_by(AuditEntry.action)
    ).all()
    return render_template("accounts/staff/audit.html", entries=entries, actions=actions, action=action)


def _staff_members() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role.in_([Role.staff, Role.admin]), User.closed_at.is_(None))
            .order_by(User.role, User.email)
        )
    )


def _role_form(user: User, formdata=None) -> RoleForm:
    form = RoleForm(formdata=formdata, prefix=f"user-{user.id}", role=user.role.value)
    form.role.label.text = f"Role of {user.email}"
    return form


def _people_page(invite_form: InviteForm, status: int = 200, failed: dict | None = None):
    people = _staff_members()
    role_forms = {}
    for person in people:
        role_forms[person.id] = (failed or {}).get(person.id) or _role_form(person)
    return (
        render_template(
            "accounts/staff/people.html",
            people=people,
            role_forms=role_forms,
            invite_form=invite_form,
        ),
        status,
    )


@bp.get("/staff/people")
@admin_required
def people():
    return _people_page(InviteForm())


@bp.post("/staff/people/invite")
@admin_required
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user = ops.invite_staff(
                db.session,
                email=form.email.data,
                name=form.name.data or "",
                role=Role(form.role.data),
                actor=current_user._get_current_object(),
                link=link_builder("accounts.use_sign_in_link"),
                now=utcnow(),
            )
        except ops.AccountError as error:
            db.session.rollback()
            form.email.errors.append(error.message)
        else:
            db.session.commit()
            flash(f"Invitation sent to {user.email}.", "success")
            return redirect(url_for("accounts.people"))
    return _people_page(form, status=400)


def _target(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        abort(404)
    return user


@bp.post("/staff/people/<int:user_id>/role")
@admin_required
def change_role(user_id: int):
    target = _target(user_id)
    form = _role_form(target, formdata=request.form)
    if form.validate_on_submit():
        return _apply_role(target, Role(form.role.data))
    return _people_page(InviteForm(), status=400, failed={target.id: form})


@bp.post("/staff/people/<int:user_id>/remove")
@admin_required
def remove_access(user_id: int):
    target = _target(user_id)
    if not RemoveAccessForm().validate_on_submit():
        abort(400)
    return _apply_role(target, Role.reader)


def _apply_role(target: User, role: Role):
    actor = current_user._get_current_object()
    try:
        changed = ops.change_role(db.session, target, role, actor=actor, now=utcnow())
    except ops.LastAdmin as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("accounts.people"))
    db.session.commit()
    if changed:
        flash(f"{target.email} is now {ROLE_WORDS[role]}.", "success")
    return redirect(url_for("accounts.people"))
