"""Configuration from the environment (and a `.env` file), with development defaults."""

from __future__ import annotations

import os
import secrets
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from babel import Locale, UnknownLocaleError
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from babel.numbers import get_currency_precision, is_currency
from dotenv import load_dotenv
from limits import parse_many
from limits.storage import SCHEMES as STORAGE_SCHEMES
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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
    # The private key that signs the ID tokens sites receive (identity/keys.py).
    "IDENTITY_SIGNING_KEY_FILE",
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


class ConfigError(click.ClickException, RuntimeError):
    """The application cannot start with this configuration: one line per problem.

    A ClickException, so that every `flask` command prints the lines and exits with status 1
    instead of a traceback; a RuntimeError, which gunicorn prints the same way."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))

    def format_message(self) -> str:
        count = len(self.problems)
        return (
            f"Sight cannot start: {count} problem{'s' if count > 1 else ''} with its settings "
            "(the README's Configuration table says what each one means):\n"
            + "\n".join(f"  {problem}" for problem in self.problems)
        )


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
        raise ConfigError([MEMORY_STORAGE_PROBLEM.format(workers=workers)])


APP_ENVS = ("development", "test", "production")
# The example settings file marks what an operator must fill in with this word.
PLACEHOLDER = "CHANGE-ME"
WEAK_SECRET_KEYS = {"dev", "change-me", "secret"}
# What a receipt says about the organisation: production must be told, never use these.
RECEIPT_IDENTITY = ("ORG_LEGAL_NAME", "ORG_ABN", "RECEIPT_TAX_STATEMENT")
DEV_ORG_LEGAL_NAME = "Sight Media Ltd (development placeholder)"
DEV_ORG_ABN = "00 000 000 000"
DEV_RECEIPT_TAX_STATEMENT = "Sight is not a deductible gift recipient: gifts to Sight are not tax deductible."
ABN_WEIGHTS = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def abn_is_valid(abn: str) -> bool:
    """The ATO's check: take 1 from the first of the 11 digits, weigh them, the sum divides by 89."""
    digits = abn.replace(" ", "")
    if len(digits) != 11 or not digits.isdigit():
        return False
    values = [int(d) for d in digits]
    values[0] -= 1
    return sum(w * v for w, v in zip(ABN_WEIGHTS, values)) % 89 == 0


def receipt_identity_problems(values: dict[str, str | None], production: bool) -> list[str]:
    """What is wrong with the organisation's details that every receipt prints."""
    problems = []
    placeholders = {"ORG_LEGAL_NAME": DEV_ORG_LEGAL_NAME, "ORG_ABN": DEV_ORG_ABN,
                    "RECEIPT_TAX_STATEMENT": DEV_RECEIPT_TAX_STATEMENT}
    for name in RECEIPT_IDENTITY:
        value = values.get(name)
        if production and not value:
            problems.append(f"{name} is not set: every receipt prints it, and production needs the real one.")
        elif production and (value == placeholders[name] or "placeholder" in value.lower()
                             or PLACEHOLDER.lower() in value.lower()):
            problems.append(f"{name}={value} is a development placeholder: every receipt prints it; set the real one.")
        elif name == "ORG_ABN" and value and value != DEV_ORG_ABN and not abn_is_valid(value):
            problems.append(f"ORG_ABN={value} is not a valid ABN: 11 digits whose ATO checksum holds "
                            "(look it up on abr.business.gov.au).")
    return problems


class _Reader:
    """Reads settings, noting every problem (one line each) instead of stopping at the first."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.env.get(name, default)

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        raw = self.env.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}={raw} is not a whole number.")
            return default
        if value < minimum:
            self.problems.append(f"{name}={raw} is too small: at least {minimum}.")
            return default
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.env.get(name, default).lower()
        if value not in choices:
            self.problems.append(f"{name}={self.env[name]} is not one of {', '.join(choices)}.")
            return default
        return value

    def flag(self, name: str) -> bool:
        value = self.env.get(name, "off").lower()
        if value not in TRUE_WORDS + FALSE_WORDS:
            self.problems.append(f"{name}={self.env[name]} is neither on nor off.")
        return value in TRUE_WORDS

    def url(self, name: str, default: str | None, schemes: tuple[str, ...] = ("http", "https"),
            secret: bool = False) -> str | None:
        value = self.env.get(name, default)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            good = parts.scheme in schemes and bool(parts.hostname)
            if parts.port == 0:  # reading the port raises ValueError when it is not a number
                good = False
        except ValueError:
            good = False
        if not good:
            # Addresses with passwords in them are not repeated on screen.
            shown = name if secret else f"{name}={value}"
            self.problems.append(
                f"{shown} is not an address that starts with {' or '.join(s + '://' for s in schemes)} and names a host."
            )
        return value

    def rate_limit(self, name: str, default: str) -> str:
        value = self.env.get(name, default)
        try:
            parse_many(value)
        except ValueError:
            self.problems.append(f"{name}={value} is not a rate limit such as \"20 per hour\" or \"5/minute\".")
            return default
        return value

    def time_zone(self, name: str, default: str) -> str:
        value = self.env.get(name, default)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.problems.append(f"{name}={value} is not a time zone: use a name such as Australia/Sydney or Europe/Berlin.")
            return default
        return value

    def locale(self, name: str, default: str) -> str:
        value = self.env.get(name, default)
        try:
            return str(Locale.parse(value.replace("-", "_")))
        except (UnknownLocaleError, ValueError, TypeError):
            self.problems.append(f"{name}={value} is not a locale: use one such as en_AU, en_GB or de_DE.")
            return default

    def currency(self, name: str, default: str) -> str:
        value = self.env.get(name, default)
        code = value.upper()
        if not is_currency(code):
            self.problems.append(f"{name}={value} is not an ISO 4217 currency code such as AUD, NZD or EUR.")
            return default
        if get_currency_precision(code) != 2:
            # Amounts are kept in hundredths (…_CENTS), and Stripe counts in the currency's smallest unit.
            self.problems.append(f"{name}={value} has no cents: Sight counts amounts in hundredths of a currency.")
            return default
        # Stripe spells currencies in lower case.
        return code.lower()

    def database_url(self, name: str, default: str) -> str:
        value = self.env.get(name, default)
        try:
            make_url(value)
        except ArgumentError:
            self.problems.append(f"{name} is not a database address such as postgresql+psycopg://user:password@host/db.")
        return value

    def mail_from(self, name: str, default: str) -> str:
        value = self.env.get(name, default)
        if "@" not in parseaddr(value)[1]:
            self.problems.append(f"{name}={value} is not an email address such as Sight <hello@sight.example>.")
        return value

    def rate_limit_storage(self, name: str, default: str) -> str:
        value = self.env.get(name, default)
        if urlsplit(value).scheme not in STORAGE_SCHEMES:
            self.problems.append(f"{name} is not a rate-limit store such as memory:// or redis://127.0.0.1:6379/0.")
        return value

    def signing_key_file(self, name: str) -> str | None:
        """A PEM private key that can sign ID tokens: RSA of 2048 bits or more, or EC on P-256."""
        path = self.env.get(name)
        if path is None:
            return None
        try:
            key = load_pem_private_key(Path(path).read_bytes(), password=None)
        except OSError as error:
            self.problems.append(f"{name}={path} cannot be read ({error.strerror}).")
            return path
        except (ValueError, TypeError):
            self.problems.append(f"{name}={path} does not hold an unencrypted PEM private key.")
            return path
        if not ((isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048)
                or (isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1))):
            self.problems.append(f"{name}={path} holds neither an RSA key of 2048 bits or more nor an EC key on P-256.")
        return path

    def prefixed(self, name: str, default: str, prefixes: tuple[str, ...]) -> str:
        value = self.env.get(name, default)
        if not value.startswith(prefixes):
            self.problems.append(f"{name} does not look like a Stripe key: it starts with {' or '.join(prefixes)}.")
        return value


def check_settings(environ: dict[str, str]) -> None:
    """Raise ConfigError naming every problem, without an app: gunicorn's master calls it before
    it starts workers, so that a bad setting stops it with the lines, not a worker's traceback."""
    load_config(None, environ)


def load_config(instance_path: str | None, environ: dict[str, str] | None = None) -> dict:
    """Build the Flask config from `environ` (default: the process environment plus `.env`).

    Every setting is checked; all the problems are raised together, one line each."""
    if environ is None:
        load_dotenv(override=False)
        environ = dict(os.environ)
    env = {k: v for k, v in environ.items() if v != ""}
    read = _Reader(env)
    app_env = read.choice("APP_ENV", "development", APP_ENVS)
    production = app_env == "production"

    if production:
        for name in PRODUCTION_SECRETS:
            if not env.get(name):
                read.problems.append(f"{name} is not set: production needs it.")
        if env.get("SECRET_KEY", "").lower() in WEAK_SECRET_KEYS:
            read.problems.append("SECRET_KEY is a placeholder: set a real, random value "
                                 "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))').")
        for name, value in sorted(env.items()):
            if PLACEHOLDER.lower() in value.lower() and name not in RECEIPT_IDENTITY and name != "SECRET_KEY":
                read.problems.append(f"{name} still holds the example's {PLACEHOLDER}: fill in the real value.")
    read.problems.extend(receipt_identity_problems(env, production))

    password_hashing = read.choice("PASSWORD_HASHING", "standard", PASSWORD_HASHING_PROFILES)
    if production and password_hashing != "standard":
        read.problems.append("PASSWORD_HASHING=fast is for the test suite only, never production.")

    captcha = _captcha_settings(read, production)
    database_url = read.database_url("DATABASE_URL", "sqlite:///" + str(Path(instance_path or "instance") / "sight.sqlite3"))
    stripe_api_base = read.url("STRIPE_API_BASE", "https://api.stripe.com" if production else DEV_STRIPE_API_BASE)
    config = {
        "APP_ENV": app_env,
        "SECRET_KEY": env.get("SECRET_KEY") or (instance_path and _development_secret_key(instance_path)),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "STRIPE_SECRET_KEY": read.prefixed("STRIPE_SECRET_KEY", DEV_STRIPE_SECRET_KEY, ("sk_", "rk_")),
        "STRIPE_PUBLISHABLE_KEY": read.prefixed("STRIPE_PUBLISHABLE_KEY", DEV_STRIPE_PUBLISHABLE_KEY, ("pk_",)),
        "STRIPE_WEBHOOK_SECRET": read.prefixed("STRIPE_WEBHOOK_SECRET", DEV_STRIPE_WEBHOOK_SECRET, ("whsec_",)),
        "STRIPE_API_BASE": stripe_api_base,
        "STRIPE_JS_URL": read.url(
            "STRIPE_JS_URL",
            "https://js.stripe.com/v3/" if production else DEV_STRIPE_API_BASE + "/js.stripe.com/v3/",
        ),
        "CURRENCY": read.currency("CURRENCY", "aud"),
        # Money and dates are written for this locale (Babel), e.g. en_AU: "$26", "1 December 2026".
        "LOCALE": read.locale("LOCALE", "en_AU"),
        "SIGHT_PLUS_THRESHOLD_CENTS": read.integer("SIGHT_PLUS_THRESHOLD_CENTS", 2600, minimum=1),
        "SIGHT_PLUS_GRACE_DAYS": read.integer("SIGHT_PLUS_GRACE_DAYS", 14),
        "MIN_DONATION_CENTS": read.integer("MIN_DONATION_CENTS", 500, minimum=1),
        "MAX_DONATION_CENTS": read.integer("MAX_DONATION_CENTS", 1_000_000, minimum=1),
        "PASSWORD_HASHING": password_hashing,
        "MAIL_URL": read.url("MAIL_URL", None, schemes=("smtp", "smtps"), secret=True),
        "MAIL_FROM": read.mail_from("MAIL_FROM", "Sight <hello@sight.example>"),
        "PUBLIC_URL": read.url("PUBLIC_URL", "http://127.0.0.1:5000"),
        "DISPLAY_TIMEZONE": read.time_zone("DISPLAY_TIMEZONE", "Australia/Sydney"),
        "RATELIMIT_STORAGE_URI": read.rate_limit_storage("RATELIMIT_STORAGE_URI", "memory://"),
        # How many reverse proxies stand in front of the app and set X-Forwarded-For/-Proto/-Host.
        "TRUSTED_PROXIES": read.integer("TRUSTED_PROXIES", 0),
        "RATELIMIT_HEADERS_ENABLED": True,
        "MAX_CONTENT_LENGTH": read.integer("MAX_CONTENT_LENGTH", 1024 * 1024, minimum=1024),
        "WTF_CSRF_TIME_LIMIT": read.integer("WTF_CSRF_TIME_LIMIT", 3600, minimum=60),
        # A slow reader may keep a survey page open for a long time.
        "SURVEY_CSRF_TIME_LIMIT": read.integer("SURVEY_CSRF_TIME_LIMIT", 4 * 3600, minimum=60),
        # Survey rate limits count per address and browser, so readers behind one office or
        # carrier address are not locked out; an address has a ceiling of its own, and beyond
        # SURVEY_START_CAPTCHA_AFTER starts it is asked for the CAPTCHA (when one is configured).
        "SURVEY_START_RATE_LIMIT": read.rate_limit("SURVEY_START_RATE_LIMIT", "20 per hour"),
        "SURVEY_START_ADDRESS_RATE_LIMIT": read.rate_limit("SURVEY_START_ADDRESS_RATE_LIMIT", "300 per hour"),
        "SURVEY_START_CAPTCHA_AFTER": read.rate_limit("SURVEY_START_CAPTCHA_AFTER", "20 per hour"),
        "SURVEY_PAGE_RATE_LIMIT": read.rate_limit("SURVEY_PAGE_RATE_LIMIT", "300 per hour"),
        # Giving: starts of a gift per address (every try) and per email (gifts started), so that
        # /donate is no card-testing tool; DONATE_CAPTCHA asks for the survey's CAPTCHA there too
        # (when CAPTCHA_PROVIDER is set); unpaid starts are purged after this many days.
        "DONATE_RATE_LIMIT": read.rate_limit("DONATE_RATE_LIMIT", "20 per hour"),
        "DONATE_EMAIL_RATE_LIMIT": read.rate_limit("DONATE_EMAIL_RATE_LIMIT", "5 per hour"),
        "DONATE_CAPTCHA": read.flag("DONATE_CAPTCHA"),
        "ABANDONED_DONATION_DAYS": read.integer("ABANDONED_DONATION_DAYS", 7, minimum=1),
        # The donor's year: a member whose Sight+ rests on one-off gifts is told this many days
        # before it lapses (`flask membership lapse-reminders`).
        "LAPSE_REMINDER_DAYS": read.integer("LAPSE_REMINDER_DAYS", 30, minimum=1),
        # Giving statements cover a financial year starting on the first of this month (7: July).
        "FINANCIAL_YEAR_START_MONTH": read.integer("FINANCIAL_YEAR_START_MONTH", 7, minimum=1),
        # Printed on every receipt (checked above: production refuses the placeholders).
        "ORG_LEGAL_NAME": read.text("ORG_LEGAL_NAME", DEV_ORG_LEGAL_NAME),
        "ORG_ABN": read.text("ORG_ABN", DEV_ORG_ABN),
        "RECEIPT_TAX_STATEMENT": read.text("RECEIPT_TAX_STATEMENT", DEV_RECEIPT_TAX_STATEMENT),
        # Signs ID tokens ("Sign in with Sight+"); without it, keys live in the database (not in production).
        "IDENTITY_SIGNING_KEY_FILE": read.signing_key_file("IDENTITY_SIGNING_KEY_FILE"),
        # The magazine's site: a Referer from it names the article a reader came from.
        "SITE_URL": read.url("SITE_URL", None),
        # Defaults for new surveys: free text and email answers are kept this many months,
        # unfinished responses this many days (`flask surveys purge`).
        "SURVEY_RETENTION_MONTHS": read.integer("SURVEY_RETENTION_MONTHS", 24, minimum=1),
        "UNFINISHED_RETENTION_DAYS": read.integer("UNFINISHED_RETENTION_DAYS", 30, minimum=1),
        **captcha,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
    }
    if config["MIN_DONATION_CENTS"] > config["MAX_DONATION_CENTS"]:
        read.problems.append(f"MIN_DONATION_CENTS={config['MIN_DONATION_CENTS']} is more than "
                             f"MAX_DONATION_CENTS={config['MAX_DONATION_CENTS']}.")
    if config["FINANCIAL_YEAR_START_MONTH"] > 12:
        read.problems.append(f"FINANCIAL_YEAR_START_MONTH={config['FINANCIAL_YEAR_START_MONTH']} is not a month: 1 to 12.")
    if read.problems:
        raise ConfigError(read.problems)
    return config


def _captcha_settings(read: _Reader, production: bool) -> dict:
    name = read.text("CAPTCHA_PROVIDER", "").lower()
    if name in ("", "none", "off"):
        return {"CAPTCHA_PROVIDER": None, "CAPTCHA_ORIGINS": []}
    if name not in CAPTCHA_PROVIDERS:
        read.problems.append(f"CAPTCHA_PROVIDER={name} is not one of {', '.join(CAPTCHA_PROVIDERS)} (or off).")
        return {"CAPTCHA_PROVIDER": None, "CAPTCHA_ORIGINS": []}
    provider = CAPTCHA_PROVIDERS[name]
    site_key, secret_key = read.text("CAPTCHA_SITE_KEY", ""), read.text("CAPTCHA_SECRET_KEY", "")
    if production and not (site_key and secret_key):
        read.problems.append("CAPTCHA_PROVIDER needs CAPTCHA_SITE_KEY and CAPTCHA_SECRET_KEY.")
    return {
        "CAPTCHA_PROVIDER": name,
        "CAPTCHA_SITE_KEY": site_key,
        "CAPTCHA_SECRET_KEY": secret_key,
        "CAPTCHA_SCRIPT_URL": read.url("CAPTCHA_SCRIPT_URL", provider["script_url"]),
        "CAPTCHA_VERIFY_URL": read.url("CAPTCHA_VERIFY_URL", provider["verify_url"]),
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
