"""The web: the only code that knows about requests. Three blueprints by audience, each
guarded once: ``public`` (youth booking, no account), ``auth`` (staff sign-in) and ``staff``
(one sub-package per screen: day, records, lists, schedule, accounts, messages, each with its
forms beside its views). Shared here: form fields and the intake form (``forms``), the wording of
refused bookings (``refusals``), the rules and the clock per request (``context``), URL
converters (``converters``) and the visitor's language (``i18n``).

May import every capability; no capability imports the web, and the blueprints never import
one another (what two of them share lives in this package's shared modules).
"""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from clinic.web.auth import bp as auth_bp
    from clinic.web.public import bp as public_bp
    from clinic.web.staff import bp as staff_bp

    # Each staff screen registers its routes on the staff blueprint when its views load; the
    # blueprint itself imports none of them, so the screens stay independent of one another.
    from clinic.web.staff.accounts import views as _accounts  # noqa: F401
    from clinic.web.staff.audit import views as _audit  # noqa: F401
    from clinic.web.staff.day import views as _day  # noqa: F401
    from clinic.web.staff.lists import views as _lists  # noqa: F401
    from clinic.web.staff.messages import views as _messages  # noqa: F401
    from clinic.web.staff.records import bookings as _bookings  # noqa: F401
    from clinic.web.staff.records import edit as _edit  # noqa: F401
    from clinic.web.staff.records import privacy as _privacy  # noqa: F401
    from clinic.web.staff.records import views as _records  # noqa: F401
    from clinic.web.staff.reports import views as _reports  # noqa: F401
    from clinic.web.staff.reports import visit_list as _visit_list  # noqa: F401
    from clinic.web.staff.schedule import views as _schedule  # noqa: F401

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(staff_bp, url_prefix="/staff")
