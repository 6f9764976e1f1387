"""The keys that sign ID tokens: RS256 or ES256, kept in IDENTITY_SIGNING_KEY_FILE (a PEM private
key, required in production) or, in development and tests, in the database, made on first use.

`rotate_key` makes a new key and retires the old one; a retired key stays in the published JWKS
until every ID token it signed has expired, so that a site checking a token a minute old still
finds its key."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from identity.models import SigningKey

# An ID token lives this long; a retired key is published as long again.
ID_TOKEN_LIFETIME = timedelta(minutes=15)
ALGORITHMS = ("RS256", "ES256")


class KeyProblem(Exception):
    """The configured key file cannot sign: the message says why."""


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    algorithm: str
    private: RSAKey | ECKey


def new_private_key(algorithm: str) -> RSAKey | ECKey:
    if algorithm == "RS256":
        return RSAKey.generate_key(2048)
    if algorithm == "ES256":
        return ECKey.generate_key("P-256")
    raise KeyProblem(f"{algorithm} is not one of {', '.join(ALGORITHMS)}.")


def key_from_pem(pem: bytes) -> tuple[str, RSAKey | ECKey]:
    """(algorithm, key) of a PEM private key: RSA of at least 2048 bits (RS256) or P-256 (ES256)."""
    try:
        loaded = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise KeyProblem("it does not hold an unencrypted PEM private key") from error
    if isinstance(loaded, rsa.RSAPrivateKey) and loaded.key_size >= 2048:
        return "RS256", RSAKey.import_key(pem)
    if isinstance(loaded, ec.EllipticCurvePrivateKey) and isinstance(loaded.curve, ec.SECP256R1):
        return "ES256", ECKey.import_key(pem)
    raise KeyProblem("its key is neither RSA of 2048 bits or more nor EC on P-256")


def read_key_file(path: str) -> ActiveKey:
    try:
        pem = Path(path).read_bytes()
    except OSError as error:
        raise KeyProblem(f"it cannot be read ({error.strerror})") from error
    algorithm, key = key_from_pem(pem)
    return ActiveKey(key.thumbprint(), algorithm, key)


def _stored(row: SigningKey) -> ActiveKey:
    algorithm, key = key_from_pem(row.private_pem.encode())
    return ActiveKey(row.kid, algorithm, key)


def _newest_stored(session: Session) -> SigningKey | None:
    return session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None), SigningKey.private_pem.is_not(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        .limit(1)
    ).first()


def _store(session: Session, key: RSAKey | ECKey, algorithm: str, now: datetime, *, private: bool) -> SigningKey:
    row = SigningKey(
        kid=key.thumbprint(),
        algorithm=algorithm,
        public_jwk=public_jwk(key, key.thumbprint(), algorithm),
        private_pem=key.as_pem(private=True).decode() if private else None,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def public_jwk(key: RSAKey | ECKey, kid: str, algorithm: str) -> dict:
    return {**key.as_dict(private=False), "kid": kid, "alg": algorithm, "use": "sig"}


def signing_key(session: Session, key_file: str | None, now: datetime, *, may_create: bool) -> ActiveKey:
    """The key that signs now: the file's, else the newest in the database (made here when there is
    none and `may_create`, as in development; production always has the file)."""
    if key_file:
        return read_key_file(key_file)
    row = _newest_stored(session)
    if row is None:
        if not may_create:
            raise KeyProblem("there is no signing key: run `flask identity rotate-key`")
        row = _store(session, new_private_key("RS256"), "RS256", now, private=True)
    return _stored(row)


def published_keys(session: Session, key_file: str | None, now: datetime) -> dict:
    """The JWKS: the key that signs now, every stored key not retired, and each retired one until
    the ID tokens it signed have expired."""
    keys: dict[str, dict] = {}
    if key_file:
        active = read_key_file(key_file)
        keys[active.kid] = public_jwk(active.private, active.kid, active.algorithm)
    for row in session.scalars(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > now - ID_TOKEN_LIFETIME))
        .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
    ):
        keys.setdefault(row.kid, row.public_jwk)
    return {"keys": list(keys.values())}


def rotate_key(session: Session, key_file: str | None, algorithm: str, now: datetime) -> str:
    """Start signing with a new key; the one before is retired (and still published for a while).
    With a key file, the new key replaces the file's (written atomically, readable by its owner
    only) and the old key's public half is kept in the database. Returns the new key's id."""
    new_key = new_private_key(algorithm)
    if key_file:
        old = read_key_file(key_file) if Path(key_file).exists() else None
        if old is not None and session.scalar(select(SigningKey).where(SigningKey.kid == old.kid)) is None:
            _store(session, old.private, old.algorithm, now, private=False).retired_at = now
        for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
            row.retired_at = now
        _write_private(key_file, new_key.as_pem(private=True))
    else:
        for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
            row.retired_at = now
        _store(session, new_key, algorithm, now, private=True)
    session.flush()
    return new_key.thumbprint()


def _write_private(path: str, pem: bytes) -> None:
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".sight-key-")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
