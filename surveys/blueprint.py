"""The surveys blueprint: reader pages under /surveys/, staff pages under /staff/surveys/,
and the `flask surveys …` commands."""

from flask import Blueprint

bp = Blueprint("surveys", __name__, cli_group="surveys")
