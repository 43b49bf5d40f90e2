"""Setting up two-step sign-in, shared by the sign-in's set-up step (an admin who must have
it) and each person's own account page: the page with the QR code, drawn on the server as
inline SVG markup (no image request, no ``data:`` URL: the Content-Security-Policy allows
neither; no script, nothing third-party), and the key to type by hand."""

from __future__ import annotations

import segno
from flask import current_app, render_template
from flask_babel import gettext as _
from markupsafe import Markup

from clinic import accounts
from clinic.models import StaffUser


def required(user: StaffUser) -> bool:
    """Whether this member's role must have a second factor (``TWO_FACTOR_ROLES``)."""
    return accounts.two_factor_required(user.role, current_app.config["TWO_FACTOR_ROLES"])


def setup_page(user: StaffUser, form, *, action: str | None = None, status: int = 200):
    """The set-up page for ``user``'s pending secret: the QR code, the key in groups of four,
    and ``form`` to confirm a code from the app. The secret was drawn by the POST that led
    here (a GET writes nothing)."""
    uri = accounts.totp_uri(user.totp_secret, user.email, current_app.config["CLINIC_NAME"])
    return render_template(
        "auth/two_factor_setup.html",
        form=form,
        qr=qr_code_svg(uri),
        secret=grouped(user.totp_secret),
        action=action,
        required=required(user),
    ), status


def qr_code_svg(text: str) -> Markup:
    """``text`` (an ``otpauth://`` address) as an SVG QR code, black on white whatever the
    page's colours (apps read it more easily), with a title for screen readers."""
    svg = segno.make(text, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", title=_("QR code for your authenticator app")
    )
    # segno's own markup, made of path data only: the address is in the pixels, not the text.
    return Markup(svg)  # nosec B704


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type by hand ("ABCD EFGH ...")."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
