"""Staff pages: accounts (being built)."""

from clinic.staff import bp  # noqa: F401
