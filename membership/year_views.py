"""Pages of the donor's year: stopping lapse reminders (and, as they come, giving statements).

Every URL is in `membership.blueprint`; these functions are the views it names."""

from __future__ import annotations

from flask import current_app, render_template

from membership.forms import StopLapseRemindersForm
from membership.lapse import load_opt_out, stop_lapse_reminders
from sight.db import utcnow
from sight.errors import render_error
from sight.extensions import db


def stop_reminders(token: str):
    """A lapse reminder's "no more reminders" link: a page with a button, which stops them."""
    user_id = load_opt_out(current_app.config["SECRET_KEY"], token)
    if user_id is None:
        return render_error(404, "That link isn't valid", "The link may be incomplete. Please copy it from the email again.")
    form = StopLapseRemindersForm()
    stopped = False
    if form.validate_on_submit():
        stop_lapse_reminders(db.session, user_id, utcnow())
        db.session.commit()
        stopped = True
    return render_template("membership/stop_reminders.html", form=form, stopped=stopped)
