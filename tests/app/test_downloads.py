"""The staff screens' downloads (``clinic.web.downloads``): no CSV cell a spreadsheet would run
as a formula, CSV made line by line as it is sent (the rest of the rows in an app context of
their own), workbooks that read every text as text, and every file an attachment no cache
keeps."""

from __future__ import annotations

import csv
import io
import re
import threading
import zipfile
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from flask import has_app_context, has_request_context

from clinic.web import downloads
from clinic.web.downloads import csv_safe, stream_csv


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", "'\r=1"),
        ("A probation officer", "A probation officer"),
        ("a=b", "a=b"),  # only a first character makes a formula
        ("", ""),
        (None, ""),
        (-3, "-3"),  # a negative number stays a number
        (-0.5, "-0.5"),
        (12, "12"),
        (True, "true"),
        (date(2026, 7, 1), "2026-07-01"),
        (datetime(2026, 7, 1, 9, 30, 15, 123), "2026-07-01T09:30:15"),
    ],
)
def test_csv_safe_never_lets_a_cell_be_a_formula(value, cell):
    assert csv_safe(value) == cell


def test_stream_csv_writes_the_header_then_each_row_made_safe():
    lines = list(stream_csv(["a", "=b"], [[1, "=2"], ["x,y", 'say "hi"']], bom=True))
    assert lines[0] == "\ufeffa,'=b\r\n"
    assert list(csv.reader(io.StringIO("".join(lines)[1:]))) == [
        ["a", "'=b"],
        ["1", "'=2"],
        ["x,y", 'say "hi"'],
    ]
    assert list(stream_csv(["only"], [])) == ["only\r\n"]


def test_stream_csv_makes_each_line_only_when_asked():
    pulled: list[int] = []

    def rows() -> Iterator[list[int]]:
        for n in range(3):
            pulled.append(n)
            yield [n]

    lines = stream_csv(["n"], rows())
    assert pulled == []
    assert next(lines) == "n\r\n" and pulled == []
    assert next(lines) == "0\r\n" and pulled == [0]


def test_a_csv_response_is_streamed_and_reads_its_rows_in_an_app_context(app):
    """The view returns before any row is read; the server then pulls the lines, perhaps in
    another thread, after the request has ended: the rows still find the app (for the
    database), and nothing of the request."""
    seen: list[tuple[bool, bool]] = []

    def rows() -> Iterator[tuple[str]]:
        for name in ("one", "two"):
            seen.append((has_app_context(), has_request_context()))
            yield (name,)

    with app.test_request_context():
        response = downloads.csv_response(stream_csv(["name"], rows()), "names.csv")
    assert response.is_streamed and seen == []
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="names.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    sent: list[bytes] = []
    # A thread starts with no context at all, as a server's worker pulling the body may.
    server = threading.Thread(target=lambda: sent.extend(response.iter_encoded()))
    server.start()
    server.join()
    assert b"".join(sent) == b"name\r\none\r\ntwo\r\n"
    assert seen == [(True, False), (True, False)]


def test_a_csv_of_no_lines_is_an_empty_file(app):
    with app.test_request_context():
        response = downloads.csv_response(iter(()), "empty.csv")
    assert b"".join(response.iter_encoded()) == b""


def _workbook(write) -> str:
    """A workbook made by ``write(workbook)`` through ``new_workbook``, as its XML parts."""
    target = io.BytesIO()
    workbook = downloads.new_workbook(target)
    try:
        write(workbook)
    finally:
        workbook.close()
    with zipfile.ZipFile(io.BytesIO(target.getvalue())) as book:
        return "\n".join(book.read(name).decode() for name in book.namelist())


def test_a_workbook_reads_every_text_as_text():
    """Whatever a label holds, the spreadsheet shows it as typed: not a formula to run, a
    number to add up or a link to follow."""
    texts = ["=SUM(A1:A3)", "+15551234567", "0123", "http://example.org/x", "mailto:a@b.c"]

    def write(workbook) -> None:
        sheet = workbook.add_worksheet("Texts")
        for row, text in enumerate(texts):
            sheet.write(row, 0, text)  # the generic write, which would guess a type

    xml = _workbook(write)
    assert "<f>" not in xml and "<hyperlink" not in xml
    # In constant memory each text is written in its own cell (no shared-strings table).
    written = re.findall(r'<c r="A\d+"[^>]*t="inlineStr"[^>]*><is><t[^>]*>([^<]*)</t>', xml)
    assert written == texts
    assert "<v>" not in xml  # no number read out of "0123" or the phone number


def test_a_workbook_is_sent_whole_as_an_attachment(app):
    def write(target) -> None:
        workbook = downloads.new_workbook(target)
        try:
            workbook.add_worksheet("Sheet").write_number(0, 0, 42)
        finally:
            workbook.close()

    with app.test_request_context():
        response = downloads.xlsx_response(write, "figures.xlsx")
    response.direct_passthrough = False  # read the file here, as a server would send it
    assert response.mimetype == downloads.XLSX_MIMETYPE
    assert 'filename="figures.xlsx"' in response.headers["Content-Disposition"]
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as book:
        assert book.testzip() is None
        assert "<v>42</v>" in book.read("xl/worksheets/sheet1.xml").decode()
    response.close()
