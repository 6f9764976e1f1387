"""The accounts blueprint: sign-in, registration and settings pages, the staff shell under /staff/
(dashboard, audit log, people), and the `flask users …` commands."""

from flask import Blueprint

bp = Blueprint("accounts", __name__, cli_group="users")

# Where a signed-in person lands when no `next` was asked for: the member area.
ACCOUNT_HOME = "/account"
