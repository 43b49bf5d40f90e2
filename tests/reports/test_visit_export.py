"""The de-identified visit list (``clinic.reports.visits``) and its downloads
(``clinic.web.staff.reports.visit_list``): the rows of a small clinic built by hand, read back
from the CSV; pseudonyms stable within a list and new in each; nothing personal in either file;
an erased youth's band from the age kept at erasure; a youth turning 18 within the range; the
permission, the audit event, the dates checked, a constant number of statements; and the SQL
age (``clinic.reports.sql.age_on``) against the pure rule, 29 February included."""

from __future__ import annotations

import csv
import io
import itertools
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, literal, select

from clinic import settings
from clinic.extensions import db
from clinic.models import (
    Appointment,
    AuditEvent,
    Intake,
    Slot,
    StaffRole,
    StaffUser,
    StatusChange,
    Youth,
)
from clinic.records import merging, privacy
from clinic.reports import visits
from clinic.reports.sql import age_on
from clinic.rules.eligibility import age_on as age_rule
from clinic.rules.reports import Period
from clinic.rules.visits import SEAT_HOLDING
from tests.conftest import NOW
from tests.support.querycount import count_statements

EN = {"Accept-Language": "en"}
ES = {"Accept-Language": "es"}
Q3 = Period(date(2026, 7, 1), date(2026, 9, 30))
# The reports page's own arguments: the visit list reads its period with the page's form.
Q3_ARGS = "kind=quarter&quarter=2026-Q3"
CSV_URL = f"/staff/reports/visits.csv?{Q3_ARGS}"
XLSX_URL = f"/staff/reports/visits.xlsx?{Q3_ARGS}"
PSEUDONYM = re.compile(r"Y-[0-9a-f]{12}")
_n = itertools.count(1)


# --- A small clinic, built by hand ---------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A youth's personal data: every value distinctive, so a file holding any of it shows."""

    first: str
    last: str
    dob: date
    language: str

    @property
    def preferred(self) -> str:
        return self.first + "ita"

    @property
    def phone(self) -> str:
        return f"+1415555{self.dob.strftime('%m%d')}"

    @property
    def email(self) -> str:
        return f"{self.first.lower()}.{self.last.lower()}@example.org"

    @property
    def guardian(self) -> str:
        return f"Guardianus {self.last}"

    @property
    def guardian_phone(self) -> str:
        return f"+1628555{self.dob.strftime('%m%d')}"

    @property
    def note(self) -> str:
        return f"Tattoo of {self.first} on the left wrist"

    def personal(self) -> list[str]:
        """What must never reach a file: names, contact, guardian, notes, the birth date
        written the ways a file might write it."""
        dob = self.dob
        return [
            self.first,
            self.last,
            self.preferred,
            self.phone,
            self.phone[2:],
            self.email,
            self.guardian,
            self.guardian_phone,
            self.note,
            dob.isoformat(),
            dob.strftime("%m/%d/%Y"),
            f"{dob.month}/{dob.day}/{dob.year}",
        ]


# A turns 18 on 20 August 2026, between her two visits of the quarter.
A = Person("Zephyrine", "Quillfeather", date(2008, 8, 20), "es")
# B was born on 29 February.
B = Person("Bartholomew", "Xylophant", date(2004, 2, 29), "en")
# C is erased after their visits: the record keeps only the birth year (1 January 2010),
# which would put them at 16 on 22 September; they were 15.
C = Person("Cornelius", "Vantablack", date(2010, 12, 15), "es")
D = Person("Dulcibella", "Frobisher", date(2001, 6, 10), "en")
E = Person("Eustacia", "Pumpernickel", date(2011, 3, 3), "es")
SCREENING = ["pregnant", "herpes"]


def add_youth(person: Person) -> int:
    youth = Youth(
        identity_key=Youth.make_identity_key(person.first, person.last, person.dob),
        first_name=person.first,
        last_name=person.last,
        preferred_name=person.preferred,
        date_of_birth=person.dob,
        search_name=Youth.make_search_name(person.first, person.last, person.preferred),
        phone=person.phone,
        email=person.email,
        contact_by="sms",
        language=person.language,
        guardian_name=person.guardian,
        guardian_relationship="parent",
        guardian_phone=person.guardian_phone,
    )
    db.session.add(youth)
    db.session.flush()
    return youth.id


def add_visit(
    youth_id: int,
    person: Person,
    day: date,
    status: str,
    *,
    start: time = time(16, 0),
    referral: str | None = "court",
    walk_in: bool = False,
    consent: str | None = None,
    cancelled_by: int | None = None,
    moved: bool = False,
) -> Appointment:
    """One appointment with its intake full of personal answers (``referral`` None: no
    intake), cancelled by ``cancelled_by`` (a staff id; None with "cancelled": the youth), and
    moved once from its link when ``moved``."""
    slot = db.session.scalar(select(Slot).where(Slot.day == day, Slot.start_time == start))
    if slot is None:
        end = (datetime.combine(day, start) + timedelta(minutes=20)).time()
        slot = Slot(day=day, start_time=start, end_time=end, capacity=100, booked=0)
        db.session.add(slot)
        db.session.flush()
    if status in SEAT_HOLDING:
        slot.booked += 1
    appointment = Appointment(
        code=f"ZQX{next(_n):05d}K",
        youth_id=youth_id,
        slot_id=slot.id,
        status=status,
        walk_in=walk_in,
        consent=consent,
        cancelled_by_id=cancelled_by,
        cancelled_at=datetime.combine(day, time(9)) if status == "cancelled" else None,
    )
    if referral is not None:
        appointment.intake = Intake(
            phone=person.phone,
            email=person.email,
            contact_by="email",
            language=person.language,
            guardian_name=person.guardian,
            guardian_relationship="parent",
            guardian_phone=person.guardian_phone,
            tattoo_count=2,
            tattoo_locations=["hands"],
            tattoo_size="medium",
            tattoo_colors="black",
            tattoo_kind="amateur",
            tattoo_notes=person.note,
            screening=list(SCREENING),
            referral_source=referral,
        )
    db.session.add(appointment)
    db.session.flush()
    if moved:
        db.session.add(
            StatusChange(
                appointment_id=appointment.id,
                action="reschedule",
                from_status="booked",
                to_status="booked",
                actor="youth",
                detail={"from": f"{day}T17:00", "to": f"{day}T{start:%H:%M}"},
            )
        )
    return appointment


@dataclass(frozen=True)
class Clinic:
    ids: dict[str, int]  # person's letter -> youth id
    codes: list[str]  # every appointment's code
    admin: StaffUser


@pytest.fixture
def clinic(app, staff) -> Clinic:
    """Five youth around the third quarter of 2026, with a visit before and after it."""
    admin = staff[StaffRole.ADMIN]
    ids = {
        letter: add_youth(person) for letter, person in zip("ABCDE", (A, B, C, D, E), strict=True)
    }
    made = [
        # Before the quarter: A's first session, and a cancellation of D's.
        add_visit(ids["A"], A, date(2026, 4, 28), "completed", referral="probation"),
        add_visit(ids["D"], D, date(2026, 6, 30), "cancelled", cancelled_by=admin.id),
        # The quarter.
        add_visit(ids["B"], B, date(2026, 7, 21), "completed", walk_in=True, referral="friend"),
        add_visit(ids["C"], C, date(2026, 7, 21), "cancelled", start=time(16, 20)),
        add_visit(
            ids["A"], A, date(2026, 7, 28), "completed", consent="confirmed", referral="probation"
        ),
        add_visit(
            ids["B"],
            B,
            date(2026, 8, 18),
            "no_show",
            start=time(16, 20),
            referral="friend",
            moved=True,
        ),
        add_visit(ids["A"], A, date(2026, 8, 25), "completed", referral="probation"),
        add_visit(ids["C"], C, date(2026, 9, 22), "completed", consent="exempt"),
        add_visit(
            ids["D"],
            D,
            date(2026, 9, 22),
            "cancelled",
            start=time(16, 20),
            referral="school",
            cancelled_by=admin.id,
        ),
        add_visit(ids["B"], B, date(2026, 9, 29), "booked", referral=None),
        add_visit(
            ids["E"],
            E,
            date(2026, 9, 29),
            "checked_in",
            start=time(16, 20),
            consent="missing",
            referral="case_manager",
        ),
        # After it.
        add_visit(ids["D"], D, date(2026, 10, 27), "booked", referral="school"),
    ]
    codes = [appointment.code for appointment in made]
    db.session.commit()
    privacy.erase_on_request(ids["C"], admin, settings.current_rules(), NOW)
    db.session.commit()
    return Clinic(ids, codes, admin)


# The quarter's list as the English CSV gives it, worked out by hand from the clinic above:
# (youth, then every other column). A: 17 on 28 July, 18 on 25 August; C: band from the age
# kept at erasure (15), not from the year kept (which gives 16).
HEADER = [
    "Youth (pseudonym)",
    "Date",
    "Status",
    "Walk-in",
    "Session",
    "First time or returning",
    "Age band",
    "Minor",
    "Guardian consent recorded",
    "Language",
    "Referral source",
    "Moved to another time",
]
FRIEND, COURT = "A friend or family member", "A court"
PROBATION, SCHOOL = "A probation officer", "A school"
CASE_MANAGER = "A case manager or social worker"
# fmt: off
EXPECTED = [
    ("B", "2026-07-21", "Completed", "Yes", "1", "First time", "22-25", "No", "—", "English", FRIEND, "No"),  # noqa: E501
    ("C", "2026-07-21", "Cancelled online by the youth", "No", "", "First time", "13-15", "Yes", "No", "Spanish", COURT, "No"),  # noqa: E501
    ("A", "2026-07-28", "Completed", "No", "2", "Returning", "16-17", "Yes", "Yes", "Spanish", PROBATION, "No"),  # noqa: E501
    ("B", "2026-08-18", "No-show", "No", "", "Returning", "22-25", "No", "—", "English", FRIEND, "Yes"),  # noqa: E501
    ("A", "2026-08-25", "Completed", "No", "3", "Returning", "18-21", "No", "—", "Spanish", PROBATION, "No"),  # noqa: E501
    ("C", "2026-09-22", "Completed", "No", "1", "First time", "13-15", "Yes", "Yes", "Spanish", COURT, "No"),  # noqa: E501
    ("D", "2026-09-22", "Cancelled through the clinic", "No", "", "First time", "22-25", "No", "—", "English", SCHOOL, "No"),  # noqa: E501
    ("B", "2026-09-29", "Booked", "No", "", "Returning", "22-25", "No", "—", "English", "Not recorded", "No"),  # noqa: E501
    ("E", "2026-09-29", "Arrived, not treated", "No", "", "First time", "13-15", "Yes", "No", "Spanish", CASE_MANAGER, "No"),  # noqa: E501
]
# fmt: on


def download(client, url: str, headers: dict[str, str] = EN):
    """The response, its body read whole and closed, as a browser's download ends (the
    spreadsheet's temporary file goes when the response is closed)."""
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    response.get_data()
    response.close()
    return response


def read_csv(response) -> list[list[str]]:
    # utf-8-sig: the file starts with the byte-order mark Excel needs for the accents.
    assert response.data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def xlsx_text(response) -> str:
    """Every part of the workbook, as the XML (and properties) a reader would find."""
    with zipfile.ZipFile(io.BytesIO(response.data)) as book:
        return "\n".join(book.read(name).decode("utf-8") for name in book.namelist())


def exports_recorded() -> int:
    db.session.rollback()  # a fresh snapshot: the request wrote in its own session
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "export")
    )


@pytest.fixture
def admin(clinic, login) -> StaffUser:
    login(clinic.admin)
    return clinic.admin


# --- The list ------------------------------------------------------------------------------


def test_the_csv_lists_every_visit_of_the_range_as_worked_out_by_hand(client, clinic, admin):
    response = download(client, CSV_URL)
    assert response.mimetype == "text/csv"
    assert "visits-2026-07-01-to-2026-09-30.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert list(rows[0]) == HEADER

    # The pseudonyms: one per youth, the same on each of their rows, the pattern only.
    letters: dict[str, str] = {}
    for row, expected in zip(rows, EXPECTED, strict=True):
        assert PSEUDONYM.fullmatch(row[HEADER[0]])
        assert letters.setdefault(expected[0], row[HEADER[0]]) == row[HEADER[0]]
    assert len(set(letters.values())) == len(letters) == 5

    got = [tuple(row[name] for name in HEADER[1:]) for row in rows]
    assert got == [expected[1:] for expected in EXPECTED]


def test_each_list_has_pseudonyms_of_its_own(client, clinic, admin):
    first = {row[0] for row in read_csv(download(client, CSV_URL))[1:]}
    second = {row[0] for row in read_csv(download(client, CSV_URL))[1:]}
    assert len(first) == len(second) == 5
    assert not first & second
    # The spreadsheet draws its own key too.
    sheet = set(PSEUDONYM.findall(xlsx_text(download(client, XLSX_URL))))
    assert len(sheet) == 5 and not sheet & (first | second)


def test_the_pseudonym_is_a_keyed_hash_of_the_record():
    key = bytes(32)
    assert visits.pseudonym(key, 7) == visits.pseudonym(key, 7)
    assert visits.pseudonym(key, 7) != visits.pseudonym(key, 8)
    assert visits.pseudonym(key, 7) != visits.pseudonym(bytes([1]) * 32, 7)
    assert PSEUDONYM.fullmatch(visits.pseudonym(visits.export_key(), 123456))


def test_nothing_personal_reaches_either_file(client, clinic, admin):
    csv_text = download(client, CSV_URL).data.decode("utf-8-sig")
    sheet = xlsx_text(download(client, XLSX_URL))
    forbidden = [value for person in (A, B, C, D, E) for value in person.personal()]
    forbidden += clinic.codes + SCREENING + [clinic.admin.name, clinic.admin.email]
    for text in (csv_text, sheet):
        leaks = [value for value in forbidden if value.lower() in text.lower()]
        assert leaks == []
    # Nor a time of day, a station or a record number written as one.
    assert not re.search(r"\b1[0-9]:[0-5][0-9]\b", csv_text)
    assert "Laser" not in csv_text
    # The birth dates are not in the sheet as date cells either (Excel's day numbers).
    serials = {str((person.dob - date(1899, 12, 30)).days) for person in (A, B, C, D, E)}
    assert not {f"<v>{serial}</v>" for serial in serials} & set(re.findall(r"<v>\d+</v>", sheet))


def test_the_spreadsheet_holds_the_same_rows(client, clinic, admin):
    response = download(client, XLSX_URL)
    assert response.mimetype.startswith("application/vnd.openxmlformats")
    assert "visits-2026-07-01-to-2026-09-30.xlsx" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    cells = re.findall(r"<c r=\"([A-Z]+)(\d+)\"[^>]*?(?:/>|>(.*?)</c>)", sheet)
    values: dict[tuple[str, int], str] = {}
    for column, row, body in cells:
        text = re.search(r"<t[^>]*>(.*?)</t>|<v>(.*?)</v>", body)
        values[(column, int(row))] = (text.group(1) or text.group(2)) if text else ""
    assert [values[(column, 1)] for column in "ABCDEFGHIJKL"] == HEADER
    assert max(row for _column, row in values) == len(EXPECTED) + 1
    # A date cell (a day number with a date format), a number for the session, the labels.
    assert values[("B", 2)] == str((date(2026, 7, 21) - date(1899, 12, 30)).days)
    assert values[("E", 6)] == "3"
    assert values[("C", 5)] == "No-show"
    assert values[("K", 9)] == "Not recorded"
    assert '<autoFilter ref="A1:L10"/>' in sheet


def test_an_erased_youth_is_listed_by_the_age_kept_at_erasure(app, clinic):
    erased = db.session.get(Youth, clinic.ids["C"])
    assert erased.purged_at is not None and erased.date_of_birth == date(2010, 1, 1)
    rows = [
        row
        for row in visits.visit_rows(Q3, settings.current_rules(), key=bytes(32))
        if row.youth == visits.pseudonym(bytes(32), clinic.ids["C"])
    ]
    assert [(row.day, row.age_band, row.minor) for row in rows] == [
        (date(2026, 7, 21), "13-15", True),
        (date(2026, 9, 22), "13-15", True),
    ]


def test_a_youth_turning_18_in_the_range_changes_band_and_needs_no_consent_after(app, clinic):
    key = bytes(32)
    rows = [
        row
        for row in visits.visit_rows(Q3, settings.current_rules(), key=key)
        if row.youth == visits.pseudonym(key, clinic.ids["A"])
    ]
    assert [(row.day, row.age_band, row.minor, row.consent, row.session) for row in rows] == [
        (date(2026, 7, 28), "16-17", True, True, 2),
        (date(2026, 8, 25), "18-21", False, None, 3),
    ]


def test_a_merged_record_s_visits_count_as_the_kept_one_s(app, clinic):
    """The merge moves the other record's visits to the kept one: one pseudonym, and the
    sessions counted across both records' visits in order."""
    twin = Person("Bart", "Xylophantos", date(2004, 2, 29), "en")
    twin_id = add_youth(twin)
    add_visit(twin_id, twin, date(2026, 8, 4), "completed", referral="friend")
    db.session.commit()
    merging.merge(clinic.ids["B"], twin_id, clinic.admin, NOW.date())
    key = bytes(32)
    rows = list(visits.visit_rows(Q3, settings.current_rules(), key=key))
    assert visits.pseudonym(key, twin_id) not in {row.youth for row in rows}
    kept = [row for row in rows if row.youth == visits.pseudonym(key, clinic.ids["B"])]
    assert [(row.day, row.outcome, row.session, row.new) for row in kept] == [
        (date(2026, 7, 21), visits.Outcome.TREATED, 1, True),
        (date(2026, 8, 4), visits.Outcome.TREATED, 2, False),
        (date(2026, 8, 18), visits.Outcome.NO_SHOW, None, False),
        (date(2026, 9, 29), visits.Outcome.BOOKED, None, False),
    ]


def test_the_list_keeps_to_the_range(app, clinic):
    one_day = Period(date(2026, 9, 22), date(2026, 9, 22))
    rows = list(visits.visit_rows(one_day, settings.current_rules()))
    assert [(row.outcome, row.session, row.new) for row in rows] == [
        (visits.Outcome.TREATED, 1, True),
        (visits.Outcome.CANCELLED_BY_STAFF, None, True),
    ]
    assert visits.visit_count(one_day) == 2
    assert (
        list(
            visits.visit_rows(Period(date(2026, 8, 1), date(2026, 8, 17)), settings.current_rules())
        )
        == []
    )


# --- Statements ----------------------------------------------------------------------------


def _more_visits(count: int) -> None:
    """``count`` more youth with a treated visit in the quarter and one before it."""
    for n in range(count):
        person = Person(f"Extra{n}", f"Person{n}", date(2008, 1, 1 + n % 28), "en")
        youth_id = add_youth(person)
        add_visit(youth_id, person, date(2026, 5, 26), "completed")
        add_visit(youth_id, person, date(2026, 8, 18), "completed", start=time(17, 0))
    db.session.commit()


def test_the_list_is_one_statement_however_many_rows(app, clinic):
    rules = settings.current_rules()
    with count_statements() as few:
        small = list(visits.visit_rows(Q3, rules))
    _more_visits(30)
    db.session.rollback()
    with count_statements() as many:
        large = list(visits.visit_rows(Q3, rules))
    assert (len(small), len(large)) == (9, 39)
    assert len(few) == len(many) == 1
    # The returning extras are on their second session.
    assert {
        row.session for row in large if row.day == date(2026, 8, 18) and row.outcome == "treated"
    } == {2}


def test_a_download_costs_the_same_statements_however_many_rows(client, clinic, admin):
    with count_statements() as few:
        download(client, CSV_URL)
    _more_visits(30)
    with count_statements() as many:
        body = download(client, CSV_URL).get_data()
    assert body.count(b"\r\n") == 1 + 39
    assert len(few) == len(many)


# --- Who, the audit trail, the dates -------------------------------------------------------


@pytest.mark.parametrize("role", [StaffRole.FRONT_DESK, StaffRole.CLINICIAN])
@pytest.mark.parametrize("url", [CSV_URL, XLSX_URL])
def test_only_roles_allowed_the_reports_may_download(client, clinic, login, staff, role, url):
    login(staff[role])
    assert client.get(url, headers=EN).status_code == 403
    assert exports_recorded() == 0


def test_a_role_granted_the_reports_may_download(app, client, clinic, login, staff):
    app.config["REPORTS_ROLES"] = ("front_desk",)
    login(staff[StaffRole.FRONT_DESK])
    assert len(read_csv(download(client, CSV_URL))) == 1 + len(EXPECTED)


def test_signed_out_goes_to_the_sign_in(client, clinic):
    response = client.get(CSV_URL)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize(("url", "file_format"), [(CSV_URL, "csv"), (XLSX_URL, "xlsx")])
def test_each_download_is_in_the_audit_trail_before_a_row_goes(
    client, clinic, admin, url, file_format
):
    response = client.get(url, headers=EN)
    # Recorded and committed by the view, before the body is read.
    db.session.rollback()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert (event.actor, event.staff_id, event.object_type) == ("staff", admin.id, "visit_list")
    assert event.youth_id is None
    assert event.detail == {
        "start": "2026-07-01",
        "end": "2026-09-30",
        "format": file_format,
        "rows": "9",
    }
    assert response.get_data()
    response.close()


TOO_LONG = "A report covers at most 10 years. Please choose a shorter range."
YEARS = "Please enter a date between the years 2000 and 2999."
NOT_A_DATE = "Not a valid date value."
LISTED = "Please choose one of the periods listed."
# The page's form's own messages: the visit list reads its period with that form.
BAD_RANGES = [
    ("kind=custom&start=2026-07-01", "Please enter the last day of the report."),
    ("kind=custom&end=2026-07-01", "Please enter the first day of the report."),
    ("kind=custom&start=2026-07-01&end=soon", NOT_A_DATE),
    ("kind=custom&start=2026-02-30&end=2026-03-31", NOT_A_DATE),
    ("kind=custom&start=20260701&end=20260930", NOT_A_DATE),
    (
        "kind=custom&start=2026-09-30&end=2026-07-01",
        "The last day must be on or after the first day.",
    ),
    ("kind=custom&start=1999-12-31&end=2026-09-30", YEARS),
    ("kind=custom&start=2999-01-01&end=3000-01-01", YEARS),
    ("kind=custom&start=9999-01-01&end=9999-12-31", YEARS),
    ("kind=custom&start=2016-07-01&end=2026-07-01", TOO_LONG),
    # A kept link to a period the page no longer lists (or never did).
    ("kind=month&month=2024-10", LISTED),
    ("kind=quarter&quarter=2026-Q4", LISTED),
    ("kind=year&year=2026", LISTED),
    ("kind=fortnight", "Not a valid choice"),
]


@pytest.mark.parametrize(("args", "message"), BAD_RANGES)
@pytest.mark.parametrize("path", ["/staff/reports/visits.csv", "/staff/reports/visits.xlsx"])
def test_a_range_that_makes_no_list_goes_back_to_the_reports_page_with_why(
    client, clinic, admin, path, args, message
):
    """Never an error page saved as the file: the reports page, with the same arguments,
    whose form says what is wrong with them."""
    response = client.get(f"{path}?{args}", headers=EN)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/staff/reports"
    assert parse_qs(location.query, keep_blank_values=True) == parse_qs(args)
    page = client.get(response.headers["Location"], headers=EN)
    assert page.status_code == 422
    assert message in unescape(page.get_data(as_text=True))
    assert exports_recorded() == 0


@pytest.mark.parametrize(
    ("args", "first", "last"),
    [
        ("kind=month&month=2026-08", "2026-08-01", "2026-08-31"),
        ("kind=year&year=2025", "2025-01-01", "2025-12-31"),
        ("kind=custom&start=2026-09-01&end=2026-09-30", "2026-09-01", "2026-09-30"),
        # Every field of the page's form comes with its links: those of other kinds are not read.
        ("kind=quarter&quarter=2026-Q3&month=nonsense&start=x", "2026-07-01", "2026-09-30"),
    ],
)
def test_the_list_covers_the_period_the_page_shows(client, clinic, admin, args, first, last):
    response = download(client, f"/staff/reports/visits.csv?{args}")
    assert f"visits-{first}-to-{last}.csv" in response.headers["Content-Disposition"]
    days = {row[1] for row in read_csv(response)[1:]}
    assert all(first <= day <= last for day in days)


def test_ten_years_less_a_day_is_the_longest_list(client, clinic, admin):
    rows = read_csv(
        download(client, "/staff/reports/visits.csv?kind=custom&start=2016-07-02&end=2026-07-01")
    )
    # The visits before the quarter: A's first session, D's cancellation.
    assert [row[1:3] for row in rows[1:]] == [
        ["2026-04-28", "Completed"],
        ["2026-06-30", "Cancelled through the clinic"],
    ]


# --- In Spanish ----------------------------------------------------------------------------


def test_a_spanish_reader_gets_spanish_headers_and_labels(client, clinic, admin):
    rows = read_csv(download(client, CSV_URL, headers=ES))
    header = rows[0]
    # The words the catalogue already has (the new ones arrive with this feature's strings).
    assert header[1:3] == ["Fecha", "Estado"]
    assert header[4] == "Sesión" and header[9] == "Idioma"
    first, erased = rows[1], rows[2]
    assert first[1] == "2026-07-21"  # an ISO date in every language
    assert first[2] == "Completada" and first[3] == "Sí" and first[9] == "Inglés"
    assert erased[2] == "Cancelada en línea por la persona joven" and erased[9] == "Español"
    assert erased[10] == "Una corte"
    assert [row[2] for row in rows if row[2].startswith("No ")] == ["No se presentó"]
    assert "Cancelada a través de la clínica" in {row[2] for row in rows}


# --- The SQL age ---------------------------------------------------------------------------

BIRTHS = [date(2008, 2, 29), date(2004, 2, 29), date(2008, 3, 1), date(2008, 2, 28),
          date(2007, 12, 31), date(2008, 1, 1), date(2008, 8, 20)]  # fmt: skip
DAYS = [date(2026, 2, 28), date(2026, 3, 1), date(2028, 2, 28), date(2028, 2, 29),
        date(2028, 3, 1), date(2026, 8, 19), date(2026, 8, 20), date(2026, 12, 31),
        date(2027, 1, 1), date(2025, 12, 31)]  # fmt: skip


def test_the_sql_age_counts_as_the_rule_does_with_dates_bound(app):
    pairs = [(born, day) for born in BIRTHS for day in DAYS]
    got = db.session.execute(select(*(age_on(born, day) for born, day in pairs))).one()
    assert list(got) == [age_rule(born, day) for born, day in pairs]
    # 29 February: 17 on the 28th of a common year, 18 on 1 March; 20 on 29 February 2028.
    assert db.session.scalar(select(age_on(date(2008, 2, 29), date(2026, 2, 28)))) == 17
    assert db.session.scalar(select(age_on(date(2008, 2, 29), date(2026, 3, 1)))) == 18
    assert db.session.scalar(select(age_on(date(2008, 2, 29), date(2028, 2, 29)))) == 20


def test_the_sql_age_counts_as_the_rule_does_from_columns(app):
    """From the stored columns (dates as each database keeps them), and compared in SQL."""
    for n, born in enumerate(BIRTHS):
        person = Person(f"Age{n}", "Check", born, "en")
        youth_id = add_youth(person)
        for m, day in enumerate(DAYS):
            add_visit(youth_id, person, day, "booked", start=time(8, m))
    db.session.commit()
    age = age_on(Youth.date_of_birth, Slot.day)
    rows = db.session.execute(
        select(Youth.date_of_birth, Slot.day, age, age < literal(18))
        .join(Appointment, Appointment.youth_id == Youth.id)
        .join(Slot, Slot.id == Appointment.slot_id)
    ).all()
    assert len(rows) == len(BIRTHS) * len(DAYS)
    for born, day, years, minor in rows:
        assert (years, bool(minor)) == (age_rule(born, day), age_rule(born, day) < 18)


def test_no_dates_asked_for_lists_last_quarter_as_the_reports_page_does(client, clinic, admin):
    # The clinic's clock says 20 November 2026: last quarter is July to September.
    response = client.get("/staff/reports/visits.csv")
    assert response.status_code == 200
    assert "visits-2026-07-01-to-2026-09-30.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == len(EXPECTED)
