"""Signed links: a donation in progress, and managing an annual gift without signing in."""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

DONATION_MAX_AGE = 60 * 60 * 24
# Receipts are kept for years, and each renewal reminder carries a fresh link.
MANAGE_MAX_AGE = 60 * 60 * 24 * 400


@dataclass(frozen=True)
class Links:
    secret_key: str
    public_url: str

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        # A salt per purpose: a donation token can never open the manage page, nor the reverse.
        return URLSafeTimedSerializer(self.secret_key, salt=f"sight.membership.{purpose}")

    def donation_token(self, donation_id: int) -> str:
        return self._serializer("donation").dumps(donation_id)

    def manage_token(self, donor_id: int, version: int) -> str:
        return self._serializer("manage").dumps([donor_id, version])

    def manage_url(self, donor_id: int, version: int) -> str:
        return f"{self.public_url.rstrip('/')}/manage/{self.manage_token(donor_id, version)}"

    def donate_url(self) -> str:
        return f"{self.public_url.rstrip('/')}/donate"

    def account_url(self) -> str:
        return f"{self.public_url.rstrip('/')}/account"

    def load_manage(self, token: str) -> tuple[int, int] | None:
        """(donor id, link version), or None for a link that is not ours or too old."""
        value = self._load("manage", token, MANAGE_MAX_AGE)
        if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
            return value[0], value[1]
        return None

    def load_donation(self, token: str) -> int | None:
        value = self._load("donation", token, DONATION_MAX_AGE)
        return value if type(value) is int else None

    def _load(self, purpose: str, token: str, max_age: int):
        try:
            return self._serializer(purpose).loads(token, max_age=max_age)
        except BadData:
            return None
