"""Configuration from the environment (and a `.env` file), with development defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

# localstripe accepts any key that looks like a test key; these are not secrets.
DEV_STRIPE_SECRET_KEY = "sk_test_sight_development"
DEV_STRIPE_PUBLISHABLE_KEY = "pk_test_sight_development"
DEV_STRIPE_WEBHOOK_SECRET = "whsec_sight_development"
DEV_STRIPE_API_BASE = "http://127.0.0.1:8420"

PRODUCTION_SECRETS = (
    "SECRET_KEY",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    # Without it mail would go to the log: sign-in, reset and manage links among it.
    "MAIL_URL",
)

# How hard argon2id works (accounts.passwords.PROFILES): "fast" only for the test suite.
PASSWORD_HASHING_PROFILES = ("standard", "fast")

# Survey CAPTCHA providers (off unless CAPTCHA_PROVIDER is set): where the widget's script
# comes from, where its tokens are verified, the origins the CSP must allow, and the form field.
CAPTCHA_PROVIDERS = {
    "turnstile": {
        "script_url": "https://challenges.cloudflare.com/turnstile/v0/api.js",
        "verify_url": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        "origins": ["https://challenges.cloudflare.com"],
        "field": "cf-turnstile-response",
        "widget_class": "cf-turnstile",
    },
    "hcaptcha": {
        "script_url": "https://js.hcaptcha.com/1/api.js",
        "verify_url": "https://api.hcaptcha.com/siteverify",
        "origins": ["https://hcaptcha.com", "https://*.hcaptcha.com"],
        "field": "h-captcha-response",
        "widget_class": "h-captcha",
    },
    "recaptcha": {
        "script_url": "https://www.google.com/recaptcha/api.js",
        "verify_url": "https://www.google.com/recaptcha/api/siteverify",
        "origins": ["https://www.google.com", "https://www.gstatic.com"],
        "field": "g-recaptcha-response",
        "widget_class": "g-recaptcha",
    },
}


class ConfigError(RuntimeError):
    """The application cannot start with this configuration."""


MEMORY_STORAGE_PROBLEM = (
    "RATELIMIT_STORAGE_URI=memory:// counts rate limits inside each worker process on its own, "
    "so {workers} workers let {workers} times as many attempts through. Set "
    "RATELIMIT_STORAGE_URI=redis://HOST:6379/0 (one Redis shared by every app server)."
)


def uses_memory_storage(env: dict[str, str]) -> bool:
    return env.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory://")


def refuse_per_process_rate_limits(env: dict[str, str], workers: int) -> None:
    """Called by the gunicorn configuration before it starts `workers` worker processes."""
    if workers > 1 and uses_memory_storage(env):
        raise ConfigError(MEMORY_STORAGE_PROBLEM.format(workers=workers))


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def load_config(instance_path: str, environ: dict[str, str] | None = None) -> dict:
    """Build the Flask config from `environ` (default: the process environment plus `.env`)."""
    if environ is None:
        load_dotenv(override=False)
        environ = dict(os.environ)
    env = {k: v for k, v in environ.items() if v != ""}
    app_env = env.get("APP_ENV", "development")
    production = app_env == "production"

    if production:
        missing = [name for name in PRODUCTION_SECRETS if not env.get(name)]
        if env.get("SECRET_KEY", "").lower() in {"dev", "change-me", "secret"}:
            missing.append("SECRET_KEY (a real, random value)")
        if missing:
            raise ConfigError(
                "APP_ENV=production needs these settings: " + ", ".join(missing)
            )

    password_hashing = env.get("PASSWORD_HASHING", "standard")
    if password_hashing not in PASSWORD_HASHING_PROFILES:
        raise ConfigError(f"PASSWORD_HASHING must be one of {', '.join(PASSWORD_HASHING_PROFILES)}, got {password_hashing!r}")
    if production and password_hashing != "standard":
        raise ConfigError("PASSWORD_HASHING=fast is for the test suite only, never production")

    captcha = _captcha_settings(env, production)
    database_url = env.get(
        "DATABASE_URL", "sqlite:///" + str(Path(instance_path) / "sight.sqlite3")
    )
    return {
        "APP_ENV": app_env,
        "SECRET_KEY": env.get("SECRET_KEY") or _development_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", DEV_STRIPE_SECRET_KEY),
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", DEV_STRIPE_PUBLISHABLE_KEY),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", DEV_STRIPE_WEBHOOK_SECRET),
        "STRIPE_API_BASE": env.get(
            "STRIPE_API_BASE", "https://api.stripe.com" if production else DEV_STRIPE_API_BASE
        ),
        "STRIPE_JS_URL": env.get(
            "STRIPE_JS_URL",
            "https://js.stripe.com/v3/" if production else DEV_STRIPE_API_BASE + "/js.stripe.com/v3/",
        ),
        "CURRENCY": env.get("CURRENCY", "aud").lower(),
        "SIGHT_PLUS_THRESHOLD_CENTS": _int(env, "SIGHT_PLUS_THRESHOLD_CENTS", 2600),
        "SIGHT_PLUS_GRACE_DAYS": _int(env, "SIGHT_PLUS_GRACE_DAYS", 14),
        "MIN_DONATION_CENTS": _int(env, "MIN_DONATION_CENTS", 500),
        "MAX_DONATION_CENTS": _int(env, "MAX_DONATION_CENTS", 1_000_000),
        "PASSWORD_HASHING": password_hashing,
        "MAIL_URL": env.get("MAIL_URL"),
        "MAIL_FROM": env.get("MAIL_FROM", "Sight <hello@sight.example>"),
        "PUBLIC_URL": env.get("PUBLIC_URL", "http://127.0.0.1:5000"),
        "DISPLAY_TIMEZONE": env.get("DISPLAY_TIMEZONE", "Australia/Sydney"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        # How many reverse proxies stand in front of the app and set X-Forwarded-For/-Proto/-Host.
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        "RATELIMIT_HEADERS_ENABLED": True,
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024),
        "WTF_CSRF_TIME_LIMIT": _int(env, "WTF_CSRF_TIME_LIMIT", 3600),
        # A slow reader may keep a survey page open for a long time.
        "SURVEY_CSRF_TIME_LIMIT": _int(env, "SURVEY_CSRF_TIME_LIMIT", 4 * 3600),
        # Survey rate limits count per address and browser, so readers behind one office or
        # carrier address are not locked out; an address has a ceiling of its own, and beyond
        # SURVEY_START_CAPTCHA_AFTER starts it is asked for the CAPTCHA (when one is configured).
        "SURVEY_START_RATE_LIMIT": env.get("SURVEY_START_RATE_LIMIT", "20 per hour"),
        "SURVEY_START_ADDRESS_RATE_LIMIT": env.get("SURVEY_START_ADDRESS_RATE_LIMIT", "300 per hour"),
        "SURVEY_START_CAPTCHA_AFTER": env.get("SURVEY_START_CAPTCHA_AFTER", "20 per hour"),
        "SURVEY_PAGE_RATE_LIMIT": env.get("SURVEY_PAGE_RATE_LIMIT", "300 per hour"),
        # Giving: starts of a gift per address (every try) and per email (gifts started), so that
        # /donate is no card-testing tool; DONATE_CAPTCHA asks for the survey's CAPTCHA there too
        # (when CAPTCHA_PROVIDER is set); unpaid starts are purged after this many days.
        "DONATE_RATE_LIMIT": env.get("DONATE_RATE_LIMIT", "20 per hour"),
        "DONATE_EMAIL_RATE_LIMIT": env.get("DONATE_EMAIL_RATE_LIMIT", "5 per hour"),
        "DONATE_CAPTCHA": env.get("DONATE_CAPTCHA", "").lower() in ("1", "true", "yes", "on"),
        "ABANDONED_DONATION_DAYS": _int(env, "ABANDONED_DONATION_DAYS", 7),
        # Printed on every receipt.
        "ORG_LEGAL_NAME": env.get("ORG_LEGAL_NAME", "Sight Media Ltd (development placeholder)"),
        "ORG_ABN": env.get("ORG_ABN", "00 000 000 000"),
        "RECEIPT_TAX_STATEMENT": env.get(
            "RECEIPT_TAX_STATEMENT",
            "Sight is not a deductible gift recipient: gifts to Sight are not tax deductible.",
        ),
        # The magazine's site: a Referer from it names the article a reader came from.
        "SITE_URL": env.get("SITE_URL"),
        # Defaults for new surveys: free text and email answers are kept this many months,
        # unfinished responses this many days (`flask surveys purge`).
        "SURVEY_RETENTION_MONTHS": _int(env, "SURVEY_RETENTION_MONTHS", 24),
        "UNFINISHED_RETENTION_DAYS": _int(env, "UNFINISHED_RETENTION_DAYS", 30),
        **captcha,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
    }


def _captcha_settings(env: dict[str, str], production: bool) -> dict:
    name = env.get("CAPTCHA_PROVIDER", "").lower()
    if name in ("", "none", "off"):
        return {"CAPTCHA_PROVIDER": None, "CAPTCHA_ORIGINS": []}
    if name not in CAPTCHA_PROVIDERS:
        raise ConfigError(f"CAPTCHA_PROVIDER must be one of {', '.join(CAPTCHA_PROVIDERS)}, got {name!r}")
    provider = CAPTCHA_PROVIDERS[name]
    if production and not (env.get("CAPTCHA_SITE_KEY") and env.get("CAPTCHA_SECRET_KEY")):
        raise ConfigError("CAPTCHA_PROVIDER needs CAPTCHA_SITE_KEY and CAPTCHA_SECRET_KEY")
    return {
        "CAPTCHA_PROVIDER": name,
        "CAPTCHA_SITE_KEY": env.get("CAPTCHA_SITE_KEY", ""),
        "CAPTCHA_SECRET_KEY": env.get("CAPTCHA_SECRET_KEY", ""),
        "CAPTCHA_SCRIPT_URL": env.get("CAPTCHA_SCRIPT_URL", provider["script_url"]),
        "CAPTCHA_VERIFY_URL": env.get("CAPTCHA_VERIFY_URL", provider["verify_url"]),
        "CAPTCHA_FIELD": provider["field"],
        "CAPTCHA_WIDGET_CLASS": provider["widget_class"],
        "CAPTCHA_ORIGINS": provider["origins"],
    }


def _development_secret_key(instance_path: str) -> str:
    """A random key kept in instance/ so development sessions survive a restart."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
