"""Bad input on the donate form: a message beside the field, nothing in Stripe, nothing in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounts.models import User
from membership.models import Donation, Donor
from sight.extensions import db
from tests.helpers import submit_form

GOOD = {
    "amount": "other",
    "other_amount": "30",
    "frequency": "once",
    "name": "Alex Donor",
    "email": "alex@example.com",
    "message": "",
    "currency": "aud",
}


def stripe_counts(stripe_client):
    return (
        len(stripe_client.v1.customers.list({"limit": 100}).data),
        len(stripe_client.v1.setup_intents.list({"limit": 100}).data),
        len(stripe_client.v1.payment_intents.list({"limit": 100}).data),
    )


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"other_amount": "4.99"}, "amount", "The smallest gift we can take is $5."),
        ({"other_amount": "10000.01"}, "amount", "The largest gift we can take online is $10,000."),
        ({"other_amount": "lots"}, "amount", "Enter an amount in Australian dollars, like 30 or 30.50."),
        ({"other_amount": "30.505"}, "amount", "An amount can&#39;t include a fraction of a cent."),
        ({"other_amount": "US$30"}, "amount", "We can only accept gifts in Australian dollars (AUD)."),
        ({"other_amount": "€30"}, "amount", "We can only accept gifts in Australian dollars (AUD)."),
        ({"other_amount": ""}, "amount", "Enter the amount you would like to give."),
        ({"currency": "usd"}, "amount", "We can only accept gifts in AUD."),
        ({"amount": "1"}, "amount", "Not a valid choice."),
        ({"frequency": "weekly"}, "frequency", "Not a valid choice."),
        ({"email": "not-an-email"}, "email", "Enter an email address like name@example.com."),
        ({"name": ""}, "name", "Enter your name."),
    ],
)
def test_bad_input_gets_a_message_beside_the_field_and_creates_nothing(
    app, client, stripe_client, changes, field_id, message
):
    before = stripe_counts(stripe_client)
    response = submit_form(client, "/donate", {**GOOD, **changes})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="{field_id}-error"' in html
    assert message in html
    # What the donor typed is still there.
    assert 'value="Alex Donor"' in html or changes.get("name") == ""
    assert stripe_counts(stripe_client) == before
    with app.app_context():
        for model in (User, Donor, Donation):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_a_form_without_its_csrf_token_is_refused(client):
    response = client.post("/donate", data=GOOD)
    assert response.status_code == 400


def test_a_fraction_of_a_cent_written_as_trailing_zeros_is_fine(app, client, stripe_client):
    response = submit_form(client, "/donate", {**GOOD, "other_amount": "$1,030.500"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Donation.amount_cents)) == 103050
