"""Forms of the identity package: the reader's consent and revoke buttons, staff's client form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from identity.models import SCOPES


class ConsentForm(FlaskForm):
    allow = SubmitField("Allow")
    deny = SubmitField("Don't allow")


class RevokeSiteForm(FlaskForm):
    submit = SubmitField("Sign this site out and forget it")


class SignOutEverywhereForm(FlaskForm):
    submit = SubmitField("Sign out of Sight")


def _lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes (a multiple <select> is hard to use on a phone)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ClientForm(FlaskForm):
    name = StringField(
        "Site name", validators=[DataRequired("Give the site a name readers will recognise."), Length(max=200)],
        description="Readers see it on the consent page and in their list of sites.",
    )
    redirect_uris = TextAreaField(
        "Redirect addresses", validators=[DataRequired("Give at least one address, starting with https://.")],
        description="One per line, exactly as the site sends them (for WordPress: https://SITE/wp-login.php?action=sight_plus_callback).",
    )
    post_logout_redirect_uris = TextAreaField(
        "After sign-out addresses", description="Optional, one per line: where a site may send readers after signing out."
    )
    scopes = CheckboxesField(
        "What the site may ask", choices=[SelectChoice(s, s) for s in SCOPES], default=["openid", "email", "profile", "sight_plus"],
        render_kw={"class": "checks"},
    )
    auth_method = SelectField(
        "How the site proves it is itself",
        choices=[SelectChoice("client_secret_basic", "With a secret (a server-side site such as WordPress)"),
                 SelectChoice("client_secret_post", "With a secret sent in the form body"),
                 SelectChoice("none", "No secret (an app in the browser or on a phone; PKCE required)")],
    )
    first_party = BooleanField("The magazine's own site: don't ask readers to consent")
    submit = SubmitField("Save")

    def redirect_uri_list(self) -> list[str]:
        return _lines(self.redirect_uris.data)

    def logout_uri_list(self) -> list[str]:
        return _lines(self.post_logout_redirect_uris.data)


class ClientActionForm(FlaskForm):
    submit = SubmitField("Go")
