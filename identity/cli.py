"""`flask identity clients add/list/disable/rotate-secret` and `flask identity rotate-key`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from identity import keys
from identity import operations as ops
from identity.blueprint import bp
from identity.models import AUTH_METHODS, SCOPES, Client
from sight.audit import record_audit
from sight.db import utcnow
from sight.extensions import db

clients_group = AppGroup("clients", help="The sites that may sign readers in with Sight+.")
bp.cli.add_command(clients_group)


def _client(client_id: str) -> Client:
    client = ops.client_by_client_id(db.session, client_id)
    if client is None:
        raise click.ClickException(f"No client has the id {client_id}; `flask identity clients list` shows them.")
    return client


@clients_group.command("add")
@click.option("--name", required=True, help="What readers see on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True, help="Exact redirect address (repeatable).")
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True, help="Where a site may send readers after sign-out.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES), default=SCOPES, show_default=True)
@click.option("--auth-method", type=click.Choice(AUTH_METHODS), default="client_secret_basic", show_default=True)
@click.option("--first-party", is_flag=True, help="The magazine's own site: readers are not asked to consent.")
def add_client(name, redirect_uris, logout_uris, scopes, auth_method, first_party):
    """Register a site; its secret is printed once and never again."""
    values = ops.ClientValues(name, list(redirect_uris), list(scopes), auth_method, list(logout_uris), first_party)
    try:
        client, secret = ops.register_client(db.session, values, None, utcnow())
    except ops.ClientProblem as problem:
        db.session.rollback()
        raise click.ClickException(problem.message) from problem
    db.session.commit()
    click.echo(f"client_id: {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo("Copy the secret now: only its hash is kept.")


@clients_group.command("list")
def list_clients():
    for client in db.session.scalars(select(Client).order_by(Client.name)):
        state = "disabled" if client.disabled_at else "active"
        click.echo(f"{client.client_id}\t{client.name}\t{state}\t{client.allowed_scopes}\t{' '.join(client.redirect_uris)}")


@clients_group.command("disable")
@click.argument("client_id")
def disable_client(client_id):
    """The site can sign no one in any more, and its tokens stop working."""
    ops.disable_client(db.session, _client(client_id), None, utcnow())
    db.session.commit()
    click.echo(f"{client_id} is disabled.")


@clients_group.command("rotate-secret")
@click.argument("client_id")
def rotate_secret(client_id):
    """A new secret; the old one stops working at once."""
    try:
        secret = ops.rotate_secret(db.session, _client(client_id), None, utcnow())
    except ops.ClientProblem as problem:
        raise click.ClickException(problem.message) from problem
    db.session.commit()
    click.echo(f"client_secret: {secret}")


@bp.cli.command("rotate-key")
@click.option("--algorithm", type=click.Choice(keys.ALGORITHMS), default="RS256", show_default=True)
def rotate_key(algorithm):
    """Sign ID tokens with a new key; the old one stays in the JWKS until its tokens expire."""
    now = utcnow()
    kid = keys.rotate_key(db.session, current_app.config.get("IDENTITY_SIGNING_KEY_FILE"), algorithm, now)
    record_audit(db.session, actor=None, action="identity.key_rotated", target=f"identity_key:{kid}",
                 details={"algorithm": algorithm}, now=now)
    db.session.commit()
    click.echo(f"New signing key {kid} ({algorithm}); the previous one stays published for "
               f"{int(keys.ID_TOKEN_LIFETIME.total_seconds() // 60)} minutes.")
