"""The surveys blueprint: reader pages under /surveys/, staff pages under /staff/surveys/,
and the `flask surveys …` commands."""

from flask import Blueprint

from accounts.roles import staff_required
from surveys import builder_views

bp = Blueprint("surveys", __name__, cli_group="surveys")


# --- Staff insight: the survey builder ------------------------------------------------------------
# (Its views are plain functions in builder_views.py; every one is for staff only.)

for rule, endpoint, methods in (
    ("/staff/surveys/new/builder", "builder_new", ["GET", "POST"]),
    ("/staff/surveys/<slug>/builder", "builder_overview", ["GET"]),
    ("/staff/surveys/<slug>/builder/questions/<qid>", "builder_question", ["GET"]),
    ("/staff/surveys/<slug>/builder/pages/<page_id>", "builder_page", ["GET"]),
    ("/staff/surveys/<slug>/builder/step/<step>", "builder_step", ["POST"]),
    ("/staff/surveys/<slug>/builder/publish", "builder_publish", ["POST"]),
    ("/staff/surveys/<slug>/builder/discard", "builder_discard", ["POST"]),
):
    bp.add_url_rule(rule, endpoint, staff_required(getattr(builder_views, endpoint)), methods=methods)
