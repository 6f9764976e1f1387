"""Forms: each parses and validates what a person sent; the views never read request.form."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    URL,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from sight.templating import format_money

PRESET_CENTS = (2600, 5000, 10000, 25000)
OTHER = "other"
# "$30", "30.50", "1,000", "AUD 30": dollars, optionally with cents.
AMOUNT = re.compile(r"^(?:A?\$|AUD\s*)?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s*(?:AUD)?$", re.I)
FOREIGN = re.compile(r"(US\$|NZ\$|€|£|¥|\b(?:USD|EUR|GBP|NZD|JPY)\b)", re.I)


def parse_dollars(text: str) -> int:
    """Cents from what a donor typed; ValueError with a message for them otherwise."""
    text = (text or "").strip()
    if FOREIGN.search(text):
        raise ValueError("We can only accept gifts in Australian dollars (AUD).")
    match = AMOUNT.match(text)
    if not match:
        raise ValueError("Enter an amount in dollars, like 30 or 30.50.")
    whole, fraction = match.group(1).replace(",", ""), match.group(2) or ""
    if len(fraction) > 2 and fraction.rstrip("0")[2:]:
        raise ValueError("An amount can't include a fraction of a cent.")
    try:
        cents = Decimal(whole + "." + (fraction or "0")) * 100
    except InvalidOperation as exc:  # pragma: no cover - the pattern only lets digits through
        raise ValueError("Enter an amount in dollars, like 30 or 30.50.") from exc
    return int(cents)


def cents_within_limits(text: str, settings) -> int:
    try:
        cents = parse_dollars(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    if cents < settings.min_cents:
        raise ValidationError(f"The smallest gift we can take is {format_money(settings.min_cents)}.")
    if cents > settings.max_cents:
        raise ValidationError(
            f"The largest gift we can take online is {format_money(settings.max_cents)}."
        )
    return cents


class DonateForm(FlaskForm):
    amount = RadioField(
        "How much would you like to give?",
        choices=[SelectChoice(str(c), format_money(c)) for c in PRESET_CENTS]
        + [SelectChoice(OTHER, "Another amount")],
        validators=[InputRequired("Choose an amount.")],
    )
    other_amount = StringField(
        "Another amount (in dollars)",
        description="For example 30 or 42.50.",
        validators=[Optional(), Length(max=20)],
    )
    frequency = RadioField(
        "How often?",
        choices=[SelectChoice("once", "Once"), SelectChoice("yearly", "Every year")],
        default="once",
        validators=[InputRequired("Choose once or every year.")],
    )
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=200)])
    email = EmailField(
        "Email address",
        description="For your receipt, and to match your gifts to your account.",
        validators=[
            DataRequired("Enter your email address."),
            Email("Enter an email address like name@example.com.", check_deliverability=False),
            Length(max=320),
        ],
    )
    message = TextAreaField(
        "A message for Sight (optional)", validators=[Optional(), Length(max=1000)]
    )
    currency = HiddenField()
    source = HiddenField(validators=[Optional(), Length(max=80)])

    def __init__(self, *args, settings, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.cents: int | None = None

    def validate_amount(self, field):
        # The currency is not a choice on the page, so a different one was tampered with;
        # the message goes beside the amount, which is what the donor can see.
        if (self.currency.data or self.settings.currency).lower() != self.settings.currency:
            raise ValidationError(f"We can only accept gifts in {self.settings.currency.upper()}.")
        typed = (self.other_amount.data or "").strip()
        if field.data != OTHER:
            if field.data not in {str(c) for c in PRESET_CENTS}:
                raise ValidationError("Choose one of the amounts, or another amount.")
            if typed:
                raise ValidationError(
                    f"You chose {format_money(int(field.data))} and typed “{typed}”: choose “Another amount” "
                    "to give what you typed, or clear it."
                )
            self.cents = int(field.data)
            return
        if not typed:
            raise ValidationError("Enter the amount you would like to give.")
        self.cents = cents_within_limits(self.other_amount.data, self.settings)


class ConfirmCardForm(FlaskForm):
    """Posted by donate.js once Stripe.js has confirmed the card (only the CSRF token matters)."""


class GiftVersionForm(FlaskForm):
    """A form that changes an annual gift carries the gift and the version the page showed: the
    submit claims exactly that version, so a second tab or a double click changes nothing."""

    gift = HiddenField()
    version = HiddenField()

    def shown(self, annual) -> GiftVersionForm:
        self.gift.data, self.version.data = annual.id, annual.version
        return self

    @staticmethod
    def _number(value) -> int | None:
        return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 12 else None

    @property
    def gift_id(self) -> int | None:
        return self._number(self.gift.data)

    @property
    def gift_version(self) -> int | None:
        return self._number(self.version.data)


class ManageCardForm(GiftVersionForm):
    """Posted by donate.js once Stripe.js has confirmed the new card."""


class CancelForm(GiftVersionForm):
    confirm = BooleanField(
        "Yes, stop my annual gift at the end of the year I have paid for",
        validators=[DataRequired("Tick the box to confirm.")],
    )


class ResumeForm(GiftVersionForm):
    confirm = BooleanField(
        "Yes, resume my annual gift: renew it at the end of the year I have paid for",
        validators=[DataRequired("Tick the box to confirm.")],
    )


class NewLinkForm(FlaskForm):
    """Only the CSRF token: the new link goes to the donor's email address, not to this page."""


class ChangeAmountForm(GiftVersionForm):
    new_amount = StringField(
        "New yearly amount (in dollars)",
        description="Charged from your next renewal; nothing is charged now.",
        validators=[DataRequired("Enter the new yearly amount."), Length(max=20)],
    )

    def __init__(self, *args, settings, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.cents: int | None = None

    def validate_new_amount(self, field):
        self.cents = cents_within_limits(field.data, self.settings)


class BenefitForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), Length(max=200)])
    description = TextAreaField(
        "What members get (everyone sees this)", validators=[Optional(), Length(max=5000)]
    )
    members_content = TextAreaField(
        "Members-only content", validators=[Optional(), Length(max=20000)]
    )
    members_link = URLField(
        "Members-only link (optional)",
        validators=[Optional(), URL(message="Enter a full web address, starting https://."), Length(max=500)],
    )
    position = IntegerField(
        "Position in the list",
        default=0,
        validators=[InputRequired("Enter a whole number."), NumberRange(min=0, max=10000)],
    )
    published = BooleanField("Published")
