"""Admins register the sites that may sign readers in with Sight+; a secret is shown once."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from identity import operations as ops
from identity.forms import ClientActionForm, ClientForm
from identity.models import Client, Grant
from sight.db import utcnow
from sight.extensions import db


def _client_or_404(client_pk: int) -> Client:
    client = db.session.get(Client, client_pk)
    if client is None:
        abort(404)
    return client


def _values(form: ClientForm) -> ops.ClientValues:
    return ops.ClientValues(
        name=form.name.data or "",
        redirect_uris=form.redirect_uri_list(),
        scopes=list(form.scopes.data or []),
        auth_method=form.auth_method.data,
        post_logout_redirect_uris=form.logout_uri_list(),
        first_party=bool(form.first_party.data),
    )


def clients():
    rows = db.session.execute(
        select(Client, func.count(Grant.id))
        .outerjoin(Grant, (Grant.client_id == Client.id) & Grant.revoked_at.is_(None))
        .group_by(Client.id)
        .order_by(Client.disabled_at.is_not(None), Client.name)
    ).all()
    return render_template("identity/staff/clients.html", rows=rows)


def _secret_page(client: Client, secret: str | None):
    response = render_template("identity/staff/secret.html", client=client, secret=secret)
    return response, 200, {"Cache-Control": "no-store"}


def new_client():
    form = ClientForm()
    if form.validate_on_submit():
        try:
            client, secret = ops.register_client(db.session, _values(form), current_user, utcnow())
        except ops.ClientProblem as problem:
            db.session.rollback()
            form[problem.field].errors.append(problem.message)
        else:
            db.session.commit()
            return _secret_page(client, secret)
    return render_template("identity/staff/client.html", form=form, client=None)


def edit_client(client_pk: int):
    client = _client_or_404(client_pk)
    form = ClientForm(obj=None)
    if form.is_submitted():
        form.auth_method.data = client.token_endpoint_auth_method
    else:
        form.name.data = client.name
        form.redirect_uris.data = "\n".join(client.redirect_uris)
        form.post_logout_redirect_uris.data = "\n".join(client.post_logout_redirect_uris)
        form.scopes.data = client.allowed_scopes.split()
        form.auth_method.data = client.token_endpoint_auth_method
        form.first_party.data = client.first_party
    if form.validate_on_submit():
        try:
            ops.update_client(db.session, client, _values(form), current_user, utcnow())
        except ops.ClientProblem as problem:
            db.session.rollback()
            form[problem.field].errors.append(problem.message)
        else:
            db.session.commit()
            flash(f"{client.name} is saved.", "success")
            return redirect(url_for("identity.clients"))
    return render_template("identity/staff/client.html", form=form, client=client, action_form=ClientActionForm())


def rotate_client_secret(client_pk: int):
    client = _client_or_404(client_pk)
    if not ClientActionForm().validate_on_submit():
        abort(400)
    try:
        secret = ops.rotate_secret(db.session, client, current_user, utcnow())
    except ops.ClientProblem as problem:
        db.session.rollback()
        flash(problem.message, "error")
        return redirect(url_for("identity.edit_client", client_pk=client.id))
    db.session.commit()
    return _secret_page(client, secret)


def disable_client(client_pk: int):
    client = _client_or_404(client_pk)
    if not ClientActionForm().validate_on_submit():
        abort(400)
    ops.disable_client(db.session, client, current_user, utcnow())
    db.session.commit()
    flash(f"{client.name} can no longer sign anyone in; its tokens no longer work.", "success")
    return redirect(url_for("identity.clients"))
