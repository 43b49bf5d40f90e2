"""The staff sign-in blueprint: sign-in (throttled without locking the owner out: device
cookies, see ``views``), its second step (TOTP or a recovery code) and sign-out.

May import ``clinic.accounts`` and the shared web modules; never another blueprint."""

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

from clinic import accounts

bp = Blueprint("auth", __name__)


@bp.record_once
def _check_two_factor_roles(state: BlueprintSetupState) -> None:
    """A mistyped TWO_FACTOR_ROLES stops the app at start, not at every staff request."""
    setting = state.app.config["TWO_FACTOR_ROLES"]
    try:
        accounts.two_factor_roles(setting)
    except accounts.UnknownRole:
        raise RuntimeError(
            f"TWO_FACTOR_ROLES={setting!r}: use 'admin', 'all', or roles separated by commas "
            "(admin, front_desk, clinician)"
        ) from None


from clinic.web.auth import views  # noqa: E402,F401  (registers the routes on bp)
