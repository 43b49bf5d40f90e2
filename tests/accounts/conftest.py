"""What the staff accounts and sign-in tests share."""

from __future__ import annotations

import pytest

from clinic.extensions import limiter


@pytest.fixture(autouse=True)
def fresh_limits(app):
    """Each test starts with no attempts counted (the limiter is one object for the process)."""
    limiter.reset()
    yield
    limiter.reset()
