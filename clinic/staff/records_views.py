"""Staff pages: records (being built)."""

from clinic.staff import bp  # noqa: F401
