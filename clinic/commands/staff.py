"""``flask create-staff``: the first admin, or a way back in for an admin who lost their
password (or, with ``--reset-two-factor``, the phone with their authenticator app)."""

from __future__ import annotations

import click

from clinic import accounts
from clinic.models import (
    StaffRole,
)


@click.command("create-staff")
@click.argument("email")
@click.option("--name", prompt=True, help="The name other staff see.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in StaffRole]),
    prompt=True,
    help="admin, front_desk or clinician.",
)
@click.password_option(help="Prompted for, hidden, when not given.")
@click.option(
    "--reset-two-factor",
    is_flag=True,
    help="Also clear the account's two-step sign-in: it is set up again at the next sign-in.",
)
def create_staff(email: str, name: str, role: str, password: str, reset_two_factor: bool) -> None:
    """Add a staff account (or reset the password and role of an existing one)."""
    # The same use case the admin's pages are built on, with no acting user: whoever runs
    # this already holds the server. It takes the write lock, as the app may be serving.
    try:
        created = accounts.create_or_reset_from_cli(
            email=email,
            name=name,
            role=role,
            password=password,
            reset_two_factor=reset_two_factor,
        )
    except accounts.CommonPassword:
        raise click.BadParameter(
            "this is one of the most common passwords: choose another", param_hint="password"
        ) from None
    except accounts.GuessablePassword:
        raise click.BadParameter(
            "too easy to guess (a repeat, a pattern, a date, or the clinic's words or the "
            "person's name or email): add a few unrelated words",
            param_hint="password",
        ) from None
    except accounts.PasswordTooShort:
        raise click.BadParameter(
            f"use at least {accounts.MIN_PASSWORD_LENGTH} characters",
            param_hint="password",
        ) from None
    except accounts.InvalidEmail:
        raise click.BadParameter("not an email address", param_hint="email") from None
    except accounts.InvalidName:
        raise click.BadParameter("give a name of up to 100 characters", param_hint="name") from None
    except accounts.LastAdmin:
        raise click.ClickException(
            "this is the last active admin: make another account admin first"
        ) from None
    done = "created" if created else "updated, and signed out everywhere"
    click.echo(f"Staff account {done}: {accounts.normalize_email(email)} ({role}).")
