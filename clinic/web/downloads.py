"""Files staff download: CSV streamed while it is read, and spreadsheets (XLSX). Shared by the
staff screens that export (the audit trail, the reports), which may not import one another.

CSV streams: ``stream_csv`` turns rows into lines one at a time and ``csv_response`` sends
them as the server pulls them, so a long export is never held in memory whole, and rows read
lazily from the database are read in an app context of their own (the request's has ended by
then). Every cell goes through ``csv_safe``, so no cell is ever a formula.

XLSX cannot stream: it is a zip, whose directory is written after every part, so the whole
file exists before its first byte can be sent. ``new_workbook`` keeps the rows' memory small
(constant memory: a row goes to a temporary file when the next begins) and reads every text as
text; ``xlsx_response`` builds the zip in memory (five years of visits make about a megabyte)
and sends it.

Every download is an attachment that no cache keeps (``download_headers``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import IO

import xlsxwriter
from flask import Flask, Response, current_app, send_file

CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The first characters that make a spreadsheet read a cell as a formula (or, for a tab and a
# carriage return, that some spreadsheets strip before reading one).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Written first so that Excel reads the file as UTF-8 (Spanish labels keep their accents);
# other spreadsheets, and Python's csv module reading with "utf-8-sig", skip it.
BOM = "\ufeff"


# --- CSV ------------------------------------------------------------------------------------


def csv_safe(value: object) -> str:
    """One cell as text, never a formula: text that a spreadsheet would run (``=SUM(..)``,
    ``+1``, ``@cmd``, ``-2+3``) gets a leading apostrophe, which shows it as typed. A number
    stays a number: ``-3`` is a negative count, not a formula, and must stay summable."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def stream_csv(
    header: Iterable[object], rows: Iterable[Iterable[object]], *, bom: bool = False
) -> Iterator[str]:
    """The header and the rows as CSV lines, one string per row, each cell through
    ``csv_safe``: a generator, for ``csv_response`` to send as it goes. ``bom`` puts the UTF-8
    mark before the header (for files read by Excel: see ``BOM``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe(value) for value in values])
        return buffer.getvalue()

    yield (BOM if bom else "") + line(header)
    for row in rows:
        yield line(row)


def csv_response(lines: Iterator[str], filename: str) -> Response:
    """A CSV download streamed from ``lines`` (``stream_csv``): each line is made when the
    server asks for it, after the view has returned. Anything the lines need from the request
    (the viewer's language above all) must be worked out before: only an app context is there
    by then."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(
        _in_app_context(app, lines),
        mimetype=CSV_MIMETYPE,
        headers=download_headers(filename),
    )


def _in_app_context(app: Flask, lines: Iterator[str]) -> Iterator[str]:
    """The first line (the header) where the view ran, the rest in an app context of their
    own: a server may pull the first chunk in the request and the rest elsewhere (Werkzeug's
    test client does), and a context must be left where it was entered."""
    first = next(lines, None)
    if first is None:
        return
    yield first
    with app.app_context():
        yield from lines


def download_headers(filename: str) -> dict[str, str]:
    """An attachment named ``filename``, kept by no cache. Names are built from dates and
    fixed ASCII words: nothing to quote or encode."""
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }


# --- XLSX -----------------------------------------------------------------------------------


def new_workbook(target: IO[bytes]) -> xlsxwriter.Workbook:
    """A workbook writing to ``target``, in constant memory, every string written as a string:
    never read as a formula, a number or a link, whatever it holds. The writer closes it, in a
    ``finally``: closing is what writes the file (and removes the temporary ones)."""
    return xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )


def xlsx_response(write: Callable[[IO[bytes]], None], filename: str) -> Response:
    """A workbook download: ``write`` fills it (``new_workbook``) into memory, then it is sent
    whole (a zip cannot stream: see the module's docstring)."""
    buffer = io.BytesIO()
    write(buffer)
    buffer.seek(0)
    response = send_file(
        buffer, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=filename, max_age=0
    )
    response.headers.update(download_headers(filename))
    return response
