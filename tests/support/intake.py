"""The youth's intake form through the Flask test client, for the public pages' tests (the
form's answers themselves are ``tests.conftest.intake_data``)."""

from __future__ import annotations

from tests.conftest import intake_data, intake_url


def book(client, **overrides):
    """Send the intake form for the next clinic day at 16:00, ``intake_data`` varied."""
    return client.post(intake_url(), data=intake_data(**overrides))


def english(client):
    """Switch the visitor's language to English (the form's default answers are Spanish)."""
    client.post("/language", data={"lang": "en", "next": "/"})
