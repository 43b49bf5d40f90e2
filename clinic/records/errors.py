"""Why a records change is refused; the staff views put each into words."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clinic.records.record import VisitEntry


class MergeRefused(Exception):
    """A merge the rules do not allow; ``reason`` says which, for the view's message."""

    SAME = "same"  # a record into itself
    KEPT_MERGED = "kept_merged"  # the record to keep was itself merged away
    OTHER_MERGED = "other_merged"  # the other record was merged already
    BOTH_UPCOMING = "both_upcoming"  # each holds an upcoming appointment

    def __init__(
        self,
        reason: str,
        kept_upcoming: VisitEntry | None = None,
        other_upcoming: VisitEntry | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kept_upcoming = kept_upcoming
        self.other_upcoming = other_upcoming
