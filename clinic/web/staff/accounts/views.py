"""Staff pages: the admin's staff accounts and the clinic's settings, and each person's own
password. The rules live in ``clinic.accounts``; these views parse, call and redirect."""

from __future__ import annotations

from datetime import time, timedelta
from urllib.parse import urlsplit

import limits
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import make_url

from clinic import accounts, formats
from clinic.accounts import AccountError
from clinic.extensions import db
from clinic.models import StaffUser
from clinic.permissions import Action
from clinic.web import two_factor as two_factor_pages
from clinic.web.converters import safe_path
from clinic.web.staff import bp, requires
from clinic.web.staff.accounts.forms import (
    ROLE_LABELS,
    ConfirmPasswordForm,
    NewAccountForm,
    OwnPasswordForm,
    ResetPasswordForm,
    RoleForm,
    TwoFactorCodeForm,
)


def _message(error: AccountError) -> str:
    """The translated sentence for a refusal."""
    if isinstance(error, accounts.EmailTaken):
        return _("There is already an account with this email.")
    if isinstance(error, accounts.InvalidEmail):
        return _("Please check this email address.")
    if isinstance(error, accounts.InvalidName):
        return _("Please fill this in.")
    if isinstance(error, accounts.UnknownRole):
        return _("Please choose one.")
    if isinstance(error, accounts.CommonPassword):
        return _(
            "This is one of the most common passwords, the first ones anyone guessing would "
            "try. Please choose another: a few unrelated words in a row are easy to remember."
        )
    if isinstance(error, accounts.GuessablePassword):
        return _(
            "This password would be quick to guess: it repeats characters, follows a pattern "
            "or a date, or is made of the clinic's words or your own name or email. Please "
            "add a few unrelated words."
        )
    if isinstance(error, accounts.PasswordTooShort):
        return _("Please use at least %(min)d characters.", min=accounts.MIN_PASSWORD_LENGTH)
    if isinstance(error, accounts.WrongCode):
        return _("That code does not match. Codes change every 30 seconds, and each works once.")
    if isinstance(error, accounts.TwoFactorRequired):
        return _("Two-step sign-in is required for your role: it cannot be turned off.")
    if isinstance(error, accounts.TwoFactorState):
        return _("Two-step sign-in was changed meanwhile. Please look at this page again.")
    if isinstance(error, accounts.WrongPassword):
        return _("That is not your current password.")
    if isinstance(error, accounts.NotOnYourself):
        return _(
            "You cannot do this to your own account. Another admin can, or change your "
            "password under My password."
        )
    if isinstance(error, accounts.LastAdmin):
        return _("The clinic needs at least one active admin. Make someone else admin first.")
    return _("That change could not be made.")


def _field_error(form, error: AccountError, field: str | None = None) -> None:
    """Put a refusal next to its field, or above the form."""
    target = getattr(form, field or error.field or "", None)
    if target is not None:
        target.errors = [*target.errors, _message(error)]
    else:
        form.form_errors.append(_message(error))


# --- The list and a new account -----------------------------------------------------------


@bp.route("/accounts", endpoint="accounts")
@requires(Action.MANAGE_STAFF)
def account_list():
    everyone = accounts.list_accounts(current_user)
    limits = _limits()
    pauses = {user.id: accounts.sign_in_pause(limits, user.email) for user in everyone}
    # Active accounts that cannot sign in from a new device now (accounts.locked_out, asked
    # here from the pauses already read): first on the page, with the button, so the admin
    # unlocks a colleague mid-clinic in one tap.
    return render_template(
        "staff/accounts/list.html",
        accounts=everyone,
        pauses=pauses,
        locked_out=[u for u in everyone if u.active and pauses[u.id].paused_until is not None],
        role_labels=ROLE_LABELS,
        when=formats.day_clock_at,
    )


def _render_new(form: NewAccountForm, status: int = 200):
    return render_template(
        "staff/accounts/new.html", form=form, min_password=accounts.MIN_PASSWORD_LENGTH
    ), status


@bp.route("/accounts/new")
@requires(Action.MANAGE_STAFF)
def new_account():
    return _render_new(NewAccountForm())


@bp.post("/accounts")
@requires(Action.MANAGE_STAFF)
def create_account():
    form = NewAccountForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_account(
                current_user,
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                password=form.password.data,
            )
        except AccountError as error:
            _field_error(form, error)
        else:
            # No name or e-mail in the flash: it travels in the (signed, readable) cookie.
            flash(
                _(
                    "Account created. Give them the temporary password in person, and ask "
                    "them to change it under My password."
                ),
                "success",
            )
            return redirect(url_for("staff.account", user_id=user.id), code=303)
    return _render_new(form, 422)


# --- One account --------------------------------------------------------------------------


def _account_or_404(user_id: int) -> StaffUser:
    user = db.session.get(StaffUser, user_id)
    if user is None:
        abort(404)
    return user


def _render_account(
    user: StaffUser,
    *,
    role_form: RoleForm | None = None,
    password_form: ResetPasswordForm | None = None,
    refusal: str | None = None,
    status: int = 200,
):
    if role_form is None:
        role_form = RoleForm(formdata=None, role=user.role)
    return (
        render_template(
            "staff/accounts/account.html",
            account=user,
            role_label=ROLE_LABELS.get(user.role, user.role),
            when=formats.day_clock_at,
            itself=user.id == current_user.id,
            role_form=role_form,
            password_form=password_form or ResetPasswordForm(formdata=None),
            refusal=refusal,
            pause=accounts.sign_in_pause(_limits(), user.email),
            pause_text=_pause_text,
            two_factor_required=two_factor_pages.required(user),
        ),
        status,
    )


# --- Sign-in paused by failures, and the admin's unlock ----------------------------------


def _limits() -> accounts.SignInLimits:
    return accounts.SignInLimits.from_config(current_app.config)


def _window(length: timedelta) -> str:
    """ "15 minutes", "24 hours", "7 days": the window failures are counted over."""
    minutes = int(length.total_seconds()) // 60
    if minutes < 120:
        return _minutes(minutes)
    if minutes < 2 * 24 * 60:
        return ngettext("%(num)d hour", "%(num)d hours", minutes // 60)
    return ngettext("%(num)d day", "%(num)d days", minutes // (24 * 60))


def _pause_text(pause: accounts.SignInPause) -> str:
    """ "5 failed sign-ins from new devices in the last 24 hours. Sign-in from new devices is
    paused until Fri, Nov 20, 4:37 PM." """
    failures = ngettext(
        "%(num)d failed sign-in from a new device in the last %(window)s.",
        "%(num)d failed sign-ins from new devices in the last %(window)s.",
        pause.failures,
        window=_window(pause.window),
    )
    if pause.paused_until is None:
        return failures
    return " ".join(
        (
            failures,
            _(
                "Sign-in from new devices is paused until %(time)s.",
                time=formats.day_clock_at(pause.paused_until),
            ),
        )
    )


@bp.post("/accounts/<int:user_id>/unlock")
@requires(Action.MANAGE_STAFF)
def unlock_sign_in(user_id: int):
    _account_or_404(user_id)
    accounts.unlock_sign_in(current_user, user_id, _limits())
    # Back where the admin pressed Unlock (the list, the day page): a path on this site only.
    back = safe_path(request.form.get("next"))
    flash(
        _(
            "Sign-in is unlocked: the failed tries are forgotten and they can sign in from any "
            "device now."
        ),
        "success",
    )
    return redirect(back or url_for("staff.account", user_id=user_id), code=303)


@bp.route("/accounts/<int:user_id>")
@requires(Action.MANAGE_STAFF)
def account(user_id: int):
    return _render_account(_account_or_404(user_id))


def _set_active(user_id: int, active: bool):
    user = _account_or_404(user_id)
    try:
        accounts.set_active(current_user, user_id, active)
    except AccountError as error:
        return _render_account(user, refusal=_message(error), status=422)
    if active:
        flash(_("The account is active again. Its old password still works."), "success")
    else:
        flash(_("The account is deactivated and signed out everywhere."), "success")
    return redirect(url_for("staff.account", user_id=user_id), code=303)


@bp.post("/accounts/<int:user_id>/deactivate")
@requires(Action.MANAGE_STAFF)
def deactivate_account(user_id: int):
    return _set_active(user_id, False)


@bp.post("/accounts/<int:user_id>/reactivate")
@requires(Action.MANAGE_STAFF)
def reactivate_account(user_id: int):
    return _set_active(user_id, True)


@bp.post("/accounts/<int:user_id>/role")
@requires(Action.MANAGE_STAFF)
def change_role(user_id: int):
    user = _account_or_404(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            accounts.change_role(current_user, user_id, form.role.data)
        except AccountError as error:
            if error.field is None:
                return _render_account(user, refusal=_message(error), status=422)
            _field_error(form, error, "role")
        else:
            flash(_("Role changed. It applies from their next page."), "success")
            return redirect(url_for("staff.account", user_id=user_id), code=303)
    return _render_account(user, role_form=form, status=422)


@bp.post("/accounts/<int:user_id>/password")
@requires(Action.MANAGE_STAFF)
def reset_password(user_id: int):
    user = _account_or_404(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(current_user, user_id, form.password.data)
        except AccountError as error:
            if error.field is None:
                return _render_account(user, refusal=_message(error), status=422)
            _field_error(form, error, "password")
        else:
            flash(
                _(
                    "New temporary password set, and the account is signed out everywhere. "
                    "Give them the password in person."
                ),
                "success",
            )
            return redirect(url_for("staff.account", user_id=user_id), code=303)
    return _render_account(user, password_form=form, status=422)


@bp.post("/accounts/<int:user_id>/two-factor/reset")
@requires(Action.MANAGE_STAFF)
def reset_two_factor(user_id: int):
    user = _account_or_404(user_id)
    try:
        accounts.reset_two_factor(current_user, user_id)
    except AccountError as error:
        return _render_account(user, refusal=_message(error), status=422)
    flash(
        _(
            "Two-step sign-in is reset and the account is signed out everywhere. They set it "
            "up again the next time they sign in."
        ),
        "success",
    )
    return redirect(url_for("staff.account", user_id=user_id), code=303)


# --- One's own second factor --------------------------------------------------------------


def _render_own_two_factor(
    off_form: ConfirmPasswordForm | None = None,
    codes_form: ConfirmPasswordForm | None = None,
    status: int = 200,
):
    user = db.session.get(StaffUser, current_user.id)
    return render_template(
        "staff/accounts/own_two_factor.html",
        account=user,
        when=formats.day_clock_at,
        required=two_factor_pages.required(user),
        codes_left=accounts.recovery_codes_left(user.id),
        off_form=off_form or ConfirmPasswordForm(formdata=None, prefix="off"),
        codes_form=codes_form or ConfirmPasswordForm(formdata=None, prefix="codes"),
    ), status


@bp.route("/account/two-factor")
@requires(Action.OWN_ACCOUNT)
def own_two_factor():
    return _render_own_two_factor()


@bp.post("/account/two-factor/start")
@requires(Action.OWN_ACCOUNT)
def own_two_factor_start():
    try:
        accounts.pending_totp_secret(current_user.id)
    except AccountError:  # on already
        return redirect(url_for("staff.own_two_factor"), code=303)
    return redirect(url_for("staff.own_two_factor_setup"), code=303)


@bp.route("/account/two-factor/setup", methods=["GET", "POST"])
@requires(Action.OWN_ACCOUNT)
def own_two_factor_setup():
    user = db.session.get(StaffUser, current_user.id)
    if user.totp_enabled_at is not None or not user.totp_secret:
        # On already, or not started (``own_two_factor_start`` draws the secret: a GET
        # writes nothing): the page that says which, and offers what can be done.
        return _render_own_two_factor()
    form = TwoFactorCodeForm()
    if form.validate_on_submit():
        try:
            codes = accounts.confirm_two_factor(user.id, form.code.data)
        except AccountError as error:
            _field_error(form, error, "code")
        else:
            return render_template(
                "auth/recovery_codes.html", codes=codes, next=url_for("staff.own_two_factor")
            )
    return two_factor_pages.setup_page(
        user,
        form,
        action=url_for("staff.own_two_factor_setup"),
        status=422 if form.is_submitted() else 200,
    )


@bp.post("/account/two-factor/off")
@requires(Action.OWN_ACCOUNT)
def own_two_factor_off():
    form = ConfirmPasswordForm(prefix="off")
    if form.validate_on_submit():
        try:
            accounts.turn_off_own_two_factor(
                current_user, form.current_password.data, current_app.config["TWO_FACTOR_ROLES"]
            )
        except AccountError as error:
            _field_error(form, error)  # the password's, or above the form
        else:
            flash(_("Two-step sign-in is off. Your password alone signs you in."), "success")
            return redirect(url_for("staff.own_two_factor"), code=303)
    return _render_own_two_factor(off_form=form, status=422)


@bp.post("/account/two-factor/recovery-codes")
@requires(Action.OWN_ACCOUNT)
def own_recovery_codes():
    form = ConfirmPasswordForm(prefix="codes")
    if form.validate_on_submit():
        try:
            codes = accounts.new_own_recovery_codes(current_user, form.current_password.data)
        except AccountError as error:
            _field_error(form, error)
        else:
            return render_template(
                "auth/recovery_codes.html", codes=codes, next=url_for("staff.own_two_factor")
            )
    return _render_own_two_factor(codes_form=form, status=422)


# --- One's own password -------------------------------------------------------------------


@bp.route("/account/password", methods=["GET", "POST"])
@requires(Action.OWN_ACCOUNT)
def own_password():
    form = OwnPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_own_password(
                current_user, form.current_password.data, form.new_password.data
            )
        except AccountError as error:
            field = "new_password" if isinstance(error, accounts.PasswordTooShort) else None
            _field_error(form, error, field)
        else:
            # Every other session of the account ended; this one carries on as it was.
            flash(
                _("Your password is changed. Any other device you used is signed out."), "success"
            )
            return redirect(url_for("staff.own_password"), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "staff/accounts/own_password.html",
        form=form,
        min_password=accounts.MIN_PASSWORD_LENGTH,
    ), status


# --- Settings -----------------------------------------------------------------------------


def _minutes(n: int) -> str:
    return ngettext("%(num)d minute", "%(num)d minutes", n)


def _clock(text: str) -> str:
    return formats.clock(time.fromisoformat(text)) if text.strip() else _("Off")


def _attempts(limit: str) -> str:
    """ "5 per 15 minutes; 50 per day" (Flask-Limiter's syntax) in the reader's language:
    "5 in 15 minutes, 50 in 1 day"."""
    return ", ".join(_one_limit(item) or limit for item in limits.parse_many(limit))


def _one_limit(item: limits.RateLimitItem) -> str | None:
    windows = {
        "second": ngettext("%(num)d second", "%(num)d seconds", item.multiples),
        "minute": _minutes(item.multiples),
        "hour": ngettext("%(num)d hour", "%(num)d hours", item.multiples),
        "day": ngettext("%(num)d day", "%(num)d days", item.multiples),
    }
    window = windows.get(item.GRANULARITY.name)
    if window is None:
        return None
    return _("%(count)d in %(window)s", count=item.amount, window=window)


def _roles_text(setting: str) -> str:
    """ "Admin, Front desk": the roles that must have a second factor."""
    try:
        roles = accounts.two_factor_roles(setting)
    except AccountError:
        return setting
    return ", ".join(str(label) for role, label in ROLE_LABELS.items() if role in roles)


def _scheme(uri: str) -> str:
    """Only the kind of store: a URI may hold a password, which no page shows."""
    return urlsplit(uri).scheme or "—"


def settings_rows() -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The clinic's settings as this server runs with them, grouped: (group, [(label,
    environment variable, value)])."""
    c = current_app.config
    return [
        (
            _("The clinic"),
            [
                (_("Name"), "CLINIC_NAME", c["CLINIC_NAME"]),
                (_("Address"), "CLINIC_ADDRESS", c["CLINIC_ADDRESS"]),
                (_("Phone"), "CLINIC_PHONE", c["CLINIC_PHONE"]),
                (_("Name in text messages"), "CLINIC_SMS_NAME", c["CLINIC_SMS_NAME"]),
                (_("Time zone"), "CLINIC_TZ", c["CLINIC_TZ"]),
            ],
        ),
        (
            _("An ordinary clinic day"),
            [
                (_("Opens"), "CLINIC_DAY_START", _clock(c["CLINIC_DAY_START"])),
                (_("Closes"), "CLINIC_DAY_END", _clock(c["CLINIC_DAY_END"])),
                (_("Length of a time slot"), "SLOT_MINUTES", _minutes(c["SLOT_MINUTES"])),
                (
                    _("Seats per time slot"),
                    "SEATS_PER_SLOT",
                    str(c["SEATS_PER_SLOT"]),
                ),
                (_("Treatment stations"), "STATIONS", ", ".join(c["STATIONS"])),
                (
                    _("Seats per time slot for each clinician on a day's roster"),
                    "SEATS_PER_CLINICIAN",
                    str(c["SEATS_PER_CLINICIAN"]),
                ),
            ],
        ),
        (
            _("Booking"),
            [
                (
                    _("Booking opens this far ahead"),
                    "BOOKING_HORIZON_DAYS",
                    ngettext("%(num)d day", "%(num)d days", c["BOOKING_HORIZON_DAYS"]),
                ),
                (
                    _("Booking closes this long before a time slot"),
                    "BOOKING_CUTOFF_HOURS",
                    ngettext("%(num)d hour", "%(num)d hours", c["BOOKING_CUTOFF_HOURS"]),
                ),
                (_("Youngest age"), "MIN_AGE", str(c["MIN_AGE"])),
                (_("Oldest age"), "MAX_AGE", str(c["MAX_AGE"])),
                (
                    _("Under this age, a parent or guardian must consent"),
                    "GUARDIAN_AGE",
                    str(c["GUARDIAN_AGE"]),
                ),
            ],
        ),
        (
            _("The clinic day"),
            [
                (
                    _("A booked youth who has not arrived is offered as a no-show after"),
                    "NO_SHOW_GRACE_MINUTES",
                    _minutes(c["NO_SHOW_GRACE_MINUTES"]),
                ),
                (
                    _("Shortest time between two treatments"),
                    "FOLLOW_UP_MIN_WEEKS",
                    ngettext("%(num)d week", "%(num)d weeks", c["FOLLOW_UP_MIN_WEEKS"]),
                ),
                (
                    _("Queue screens refresh every"),
                    "QUEUE_REFRESH_SECONDS",
                    ngettext("%(num)d second", "%(num)d seconds", c["QUEUE_REFRESH_SECONDS"]),
                ),
            ],
        ),
        (
            _("Staff sign-in"),
            [
                (
                    _("Signed out after no activity for"),
                    "STAFF_IDLE_MINUTES",
                    _minutes(c["STAFF_IDLE_MINUTES"]),
                ),
                (
                    _("Signed out this long after signing in, however active"),
                    "STAFF_SESSION_HOURS",
                    ngettext("%(num)d hour", "%(num)d hours", c["STAFF_SESSION_HOURS"]),
                ),
                (
                    _("Failed sign-ins allowed for one account from one address"),
                    "LOGIN_FAILURES_PER_ACCOUNT_ADDRESS",
                    _attempts(c["LOGIN_FAILURES_PER_ACCOUNT_ADDRESS"]),
                ),
                (
                    _("Failed sign-ins allowed for one account from all new devices"),
                    "LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT",
                    _attempts(c["LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT"]),
                ),
                (
                    _("Failed sign-ins allowed on a device the account signed in on before"),
                    "LOGIN_FAILURES_PER_DEVICE",
                    _attempts(c["LOGIN_FAILURES_PER_DEVICE"]),
                ),
                (
                    _("Two-step sign-in is required for"),
                    "TWO_FACTOR_ROLES",
                    _roles_text(c["TWO_FACTOR_ROLES"]),
                ),
                (
                    _("A device is remembered after a sign-in for"),
                    "DEVICE_COOKIE_DAYS",
                    ngettext("%(num)d day", "%(num)d days", c["DEVICE_COOKIE_DAYS"]),
                ),
            ],
        ),
        (
            _("Messages to youth"),
            [
                (
                    _("First reminder, days before"),
                    "REMINDER_DAYS_BEFORE",
                    ngettext("%(num)d day", "%(num)d days", c["REMINDER_DAYS_BEFORE"]),
                ),
                (_("First reminder at"), "REMINDER_EARLY_AT", _clock(c["REMINDER_EARLY_AT"])),
                (
                    _("Reminder on the day at"),
                    "REMINDER_SAME_DAY_AT",
                    _clock(c["REMINDER_SAME_DAY_AT"]),
                ),
                (
                    _("Tries before a message is given up"),
                    "OUTBOX_MAX_ATTEMPTS",
                    str(c["OUTBOX_MAX_ATTEMPTS"]),
                ),
                (_("E-mail server"), "MAIL_SERVER", c["MAIL_SERVER"] or _("Not configured")),
                (
                    _("Text messages (Twilio)"),
                    "TWILIO_ACCOUNT_SID",
                    _("Configured") if c["TWILIO_ACCOUNT_SID"] else _("Not configured"),
                ),
                (
                    _("Messages one phone or e-mail address may get"),
                    "MESSAGES_PER_DESTINATION",
                    _attempts(c["MESSAGES_PER_DESTINATION"]),
                ),
            ],
        ),
        (
            _("Limits on what can be repeated"),
            [
                (
                    _("Online booking requests from one address"),
                    "BOOKING_LIMIT_PER_ADDRESS",
                    _attempts(c["BOOKING_LIMIT_PER_ADDRESS"]),
                ),
                (
                    _("Online booking requests for one phone or e-mail"),
                    "BOOKING_LIMIT_PER_CONTACT",
                    _attempts(c["BOOKING_LIMIT_PER_CONTACT"]),
                ),
                (
                    _("Availability API requests from one address"),
                    "AVAILABILITY_LIMIT_PER_ADDRESS",
                    _attempts(c["AVAILABILITY_LIMIT_PER_ADDRESS"]),
                ),
                (
                    _("Youth searches and records one staff account may open"),
                    "STAFF_RECORD_READS_PER_ACCOUNT",
                    _attempts(c["STAFF_RECORD_READS_PER_ACCOUNT"]),
                ),
            ],
        ),
        (
            _("The server"),
            [
                (
                    _("Where the limits are counted"),
                    "RATELIMIT_STORAGE_URI",
                    _scheme(c["RATELIMIT_STORAGE_URI"]),
                ),
                (
                    _("Database"),
                    "DATABASE_URL",
                    make_url(c["SQLALCHEMY_DATABASE_URI"]).get_backend_name(),
                ),
            ],
        ),
    ]


SETTINGS_NOTE = _l(
    "These are set by whoever runs the server, through environment variables, and change "
    "when the app restarts. Changes to one clinic date (closed, other hours or seats) are "
    "made in Schedule."
)


@bp.route("/settings")
@requires(Action.VIEW_SETTINGS)
def settings():
    return render_template(
        "staff/accounts/settings.html", groups=settings_rows(), note=SETTINGS_NOTE
    )
