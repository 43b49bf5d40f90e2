"""What a booking asks for: the intake form's answers, already checked for shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time


@dataclass
class BookingRequest:
    """Everything the intake form collects, already checked for shape by the form."""

    day: date
    start: time
    submission_key: str
    first_name: str
    last_name: str
    date_of_birth: date
    preferred_name: str | None = None
    phone: str | None = None
    email: str | None = None
    language: str = "en"
    contact_by: str | None = None  # "sms" or "email"
    guardian_name: str | None = None
    guardian_relationship: str | None = None
    guardian_phone: str | None = None
    tattoo_count: int = 1
    tattoo_locations: list[str] = field(default_factory=list)
    tattoo_size: str = "small"
    tattoo_colors: str = "black"
    tattoo_kind: str = "unsure"
    tattoo_age_years: int | None = None
    previous_removal: bool = False
    tattoo_notes: str | None = None
    screening: list[str] = field(default_factory=list)
    referral_source: str = "self"

    @property
    def contact(self) -> dict[str, str | None]:
        """The ``ContactDetails`` columns, as given on this form."""
        return {
            "phone": self.phone,
            "email": self.email,
            "language": self.language,
            "contact_by": self.contact_by,
            "guardian_name": self.guardian_name,
            "guardian_relationship": self.guardian_relationship,
            "guardian_phone": self.guardian_phone,
        }

    @property
    def has_guardian(self) -> bool:
        return all((self.guardian_name, self.guardian_relationship, self.guardian_phone))
