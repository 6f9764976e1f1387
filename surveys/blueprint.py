"""Every URL of the surveys package, and its `flask surveys …` commands: reader pages under
/surveys/, staff pages under /staff/surveys/. The views live in `views` (readers),
`manage_views` (staff: list, edit, import) and `staff_views` (staff: results and exports)."""

from flask import Blueprint

from surveys import cli, manage_views, staff_views, views

bp = Blueprint("surveys", __name__, cli_group="surveys")

# Readers taking a survey.
bp.add_url_rule("/surveys/<slug>", view_func=views.take_intro, methods=["GET"])
bp.add_url_rule("/surveys/<slug>/start", view_func=views.take_start, methods=["POST"])
bp.add_url_rule("/surveys/<slug>/resume/<token>", view_func=views.take_resume, methods=["GET"])
bp.add_url_rule("/surveys/<slug>/page/<int:number>", view_func=views.take_page, methods=["GET", "POST"])
bp.add_url_rule("/surveys/<slug>/thanks", view_func=views.take_thanks, methods=["GET"])

# Staff managing surveys.
bp.add_url_rule("/staff/surveys", view_func=manage_views.manage_list, methods=["GET"])
bp.add_url_rule("/staff/surveys/new", view_func=manage_views.manage_new, methods=["GET", "POST"])
bp.add_url_rule("/staff/surveys/import", view_func=manage_views.manage_import, methods=["GET", "POST"])
bp.add_url_rule("/staff/surveys/<slug>/edit", view_func=manage_views.manage_edit, methods=["GET", "POST"])
bp.add_url_rule("/staff/surveys/<slug>/dates", view_func=manage_views.manage_dates, methods=["POST"])
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

bp.add_app_template_filter(views.paragraphs_filter, "paragraphs")

for command in cli.COMMANDS:
    bp.cli.add_command(command)
