"""Data the benchmark builds for itself: readers' responses to the default survey, donors with
gifts, a staff account, and half-finished responses whose last page the load sends.

Everything is inserted in bulk with SQLAlchemy Core, in batches, so that a million responses
take minutes rather than hours; the app's own code is not used to write them.
"""

from __future__ import annotations

import json
import random
import secrets
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import stripe
from flask import Flask, session
from flask_wtf.csrf import generate_csrf
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, insert, select

from accounts.models import Role, User
from membership.donors import find_or_create_donor
from membership.models import Donor, GiftKind, LedgerEntry
from membership.stripe_api import StripeGateway
from sight.extensions import db
from surveys.definition import walk
from surveys.models import Response, Survey, SurveyVersion

BATCH = 10_000
# Words the comments are made of; search figures look for one of the rarer ones.
COMMON_WORDS = "the magazine reading article story news more less good great would like please keep".split()
RARE_WORDS = "investigation podcast climate housing election transport budget".split()
SEARCH_WORD = "housing"


def survey_and_version(slug: str) -> tuple[int, int, dict]:
    survey = db.session.scalar(select(Survey).where(Survey.slug == slug))
    version = survey.current_version
    return survey.id, version.id, version.definition


def copy_survey(slug: str, new_slug: str) -> None:
    """Another survey with the same questions (for the XLSX figure and the empty-survey baseline)."""
    survey_id, _version_id, definition = survey_and_version(slug)
    copy = Survey(slug=new_slug, title=f"{new_slug} (benchmark)")
    copy.versions.append(SurveyVersion(number=1, definition={**definition, "slug": new_slug}))
    db.session.add(copy)
    db.session.commit()


def _comment(rng: random.Random) -> str:
    words = rng.choices(COMMON_WORDS, k=rng.randint(6, 30))
    if rng.random() < 0.05:
        words.insert(rng.randrange(len(words)), rng.choice(RARE_WORDS))
    return " ".join(words).capitalize() + "."


def early_answers(rng: random.Random) -> dict:
    """Answers to the default survey's first two pages."""
    answers: dict = {"read_frequency": rng.choice(["daily", "weekly", "monthly", "rarely"])}
    if rng.random() < 0.8:
        answers["found_via"] = rng.choice(["search", "social", "newsletter", "friend", "other_site", "dont_remember"])
    sections = rng.sample(["news", "politics", "culture", "science", "opinion", "other"], rng.randint(1, 3))
    answers["sections"] = sections
    if "other" in sections:
        answers["sections_other"] = rng.choice(["Sport", "Puzzles", "Letters", "Obituaries"]) + f" {rng.randint(1, 99)}"
    answers["devices"] = rng.sample(["phone", "tablet", "computer"], rng.randint(1, 3))
    if rng.random() < 0.9:
        answers["age_band"] = rng.choice(["under_25", "25_34", "35_49", "50_64", "65_plus", "prefer_not"])
    if rng.random() < 0.9:
        answers["state"] = rng.choice(["nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt", "overseas"])
    return answers


def last_page_answers(rng: random.Random) -> dict:
    answers: dict = {
        "more_of": {row: rng.choice(["less", "same", "more"]) for row in ("investigations", "explainers", "local", "podcasts")},
        "recommend": rng.randint(0, 10),
    }
    if rng.random() < 0.3:
        answers["recommend_better"] = _comment(rng)
    if rng.random() < 0.6:
        answers["comment"] = _comment(rng)
    return answers


def fill_responses(survey_slug: str, count: int, *, seed: int = 1, years: float = 2.0) -> None:
    """`count` finished responses spread evenly over the last `years`, the newest an hour ago."""
    survey_id, version_id, _ = survey_and_version(survey_slug)
    rng = random.Random(seed)
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    step = timedelta(days=365 * years) / max(count, 1)
    for first in range(0, count, BATCH):
        rows = []
        for n in range(first, min(first + BATCH, count)):
            submitted = end - step * (count - n)
            rows.append(
                dict(
                    survey_id=survey_id,
                    version_id=version_id,
                    resume_token=secrets.token_urlsafe(32),
                    answers={**early_answers(rng), **last_page_answers(rng)},
                    current_page=2,
                    started_at=submitted - timedelta(seconds=rng.randint(40, 400)),
                    submitted_at=submitted,
                    utm_source=rng.choice([None, "newsletter", "twitter"]),
                    sight_plus=rng.choice([None, None, True, False]),
                )
            )
        db.session.execute(insert(Response), rows)
        db.session.commit()


def prepare_last_pages(app: Flask, survey_slug: str, count: int, *, seed: int) -> list[str]:
    """`count` unfinished responses waiting on their last page, and for each one the request a
    reader's browser sends to finish it: "cookie<TAB>form body", as the load script reads them.

    One Flask session (with its CSRF token) serves them all, as one reader's browser would; the
    resume cookie differs, naming each response."""
    survey_id, version_id, definition = survey_and_version(survey_slug)
    last = len(definition["pages"]) - 1
    rng = random.Random(seed)
    started = datetime.now(timezone.utc) - timedelta(hours=1)
    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    for first in range(0, count, BATCH):
        db.session.execute(
            insert(Response),
            [
                dict(
                    survey_id=survey_id,
                    version_id=version_id,
                    resume_token=token,
                    answers=early_answers(rng),
                    current_page=last,
                    started_at=started,
                )
                for token in tokens[first : first + BATCH]
            ],
        )
        db.session.commit()
    with app.test_request_context():
        csrf_token = generate_csrf()
        session_cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    resume = URLSafeTimedSerializer(app.secret_key, salt="survey-resume")
    asked = walk.page_field_names(definition["pages"][last])
    lines = []
    for token in tokens:
        answers = last_page_answers(rng)
        fields = [(f"more_of[{row}]", column) for row, column in answers["more_of"].items()]
        fields += [(key, str(value)) for key, value in answers.items() if key != "more_of"]
        # Only what the last page asks: a field it does not have refuses the whole page.
        fields = [(name, value) for name, value in fields if name in asked]
        fields += [("csrf_token", csrf_token), ("action", "submit")]
        cookie = (
            f"{app.config['SESSION_COOKIE_NAME']}={session_cookie}; "
            f"survey_resume_{survey_slug}={resume.dumps([survey_id, token])}"
        )
        lines.append(f"{cookie}\t{urlencode(fields)}")
    return lines


def ledger_count() -> int:
    return db.session.scalar(select(func.count(LedgerEntry.id)))


def finished_count(survey_slug: str) -> int:
    survey_id, _, _ = survey_and_version(survey_slug)
    return db.session.scalar(
        select(func.count(Response.id)).where(Response.survey_id == survey_id, Response.submitted_at.is_not(None))
    )


def staff_cookie(app: Flask) -> str:
    """A signed-in staff member's session cookie (the sign-in with TOTP is not what is measured)."""
    user = db.session.scalar(select(User).where(User.email == "bench-staff@example.com"))
    if user is None:
        user = User(email="bench-staff@example.com", name="Bench Staff", role=Role.staff)
        db.session.add(user)
        db.session.commit()
    with app.test_request_context():
        cookie = app.session_interface.get_signing_serializer(app).dumps({"_user_id": user.get_id(), "_fresh": True})
    return f"{app.config['SESSION_COOKIE_NAME']}={cookie}"


def fill_donors(count: int, *, seed: int = 2) -> None:
    """`count` donors, each with an account and one to three gifts over the last two years, so
    that about half are Sight+ today."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    first_user = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    first_donor = (db.session.scalar(select(func.max(Donor.id))) or 0) + 1
    entry = 0
    for first in range(0, count, BATCH):
        numbers = range(first, min(first + BATCH, count))
        db.session.execute(
            insert(User),
            [dict(id=first_user + n, email=f"donor{n}@example.com", name=f"Donor {n}", role=Role.reader) for n in numbers],
        )
        db.session.execute(insert(Donor), [dict(id=first_donor + n, user_id=first_user + n) for n in numbers])
        entries = []
        for n in numbers:
            for _ in range(rng.randint(1, 3)):
                entry += 1
                entries.append(
                    dict(
                        donor_id=first_donor + n,
                        stripe_object_id=f"pi_bench_{entry}",
                        payment_intent_id=f"pi_bench_{entry}",
                        kind=GiftKind.one_off,
                        amount_cents=rng.choice([500, 1000, 2600, 5000, 10000]),
                        currency="aud",
                        paid_at=now - timedelta(days=rng.uniform(0, 730)),
                    )
                )
        db.session.execute(insert(LedgerEntry), entries)
        db.session.commit()


def paid_payment_intents(app: Flask, stripe_base: str, count: int) -> list[str]:
    """`count` one-off gifts that succeeded in Stripe (localstripe) and that we have not recorded,
    each from a donor of its own, as a newsletter's readers give: each webhook delivery the load
    sends is then a new payment. (One donor paying them all would measure a single ledger
    growing by thousands of gifts a minute, and every delivery waiting for the same donor.)"""
    key, publishable = app.config["STRIPE_SECRET_KEY"], app.config["STRIPE_PUBLISHABLE_KEY"]
    gateway = StripeGateway(key, stripe_base)
    client = stripe.StripeClient(key, base_addresses={"api": stripe_base})
    run = secrets.token_hex(4)
    customers = []
    for number in range(count):
        donor = find_or_create_donor(db.session, email=f"bench-donor-{run}-{number}@example.com",
                                     name=f"Bench Donor {number}", now=datetime.now(timezone.utc))
        donor.stripe_customer_id = gateway.create_customer(
            user_id=donor.user_id, idempotency_key=f"sight-donor-{donor.id}-customer"
        )
        customers.append(donor.stripe_customer_id)
    db.session.commit()

    def pay(customer: str) -> str:
        setup = client.v1.setup_intents.create({"customer": customer, "payment_method_types": ["card"]})
        confirm = urllib.request.Request(
            f"{stripe_base}/v1/setup_intents/{setup.id}/confirm",
            data=json.dumps(
                {
                    "key": publishable,
                    "client_secret": setup.client_secret,
                    "payment_method_data": {"type": "card", "card": {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}},
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        payment_method = json.load(urllib.request.urlopen(confirm))["payment_method"]
        return client.v1.payment_intents.create(
            {"amount": 2600, "currency": "aud", "customer": customer, "payment_method": payment_method,
             "payment_method_types": ["card"], "confirm": True, "metadata": {"kind": "one_off"}}
        ).id

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(pay, customers))


def signed_deliveries(secret: str, payment_ids: list[str]) -> list[str]:
    """One signed `payment_intent.succeeded` delivery per payment: "signature<TAB>body" lines."""
    lines = []
    for payment_id in payment_ids:
        now = int(time.time())
        body = json.dumps(
            {"id": f"evt_{secrets.token_hex(12)}", "object": "event", "type": "payment_intent.succeeded", "created": now,
             "livemode": False, "api_version": "2017-08-15", "data": {"object": {"id": payment_id, "object": "payment_intent"}}}
        )
        lines.append(f"{stripe.WebhookSignature.generate_signature_header(body, secret, now)}\t{body}")
    return lines
