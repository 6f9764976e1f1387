"""Forms of the accounts package and the staff shell; each error is written for the person."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from accounts.models import Role
from accounts.passwords import MAX_LENGTH, password_problem


def acceptable_password(form, field) -> None:
    problem = password_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


def _strip(value: str | None) -> str | None:
    return value.strip() if value else value


def _email_field(label: str = "Email address") -> EmailField:
    return EmailField(
        label,
        filters=[_strip],
        validators=[
            DataRequired("Enter your email address."),
            Length(max=320, message="That email address is too long."),
            Email("Enter an email address like name@example.com."),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


def _new_password_fields(label: str = "Password"):
    password = PasswordField(
        label,
        validators=[DataRequired("Choose a password."), acceptable_password],
        description="At least 12 characters. A few unrelated words make a good one.",
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Type the password again",
        validators=[
            DataRequired("Type the password again."),
            EqualTo("password", "The two passwords are not the same."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class RegisterForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[DataRequired("Enter your name."), Length(max=200, message="Use at most 200 characters.")],
        render_kw={"autocomplete": "name"},
    )
    email = _email_field()
    password, confirm = _new_password_fields()
    submit = SubmitField("Create account")


class SignInForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Sign in")


class EmailLinkForm(FlaskForm):
    email = _email_field()
    submit = SubmitField("Email me a link")


class ConfirmLinkForm(FlaskForm):
    submit = SubmitField("Sign in")


class NewPasswordForm(FlaskForm):
    password, confirm = _new_password_fields("New password")
    submit = SubmitField("Save the new password")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", render_kw={"autocomplete": "current-password"}
    )
    password, confirm = _new_password_fields("New password")
    submit = SubmitField("Change password")


class TotpForm(FlaskForm):
    code = StringField(
        "Six-digit code from your authenticator app",
        validators=[DataRequired("Enter the code your app shows.")],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"},
    )
    submit = SubmitField("Continue")


class SignOutForm(FlaskForm):
    submit = SubmitField("Sign out")


class CloseAccountForm(FlaskForm):
    password = PasswordField(
        "Your password", render_kw={"autocomplete": "current-password"}
    )
    confirmation = StringField(
        'Type "close my account"', render_kw={"autocomplete": "off", "spellcheck": "false"}
    )
    submit = SubmitField("Close my account")

    CONFIRMATION = "close my account"


STAFF_ROLE_CHOICES = [SelectChoice(Role.staff.value, "Staff"), SelectChoice(Role.admin.value, "Admin")]
ALL_ROLE_CHOICES = [SelectChoice(Role.reader.value, "Reader (no staff access)"), *STAFF_ROLE_CHOICES]


class InviteForm(FlaskForm):
    email = _email_field("Their email address")
    name = StringField(
        "Their name (optional)", validators=[Length(max=200, message="Use at most 200 characters.")]
    )
    role = SelectField("Role", choices=STAFF_ROLE_CHOICES, default=Role.staff.value)
    submit = SubmitField("Send invitation")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ALL_ROLE_CHOICES)
    submit = SubmitField("Change role")


class RemoveAccessForm(FlaskForm):
    submit = SubmitField("Remove staff access")
