"""Use cases for staff accounts: signing in and out, the admin's account management, and each
person's own password.

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

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from clinic.database import write_transaction
from clinic.extensions import db
from clinic.models import StaffUser
from clinic.permissions import Action, NotAllowed, Role, require

MIN_PASSWORD_LENGTH = 10
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


def check_password(password: str) -> None:
    """A password has at least ``MIN_PASSWORD_LENGTH`` characters (length is what makes a
    password hard to guess; the sign-in throttle does the rest)."""
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooShort()


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
    user.role = role


def _set_password(user: StaffUser, password: str) -> None:
    check_password(password)
    user.set_password(password)
    user.end_sessions()  # whoever had the old password is signed out everywhere


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
    return user


# --- Signing in and out ------------------------------------------------------------------


def record_sign_in(user_id: int, now: datetime) -> None:
    """Note when an account last signed in (naive UTC ``now``), for the accounts list."""
    with write_transaction():
        user = _target(user_id)
        user.last_login_at = now


def sign_out(user_id: int) -> None:
    """End every session of the account: a new session token makes each copy of the old
    cookie worthless, on this device and any other."""
    with write_transaction():
        _target(user_id).end_sessions()


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


def create_account(
    actor: StaffUser, *, email: str, name: str, role: str, password: str
) -> StaffUser:
    """Add an account with a temporary password the admin typed and passes on in person.

    Rules: admins only; the e-mail is unique regardless of case; a name; a known role; a
    password of at least ``MIN_PASSWORD_LENGTH`` characters.
    """
    require(actor.role, Action.MANAGE_STAFF)
    email, name, staff_role = _clean_email(email), _clean_name(name), _clean_role(role)
    check_password(password)
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
            user.end_sessions()
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
    ``MIN_PASSWORD_LENGTH`` characters. Every session of the account ends (a new session
    token); the caller signs this one in again with the new token, so only this device stays
    signed in.
    """
    require(actor.role, Action.OWN_ACCOUNT)
    check_password(new)
    with write_transaction():
        user = _target(actor.id)
        if not user.active:
            raise NotAllowed(Action.OWN_ACCOUNT)
        if not user.check_password(current):
            raise WrongPassword()
        _set_password(user, new)
        return user


# --- The command line --------------------------------------------------------------------


def create_or_reset_from_cli(*, email: str, name: str, role: str, password: str) -> bool:
    """``flask create-staff``: add an account, or give an existing one (same e-mail, any case)
    this name, role and password, reactivate it and end its sessions. Returns whether the
    account is new.

    No acting user: only whoever runs the server can run this, and it is how the first admin
    is made and a locked-out admin gets back in. The other rules still hold: the password
    length, and never demoting the last active admin.
    """
    email, name, staff_role = _clean_email(email), _clean_name(name), _clean_role(role)
    check_password(password)
    with write_transaction():
        admins = _locked_admin_ids()
        user = db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email))
        if user is None:
            _insert(email, name, staff_role, password)
            return True
        _set_role(user, staff_role, admins)
        user.name, user.active = name, True
        _set_password(user, password)
        return False
