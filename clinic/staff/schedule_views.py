"""Staff pages: schedule (being built)."""

from clinic.staff import bp  # noqa: F401
