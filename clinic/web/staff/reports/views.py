"""Staff page: the reports (admin, and the roles REPORTS_ROLES grants). A period's figures
beside the period before, as a table and six charts, and the same table to download as CSV or
a spreadsheet. The period is chosen by a GET form, so a report is a link; each page and each
download is recorded in the audit trail with its dates (``clinic.audit``)."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from clinic import audit, settings
from clinic.permissions import Action
from clinic.reports import figures
from clinic.rules.reports import Period
from clinic.web import context
from clinic.web.staff import bp, requires
from clinic.web.staff.reports import charts, report_files, table
from clinic.web.staff.reports.forms import report_form

FORMATS = {"csv": report_files.report_csv, "xlsx": report_files.report_xlsx}


def _dates(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


@bp.get("/reports")
@requires(Action.VIEW_REPORTS)
def reports():
    form = report_form(request.args, context.now().date())
    if not form.validate():
        # The form with what is wrong with it, and no report: 422, as other forms answer.
        return render_template("staff/reports/index.html", form=form, report=None), 422
    period = form.period()
    course_sessions = settings.course_sessions()
    report = figures.report(period, context.rules(), context.now().date(), course_sessions)
    audit.viewed("report", None, None, detail=_dates(period))
    return render_template(
        "staff/reports/index.html",
        form=form,
        report=report,
        sections=table.report_sections(report, course_sessions),
        charts=charts.report_charts(report),
        args=form.period_args(),
        show=table.show,
        show_change=table.show_change,
        period_words=table.period_words,
    )


def period_or_page() -> Period | Response:
    """The period a download asks for, read from its query arguments by the page's own form
    (the page's download links carry the page's arguments); or, when they make no report, a
    redirect to the page with the same arguments, where the form says what is wrong. A
    download link never gets an error page to save as its file."""
    form = report_form(request.args, context.now().date())
    if form.validate():
        return form.period()
    args = request.args.to_dict(flat=False)
    args.pop("format", None)  # the download's own: the page has no such field
    return redirect(url_for("staff.reports", **args), 303)


@bp.get("/reports/download")
@requires(Action.VIEW_REPORTS)
def report_download() -> Response:
    file_format = request.args.get("format", "csv")  # the plainest file, unless asked
    write = FORMATS.get(file_format)
    if write is None:
        # Only a link edited by hand gets here: the page offers these two formats alone.
        abort(400)
    period = period_or_page()
    if isinstance(period, Response):
        return period
    course_sessions = settings.course_sessions()
    report = figures.report(period, context.rules(), context.now().date(), course_sessions)
    # On record before the file goes: dates and format only (the file holds figures alone).
    audit.exported("report", detail={**_dates(period), "format": file_format})
    return write(report, course_sessions)
