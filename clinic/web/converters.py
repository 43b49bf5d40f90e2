"""What the app accepts in URLs and forms: dates and times in paths, row ids in paths and
forms, and redirect targets. Each is bounded so that nothing typed into a URL or a form reaches
date arithmetic or the database out of range: it is a 404 or a form error, never a 500."""

from collections.abc import Iterable
from datetime import date, time
from typing import Any
from urllib.parse import urlsplit

from werkzeug.routing import BaseConverter, IntegerConverter, ValidationError

# The largest value of an integer column on both SQLite and PostgreSQL (``integer`` is 32-bit
# there): a larger id overflows in the database driver instead of matching no row.
MAX_ROW_ID = 2**31 - 1


def parse_row_id(text: str | None) -> int | None:
    """A row id as a form posts it, or None: ASCII digits only (``str.isdigit`` also says yes
    to '²' and '٣', which ``int`` then refuses or reads as 3) and from 1 to ``MAX_ROW_ID``."""
    if not text or len(text) > len(str(MAX_ROW_ID)) or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None


def row_ids(values: Iterable[str]) -> list[int]:
    """The row ids among posted values (``request.form.getlist``), the others left out."""
    return [value for value in map(parse_row_id, values) if value is not None]


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

    # ASCII digits: ``\d`` would also match other scripts' digits.
    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    parse = staticmethod(parse_day)

    def to_url(self, value: date) -> str:
        return value.isoformat()


class ClockConverter(_ParsedConverter):
    """``/book/2026-11-24/16:20``: a wall-clock time."""

    regex = r"[0-9]{2}:[0-9]{2}"
    parse = staticmethod(time.fromisoformat)

    def to_url(self, value: time) -> str:
        return value.strftime("%H:%M")


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in this app: a row id, from 1 to the largest value of an integer column,
    in ASCII digits. A longer number is a 404, not an overflow in the database driver (a 500);
    ``/youth/٣`` is a 404 too, not youth 3 under a second address."""

    regex = r"[0-9]+"

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)
