"""Use cases for staff accounts: signing in and out (one session per sign-in), the sign-in
throttle's counts, the admin's account management, and each person's own password.

Each use case is one write transaction and takes the acting ``StaffUser``; nothing here reads
the request. The admin's actions are checked against ``Action.MANAGE_STAFF`` here as well as by
the staff blueprint's guard, with the actor's role as it is in the database now, not as it was
when their request began. Refusals are ``AccountError`` subclasses, which the views turn into
translated messages next to the right field.

The one exception to "an acting user" is ``create_or_reset_from_cli``: ``flask create-staff``
is run by whoever runs the server, who already holds the database, so it has no actor. It is
how the first admin is made, and how an admin who lost their password gets back in.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pyotp
from limits import RateLimitItem, parse_many
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from clinic import audit, settings
from clinic.database import write_transaction
from clinic.extensions import db, limiter
from clinic.models import RecoveryCode, StaffSession, StaffUser, hash_session_token, utcnow
from clinic.permissions import Action, NotAllowed, Role, require

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12  # ASVS 2.1.1
MAX_PASSWORD_LENGTH = 200  # werkzeug hashes anything; this only bounds the work per attempt
MAX_NAME_LENGTH = 100  # the column's size
MAX_EMAIL_LENGTH = 254
# The shape only; the form checks more. Sign-in compares addresses lower-cased.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(Exception):
    """A refused account change. ``field`` names the form field it is about, if one."""

    field: str | None = None


class AccountNotFound(AccountError):
    pass


class InvalidEmail(AccountError):
    field = "email"


class EmailTaken(AccountError):
    field = "email"


class InvalidName(AccountError):
    field = "name"


class UnknownRole(AccountError):
    field = "role"


class PasswordTooShort(AccountError):
    field = "password"


class CommonPassword(PasswordTooShort):
    """One of the passwords people pick most (zxcvbn's list of 30,000, from real leaks)."""


class GuessablePassword(PasswordTooShort):
    """Long enough but quick to guess: a repeat, a sequence, a date, a keyboard pattern, or
    made of the clinic's own words or the member's name or e-mail."""


class WrongCode(AccountError):
    """The second step's code (an authenticator's or a recovery code) does not match, or was
    used already."""

    field = "code"


class TwoFactorState(AccountError):
    """The second factor is not in the state this step needs (already on, not set up, or
    required by the account's role and so not to be turned off)."""


class TwoFactorRequired(TwoFactorState):
    """The account's role must have a second factor (``TWO_FACTOR_ROLES``): it stays on."""


class WrongPassword(AccountError):
    field = "current_password"


class NotOnYourself(AccountError):
    """An admin cannot deactivate, demote or reset the password of their own account here
    (their own password is changed with the current one, on their own page)."""


class LastAdmin(AccountError):
    """The change would leave the clinic without an active admin."""


# --- Rules on plain values ---------------------------------------------------------------


def normalize_email(email: str) -> str:
    """Addresses are stored and compared lower-cased, so ``Ana@X.org`` and ``ana@x.org`` are
    one account."""
    return email.strip().lower()


# Words anyone guessing a staff password would try first, with the clinic's name (from the
# configuration) and the member's own name and e-mail.
CLINIC_WORDS = ("clinic", "laser", "tattoo", "removal", "mission", "youth", "staff")
# zxcvbn's scores: 3 is "safely unguessable: moderate protection from an offline slow-hash
# scenario" (fewer than 10^10 guesses is out of reach); below that is refused.
MIN_PASSWORD_SCORE = 3
# zxcvbn's time grows with the length; a longer password is not made weaker by its tail.
_SCORED_LENGTH = 100


@functools.cache
def _common_passwords() -> frozenset[str]:
    """zxcvbn's list of the most used passwords (from leaked password sets), lower-cased."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def own_words(email: str = "", name: str = "", clinic_name: str = "") -> list[str]:
    """What a password must not be made of: the clinic's words, its name, the member's e-mail
    (its local part, and its parts) and name."""
    local = email.partition("@")[0].lower()
    words = [*CLINIC_WORDS, local, *re.split(r"[^a-z0-9]+", local)]
    words += [word.lower() for word in re.split(r"\W+", f"{name} {clinic_name}") if word]
    return [word for word in dict.fromkeys(words) if len(word) > 2]


def check_password(password: str, user_inputs: Iterable[str] = ()) -> None:
    """A staff password (ASVS 2.1): at least ``MIN_PASSWORD_LENGTH`` characters, not among the
    most common passwords, and not quick to guess for zxcvbn, which knows repeats ("aaaa"),
    sequences, dates, keyboard patterns, l33t and the words given in ``user_inputs``
    (``own_words``). Refusals say why: ``PasswordTooShort``, ``CommonPassword``,
    ``GuessablePassword``. Pure: no database, no request."""
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooShort()
    if password.lower() in _common_passwords():
        raise CommonPassword()
    words = [word.lower() for word in user_inputs if len(word) > 2]
    verdict = zxcvbn(password[:_SCORED_LENGTH], user_inputs=words)
    if verdict["score"] < MIN_PASSWORD_SCORE or _mostly_own_words(password, words):
        raise GuessablePassword()


# Letters a password must keep once the clinic's and the member's own words are taken out.
_OWN_REST_LETTERS = 6


def _mostly_own_words(password: str, words: Iterable[str]) -> bool:
    """Whether the password is the clinic's or the member's own words with digits or symbols
    around them ("danaruiz2026", "Mission.Clinic!"): zxcvbn scores each added token on its
    own and lets such combinations pass."""
    rest = password.lower()
    found = False
    for word in sorted(words, key=len, reverse=True):
        if word in rest:
            found = True
            rest = rest.replace(word, " ")
    return found and len(re.sub(r"[\W\d_]+", "", rest)) < _OWN_REST_LETTERS


# scrypt's cost parameter (werkzeug's default is 2**15) and PBKDF2's rounds (OWASP asks for
# 600,000 with SHA-256) below which a stolen hash is cheap to crack.
MIN_SCRYPT_COST = 2**14
MIN_PBKDF2_ROUNDS = 600_000


def strong_hash_method(method: str) -> bool:
    """Whether werkzeug's password hash ``method`` ("scrypt", "scrypt:32768:8:1",
    "pbkdf2:sha256:600000") is costly enough to store real staff passwords.

    Rule: scrypt with a cost of at least ``MIN_SCRYPT_COST``, or PBKDF2 with at least
    ``MIN_PBKDF2_ROUNDS`` rounds; werkzeug's defaults for either are strong.
    """
    name, *params = method.split(":")
    try:
        if name == "scrypt":
            return not params or int(params[0]) >= MIN_SCRYPT_COST
        if name == "pbkdf2":
            return len(params) < 2 or int(params[1]) >= MIN_PBKDF2_ROUNDS
    except ValueError:
        return False
    return False


def _clean_email(email: str) -> str:
    email = normalize_email(email)
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_SHAPE.match(email):
        raise InvalidEmail()
    return email


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidName()
    return name


def _clean_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UnknownRole() from None


# --- Inside a transaction ----------------------------------------------------------------


def _locked_admin_ids() -> set[int]:
    """The ids of the active admins, their rows locked until this transaction ends.

    Every change that can take an admin away (deactivate, demote) reads this set first and
    refuses if the change would empty it. Two admins demoting each other at the same moment
    cannot both pass:
    - SQLite: every write transaction begins with BEGIN IMMEDIATE, so the second one starts
      only after the first committed, and reads one admin.
    - PostgreSQL: SELECT ... FOR UPDATE locks the admin rows (in id order, so two such
      transactions never deadlock). The second transaction waits for the first to commit, and
      PostgreSQL then re-checks each waited-for row against the WHERE clause: the demoted
      admin's row no longer matches, so the second transaction sees one admin and refuses;
      and as that one admin is not its actor, it is refused as not allowed anyway.
    """
    rows = db.session.scalars(
        select(StaffUser.id)
        .where(StaffUser.role == Role.ADMIN, StaffUser.active.is_(True))
        .order_by(StaffUser.id)
        .with_for_update()
    )
    return set(rows)


def _acting_admin(actor: StaffUser, admins: set[int]) -> None:
    """The actor must be an active admin now, in this transaction, not only when their request
    began (another admin may have demoted them a moment ago)."""
    require(actor.role, Action.MANAGE_STAFF)
    if actor.id not in admins:
        raise NotAllowed(Action.MANAGE_STAFF)


def _target(user_id: int) -> StaffUser:
    user = db.session.get(StaffUser, user_id, populate_existing=True)
    if user is None:
        raise AccountNotFound()
    return user


def _keep_an_admin(admins: set[int], losing: int) -> None:
    if not admins - {losing}:
        raise LastAdmin()


def _set_role(user: StaffUser, role: Role, admins: set[int]) -> None:
    if user.role == Role.ADMIN and role != Role.ADMIN and user.active:
        _keep_an_admin(admins, user.id)
    if user.role != role:
        _account_change(user.id, ["role"])
    user.role = role


def _end_sessions(user_id: int, keep: int | None = None) -> None:
    """Delete the account's sessions (all, or all but ``keep``): each of their cookies, and any
    copy, signs nobody in from the next request on."""
    statement = delete(StaffSession).where(StaffSession.staff_id == user_id)
    if keep is not None:
        statement = statement.where(StaffSession.id != keep)
    db.session.execute(statement)


def _check_policy(password: str, email: str, name: str) -> None:
    """``check_password`` with this clinic's words and this member's e-mail and name."""
    check_password(password, own_words(email, name, settings.clinic_info().name))


def _account_change(user_id: int, fields: Iterable[str]) -> None:
    """An ``account_change`` event in the audit trail, in the caller's transaction: which
    fields of which account changed (never their values)."""
    audit.record("account_change", object_type="staff_user", object_id=user_id, fields=fields)


def _set_password(user: StaffUser, password: str, keep_session: int | None = None) -> None:
    _check_policy(password, user.email, user.name)
    user.set_password(password)
    # Whoever had the old password is signed out everywhere (but on ``keep_session``).
    _end_sessions(user.id, keep=keep_session)
    _account_change(user.id, ["password"])


def _insert(email: str, name: str, role: Role, password: str) -> StaffUser:
    taken = db.session.scalar(select(StaffUser.id).where(func.lower(StaffUser.email) == email))
    if taken is not None:
        raise EmailTaken()
    user = StaffUser(email=email, name=name, role=role, active=True)
    user.set_password(password)
    db.session.add(user)
    try:
        # Stored lower-cased, so the unique index catches a race the check above missed (on
        # PostgreSQL; SQLite's write lock already ruled it out).
        db.session.flush()
    except IntegrityError:
        raise EmailTaken() from None
    _account_change(user.id, ["email", "name", "role", "active", "password"])
    return user


# --- Signing in and out ------------------------------------------------------------------


def session_clock() -> datetime:
    """Now, as naive UTC, for staff sessions. The real clock, not the clinic's: tests freeze
    that one at a date and move it days ahead, which must not sign anyone out; the tests of
    session expiry replace this function instead."""
    return utcnow()


def sign_in(user_id: int, lifetime: timedelta) -> StaffUser:
    """Start a session for an account whose password was just checked, and return the account
    carrying its token (``session_token``, for the browser's cookie; the database keeps only
    its hash) and its id (``session_id``).

    Each sign-in is a session of its own: another device's stays as it is. The session ends
    ``lifetime`` after now whatever happens. Also notes the sign-in time for the accounts list,
    and deletes every expired session of any account, so the table only holds live ones.
    """
    now = session_clock()
    token = secrets.token_urlsafe(32)
    with write_transaction():
        user = _target(user_id)
        user.last_login_at = now
        db.session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
        session = StaffSession(
            staff_id=user.id,
            token_hash=hash_session_token(token),
            created_at=now,
            expires_at=now + lifetime,
        )
        db.session.add(session)
        db.session.flush()
        audit.record("sign_in", staff_id=user.id, object_type="staff_user", object_id=user.id)
        user.session_token, user.session_id = token, session.id
    return user


def record_failed_sign_in(staff_id: int | None, step: str) -> None:
    """A ``sign_in_failed`` event: the account whose e-mail was typed, if one has it (never
    the e-mail or the password typed), and the step that failed ("password", "two_factor")."""
    with write_transaction():
        audit.record(
            "sign_in_failed",
            staff_id=staff_id,
            object_type="staff_user" if staff_id is not None else None,
            object_id=staff_id,
            detail={"step": step},
        )


def signed_in_user(token: str, two_factor_setting: str = "admin") -> StaffUser | None:
    """The account a session token signs in (one query), or None: the session was signed out,
    ended by a password change or a deactivation, has expired, or the account is inactive, or
    its role needs a second factor (``TWO_FACTOR_ROLES``) it does not have: a session from
    before the rule, or one promoted to admin since, signs in again and sets one up."""
    found = db.session.execute(
        select(StaffUser, StaffSession.id)
        .join(StaffSession, StaffSession.staff_id == StaffUser.id)
        .where(
            StaffSession.token_hash == hash_session_token(token),
            StaffSession.expires_at > session_clock(),
            StaffUser.active.is_(True),
            or_(
                StaffUser.totp_enabled_at.is_not(None),
                StaffUser.role.not_in(sorted(two_factor_roles(two_factor_setting))),
            ),
        )
    ).one_or_none()
    if found is None:
        return None
    user, session_id = found
    user.session_token, user.session_id = token, session_id
    return user


def sign_out(session_id: int, staff_id: int) -> None:
    """End one session, this browser's: every copy of its cookie stops working. The account's
    other devices stay signed in."""
    with write_transaction():
        db.session.execute(delete(StaffSession).where(StaffSession.id == session_id))
        audit.record("sign_out", staff_id=staff_id, object_type="staff_user", object_id=staff_id)


# --- The second factor: TOTP and recovery codes --------------------------------------------
#
# An authenticator app (RFC 6238: SHA-1, 6 digits, 30-second steps, as every app reads them)
# holds a secret shared with ``StaffUser.totp_secret`` (encrypted at rest). The secret is
# drawn when set-up begins and stays pending (``totp_enabled_at`` NULL) until a code from
# the app confirms it. A code is good for its step and one step either side (clock drift),
# and once only: ``totp_last_step`` is the step of the last code accepted, and only a later
# step is heard, checked and moved under the account's row lock, so two requests with one
# code cannot both pass. Ten recovery codes, drawn with ``secrets`` and shown once, stand in
# for a lost phone; the database keeps their SHA-256 (they are random, like session tokens)
# and each works once (a conditional UPDATE).

TOTP_INTERVAL = 30
TOTP_DIGITS = 6
TOTP_VALID_WINDOW = 1  # steps either side of now
RECOVERY_CODE_COUNT = 10
# Lower-case letters and digits a reader cannot confuse (no 0/o, 1/l/i): 31 symbols, ten of
# them are 49 bits, far beyond reach of the throttled second step.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10
TWO_FACTOR_ALL = "all"


def two_factor_roles(setting: str) -> frozenset[Role]:
    """The roles that must have a second factor (``TWO_FACTOR_ROLES``): "all", or roles
    separated by commas. Admins always must: the setting can only add roles."""
    if setting.strip().lower() == TWO_FACTOR_ALL:
        return frozenset(Role)
    roles = {_clean_role(part.strip().lower()) for part in setting.split(",") if part.strip()}
    return frozenset({Role.ADMIN, *roles})


def two_factor_required(role: str, setting: str) -> bool:
    return role in two_factor_roles(setting)


def new_totp_secret() -> str:
    """160 random bits in base32, as RFC 4226 recommends and authenticator apps expect."""
    return pyotp.random_base32()


def totp_uri(secret: str, label: str, issuer: str) -> str:
    """The ``otpauth://`` address the QR code carries: the app files the code under the
    issuer and the label (the member's e-mail)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL).provisioning_uri(
        name=label, issuer_name=issuer
    )


def totp_step(now: float) -> int:
    return int(now // TOTP_INTERVAL)


def totp_code(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL).generate_otp(step)


def normalize_code(code: str) -> str:
    """What was typed, without spaces and dashes, lower-cased ("123 456", "ABCDE-FGHJK")."""
    return re.sub(r"[\s-]+", "", code).lower()


def is_totp_code(code: str) -> bool:
    code = normalize_code(code)
    return len(code) == TOTP_DIGITS and code.isascii() and code.isdigit()


def matching_step(secret: str, code: str, now: float, last_step: int | None) -> int | None:
    """The step within ``TOTP_VALID_WINDOW`` of ``now`` whose code ``code`` is, if it is later
    than ``last_step`` (a code is accepted once); else None. Pure."""
    code = normalize_code(code)
    if not is_totp_code(code):
        return None
    current = totp_step(now)
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp_code(secret, step), code):
            return step
    return None


def new_recovery_code() -> str:
    """ "abcde-fghjk": ten random symbols, in two groups to read out and type."""
    symbols = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    half = RECOVERY_CODE_LENGTH // 2
    return f"{symbols[:half]}-{symbols[half:]}"


def hash_recovery_code(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def _locked_target(user_id: int) -> StaffUser:
    """The account, its row locked until the transaction ends (PostgreSQL; SQLite's write
    transactions are one at a time already)."""
    user = db.session.get(StaffUser, user_id, populate_existing=True, with_for_update=True)
    if user is None:
        raise AccountNotFound()
    return user


def _replace_recovery_codes(user_id: int) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user_id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(
        RecoveryCode(staff_id=user_id, code_hash=hash_recovery_code(code)) for code in codes
    )
    return codes


def _clear_two_factor(user: StaffUser) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user.id))


def pending_totp_secret(user_id: int) -> str:
    """The secret to show while the account sets up its second factor: the one drawn before
    if set-up began already (a reloaded page shows the same QR code), else a new one.

    Rules: not for an account whose second factor is on (it is reset first, by an admin, or
    turned off by its owner)."""
    with write_transaction():
        user = _locked_target(user_id)
        if user.totp_enabled_at is not None:
            raise TwoFactorState()
        if not user.totp_secret:
            user.totp_secret = new_totp_secret()
        return user.totp_secret


def confirm_two_factor(user_id: int, code: str, now: float | None = None) -> list[str]:
    """Turn the second factor on with a code from the app that read the pending secret, and
    return the new recovery codes (shown once; the database keeps only their hashes).

    Rules: a pending secret; a code within the window."""
    now = time.time() if now is None else now
    with write_transaction():
        user = _locked_target(user_id)
        if user.totp_enabled_at is not None or not user.totp_secret:
            raise TwoFactorState()
        step = matching_step(user.totp_secret, code, now, None)
        if step is None:
            raise WrongCode()
        user.totp_enabled_at = utcnow()
        user.totp_last_step = step
        codes = _replace_recovery_codes(user.id)
        _account_change(user.id, ["two_factor"])
        return codes


def check_second_factor(user_id: int, code: str, now: float | None = None) -> str:
    """The second step of signing in: a code from the app ("totp") or a recovery code
    ("recovery"), each accepted once. Raises ``WrongCode``.

    A code's step is checked and recorded under the account's row lock, so a code seen over a
    shoulder, or sent twice at once, works for one sign-in only."""
    now = time.time() if now is None else now
    with write_transaction():
        user = _locked_target(user_id)
        if user.totp_enabled_at is None or not user.totp_secret:
            raise TwoFactorState()
        if is_totp_code(code):
            step = matching_step(user.totp_secret, code, now, user.totp_last_step)
            if step is None:
                raise WrongCode()
            user.totp_last_step = step
            return "totp"
        used = db.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.staff_id == user.id,
                RecoveryCode.code_hash == hash_recovery_code(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )
        if used.rowcount != 1:
            raise WrongCode()
        _account_change(user.id, ["recovery_code"])
        return "recovery"


def recovery_codes_left(user_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.staff_id == user_id, RecoveryCode.used_at.is_(None))
    )


def reset_two_factor(actor: StaffUser, user_id: int) -> StaffUser:
    """An admin clears a member's second factor (a lost phone and no recovery code left): the
    secret and the recovery codes go, and so do the member's sessions. The member sets a new
    one up at their next sign-in if their role needs one.

    Rules: admins only; not one's own (another admin does it, or the owner on their page)."""
    require(actor.role, Action.MANAGE_STAFF)
    with write_transaction():
        _acting_admin(actor, _locked_admin_ids())
        user = _locked_target(user_id)
        if user.id == actor.id:
            raise NotOnYourself()
        _clear_two_factor(user)
        _end_sessions(user.id)
        _account_change(user.id, ["two_factor"])
        return user


def turn_off_own_two_factor(actor: StaffUser, password: str, setting: str) -> StaffUser:
    """A member whose role does not require a second factor turns theirs off, given their
    password (an unattended signed-in screen cannot do it).

    Rules: every role may, but not when ``TWO_FACTOR_ROLES`` requires it for theirs."""
    require(actor.role, Action.OWN_ACCOUNT)
    with write_transaction():
        user = _locked_target(actor.id)
        if not user.active:
            raise NotAllowed(Action.OWN_ACCOUNT)
        if two_factor_required(user.role, setting):
            raise TwoFactorRequired()
        if not user.check_password(password):
            raise WrongPassword()
        if user.totp_secret is not None or user.totp_enabled_at is not None:
            _clear_two_factor(user)
            _account_change(user.id, ["two_factor"])
        return user


def new_own_recovery_codes(actor: StaffUser, password: str) -> list[str]:
    """Ten new recovery codes for one's own account (the old ones stop working), given the
    password. Rules: the second factor is on."""
    require(actor.role, Action.OWN_ACCOUNT)
    with write_transaction():
        user = _locked_target(actor.id)
        if not user.active:
            raise NotAllowed(Action.OWN_ACCOUNT)
        if user.totp_enabled_at is None:
            raise TwoFactorState()
        if not user.check_password(password):
            raise WrongPassword()
        codes = _replace_recovery_codes(user.id)
        _account_change(user.id, ["recovery_code"])
        return codes


# --- Throttling sign-in -------------------------------------------------------------------
#
# What is counted and why is explained in ``clinic.web.auth.views``; here are the counts. They
# live in the limiter's storage (Redis in production, shared by every worker), under a keyed
# hash of the e-mail typed, known account or not (so the answers never tell whether an
# account exists, and the store never holds an address). Only failures are counted.


@dataclass(frozen=True)
class SignInLimits:
    """The failed sign-ins allowed, read from the configuration (``LOGIN_FAILURES_*``)."""

    per_account_address: tuple[RateLimitItem, ...]
    untrusted_per_account: tuple[RateLimitItem, ...]
    per_device: tuple[RateLimitItem, ...]
    key_prefix: str = ""  # RATELIMIT_KEY_PREFIX: apps (or tests) sharing one Redis apart
    swallow_errors: bool = False  # RATELIMIT_SWALLOW_ERRORS: a store that is down lets all in

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SignInLimits:
        return cls(
            per_account_address=tuple(parse_many(config["LOGIN_FAILURES_PER_ACCOUNT_ADDRESS"])),
            untrusted_per_account=tuple(parse_many(config["LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT"])),
            per_device=tuple(parse_many(config["LOGIN_FAILURES_PER_DEVICE"])),
            key_prefix=config.get("RATELIMIT_KEY_PREFIX", ""),
            swallow_errors=bool(config.get("RATELIMIT_SWALLOW_ERRORS", False)),
        )

    def longest(self) -> int:
        """The longest window of any limit, in seconds."""
        items = self.per_account_address + self.untrusted_per_account + self.per_device
        return max(item.get_expiry() for item in items)


@dataclass(frozen=True)
class SignInAttempt:
    """Who is trying to sign in, as the throttle sees them."""

    account: str  # sign_in_account(email): the same for a known account and an unknown one
    address: str
    # The nonce of this browser's device cookie for this account, if it carries a valid one:
    # the account signed in from this browser before.
    device: str | None = None


@dataclass(frozen=True)
class SignInPause:
    """What the admin sees of an account's throttle: failures from browsers it never signed
    in on, counted over ``window``, and until when such browsers must wait (None: they need
    not)."""

    failures: int
    window: timedelta
    paused_until: datetime | None  # naive UTC


def sign_in_account(email: str) -> str:
    """What an e-mail typed is counted under: a keyed hash, never the address itself."""
    return settings.keyed_hash("sign-in", normalize_email(email))


Result = TypeVar("Result")


def _storage_call(limits: SignInLimits, call: Callable[[], Result], fallback: Result) -> Result:
    """Run a call on the limiter's store. If the store is down and RATELIMIT_SWALLOW_ERRORS
    says so, sign-in goes on unthrottled (logged) rather than shut every staff member out."""
    try:
        return call()
    except limiter.storage.base_exceptions as error:
        if not limits.swallow_errors:
            raise
        log.warning("sign-in throttle store unavailable, not throttling: %s", type(error).__name__)
        return fallback


def _prefix(limits: SignInLimits, account: str) -> tuple[str, ...]:
    return (limits.key_prefix, "sign-in", account) if limits.key_prefix else ("sign-in", account)


def _unlocked_key(limits: SignInLimits, account: str) -> str:
    return "/".join(("LIMITER", *_prefix(limits, account), "unlocked"))


def _account_keys(limits: SignInLimits, account: str) -> tuple[str, ...]:
    """The start of every key the account is counted under. It holds the account's unlock
    mark (``unlock_sign_in`` changes it), so an unlock starts every count of the account
    afresh, whatever address or device it was kept for."""
    mark = limiter.storage.get(_unlocked_key(limits, account))
    return (*_prefix(limits, account), str(mark))


def _buckets(
    limits: SignInLimits, attempt: SignInAttempt
) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    """The limits this attempt is counted against, each with its key: a known device's own,
    or, for any other browser, the account's from this address and from all new devices."""
    base = _account_keys(limits, attempt.account)
    if attempt.device is not None:
        return [(item, (*base, "device", attempt.device)) for item in limits.per_device]
    return [
        *((item, (*base, "address", attempt.address)) for item in limits.per_account_address),
        *((item, (*base, "untrusted")) for item in limits.untrusted_per_account),
    ]


def _window() -> MovingWindowRateLimiter:
    # A moving window whatever RATELIMIT_STRATEGY says: the pause's end is read from it.
    return MovingWindowRateLimiter(limiter.storage)


def _naive_utc(timestamp: float | None) -> datetime | None:
    return (
        None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)
    )


def _paused_until(buckets: list[tuple[RateLimitItem, tuple[str, ...]]]) -> float | None:
    window, ends = _window(), []
    for item, key in buckets:
        stats = window.get_window_stats(item, *key)
        if stats.remaining <= 0:
            ends.append(stats.reset_time)
    return max(ends) if ends else None


def sign_in_paused_until(limits: SignInLimits, attempt: SignInAttempt) -> datetime | None:
    """When this attempt may be heard (naive UTC), or None if it may be now.

    Asked before the password is looked at: a refused attempt never learns whether its
    password was right, so guessing on while refused gains nothing.
    """
    if not limiter.enabled:
        return None
    return _naive_utc(_storage_call(limits, lambda: _paused_until(_buckets(limits, attempt)), None))


def count_failed_sign_in(limits: SignInLimits, attempt: SignInAttempt) -> None:
    """Count a wrong password (or unknown e-mail) against every limit the attempt is under."""
    if not limiter.enabled:
        return

    def count() -> None:
        window = _window()
        for item, key in _buckets(limits, attempt):
            window.hit(item, *key)

    _storage_call(limits, count, None)


def sign_in_pause(limits: SignInLimits, email: str) -> SignInPause:
    """The account's failures from browsers it never signed in on (counted over the longest
    ``LOGIN_FAILURES_UNTRUSTED_PER_ACCOUNT`` window), and until when such browsers wait."""
    longest = max(limits.untrusted_per_account, key=lambda item: item.get_expiry())
    window_length = timedelta(seconds=longest.get_expiry())
    nothing = SignInPause(0, window_length, None)
    if not limiter.enabled:
        return nothing
    account = sign_in_account(email)

    def read() -> SignInPause:
        key = (*_account_keys(limits, account), "untrusted")
        stats = _window().get_window_stats(longest, *key)
        return SignInPause(
            failures=longest.amount - stats.remaining,
            window=window_length,
            paused_until=_naive_utc(
                _paused_until([(item, key) for item in limits.untrusted_per_account])
            ),
        )

    return _storage_call(limits, read, nothing)


def unlock_sign_in(actor: StaffUser, user_id: int, limits: SignInLimits) -> StaffUser:
    """Forget the account's failed sign-ins, from every address and device: whoever waits to
    sign in (a new phone, a new staff member) may at once.

    Rules: admins only (active, and an admin now, not only when their request began).
    """
    require(actor.role, Action.MANAGE_STAFF)
    user = db.session.get(StaffUser, user_id, populate_existing=True)
    acting = db.session.get(StaffUser, actor.id, populate_existing=True)
    if acting is None or not acting.active:
        raise NotAllowed(Action.MANAGE_STAFF)
    require(acting.role, Action.MANAGE_STAFF)
    if user is None:
        raise AccountNotFound()
    account = sign_in_account(user.email)
    # Every count's key holds this mark. Adding the time (not 1) makes each mark new even
    # after the mark itself expired back to 0: no count from before can ever be read again.
    # It outlives the longest window, so the counts kept under an older mark expire first.
    _storage_call(
        limits,
        lambda: limiter.storage.incr(
            _unlocked_key(limits, account), limits.longest() + 60, amount=int(time.time())
        ),
        0,
    )
    return user


# --- The admin's account management ------------------------------------------------------


def list_accounts(actor: StaffUser) -> list[StaffUser]:
    """Every staff account, active ones first, then by name (admins only)."""
    require(actor.role, Action.MANAGE_STAFF)
    return list(
        db.session.scalars(
            select(StaffUser).order_by(
                StaffUser.active.desc(), func.lower(StaffUser.name), StaffUser.id
            )
        )
    )


def locked_out(actor: StaffUser, limits: SignInLimits) -> list[StaffUser]:
    """Active accounts that cannot sign in from a new device now (too many failed sign-ins),
    for the admin to unlock where they work (admins only)."""
    return [
        user
        for user in list_accounts(actor)
        if user.active and sign_in_pause(limits, user.email).paused_until is not None
    ]


def create_account(
    actor: StaffUser, *, email: str, name: str, role: str, password: str
) -> StaffUser:
    """Add an account with a temporary password the admin typed and passes on in person.

    Rules: admins only; the e-mail is unique regardless of case; a name; a known role; a
    password of at least ``MIN_PASSWORD_LENGTH`` characters.
    """
    require(actor.role, Action.MANAGE_STAFF)
    email, name, staff_role = _clean_email(email), _clean_name(name), _clean_role(role)
    _check_policy(password, email, name)
    with write_transaction():
        _acting_admin(actor, _locked_admin_ids())
        return _insert(email, name, staff_role, password)


def set_active(actor: StaffUser, user_id: int, active: bool) -> StaffUser:
    """Deactivate or reactivate an account.

    Rules: admins only; never one's own account; never the last active admin. Deactivating
    ends the account's sessions at once: its next request finds itself signed out.
    """
    require(actor.role, Action.MANAGE_STAFF)
    with write_transaction():
        admins = _locked_admin_ids()
        _acting_admin(actor, admins)
        user = _target(user_id)
        if user.id == actor.id:
            raise NotOnYourself()
        if not active and user.active:
            if user.role == Role.ADMIN:
                _keep_an_admin(admins, user.id)
            _end_sessions(user.id)
        if user.active != active:
            _account_change(user.id, ["active"])
        user.active = active
        return user


def change_role(actor: StaffUser, user_id: int, role: str) -> StaffUser:
    """Give an account another role.

    Rules: admins only; never one's own role (an admin demoting themself by mistake could not
    undo it); never demote the last active admin. The new role applies from the account's
    next request, since each request reads the account afresh.
    """
    require(actor.role, Action.MANAGE_STAFF)
    staff_role = _clean_role(role)
    with write_transaction():
        admins = _locked_admin_ids()
        _acting_admin(actor, admins)
        user = _target(user_id)
        if user.id == actor.id:
            raise NotOnYourself()
        _set_role(user, staff_role, admins)
        return user


def reset_password(actor: StaffUser, user_id: int, password: str) -> StaffUser:
    """Set a new temporary password for someone who forgot theirs, and sign them out
    everywhere.

    Rules: admins only; a password of at least ``MIN_PASSWORD_LENGTH`` characters; not one's
    own account (that needs the current password: ``change_own_password``), so that an
    unattended signed-in screen cannot be used to take over the admin's account.
    """
    require(actor.role, Action.MANAGE_STAFF)
    check_password(password)
    with write_transaction():
        _acting_admin(actor, _locked_admin_ids())
        user = _target(user_id)
        if user.id == actor.id:
            raise NotOnYourself()
        _set_password(user, password)
        return user


# --- Each person's own account ------------------------------------------------------------


def change_own_password(actor: StaffUser, current: str, new: str) -> StaffUser:
    """Change one's own password, given the current one.

    Rules: every role may; the current password must match; the new one has at least
    ``MIN_PASSWORD_LENGTH`` characters. Every other session of the account ends: only the
    actor's own (``actor.session_id``, the one making the change) stays signed in.
    """
    require(actor.role, Action.OWN_ACCOUNT)
    _check_policy(new, actor.email, actor.name)
    with write_transaction():
        user = _target(actor.id)
        if not user.active:
            raise NotAllowed(Action.OWN_ACCOUNT)
        if not user.check_password(current):
            raise WrongPassword()
        _set_password(user, new, keep_session=actor.session_id)
        return user


# --- The command line --------------------------------------------------------------------


def create_or_reset_from_cli(
    *, email: str, name: str, role: str, password: str, reset_two_factor: bool = False
) -> bool:
    """``flask create-staff``: add an account, or give an existing one (same e-mail, any case)
    this name, role and password, reactivate it and end its sessions. Returns whether the
    account is new.

    No acting user: only whoever runs the server can run this, and it is how the first admin
    is made and a locked-out admin gets back in (``reset_two_factor``: one who lost the phone
    with their authenticator app too). The other rules still hold: the password policy, and
    never demoting the last active admin.
    """
    email, name, staff_role = _clean_email(email), _clean_name(name), _clean_role(role)
    _check_policy(password, email, name)
    with write_transaction():
        admins = _locked_admin_ids()
        user = db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
        if user is None:
            _insert(email, name, staff_role, password)
            return True
        _set_role(user, staff_role, admins)
        changed = [*(["name"] if user.name != name else []), *([] if user.active else ["active"])]
        if changed:
            _account_change(user.id, changed)
        user.name, user.active = name, True
        _set_password(user, password)
        if reset_two_factor:
            _clear_two_factor(user)
            _account_change(user.id, ["two_factor"])
        return False
