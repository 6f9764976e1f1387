"""Role checks for views: staff pages answer 403 to readers and send anonymous visitors to sign in.

Staff and admins are only ever signed in after their second factor (see accounts views), so a
signed-in staff user here has passed TOTP.
"""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from sight.extensions import login_manager


def _requires(check):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not check(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


staff_required = _requires(lambda user: user.is_staff)
admin_required = _requires(lambda user: user.is_admin)
