"""Forms: each parses and validates what a person sent; the views never read request.form."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_symbol, is_currency
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

from sight.templating import Formats

PRESET_CENTS = (2600, 5000, 10000, 25000)
OTHER = "other"
# "30", "30.50", "1,000": whole units of the currency, optionally with cents (the currency's own
# sign or code around it is taken off first).
AMOUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")
# Three letters on their own: perhaps a currency code (USD, NZD…).
THREE_LETTERS = re.compile(r"(?<![A-Za-z])[A-Za-z]{3}(?![A-Za-z])")


def _names_another_currency(text: str) -> bool:
    """A currency sign (US$, €, £…) or code left once the configured currency's own are taken off."""
    return any(unicodedata.category(char) == "Sc" for char in text) or any(
        is_currency(word.upper()) for word in THREE_LETTERS.findall(text)
    )


def _own_currency_marks(formats: Formats) -> list[str]:
    """How a donor may write the configured currency: its code, its sign here and its sign abroad."""
    code = formats.currency_code()
    marks = {code, get_currency_symbol(code, formats.locale), get_currency_symbol(code, "en")}
    if any(mark.endswith("$") for mark in marks):
        marks.add("$")
    return sorted(marks, key=len, reverse=True)


def parse_amount(text: str, formats: Formats) -> int:
    """Cents from what a donor typed; ValueError with a message for them otherwise."""
    text = (text or "").strip()
    for mark in _own_currency_marks(formats):
        if text.upper().startswith(mark.upper()):
            text = text[len(mark):].strip()
        if text.upper().endswith(mark.upper()):
            text = text[: -len(mark)].strip()
    if _names_another_currency(text):
        raise ValueError(f"We can only accept gifts in {formats.currency_name()} ({formats.currency_code()}).")
    match = AMOUNT.match(text)
    if not match:
        raise ValueError(f"Enter an amount in {formats.currency_name()}, like 30 or 30.50.")
    whole, fraction = match.group(1).replace(",", ""), match.group(2) or ""
    if len(fraction) > 2 and fraction.rstrip("0")[2:]:
        raise ValueError("An amount can't include a fraction of a cent.")
    try:
        cents = Decimal(whole + "." + (fraction or "0")) * 100
    except InvalidOperation as exc:  # pragma: no cover - the pattern only lets digits through
        raise ValueError(f"Enter an amount in {formats.currency_name()}, like 30 or 30.50.") from exc
    return int(cents)


def dollars(cents: int) -> str:
    """Cents as a donor types them into "Another amount": 10, or 10.50."""
    whole, remainder = divmod(cents, 100)
    return f"{whole}" if remainder == 0 else f"{whole}.{remainder:02d}"


def cents_within_limits(text: str, settings) -> int:
    try:
        cents = parse_amount(text, settings.formats)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    if cents < settings.min_cents:
        raise ValidationError(f"The smallest gift we can take is {settings.formats.money(settings.min_cents)}.")
    if cents > settings.max_cents:
        raise ValidationError(
            f"The largest gift we can take online is {settings.formats.money(settings.max_cents)}."
        )
    return cents


class DonateForm(FlaskForm):
    amount = RadioField(
        "How much would you like to give?",
        # The amounts are written in the configured currency when the form is made.
        choices=[SelectChoice(str(c), str(c)) for c in PRESET_CENTS] + [SelectChoice(OTHER, "Another amount")],
        validators=[InputRequired("Choose an amount.")],
    )
    other_amount = StringField(
        "Another amount",
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
        formats = settings.formats
        self.amount.choices = [SelectChoice(str(c), formats.money(c)) for c in PRESET_CENTS] + [
            SelectChoice(OTHER, "Another amount")
        ]
        self.other_amount.label.text = f"Another amount (in {formats.currency_name()})"

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
                    f"You chose {self.settings.formats.money(int(field.data))} and typed “{typed}”: choose “Another amount” "
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
        "New yearly amount",
        description="Charged from your next renewal; nothing is charged now.",
        validators=[DataRequired("Enter the new yearly amount."), Length(max=20)],
    )

    def __init__(self, *args, settings, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.cents: int | None = None
        self.new_amount.label.text = f"New yearly amount (in {settings.formats.currency_name()})"

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


class StopLapseRemindersForm(FlaskForm):
    """The button behind a lapse reminder's "no more reminders" link (a link alone changes nothing:
    mail scanners open links)."""
