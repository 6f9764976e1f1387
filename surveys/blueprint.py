"""Every URL of the surveys package, and its `flask surveys …` commands: reader pages under
/surveys/, staff pages under /staff/surveys/. The views live in `views` (readers),
`manage_views` (staff: list, edit, import) and `staff_views` (staff: results and exports)."""

from flask import Blueprint

from surveys import builder_views, cli, erasure_views, insight, insight_views, manage_views, staff_views, views
from surveys.question_view import question_views

bp = Blueprint("surveys", __name__, cli_group="surveys")

# Readers taking a survey.
bp.add_url_rule("/surveys/<slug>", view_func=views.take_intro, methods=["GET"])
bp.add_url_rule("/surveys/<slug>/start", view_func=views.take_start, methods=["POST"])
bp.add_url_rule("/surveys/<slug>/resume/<token>", view_func=views.take_resume, methods=["GET"])
bp.add_url_rule("/surveys/<slug>/page/<int:number>", view_func=views.take_page, methods=["GET", "POST"])
bp.add_url_rule("/surveys/<slug>/thanks", view_func=views.take_thanks, methods=["GET"])
bp.add_url_rule("/surveys/<slug>/sight-plus", view_func=views.take_ask, methods=["GET"])
bp.add_url_rule("/surveys/<slug>/my-answers", view_func=views.own_answers, methods=["GET"])
bp.add_url_rule("/surveys/<slug>/my-answers/delete", view_func=views.delete_own_answers, methods=["POST"])

# Staff managing surveys.
bp.add_url_rule("/staff/surveys", view_func=manage_views.manage_list, methods=["GET"])
bp.add_url_rule("/staff/surveys/new", view_func=manage_views.manage_new, methods=["GET", "POST"])
bp.add_url_rule("/staff/surveys/import", view_func=manage_views.manage_import, methods=["GET", "POST"])
bp.add_url_rule("/staff/surveys/<slug>/edit", view_func=manage_views.manage_edit, methods=["GET", "POST"])
bp.add_url_rule("/staff/surveys/<slug>/dates", view_func=manage_views.manage_dates, methods=["POST"])
bp.add_url_rule("/staff/surveys/<slug>/retention", view_func=manage_views.manage_retention, methods=["POST"])
bp.add_url_rule("/staff/surveys/<slug>/<any(open, close):change>", view_func=manage_views.manage_status, methods=["POST"])
bp.add_url_rule("/staff/surveys/<slug>/duplicate", view_func=manage_views.manage_duplicate, methods=["GET", "POST"])
bp.add_url_rule(
    "/staff/surveys/<slug>/definition.<any(yaml, json):fmt>", view_func=manage_views.manage_download, methods=["GET"]
)

# Staff reading results and exporting.
bp.add_url_rule("/staff/surveys/<slug>", view_func=staff_views.staff_results, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/answers/<field_name>", view_func=staff_views.staff_text_answers, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/export.<fmt>", view_func=staff_views.staff_export, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/codebook.csv", view_func=staff_views.staff_codebook, methods=["GET"])

# Staff building a survey without YAML (issue 13: staff insight)…
bp.add_url_rule("/staff/surveys/new/builder", view_func=builder_views.builder_new, methods=["GET", "POST"])
bp.add_url_rule("/staff/surveys/<slug>/builder", view_func=builder_views.builder_overview, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/builder/questions/<qid>", view_func=builder_views.builder_question, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/builder/pages/<page_id>", view_func=builder_views.builder_page, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/builder/step/<step>", view_func=builder_views.builder_step, methods=["POST"])
bp.add_url_rule("/staff/surveys/<slug>/builder/publish", view_func=builder_views.builder_publish, methods=["POST"])
bp.add_url_rule("/staff/surveys/<slug>/builder/discard", view_func=builder_views.builder_discard, methods=["POST"])
# …and reading results more closely (issue 13): cross-tabs, Sight+ beside others, one response,
# charts as files, and the promise each survey makes.
bp.add_url_rule("/staff/surveys/<slug>/crosstab", view_func=insight_views.staff_crosstab, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/crosstab.csv", view_func=insight_views.staff_crosstab_csv, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/sight-plus", view_func=insight_views.staff_side_by_side, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/responses", view_func=insight_views.staff_first_response, methods=["GET"])
bp.add_url_rule("/staff/surveys/<slug>/responses/<int:response_id>", view_func=insight_views.staff_response, methods=["GET"])
bp.add_url_rule(
    "/staff/surveys/<slug>/charts/<name>.<any(svg, png):fmt>", view_func=insight_views.staff_chart, methods=["GET"]
)
bp.add_url_rule("/staff/surveys/<slug>/promise", view_func=insight_views.manage_promise, methods=["GET", "POST"])
# Erasing a response on a reader's request (issue 22): find it, then confirm.
bp.add_url_rule("/staff/surveys/<slug>/erase", view_func=erasure_views.staff_find_to_erase, methods=["GET"])
bp.add_url_rule(
    "/staff/surveys/<slug>/responses/<int:response_id>/erase", view_func=erasure_views.staff_erase, methods=["GET", "POST"]
)

bp.add_app_template_filter(views.paragraphs_filter, "paragraphs")
# The editor's preview draws a definition's questions as readers see them.
bp.add_app_template_filter(question_views, "question_views")
bp.add_app_template_filter(insight.highlight_words, "highlight")

for command in cli.COMMANDS:
    bp.cli.add_command(command)
