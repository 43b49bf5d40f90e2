"""What the app accepts in URLs: dates and times in paths, and redirect targets."""

from datetime import date, time
from typing import Any
from urllib.parse import urlsplit

from werkzeug.routing import BaseConverter, IntegerConverter, ValidationError


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date in years the clinic could mean, else ValueError.

    The bounds also keep date arithmetic (a week before, 13 years after) away from year 1
    and year 9999.
    """
    day = date.fromisoformat(text)
    if not 1900 <= day.year <= 2200:
        raise ValueError(text)
    return day


def safe_path(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site, else None.

    Browsers read ``/\\evil.example`` and ``/<tab>/evil.example`` as ``//evil.example``, so any
    backslash, white space or control character disqualifies a target.
    """
    if not target or not target.startswith("/"):
        return None
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target


class _ParsedConverter(BaseConverter):
    """A URL part parsed into a value; one that does not parse is a 404, never a 500."""

    def parse(self, value: str) -> Any:
        raise NotImplementedError

    def to_python(self, value: str) -> Any:
        try:
            return self.parse(value)
        except ValueError as exc:
            raise ValidationError() from exc


class IsoDateConverter(_ParsedConverter):
    """``/book/2026-11-24``: a real calendar date, in years the clinic could mean."""

    regex = r"\d{4}-\d{2}-\d{2}"

    parse = staticmethod(parse_day)

    def to_url(self, value: date) -> str:
        return value.isoformat()


class ClockConverter(_ParsedConverter):
    """``/book/2026-11-24/16:20``: a wall-clock time."""

    regex = r"\d{2}:\d{2}"
    parse = staticmethod(time.fromisoformat)

    def to_url(self, value: time) -> str:
        return value.strftime("%H:%M")


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in this app: a row id, at most the largest value of an integer column.
    A longer number is a 404, not an overflow in the database driver (a 500)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)
